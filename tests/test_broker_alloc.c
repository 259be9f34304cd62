/*
 * Allocation failure sweep for the broker.
 *
 * Whole scenarios (connect with will and properties; subscribe, shared and
 * retained delivery; publish QoS 0/1/2 with fan-out to several subscribers;
 * unsubscribe; session resume with queued messages; takeover; will delay;
 * keep alive; authorize_publish; disconnect) run between client state
 * machines and one broker, through a small network of this file's own that
 * moves bytes and answers the broker's decisions, again and again with a
 * counting allocator given to the broker (mqttproto_broker_settings.mem)
 * that fails allocation number n, for n = 1, 2, ... until a run reaches no
 * failure. The clients have a counting allocator too (for the leak check),
 * which never fails: their own sweep is test_client_alloc. Two modes:
 * - FAIL_ONE fails only the n-th allocation and plays the scenario to its
 *   end; a call that returns MQTTPROTO_ERR_NO_MEMORY is made again, as an
 *   application would once memory is back (feed_bytes() that took fewer
 *   bytes is fed the rest). The logs of every side must then be exactly
 *   those of the run without failures: nothing lost, nothing repeated.
 * - FAIL_FROM fails every allocation from the n-th on and ends the scenario
 *   at the first call that met a failure: everything is destroyed right
 *   there.
 * In both, a call that met the failure and can report it returns
 * MQTTPROTO_ERR_NO_MEMORY (or, for feed_bytes(), takes fewer bytes than
 * given), MQTTPROTO_ERR_NO_MEMORY comes from nowhere else, next_event()
 * never allocates, and once everything is destroyed both allocators hold
 * no block. The calls that cannot report a failure (get_outbound_data(),
 * client destroy(), a client's handle_expiry()) must still lose nothing in
 * FAIL_ONE: what they could not do happens on a later call.
 *
 * The count of allocation points each scenario covers is printed.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting allocator ------------------------------------------------- */

#define BLOCK_LIVE  0x4d5154544252414cull
#define BLOCK_FREED 0x46524545444d454dull

typedef union block_header {
    max_align_t align;
    struct {
        uint64_t magic;
        size_t size;
    } h;
} block_header;

struct alloc_ctl {
    unsigned long attempts; /* malloc and realloc calls so far */
    unsigned long fail_at;  /* 1-based attempt to fail; 0 never */
    bool fail_from;         /* fail every attempt from fail_at on */
    unsigned long injected; /* failures handed out */
    long live;              /* blocks allocated and not freed */
    bool hit;               /* a failure was handed out in the current call */
};

static bool should_fail(struct alloc_ctl *a)
{
    a->attempts++;
    bool fail =
        a->fail_at != 0 && (a->fail_from ? a->attempts >= a->fail_at : a->attempts == a->fail_at);
    if (fail) {
        a->injected++;
        a->hit = true;
    }
    return fail;
}

static void *ca_malloc(size_t size, void *user_data)
{
    struct alloc_ctl *a = user_data;
    if (should_fail(a)) {
        return NULL;
    }
    block_header *b = malloc(sizeof *b + size);
    assert_non_null(b);
    b->h.magic = BLOCK_LIVE;
    b->h.size = size;
    a->live++;
    return b + 1;
}

static block_header *header_of(void *ptr)
{
    block_header *b = (block_header *)ptr - 1;
    if (b->h.magic != BLOCK_LIVE) {
        fail_msg("block %p was not allocated by this allocator, or was freed", ptr);
    }
    return b;
}

static void *ca_realloc(void *ptr, size_t size, void *user_data)
{
    if (ptr == NULL) {
        return ca_malloc(size, user_data);
    }
    struct alloc_ctl *a = user_data;
    block_header *b = header_of(ptr);
    if (should_fail(a)) {
        return NULL;
    }
    block_header *nb = realloc(b, sizeof *nb + size);
    assert_non_null(nb);
    nb->h.size = size;
    return nb + 1;
}

static void ca_free(void *ptr, void *user_data)
{
    if (ptr == NULL) {
        return;
    }
    struct alloc_ctl *a = user_data;
    block_header *b = header_of(ptr);
    b->h.magic = BLOCK_FREED;
    a->live--;
    free(b);
}

/* ---- the network -------------------------------------------------------- */

enum fail_mode { FAIL_ONE, FAIL_FROM };

#define PEERS      6
#define LOG_CAP    8192
#define ANSWERS    8
#define SHARED_SID 77u

static const mqttproto_str str_empty = {"", 0};

struct log {
    char text[LOG_CAP];
    size_t len;
};

/* A decision the broker asked for, answered until it stops failing. */
struct answer {
    int kind; /* MQTTPROTO_BROKER_EVENT_CONNECT, _SUBSCRIBE, _PUBLISH */
    uint16_t packet_id;
    uint32_t ticket;
    uint8_t rc;
    uint8_t codes[8];
    size_t count;
};

struct peer {
    mqttproto_client *client;
    mqttproto_broker_client *conn;
    struct log blog; /* the broker side of this peer */
    struct log clog; /* the client side */
    struct answer answers[ANSWERS];
    size_t nanswers;
};

struct run {
    struct alloc_ctl ba; /* the broker's: fails */
    struct alloc_ctl ca; /* the clients': counts */
    mqttproto_mem bmem, cmem;
    enum fail_mode mode;
    mqttproto_broker *b;
    mqttproto_broker_settings settings;
    struct peer p[PEERS];
    struct log shared; /* messages through the shared subscription (sorted when compared) */
    uint64_t now;
    size_t chunk;
    const char *deny_topic; /* authorize_publish refuses it with 0x87 */
    bool stopped;           /* FAIL_FROM: the first failure was met */
    bool store;             /* a store with hold_acks, synced whenever the network is idle */
    uint64_t store_last;    /* the last record's sequence number */
    bool finished;
    jmp_buf stop;
};

