#include "persistence.h"

#include "log.h"
#include "server.h"

#include <string.h>

/* periodic: a buffer this large is written at the end of the iteration
   instead of waiting for the next autosave, so memory stays bounded. */
#define EARLY_WRITE_BYTES (8u * 1024u * 1024u)

/* sync: how long to wait before writing again after a failed write. */
#define RETRY_MS 1000u

/* The library's callback: copy the record. It must not call into the
   broker, so a failure is only noted here. */
static void on_record(void *ctx, const mqttproto_store_record *record)
{
    struct persistence *p = ctx;
    if (!p->failed && !store_apply(p->store, record)) {
        p->failed = true;
    }
}

/* Apply the journal to the tables; a failure costs nothing but space (the
   journal keeps everything), so it is logged once and tried again after
   the next write. */
static void compact(struct persistence *p)
{
    char err[1024];
    size_t rows = store_journal_rows(p->store);
    if (!store_compact(p->store, err, sizeof err)) {
        if (!p->compact_failing) {
            log_error("%s; the journal keeps the state, compaction is tried again", err);
        }
        p->compact_failing = true;
        return;
    }
    if (p->compact_failing) {
        log_info("the store's journal is compacted again");
        p->compact_failing = false;
    }
    log_debug("store: %zu journal rows compacted", rows);
}

static void compact_if_due(struct persistence *p)
{
    if (store_compact_due(p->store)) {
        compact(p);
    }
}

/* Write the buffer; true when it is on disk (or was empty). The outcome
   of a failure is logged once, and its end. */
static bool write_batch(struct persistence *p)
{
    if (p->failed) {
        return false;
    }
    size_t n = store_pending(p->store);
    if (n == 0) {
        return true;
    }
    uint64_t seq = 0;
    char err[1024];
    if (!store_commit(p->store, &seq, err, sizeof err)) {
        if (!p->commit_failing) {
            log_error("cannot save the broker's state: %s; %s", err,
                      p->hold_acks ? "acknowledgements wait until it works (retrying each second)"
                                   : "retrying at the next autosave");
        }
        p->commit_failing = true;
        return false;
    }
    if (p->commit_failing) {
        log_info("the broker's state is saved again");
        p->commit_failing = false;
    }
    log_debug("store: %zu records saved (up to %llu)", n, (unsigned long long)seq);
    if (p->hold_acks) {
        (void)mqttproto_broker_store_synced(p->server->broker, seq);
    } else {
        compact_if_due(p);
    }
    return true;
}

static void on_timer(uv_timer_t *t)
{
    struct persistence *p = t->data;
    if (p->hold_acks) {
        p->retry_wait = false; /* the prepare handle writes next */
        return;
    }
    (void)write_batch(p);
}

static void on_idle(uv_idle_t *h)
{
    (void)h; /* only there so that libuv polls without sleeping */
}

bool persistence_start(struct persistence *p, struct server *s, struct store *st, uint64_t now_ms)
{
    memset(p, 0, sizeof *p);
    p->server = s;
    p->store = st;
    p->hold_acks = s->config->persistence_mode == PERSISTENCE_SYNC;
    uv_timer_init(s->loop, &p->timer);
    p->timer.data = p;
    uv_idle_init(s->loop, &p->again);
    p->again.data = p;
    p->handles_open = true;
    if (!persistence_restore(s->broker, st)) {
        return false;
    }
    int e = mqttproto_broker_set_store(s->broker, on_record, p, p->hold_acks);
    if (e != 0) {
        log_error("cannot use the store %s: %s", store_path(st), mqttproto_strerror(e));
        return false;
    }
    e = mqttproto_broker_restore_finish(s->broker, now_ms);
    if (e == MQTTPROTO_ERR_NO_MEMORY) {
        e = mqttproto_broker_restore_finish(s->broker, now_ms); /* as the library asks */
    }
    if (e != 0) {
        log_error("cannot restore the store %s: %s", store_path(st), mqttproto_strerror(e));
        return false;
    }
    /* What the restore ended (expired sessions, wills now due) is saved
       before any client can see the result. */
    if (!write_batch(p)) {
        if (p->failed) {
            log_error("out of memory for a store record");
        }
        return false;
    }
    if (!p->hold_acks) {
        uv_timer_start(&p->timer, on_timer, s->config->autosave_interval_ms,
                       s->config->autosave_interval_ms);
    }
    return true;
}

void persistence_before_poll(struct persistence *p)
{
    if (p->failed) {
        if (!p->stopping) {
            p->stopping = true;
            log_error("out of memory for a store record: the store can no longer follow the "
                      "broker's state; stopping without sending what depends on it");
            server_stop_now(p->server, 1);
        }
        return;
    }
    if (!p->hold_acks) {
        if (store_pending_bytes(p->store) >= EARLY_WRITE_BYTES) {
            (void)write_batch(p);
        }
        return;
    }
    if (!p->retry_wait && store_pending(p->store) > 0) {
        if (write_batch(p)) {
            /* Released acknowledgements go out now; writing may emit new
               records (deliveries sent), for the next iteration. */
            server_flush_all(p->server);
            compact_if_due(p);
        } else {
            p->retry_wait = true;
            uv_timer_start(&p->timer, on_timer, RETRY_MS, 0);
        }
    }
    /* Records still waiting: the next iteration must come at once. */
    if (store_pending(p->store) > 0 && !p->retry_wait) {
        uv_idle_start(&p->again, on_idle);
    } else {
        uv_idle_stop(&p->again);
    }
}

void persistence_close_handles(struct persistence *p)
{
    if (!p->handles_open) {
        return;
    }
    p->handles_open = false;
    uv_close((uv_handle_t *)&p->timer, NULL);
    uv_close((uv_handle_t *)&p->again, NULL);
}

bool persistence_stop(struct persistence *p)
{
    if (p->store == NULL) {
        return true;
    }
    bool ok = !p->failed && write_batch(p);
    if (ok) {
        compact(p);
        log_info("the broker's state is saved in %s", store_path(p->store));
    } else if (p->failed) {
        log_error("the store misses records (out of memory): what changed since the last save "
                  "is not saved");
    }
    (void)mqttproto_broker_set_store(p->server->broker, NULL, NULL, false);
    p->store = NULL;
    return ok;
}
