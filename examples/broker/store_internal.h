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
};

/** The SQL of each statement (store_write.c). */
extern const char *const store_stmt_sql[ST_COUNT];

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