static char run_tag[80];

static void logf_(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void logf_(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n + 1 < sizeof l->text - l->len);
    l->len += (size_t)n;
    l->text[l->len++] = '\n';
    l->text[l->len] = '\0';
}

static bool log_has(const struct log *l, const char *line)
{
    size_t n = strlen(line);
    const char *s = l->text;
    while (*s != '\0') {
        const char *eol = strchr(s, '\n');
        size_t len = eol != NULL ? (size_t)(eol - s) : strlen(s);
        if (len == n && memcmp(s, line, n) == 0) {
            return true;
        }
        s += len + (eol != NULL);
    }
    return false;
}

/* How a call reports a failed allocation. */
enum call_kind {
    REPORTS, /* returns MQTTPROTO_ERR_NO_MEMORY */
    QUIET    /* cannot report it; what it could not do happens later */
};

static void call_begin(struct run *r)
{
    r->ba.hit = false;
}

/* After each call on the broker or a broker client: whether it met the
   failure. In FAIL_FROM the scenario stops at the first one. */
static bool call_end(struct run *r, long long rc, enum call_kind kind, const char *what, int line)
{
    bool hit = r->ba.hit;
    r->ba.hit = false;
    if (hit && kind == REPORTS && rc != MQTTPROTO_ERR_NO_MEMORY) {
        fail_msg("%sline %d: %s met the failed allocation but returned %lld (%s)", run_tag, line,
                 what, rc, mqttproto_err_name(rc < 0 ? (int)rc : 0));
    }
    if (!hit && rc == MQTTPROTO_ERR_NO_MEMORY) {
        fail_msg("%sline %d: %s returned MQTTPROTO_ERR_NO_MEMORY without a failed allocation",
                 run_tag, line, what);
    }
    if (hit && r->mode == FAIL_FROM) {
        r->stopped = true;
        longjmp(r->stop, 1);
    }
    return hit;
}

/* A call that reports MQTTPROTO_ERR_NO_MEMORY, made again after it (the
   failure was one allocation); its result in rc. */
#define CALL(r, rc, expr)                                                                          \
    do {                                                                                           \
        call_begin(r);                                                                             \
        (rc) = (long long)(expr);                                                                  \
        if (call_end((r), (rc), REPORTS, #expr, __LINE__)) {                                       \
            call_begin(r);                                                                         \
            (rc) = (long long)(expr);                                                              \
            (void)call_end((r), (rc), REPORTS, #expr, __LINE__);                                   \
        }                                                                                          \
    } while (0)

#define CALL_OK(r, expr)                                                                           \
    do {                                                                                           \
        long long rc_;                                                                             \
        CALL((r), rc_, (expr));                                                                    \
        if (rc_ != 0) {                                                                            \
            fail_msg("%sline %d: %s returned %lld (%s)", run_tag, __LINE__, #expr, rc_,            \
                     mqttproto_err_name(rc_ < 0 ? (int)rc_ : 0));                                  \
        }                                                                                          \
    } while (0)

/* ---- broker side -------------------------------------------------------- */

static void log_codes(char *buf, size_t cap, const uint8_t *codes, size_t n)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t k = 0; k < n && len + 4 < cap; k++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s%02x", k > 0 ? "," : "", codes[k]);
    }
}

static void push_answer(struct peer *pe, const struct answer *a)
{
    assert_true(pe->nanswers < ANSWERS);
    pe->answers[pe->nanswers++] = *a;
}

static void drain_broker(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    for (;;) {
        mqttproto_broker_event ev;
        call_begin(r);
        int rc = mqttproto_broker_client_next_event(pe->conn, &ev);
        if (r->ba.hit) {
            fail_msg("%snext_event allocated", run_tag);
        }
        if (rc == 0) {
            return;
        }
        assert_int_equal(rc, 1);
        assert_non_null(ev.properties);
        struct answer a;
        memset(&a, 0, sizeof a);
        a.kind = (int)ev.type;
        switch (ev.type) {
        case MQTTPROTO_BROKER_EVENT_CONNECT: {
            size_t ups = 0, cursor = 0;
            mqttproto_user_property up;
            while (mqttproto_user_properties_next(ev.properties, &cursor, &up)) {
                ups++;
            }
            logf_(&pe->blog, "CONNECT id=%.*s clean=%d ka=%u will=%d user=%.*s ups=%zu",
                  (int)ev.client_id.len, ev.client_id.len > 0 ? ev.client_id.data : "",
                  ev.clean_start, ev.keep_alive, ev.has_will, (int)ev.username.len,
                  ev.username.len > 0 ? ev.username.data : "", ups);
            push_answer(pe, &a);
            break;
        }
        case MQTTPROTO_BROKER_EVENT_PUBLISH:
            logf_(&pe->blog, "PUBLISH %.*s q%d r%d '%.*s' rc=%02x", (int)ev.topic.len,
                  ev.topic.data, (int)ev.qos, ev.retain, (int)ev.payload.len,
                  ev.payload.len > 0 ? (const char *)ev.payload.data : "", ev.reason_code);
            if (ev.ticket != 0) {
                bool deny = r->deny_topic != NULL && ev.topic.len == strlen(r->deny_topic) &&
                            memcmp(ev.topic.data, r->deny_topic, ev.topic.len) == 0;
                a.ticket = ev.ticket;
                a.rc = deny ? MQTTPROTO_RC_NOT_AUTHORIZED : 0;
                push_answer(pe, &a);
            }
            break;
        case MQTTPROTO_BROKER_EVENT_SUBSCRIBE: {
            size_t cursor = 0;
            mqttproto_subscription s;
            while (a.count < 8 && mqttproto_subscriptions_next(ev.subscriptions, &cursor, &s)) {
                a.codes[a.count++] = (uint8_t)s.max_qos;
            }
            a.packet_id = ev.packet_id;
            logf_(&pe->blog, "SUBSCRIBE id=%u n=%zu", ev.packet_id, ev.subscriptions->count);
            push_answer(pe, &a);
            break;
        }
        case MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE: {
            char codes[64];
            log_codes(codes, sizeof codes, ev.reason_codes, ev.reason_code_count);
            logf_(&pe->blog, "UNSUBSCRIBE id=%u rc=%s", ev.packet_id, codes);
            break;
        }
        case MQTTPROTO_BROKER_EVENT_AUTH:
            logf_(&pe->blog, "AUTH rc=%02x", ev.reason_code);
            break;
        case MQTTPROTO_BROKER_EVENT_DISCONNECTED:
            logf_(&pe->blog, "DISCONNECTED rc=%02x", ev.reason_code);
            break;
        case MQTTPROTO_BROKER_EVENT_TAKEN_OVER:
            logf_(&pe->blog, "TAKEN_OVER");
            break;
        default:
            fail_msg("%sunknown broker event %d", run_tag, (int)ev.type);
        }
    }
}

