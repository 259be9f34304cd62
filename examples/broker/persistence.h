/*
 * The durable store in the event loop: the broker is rebuilt from the
 * store at start, every store record the library emits is buffered, and
 * the buffer is written at the points persistence_mode chooses:
 *
 *   sync      at the end of every loop iteration that produced records
 *             (the prepare handle, before libuv polls): one transaction,
 *             synchronous=FULL, for everything the iteration did (a group
 *             commit); then mqttproto_broker_store_synced() releases the
 *             acknowledgements the library held behind those records
 *             (set_store with hold_acks) and the clients are written;
 *   periodic  every autosave_interval (and sooner when the buffer grows
 *             large); nothing is held.
 *
 * Both write a batch the same way, as one row of the store's journal, and
 * compact the journal into the tables (store_compact()) after a write
 * that leaves it past its threshold: in sync mode after the released
 * acknowledgements are written. Both write what is left at a clean
 * shutdown, and compact. A record that cannot be
 * buffered (out of memory) stops the broker: the store can no longer
 * follow the state, and nothing acknowledged after it was sent.
 */
#ifndef BROKER_PERSISTENCE_H
#define BROKER_PERSISTENCE_H

#include "config.h"
#include "store_sqlite.h"

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

struct server;

struct persistence {
    struct server *server;
    struct store *store;
    bool hold_acks;       /* sync mode */
    bool failed;          /* a record was lost: stop */
    bool stopping;        /* and the stop has begun */
    bool commit_failing;  /* the last write failed (logged once) */
    bool compact_failing; /* the last compaction failed (logged once) */
    bool retry_wait;      /* sync: wait for the timer before writing again */
    uv_timer_t timer;     /* periodic: autosave; sync: retry after a failed write */
    uv_idle_t again;      /* sync: records wait, so the loop must not sleep */
    bool handles_open;
};

/**
 * Restore the broker of @p s from @p st, install the store callback, end
 * the restore at @p now_ms and write what that changed. False after
 * logging why (the store is then not used).
 */
bool persistence_start(struct persistence *p, struct server *s, struct store *st, uint64_t now_ms);

/**
 * The store's rows given to the restore calls (persistence_restore.c).
 * False after logging why.
 */
bool persistence_restore(mqttproto_broker *broker, struct store *st);

/** The end of a loop iteration: write what it produced (see above). */
void persistence_before_poll(struct persistence *p);

/** Close the handles (the loop is finishing). */
void persistence_close_handles(struct persistence *p);

/**
 * After the loop: write what is left and remove the store callback (so
 * that destroying the broker records nothing). False after logging why.
 */
bool persistence_stop(struct persistence *p);

#endif /* BROKER_PERSISTENCE_H */
