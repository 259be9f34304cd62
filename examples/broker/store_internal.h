/* What store_open.c, store_write.c and store_load.c share. */
#ifndef BROKER_STORE_INTERNAL_H
#define BROKER_STORE_INTERNAL_H

#include "store_batch.h"
#include "store_sqlite.h"

#include <sqlite3.h>
#include <stdarg.h>

/* One prepared statement per change the records make. */
enum store_stmt {
    ST_SESSION_PUT,
    ST_SESSION_DELETE,
    ST_SESSION_DELETE_SUBSCRIPTIONS,
    ST_SESSION_DELETE_DELIVERIES,
    ST_SESSION_DELETE_WILL,
    ST_SESSION_DELETE_INBOUND,
    ST_SUBSCRIPTION_PUT,
    ST_SUBSCRIPTION_DELETE,
    ST_MESSAGE_PUT,
    ST_MESSAGE_DELETE,
    ST_DELIVERY_PUT,
    ST_DELIVERY_STAGE,
    ST_DELIVERY_DELETE,
    ST_RETAINED_PUT,
    ST_RETAINED_DELETE,
    ST_WILL_PUT,
    ST_WILL_DELETE,
    ST_INBOUND_PUT,
    ST_INBOUND_DELETE,
    ST_JOURNAL_PUT,
    ST_JOURNAL_READ,
    ST_JOURNAL_DELETE,
    ST_BEGIN,
    ST_COMMIT,
    ST_ROLLBACK,
    ST_COUNT
};

struct store {
    sqlite3 *db;
    char *path;
    sqlite3_stmt *stmt[ST_COUNT];
    struct store_batch batch;
    /* The blob of the batch being committed (kept for the next one). */
    uint8_t *blob;
    size_t blob_cap;
    /* The journal rows since the last compaction, and their blob bytes. */
    size_t journal_rows, journal_bytes;
    /* Upper bounds of the message and delivery ids in the tables: a put
       with a higher id makes a row that was not there (store_journal.c). */
    uint64_t max_message_id, max_delivery_id;
    /* While journal_in_memory, batch.v[0 .. committed) (and the first
       committed_bytes of its buffer) are the records of every journal row,
       kept for the compaction, which then needs not read the rows back;
       the rest of the batch is not committed yet. Otherwise committed is
       0, a commit empties the batch and compaction decodes the rows. */
    size_t committed, committed_bytes;
    bool journal_in_memory;
    sqlite3_int64 last_journal_id;   /* the row the last commit made */
    struct journal_scratch *scratch; /* store_journal.c */
    /* Statements the last compaction ran, and the records it read. */
    size_t compact_statements, compact_records;
};

/** The SQL of each statement (store_write.c). */
extern const char *const store_stmt_sql[ST_COUNT];

/**
 * Run the statements of record @p i of @p b (store_write.c), inside the
 * caller's transaction: an SQLite result code.
 */
int store_run_record(struct store *st, const struct store_batch *b, size_t i, size_t *statements);

/** Statements without parameters (BEGIN, COMMIT, ...): an SQLite result code. */
int store_step_plain(struct store *st, enum store_stmt which);

/**
 * The journal (store_journal.c). store_journal_encode() puts the records
 * of @p b from index @p from into st->blob: its length, or 0 when out of
 * memory. store_journal_forget() drops the committed records kept in
 * memory (compaction then reads the rows).
 * store_journal_open() compacts what a crash left (the id bounds set).
 * store_journal_free() frees what compactions keep for the next one.
 */
size_t store_journal_encode(struct store *st, const struct store_batch *b, size_t from);
bool store_journal_open(struct store *st, char *err, size_t cap);
void store_journal_free(struct store *st);
void store_journal_forget(struct store *st);

/** "PATH: " and the formatted reason into @p err. */
__attribute__((format(printf, 4, 5))) void store_error(char *err, size_t cap, const char *path,
                                                       const char *fmt, ...);

/* SQLite integers are signed 64-bit: unsigned values keep their bits. */
static inline sqlite3_int64 store_i64(uint64_t v)
{
    return (sqlite3_int64)v;
}

static inline uint64_t store_u64(sqlite3_int64 v)
{
    return (uint64_t)v;
}

#endif /* BROKER_STORE_INTERNAL_H */