/* Answer what waits; returns whether anything was answered. */
static bool answer_all(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    bool any = false;
    while (pe->nanswers > 0) {
        struct answer *a = &pe->answers[0];
        long long rc = 0;
        call_begin(r);
        switch (a->kind) {
        case MQTTPROTO_BROKER_EVENT_CONNECT:
            rc = mqttproto_broker_client_acknowledge_connect(pe->conn, 0x00, str_empty, NULL,
                                                             r->now);
            break;
        case MQTTPROTO_BROKER_EVENT_SUBSCRIBE:
            rc = mqttproto_broker_client_acknowledge_subscribe(pe->conn, a->packet_id, a->codes,
                                                               a->count);
            break;
        default:
            rc = mqttproto_broker_client_authorize_publish(pe->conn, a->ticket, a->rc, r->now);
            break;
        }
        if (call_end(r, rc, REPORTS, "an answer", __LINE__)) {
            return true; /* answered again on the next round */
        }
        if (rc != 0) {
            fail_msg("%sanswer %d of peer %d returned %lld (%s)", run_tag, a->kind, i, rc,
                     mqttproto_err_name((int)rc));
        }
        memmove(&pe->answers[0], &pe->answers[1], (pe->nanswers - 1) * sizeof pe->answers[0]);
        pe->nanswers--;
        any = true;
    }
    return any;
}

/* ---- client side -------------------------------------------------------- */

static void drain_client(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    mqttproto_client_event ev;
    int rc;
    char codes[64];
    while ((rc = mqttproto_client_next_event(pe->client, &ev)) == 1) {
        struct log *l = &pe->clog;
        switch (ev.type) {
        case MQTTPROTO_CLIENT_EVENT_CONNECTED:
            logf_(l, "CONNECTED sp=%d", ev.session_present);
            break;
        case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
            logf_(l, "CONNECT_REFUSED rc=%02x", ev.reason_code);
            break;
        case MQTTPROTO_CLIENT_EVENT_MESSAGE: {
            uint32_t sid = 0;
            size_t cursor = 0;
            char sids[64] = "";
            size_t len = 0;
            while (mqttproto_subscription_identifiers_next(ev.properties, &cursor, &sid)) {
                len += (size_t)snprintf(sids + len, sizeof sids - len, " sid=%u", sid);
            }
            bool shared = strstr(sids, " sid=77") != NULL;
            /* Which member of the group gets a message is the broker's
               round-robin choice: those go to one log, compared unordered. */
            logf_(shared ? &r->shared : l, "MESSAGE %.*s q%d r%d d%d '%.*s'%s", (int)ev.topic.len,
                  ev.topic.data, (int)ev.qos, ev.retain, ev.dup, (int)ev.payload.len,
                  ev.payload.len > 0 ? (const char *)ev.payload.data : "", sids);
            break;
        }
        case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED:
            logf_(l, "PUBLISH_COMPLETED id=%u rc=%02x", ev.packet_id, ev.reason_code);
            break;
        case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
            logf_(l, "PUBLISH_FAILED id=%u rc=%02x", ev.packet_id, ev.reason_code);
            break;
        case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
            log_codes(codes, sizeof codes, ev.reason_codes, ev.reason_code_count);
            logf_(l, "SUBSCRIBE_ACK id=%u rc=%s", ev.packet_id, codes);
            break;
        case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK:
            log_codes(codes, sizeof codes, ev.reason_codes, ev.reason_code_count);
            logf_(l, "UNSUBSCRIBE_ACK id=%u rc=%s", ev.packet_id, codes);
            break;
        case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
            logf_(l, "REQUEST_FAILED id=%u", ev.packet_id);
            break;
        case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
            logf_(l, "DISCONNECTED rc=%02x", ev.reason_code);
            break;
        default:
            logf_(l, "EVENT %d", (int)ev.type);
            break;
        }
    }
    assert_int_equal(rc, 0);
}

/* ---- moving bytes ------------------------------------------------------- */

