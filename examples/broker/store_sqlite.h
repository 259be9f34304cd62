/*
 * The broker's durable store: one SQLite file in WAL mode that holds what
 * the library's store records describe (include/mqttproto/broker_store.h):
 * sessions, subscriptions, messages, deliveries, retained messages, wills
 * and inbound QoS 2 packet identifiers.
 *
 *   store_open.c    opening, creating and checking the file
 *   store_batch.c   the records of one batch, copied (store_batch.h)
 *   store_write.c   a batch written in one transaction; the statements
 *   store_journal.c the journal's blobs and their compaction into the tables
 *   store_load.c    reading everything back for the restore calls
 *
 * Records are buffered by store_apply() and written by store_commit() in
 * one transaction, as one row of the table journal, so the file always
 * holds the state after some record (never half of a batch). The journal
 * is applied to the other tables by store_compact() (one transaction):
 * after a commit when store_compact_due(), at a clean stop, and by
 * store_open() before anything is loaded. The file's PRAGMA user_version
 * is the schema version; its application_id marks it as ours. While open, the file is
 * locked (SQLite's exclusive locking mode): a second broker on the same
 * file fails to open it.
 *
 * Every error message names the file and the reason; the caller prints it.
 */
#ifndef BROKER_STORE_SQLITE_H
#define BROKER_STORE_SQLITE_H

#include <mqttproto/broker_store.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* 2: the table journal. A version-1 file is migrated at open (the table
   is created); nothing else changed. */
#define STORE_SCHEMA_VERSION 2
/* The journal is compacted after a commit that leaves more than this many
   rows or blob bytes in it. */
#define STORE_COMPACT_ROWS   64u
#define STORE_COMPACT_BYTES  (4u * 1024u * 1024u)
#define STORE_APPLICATION_ID 0x4d515042 /* "MQPB" */

struct store;

/**
 * Open the store at @p path, creating it when there is no file. NULL with
 * "PATH: reason" in @p err when it cannot be used: unreadable, empty or
 * damaged (a journal row that does not decode included), not an SQLite
 * database, not ours, a newer schema, a directory where it cannot write
 * its journal, or locked by another process. What the journal holds is
 * compacted into the tables before it returns.
 */
struct store *store_open(const char *path, char *err, size_t cap);

/** Close the store; records not committed are dropped. */
void store_close(struct store *st);

/** The path given to store_open(). */
const char *store_path(const struct store *st);

/**
 * Copy one record into the current batch. False when out of memory: the
 * batch then misses a record, so store_commit() refuses it from then on.
 */
bool store_apply(struct store *st, const mqttproto_store_record *record);

/** Records in the current batch, and the bytes they hold. */
size_t store_pending(const struct store *st);
size_t store_pending_bytes(const struct store *st);

/**
 * Write the batch in one transaction (BEGIN IMMEDIATE ... COMMIT) as one
 * journal row. On
 * success the batch is emptied and @p *last_seq is the sequence number of
 * its last record (unchanged for an empty batch). On failure the
 * transaction is rolled back and the batch kept, so a later call can try
 * again; "PATH: reason" is in @p err.
 */
bool store_commit(struct store *st, uint64_t *last_seq, char *err, size_t cap);

/** Whether the journal has grown past STORE_COMPACT_ROWS or _BYTES. */
bool store_compact_due(const struct store *st);

/** Journal rows written since the last compaction. */
size_t store_journal_rows(const struct store *st);

/**
 * Apply the journal to the tables and empty it, in one transaction:
 * records are coalesced first (store_journal.c), so the tables end as if
 * every record had been applied in order. On failure nothing changed and
 * "PATH: reason" is in @p err; the journal still holds everything.
 */
bool store_compact(struct store *st, char *err, size_t cap);

/** A delivery as stored. */
struct store_delivery {
    mqttproto_str client_id;
    uint64_t delivery_id;
    uint64_t message_id;
    uint8_t qos;
    bool retain;
    bool shared;
    const uint32_t *subscription_identifiers;
    size_t subscription_identifier_count;
    uint16_t packet_id; /* 0 while queued */
    mqttproto_store_delivery_stage stage;
};

/**
 * What store_load() calls, in this order: every session, every
 * subscription, every message something refers to, every delivery (by
 * increasing delivery_id), every retained message, every will, every
 * inbound packet identifier. The views are valid during the call. A call
 * returns 0 to go on; anything else stops the load, which returns it.
 */
struct store_loader {
    int (*session)(void *ctx, mqttproto_str client_id, uint32_t expiry_interval,
                   uint64_t expires_at);
    int (*subscription)(void *ctx, mqttproto_str client_id, mqttproto_str topic_filter,
                        uint8_t options, uint32_t subscription_identifier);
    int (*message)(void *ctx, uint64_t message_id, mqttproto_bin message, uint8_t qos,
                   uint64_t expires_at);
    int (*delivery)(void *ctx, const struct store_delivery *d);
    int (*retained)(void *ctx, mqttproto_str topic, uint64_t message_id);
    int (*will)(void *ctx, mqttproto_str client_id, uint64_t message_id, uint32_t will_delay,
                uint64_t will_at);
    int (*inbound)(void *ctx, mqttproto_str client_id, uint16_t packet_id);
};

/**
 * Read the whole store through @p ops. Returns 0; the non-zero value a
 * call returned; or -1 with "PATH: reason" in @p err for a read error or
 * a row with a value out of range (or a journal that cannot be compacted:
 * batches committed since the open are applied first). Messages nothing
 * refers to are skipped (and deleted from the file).
 */
int store_load(struct store *st, const struct store_loader *ops, void *ctx, char *err, size_t cap);

#endif /* BROKER_STORE_SQLITE_H */