static bool client_to_broker(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(pe->client, &data);
    if (n == 0) {
        return false;
    }
    if (r->chunk > 0 && n > r->chunk) {
        n = r->chunk;
    }
    if (mqttproto_broker_client_get_state(pe->conn) == MQTTPROTO_BROKER_CLIENT_CLOSING) {
        mqttproto_client_consume_outbound(pe->client, n); /* the peer stopped reading */
        return true;
    }
    call_begin(r);
    ptrdiff_t rc = mqttproto_broker_client_feed_bytes(pe->conn, data, n, r->now);
    bool partial = r->ba.hit && rc > 0 && (size_t)rc < n;
    bool hit = call_end(r, partial ? MQTTPROTO_ERR_NO_MEMORY : rc, REPORTS, "feed_bytes", __LINE__);
    if (!hit && rc >= 0 && (size_t)rc != n) {
        fail_msg("%sfeed_bytes took %td of %zu bytes without a failed allocation", run_tag, rc, n);
    }
    if (rc == MQTTPROTO_ERR_NO_MEMORY) {
        return true; /* the same bytes again on the next round */
    }
    if (rc < 0) {
        logf_(&pe->blog, "ERROR %s", mqttproto_err_name((int)rc));
        mqttproto_client_consume_outbound(pe->client, n);
        return true;
    }
    mqttproto_client_consume_outbound(pe->client, (size_t)rc);
    return rc > 0 || hit;
}

static bool broker_to_client(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    const uint8_t *data;
    call_begin(r);
    size_t n = mqttproto_broker_client_get_outbound_data(pe->conn, &data);
    bool hit = call_end(r, 0, QUIET, "get_outbound_data", __LINE__);
    if (n == 0) {
        return hit; /* a failed pump goes on at the next peek */
    }
    if (r->chunk > 0 && n > r->chunk) {
        n = r->chunk;
    }
    mqttproto_client_state st = mqttproto_client_get_state(pe->client);
    if (st == MQTTPROTO_CLIENT_FAILED || st == MQTTPROTO_CLIENT_DISCONNECTED) {
        mqttproto_broker_client_consume_outbound(pe->conn, n);
        return true;
    }
    ptrdiff_t rc = mqttproto_client_feed_bytes(pe->client, data, n, r->now);
    if (rc < 0) {
        logf_(&pe->clog, "ERROR %s", mqttproto_err_name((int)rc));
        mqttproto_broker_client_consume_outbound(pe->conn, n);
        return true;
    }
    mqttproto_broker_client_consume_outbound(pe->conn, (size_t)rc);
    return rc > 0 || hit;
}

static void run_net(struct run *r)
{
    for (int rounds = 0;; rounds++) {
        if (rounds > 100000) {
            fail_msg("%sthe network never goes quiet", run_tag);
        }
        bool moved = false;
        for (int i = 0; i < PEERS; i++) {
            struct peer *pe = &r->p[i];
            if (pe->conn == NULL) {
                continue;
            }
            moved |= client_to_broker(r, i);
            drain_broker(r, i);
            moved |= answer_all(r, i);
            drain_broker(r, i);
            moved |= broker_to_client(r, i);
            drain_client(r, i);
        }
        if (r->store && r->store_last > 0) {
            /* Everything recorded so far is durable: the held output goes. */
            assert_int_equal(mqttproto_broker_store_synced(r->b, r->store_last), 0);
        }
        mqttproto_broker_client *w;
        while (mqttproto_broker_next_writable(r->b, &w) == 1) {
            moved = true;
        }
        if (!moved) {
            return;
        }
    }
}

/* The clock advances; every timer due runs. */
static void advance(struct run *r, uint64_t ms)
{
    r->now += ms;
    for (int i = 0; i < PEERS; i++) {
        struct peer *pe = &r->p[i];
        if (pe->conn != NULL && mqttproto_broker_client_get_expiry(pe->conn) <= r->now) {
            call_begin(r);
            int e = mqttproto_broker_client_handle_expiry(pe->conn, r->now);
            (void)call_end(r, 0, QUIET, "client handle_expiry", __LINE__);
            if (e != 0) {
                logf_(&pe->blog, "EXPIRY %s", mqttproto_err_name(e));
            }
        }
        if (pe->client != NULL && mqttproto_client_get_expiry(pe->client) <= r->now) {
            int e = mqttproto_client_handle_expiry(pe->client, r->now);
            if (e != 0) {
                logf_(&pe->clog, "EXPIRY %s", mqttproto_err_name(e));
            }
        }
    }
    if (mqttproto_broker_get_expiry(r->b) <= r->now) {
        CALL_OK(r, mqttproto_broker_handle_expiry(r->b, r->now));
    }
    run_net(r);
}

/* ---- scenario building blocks ------------------------------------------- */

static void add_client(struct run *r, int i)
{
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    s.mem = &r->cmem;
    assert_int_equal(mqttproto_client_create(&s, &r->p[i].client), 0);
}

static void open_conn(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    assert_null(pe->conn);
    CALL_OK(r, mqttproto_broker_client_create(r->b, r->now, &pe->conn));
}

static void connect_with(struct run *r, int i, const mqttproto_connect_options *o)
{
    open_conn(r, i);
    assert_int_equal(mqttproto_client_connect(r->p[i].client, o, r->now), 0);
    run_net(r);
}

static void connect_simple(struct run *r, int i, const char *id, bool clean, uint32_t expiry)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr(id);
    o.clean_start = clean;
    o.session_expiry_interval = expiry;
    connect_with(r, i, &o);
}

/* The connection of peer @p i is lost (both sides told). */
static void drop(struct run *r, int i)
{
    struct peer *pe = &r->p[i];
    drain_broker(r, i);
    call_begin(r);
    mqttproto_broker_client_destroy(pe->conn, r->now);
    pe->conn = NULL;
    (void)call_end(r, 0, QUIET, "broker_client_destroy", __LINE__);
    pe->nanswers = 0;
    if (mqttproto_client_get_state(pe->client) != MQTTPROTO_CLIENT_DISCONNECTED) {
        (void)mqttproto_client_connection_lost(pe->client);
    }
    drain_client(r, i);
    /* A will that could not go for want of memory is due now. */
    advance(r, 0);
}

static void subscribe(struct run *r, int i, const char *filter, int qos, uint32_t sid,
                      mqttproto_retain_handling rh)
{
    mqttproto_subscription s;
    memset(&s, 0, sizeof s);
    s.topic_filter = mqttproto_str_from_cstr(filter);
    s.max_qos = (mqttproto_qos)qos;
    s.retain_handling = rh;
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if (sid != 0) {
        assert_int_equal(mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_SUBSCRIBE,
                                                      MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, sid),
                         0);
    }
    assert_true(mqttproto_client_subscribe(r->p[i].client, &s, 1, &props) > 0);
    run_net(r);
}

static void publish(struct run *r, int i, const char *topic, const char *payload, int qos,
                    bool retain)
{
    assert_true(mqttproto_client_publish(r->p[i].client, mqttproto_str_from_cstr(topic),
                                         mqttproto_bin_make(payload, strlen(payload)),
                                         (mqttproto_qos)qos, retain, NULL) >= 0);
    run_net(r);
}

static void disconnect(struct run *r, int i, uint8_t rc)
{
    assert_int_equal(mqttproto_client_disconnect(r->p[i].client, rc, NULL), 0);
    run_net(r);
    drop(r, i);
}

static void expect_line(struct run *r, const struct log *l, const char *line, int src_line)
{
    if (r->ba.fail_at == 0 && !log_has(l, line)) {
        fail_msg("line %d: the run without failures has no \"%s\" in:\n%s", src_line, line,
                 l->text);
    }
}

#define EXPECT_B(r, i, line) expect_line((r), &(r)->p[i].blog, (line), __LINE__)
#define EXPECT_C(r, i, line) expect_line((r), &(r)->p[i].clog, (line), __LINE__)
#define EXPECT_S(r, line)    expect_line((r), &(r)->shared, (line), __LINE__)

/* ---- scenarios ---------------------------------------------------------- */

/*
 * Connect with will and properties; subscriptions (one shared group of two,
 * retained delivery on subscribe); QoS 0/1/2 fanned out to three
 * subscribers and the group; unsubscribe; DISCONNECT with 0x04 (will) and
 * 0x00.
 */
static void scenario_fanout(struct run *r)
{
    for (int i = 0; i < 5; i++) {
        add_client(r, i);
    }
    /* Peer 0: a will with properties, CONNECT properties. */
    mqttproto_will will;
    memset(&will, 0, sizeof will);
    will.topic = mqttproto_str_from_cstr("a/will");
    will.payload = mqttproto_bin_make("gone", 4);
    will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    mqttproto_properties_init(&will.properties);
    mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    assert_int_equal(mqttproto_properties_set_user_properties(
                         &will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL, &up, 1),
                     0);
    assert_int_equal(mqttproto_properties_set_int(&will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 100),
                     0);
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr("sub0");
    o.session_expiry_interval = 60;
    o.receive_maximum = 10;
    o.user_properties = &up;
    o.user_property_count = 1;
    o.has_username = true;
    o.username = mqttproto_str_from_cstr("alice");
    o.has_password = true;
    o.password = mqttproto_bin_make("pw", 2);
    o.will = &will;
    connect_with(r, 0, &o);
    EXPECT_B(r, 0, "CONNECT id=sub0 clean=1 ka=60 will=1 user=alice ups=1");
    connect_simple(r, 1, "sub1", true, 0);
    connect_simple(r, 2, "pub", true, 0);
    connect_simple(r, 3, "sh1", true, 0);
    connect_simple(r, 4, "sh2", true, 0);
    EXPECT_C(r, 4, "CONNECTED sp=0");

    /* Retained before anyone subscribes. */
    publish(r, 2, "a/r", "kept", 1, true);
    publish(r, 2, "a/r2", "kept2", 2, true);
    subscribe(r, 0, "a/#", 2, 0, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    EXPECT_C(r, 0, "MESSAGE a/r q1 r1 d0 'kept'");
    EXPECT_C(r, 0, "MESSAGE a/r2 q2 r1 d0 'kept2'");
    subscribe(r, 1, "a/+", 1, 5, MQTTPROTO_RETAIN_SEND_IF_NEW);
    EXPECT_C(r, 1, "MESSAGE a/r2 q1 r1 d0 'kept2' sid=5");
    subscribe(r, 3, "$share/g/a/b", 2, SHARED_SID, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    subscribe(r, 4, "$share/g/a/b", 2, SHARED_SID, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    subscribe(r, 2, "a/b", 0, 0, MQTTPROTO_RETAIN_DO_NOT_SEND);
    /* One SUBSCRIBE of three filters, two with a retained message each. */
    mqttproto_subscription two[3];
    memset(two, 0, sizeof two);
    two[0].topic_filter = mqttproto_str_from_cstr("a/r");
    two[0].max_qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    two[1].topic_filter = mqttproto_str_from_cstr("x/#");
    two[2].topic_filter = mqttproto_str_from_cstr("a/r2");
    two[2].max_qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    assert_true(mqttproto_client_subscribe(r->p[1].client, two, 3, NULL) > 0);
    run_net(r);
    EXPECT_C(r, 1, "SUBSCRIBE_ACK id=2 rc=01,00,02");
    EXPECT_C(r, 1, "MESSAGE a/r q1 r1 d0 'kept'");
    EXPECT_C(r, 1, "MESSAGE a/r2 q2 r1 d0 'kept2'");

    for (int q = 0; q < 3; q++) {
        char payload[8];
        snprintf(payload, sizeof payload, "m%d", q);
        publish(r, 2, "a/b", payload, q, false);
    }
    EXPECT_C(r, 0, "MESSAGE a/b q2 r0 d0 'm2'");
    EXPECT_C(r, 1, "MESSAGE a/b q1 r0 d0 'm2' sid=5");
    EXPECT_C(r, 2, "MESSAGE a/b q0 r0 d0 'm1'");
    EXPECT_C(r, 2, "PUBLISH_COMPLETED id=2 rc=00");
    EXPECT_S(r, "MESSAGE a/b q2 r0 d0 'm2' sid=77");
    /* A retained message cleared by an empty payload. */
    publish(r, 2, "a/r", "", 0, true);

    mqttproto_str f = mqttproto_str_from_cstr("a/+");
    assert_true(mqttproto_client_unsubscribe(r->p[1].client, &f, 1, NULL) > 0);
    run_net(r);
    EXPECT_B(r, 1, "UNSUBSCRIBE id=3 rc=00");
    publish(r, 2, "a/c", "after", 1, false);

    disconnect(r, 0, MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE);
    EXPECT_C(r, 1, "UNSUBSCRIBE_ACK id=3 rc=00");
    disconnect(r, 1, 0x00);
    for (int i = 2; i < 5; i++) {
        disconnect(r, i, 0x00);
    }
    r->finished = true;
}

/*
 * A session resumed with messages queued while it was away; a takeover; a
 * will delayed, published when its delay ran out, and one cancelled by a
 * reconnect within the delay; a will that goes when its session expires
 * first; session expiry.
 */
static void scenario_sessions(struct run *r)
{
    for (int i = 0; i < 5; i++) {
        add_client(r, i);
    }
    connect_simple(r, 0, "p", true, 300);
    connect_simple(r, 1, "pub", true, 0);
    subscribe(r, 0, "q/#", 1, 0, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    subscribe(r, 1, "q/will/#", 2, 0, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    drop(r, 0);
    publish(r, 1, "q/1", "away1", 1, false);
    publish(r, 1, "q/2", "away2", 2, false);
    publish(r, 1, "q/3", "away0", 0, false);
    connect_simple(r, 0, "p", false, 300);
    EXPECT_C(r, 0, "CONNECTED sp=1");
    EXPECT_C(r, 0, "MESSAGE q/1 q1 r0 d0 'away1'");
    EXPECT_C(r, 0, "MESSAGE q/2 q1 r0 d0 'away2'");

    /* Takeover: the same Client Identifier on another connection (a new
       client object, which has no session to resume: clean start). */
    connect_simple(r, 2, "p", true, 300);
    EXPECT_B(r, 0, "TAKEN_OVER");
    EXPECT_C(r, 0, "DISCONNECTED rc=8e");
    EXPECT_C(r, 2, "CONNECTED sp=0");
    drop(r, 0);
    subscribe(r, 2, "q/#", 1, 0, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    publish(r, 1, "q/4", "to-new", 1, false);
    EXPECT_C(r, 2, "MESSAGE q/4 q1 r0 d0 'to-new'");

    /* A will delayed 2 s. */
    mqttproto_will will;
    memset(&will, 0, sizeof will);
    will.topic = mqttproto_str_from_cstr("q/will/w");
    will.payload = mqttproto_bin_make("late", 4);
    will.qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    will.retain = true;
    mqttproto_properties_init(&will.properties);
    assert_int_equal(mqttproto_properties_set_int(&will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  MQTTPROTO_PROP_WILL_DELAY_INTERVAL, 2),
                     0);
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr("w");
    o.session_expiry_interval = 10;
    o.will = &will;
    connect_with(r, 3, &o);
    drop(r, 3);
    advance(r, 1000);
    advance(r, 1500);
    EXPECT_C(r, 1, "MESSAGE q/will/w q2 r0 d0 'late'");
    EXPECT_C(r, 2, "MESSAGE q/will/w q1 r0 d0 'late'");

    /* A will cancelled by a reconnect within its delay. */
    o.client_id = mqttproto_str_from_cstr("w2");
    will.payload = mqttproto_bin_make("w2-will", 7);
    connect_with(r, 4, &o);
    drop(r, 4);
    advance(r, 500);
    o.clean_start = false;
    connect_with(r, 4, &o);
    EXPECT_C(r, 4, "CONNECTED sp=1");
    advance(r, 3000);

    /* A will that goes when the session ends before its delay. */
    will.payload = mqttproto_bin_make("expired", 7);
    assert_int_equal(mqttproto_client_disconnect(r->p[4].client,
                                                 MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE, NULL),
                     0);
    run_net(r);
    drop(r, 4);
    o.client_id = mqttproto_str_from_cstr("w3");
    o.session_expiry_interval = 1;
    mqttproto_properties_init(&will.properties);
    assert_int_equal(mqttproto_properties_set_int(&will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  MQTTPROTO_PROP_WILL_DELAY_INTERVAL, 30),
                     0);
    connect_with(r, 4, &o);
    drop(r, 4);
    advance(r, 1000);
    EXPECT_C(r, 1, "MESSAGE q/will/w q2 r0 d0 'expired'");

    /* The retained will reaches a new subscriber. */
    subscribe(r, 2, "q/will/+", 0, 0, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    EXPECT_C(r, 2, "MESSAGE q/will/w q0 r1 d0 'expired'");
    disconnect(r, 2, 0x00);
    disconnect(r, 1, 0x00);
    advance(r, 400000); /* every session expires */
    r->finished = true;
}

/*
 * authorize_publish: messages allowed and refused at QoS 0, 1 and 2;
 * inbound QoS 2 with PUBREL; a message from the application; a keep-alive
 * timeout that publishes the will.
 */
static void scenario_authorize(struct run *r)
{
    for (int i = 0; i < 3; i++) {
        add_client(r, i);
    }
    r->deny_topic = "t/deny";
    connect_simple(r, 0, "s", true, 0);
    subscribe(r, 0, "t/#", 2, 0, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE);
    connect_simple(r, 1, "p", true, 0);
    for (int q = 0; q < 3; q++) {
        publish(r, 1, "t/ok", "yes", q, false);
        publish(r, 1, "t/deny", "no", q, false);
    }
    EXPECT_C(r, 0, "MESSAGE t/ok q2 r0 d0 'yes'");
    EXPECT_C(r, 1, "PUBLISH_FAILED id=2 rc=87");
    EXPECT_C(r, 1, "PUBLISH_COMPLETED id=3 rc=00");
    long long rc;
    CALL(r, rc,
         mqttproto_broker_publish(r->b, mqttproto_str_from_cstr("t/app"),
                                  mqttproto_bin_make("app", 3), MQTTPROTO_QOS_EXACTLY_ONCE, false,
                                  NULL, r->now));
    assert_true(rc >= 0);
    run_net(r);
    EXPECT_C(r, 0, "MESSAGE t/app q2 r0 d0 'app'");

    /* Keep alive 1 s: silence for 1.5 s closes the connection, the will goes. */
    mqttproto_will will;
    memset(&will, 0, sizeof will);
    will.topic = mqttproto_str_from_cstr("t/ka");
    will.payload = mqttproto_bin_make("timeout", 7);
    will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    mqttproto_properties_init(&will.properties);
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr("ka");
    o.keep_alive = 1;
    o.will = &will;
    connect_with(r, 2, &o);
    /* The client's own keep alive would ping: it stays silent. */
    mqttproto_client_destroy(r->p[2].client);
    r->p[2].client = NULL;
    add_client(r, 2);
    r->now += 1500;
    if (mqttproto_broker_client_get_expiry(r->p[2].conn) <= r->now) {
        call_begin(r);
        int e = mqttproto_broker_client_handle_expiry(r->p[2].conn, r->now);
        (void)call_end(r, 0, QUIET, "client handle_expiry", __LINE__);
        logf_(&r->p[2].blog, "EXPIRY %s", mqttproto_err_name(e));
    }
    drop(r, 2);
    EXPECT_B(r, 2, "EXPIRY MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT");
    EXPECT_C(r, 0, "MESSAGE t/ka q1 r0 d0 'timeout'");
    disconnect(r, 0, 0x00);
    disconnect(r, 1, 0x00);
    r->finished = true;
}

/* ---- the sweep ---------------------------------------------------------- */

typedef void (*scenario_fn)(struct run *r);

struct outcome {
    struct log blog[PEERS], clog[PEERS];
    struct log shared;
    unsigned long attempts;
};

static void run_setup(struct run *r, enum fail_mode mode, unsigned long fail_at, bool authorize,
                      size_t chunk)
{
    memset(r, 0, sizeof *r);
    r->mode = mode;
    r->ba.fail_at = fail_at;
    r->ba.fail_from = mode == FAIL_FROM;
    r->bmem = (mqttproto_mem){ca_malloc, ca_realloc, ca_free, &r->ba};
    r->cmem = (mqttproto_mem){ca_malloc, ca_realloc, ca_free, &r->ca};
    r->now = 1000;
    r->chunk = chunk;
    mqttproto_broker_settings_default(&r->settings);
    r->settings.mem = &r->bmem;
    r->settings.authorize_publish = authorize;
}

static void run_teardown(struct run *r)
{
    for (int i = 0; i < PEERS; i++) {
        call_begin(r);
        mqttproto_broker_client_destroy(r->p[i].conn, r->now);
        mqttproto_client_destroy(r->p[i].client);
    }
    mqttproto_broker_destroy(r->b);
    if (r->ba.live != 0) {
        fail_msg("%s%ld blocks of the broker still allocated after destroy", run_tag, r->ba.live);
    }
    if (r->ca.live != 0) {
        fail_msg("%s%ld blocks of the clients still allocated after destroy", run_tag, r->ca.live);
    }
}

/* The store: records must follow each other; it never fails. */
static void store_record(void *ctx, const mqttproto_store_record *rec)
{
    struct run *r = ctx;
    if (rec->seq != r->store_last + 1) {
        fail_msg("%srecord %llu after %llu", run_tag, (unsigned long long)rec->seq,
                 (unsigned long long)r->store_last);
    }
    r->store_last = rec->seq;
}

static bool sweep_store; /* the sweep being run wants the store */

static int store_off(void **state)
{
    (void)state;
    sweep_store = false;
    return 0;
}

/* Run once; returns false when broker_create met the failure. */
static bool run_once(struct run *r, scenario_fn fn)
{
    call_begin(r);
    int e = mqttproto_broker_create(&r->settings, &r->b);
    if (r->ba.hit) {
        assert_int_equal(e, MQTTPROTO_ERR_NO_MEMORY);
        assert_null(r->b);
        r->ba.hit = false;
        if (r->mode == FAIL_FROM) {
            return false;
        }
        e = mqttproto_broker_create(&r->settings, &r->b);
    }
    assert_int_equal(e, 0);
    r->store = sweep_store;
    if (r->store) {
        assert_int_equal(mqttproto_broker_set_store(r->b, store_record, r, true), 0);
    }
    if (setjmp(r->stop) == 0) {
        fn(r);
    }
    return true;
}

static int cmp_lines(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The lines of @p l sorted, joined again: the unordered comparison. */
static void sorted(const struct log *l, char *out, size_t cap)
{
    char copy[LOG_CAP];
    memcpy(copy, l->text, l->len + 1);
    const char *lines[512];
    size_t n = 0;
    for (char *s = strtok(copy, "\n"); s != NULL && n < 512; s = strtok(NULL, "\n")) {
        lines[n++] = s;
    }
    qsort(lines, n, sizeof lines[0], cmp_lines);
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(out + len, cap - len, "%s\n", lines[i]);
    }
}

static void compare(const struct run *r, const struct outcome *ref)
{
    for (int i = 0; i < PEERS; i++) {
        if (strcmp(r->p[i].blog.text, ref->blog[i].text) != 0) {
            fail_msg("%sthe broker side of peer %d differs from the run without failures:\n"
                     "%s\n---- expected ----\n%s",
                     run_tag, i, r->p[i].blog.text, ref->blog[i].text);
        }
        if (strcmp(r->p[i].clog.text, ref->clog[i].text) != 0) {
            fail_msg("%sclient %d differs from the run without failures:\n%s\n---- expected "
                     "----\n%s",
                     run_tag, i, r->p[i].clog.text, ref->clog[i].text);
        }
    }
    static char a[LOG_CAP], b[LOG_CAP];
    sorted(&r->shared, a, sizeof a);
    sorted(&ref->shared, b, sizeof b);
    if (strcmp(a, b) != 0) {
        fail_msg("%sthe shared subscription's messages differ:\n%s\n---- expected ----\n%s",
                 run_tag, a, b);
    }
}

static void sweep(const char *name, scenario_fn fn, bool authorize, size_t chunk)
{
    struct run *r = malloc(sizeof *r);
    struct outcome *ref = malloc(sizeof *ref);
    assert_non_null(r);
    assert_non_null(ref);

    /* The run without failures: the expected logs, and the allocation count. */
    snprintf(run_tag, sizeof run_tag, "%s, no failure: ", name);
    run_setup(r, FAIL_ONE, 0, authorize, chunk);
    assert_true(run_once(r, fn));
    assert_true(r->finished);
    for (int i = 0; i < PEERS; i++) {
        ref->blog[i] = r->p[i].blog;
        ref->clog[i] = r->p[i].clog;
    }
    ref->shared = r->shared;
    ref->attempts = r->ba.attempts;
    run_teardown(r);

    for (int mode = FAIL_ONE; mode <= FAIL_FROM; mode++) {
        unsigned long n;
        for (n = 1;; n++) {
            snprintf(run_tag, sizeof run_tag, "%s, %s, allocation %lu: ", name,
                     mode == FAIL_ONE ? "FAIL_ONE" : "FAIL_FROM", n);
            run_setup(r, (enum fail_mode)mode, n, authorize, chunk);
            (void)run_once(r, fn);
            bool injected = r->ba.injected != 0;
            if (mode == FAIL_ONE) {
                assert_true(r->finished);
                compare(r, ref);
            } else if (injected && r->b != NULL) {
                assert_true(r->stopped || r->finished);
            }
            run_teardown(r);
            if (!injected) {
                break;
            }
            if (n > 1000000) {
                fail_msg("%sstill failing allocations", run_tag);
            }
        }
        if (n - 1 != ref->attempts && mode == FAIL_ONE) {
            fail_msg("%s: %lu allocations in the run without failures, the sweep covered %lu", name,
                     ref->attempts, n - 1);
        }
    }
    printf("%s: %lu allocation points covered (chunk %zu)\n", name, ref->attempts, chunk);
    free(ref);
    free(r);
}

static void test_fanout(void **state)
{
    (void)state;
    sweep("fanout", scenario_fanout, false, 0);
}

/* The same with a store holding acknowledgements: every record and fence
   made under every allocation failure, nothing lost or repeated. */
static void test_fanout_store(void **state)
{
    (void)state;
    sweep_store = true;
    sweep("fanout store", scenario_fanout, false, 0);
    sweep_store = false;
}

static void test_sessions_store(void **state)
{
    (void)state;
    sweep_store = true;
    sweep("sessions store", scenario_sessions, false, 0);
    sweep_store = false;
}

static void test_fanout_chunked(void **state)
{
    (void)state;
    sweep("fanout chunked", scenario_fanout, false, 7);
}

static void test_sessions(void **state)
{
    (void)state;
    sweep("sessions", scenario_sessions, false, 0);
}

static void test_authorize(void **state)
{
    (void)state;
    sweep("authorize", scenario_authorize, true, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fanout),
        cmocka_unit_test(test_fanout_chunked),
        cmocka_unit_test_teardown(test_fanout_store, store_off),
        cmocka_unit_test_teardown(test_sessions_store, store_off),
        cmocka_unit_test(test_sessions),
        cmocka_unit_test(test_authorize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
