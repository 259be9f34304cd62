/*
 * Reading the store back in the order the library's restore calls need:
 * sessions, then what refers to a session or a message after both exist.
 * Every value is checked against its range first: a row the library would
 * take the wrong way is an error here, naming the table.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_SUBSCRIPTION_IDS 255

/* Messages something refers to; the others are left over from a batch
   that stored a message before a crash cut off what named it. */
#define REFERENCED                                                                                 \
    "SELECT message_id FROM deliveries UNION SELECT message_id FROM retained "                     \
    "UNION SELECT message_id FROM wills"

static const char *const load_sql[] = {
    "SELECT client_id, expiry_interval, expires_at FROM sessions ORDER BY client_id",
    "SELECT client_id, topic_filter, options, subscription_identifier FROM subscriptions "
    "ORDER BY client_id, topic_filter",
    "SELECT message_id, packet, qos, expires_at FROM messages WHERE message_id IN (" REFERENCED
    ") ORDER BY message_id",
    "SELECT client_id, delivery_id, message_id, qos, retain, shared, subscription_identifiers, "
    "packet_id, stage FROM deliveries ORDER BY delivery_id, client_id",
    "SELECT topic, message_id FROM retained ORDER BY topic",
    "SELECT client_id, message_id, will_delay, will_at FROM wills ORDER BY client_id",
    "SELECT client_id, packet_id FROM inbound ORDER BY client_id, packet_id",
};

static const char *const table_name[] = {
    "sessions", "subscriptions", "messages", "deliveries", "retained", "wills", "inbound",
};

enum { T_SESSIONS, T_SUBSCRIPTIONS, T_MESSAGES, T_DELIVERIES, T_RETAINED, T_WILLS, T_INBOUND };

/* One row's columns, each checked for its type and range. */
struct row {
    sqlite3_stmt *s;
    const char *bad; /* the first column out of range */
};

static uint64_t col_u64(struct row *r, int i, const char *name)
{
    if (sqlite3_column_type(r->s, i) != SQLITE_INTEGER) {
        r->bad = r->bad != NULL ? r->bad : name;
        return 0;
    }
    return store_u64(sqlite3_column_int64(r->s, i));
}

static uint64_t col_uint(struct row *r, int i, const char *name, uint64_t lo, uint64_t hi)
{
    uint64_t v = col_u64(r, i, name);
    if (sqlite3_column_type(r->s, i) == SQLITE_INTEGER &&
        (sqlite3_column_int64(r->s, i) < 0 || v < lo || v > hi)) {
        r->bad = r->bad != NULL ? r->bad : name;
        return lo;
    }
    return v;
}

static mqttproto_str col_str(struct row *r, int i, const char *name)
{
    mqttproto_str out = {NULL, 0};
    if (sqlite3_column_type(r->s, i) != SQLITE_TEXT) {
        r->bad = r->bad != NULL ? r->bad : name;
        return out;
    }
    out.data = (const char *)sqlite3_column_text(r->s, i);
    out.len = (size_t)sqlite3_column_bytes(r->s, i);
    return out;
}

static mqttproto_bin col_bin(struct row *r, int i, const char *name)
{
    mqttproto_bin out = {NULL, 0};
    if (sqlite3_column_type(r->s, i) != SQLITE_BLOB) {
        r->bad = r->bad != NULL ? r->bad : name;
        return out;
    }
    out.data = sqlite3_column_blob(r->s, i);
    out.len = (size_t)sqlite3_column_bytes(r->s, i);
    return out;
}

static int load_row(int table, struct row *r, const struct store_loader *ops, void *ctx)
{
    switch (table) {
    case T_SESSIONS: {
        mqttproto_str id = col_str(r, 0, "client_id");
        uint32_t interval = (uint32_t)col_uint(r, 1, "expiry_interval", 0, UINT32_MAX);
        uint64_t at = col_u64(r, 2, "expires_at");
        return r->bad != NULL ? 0 : ops->session(ctx, id, interval, at);
    }
    case T_SUBSCRIPTIONS: {
        mqttproto_str id = col_str(r, 0, "client_id");
        mqttproto_str filter = col_str(r, 1, "topic_filter");
        uint8_t options = (uint8_t)col_uint(r, 2, "options", 0, 255);
        uint32_t sub_id = (uint32_t)col_uint(r, 3, "subscription_identifier", 0, UINT32_MAX);
        return r->bad != NULL ? 0 : ops->subscription(ctx, id, filter, options, sub_id);
    }
    case T_MESSAGES: {
        uint64_t mid = col_u64(r, 0, "message_id");
        mqttproto_bin packet = col_bin(r, 1, "packet");
        uint8_t qos = (uint8_t)col_uint(r, 2, "qos", 0, 2);
        uint64_t at = col_u64(r, 3, "expires_at");
        return r->bad != NULL ? 0 : ops->message(ctx, mid, packet, qos, at);
    }
    case T_DELIVERIES: {
        struct store_delivery d;
        memset(&d, 0, sizeof d);
        d.client_id = col_str(r, 0, "client_id");
        d.delivery_id = col_u64(r, 1, "delivery_id");
        d.message_id = col_u64(r, 2, "message_id");
        d.qos = (uint8_t)col_uint(r, 3, "qos", 1, 2);
        d.retain = col_uint(r, 4, "retain", 0, 1) != 0;
        d.shared = col_uint(r, 5, "shared", 0, 1) != 0;
        mqttproto_bin ids = col_bin(r, 6, "subscription_identifiers");
        d.packet_id = (uint16_t)col_uint(r, 7, "packet_id", 0, 65535);
        d.stage = (mqttproto_store_delivery_stage)col_uint(r, 8, "stage", 0, 2);
        if (ids.len % 4 != 0 || ids.len / 4 > MAX_SUBSCRIPTION_IDS) {
            r->bad = r->bad != NULL ? r->bad : "subscription_identifiers";
        }
        if (r->bad != NULL) {
            return 0;
        }
        uint32_t v[MAX_SUBSCRIPTION_IDS];
        d.subscription_identifier_count = ids.len / 4;
        for (size_t i = 0; i < d.subscription_identifier_count; i++) {
            const uint8_t *p = ids.data + 4 * i;
            v[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
        d.subscription_identifiers = d.subscription_identifier_count > 0 ? v : NULL;
        return ops->delivery(ctx, &d);
    }
    case T_RETAINED: {
        mqttproto_str topic = col_str(r, 0, "topic");
        uint64_t mid = col_u64(r, 1, "message_id");
        return r->bad != NULL ? 0 : ops->retained(ctx, topic, mid);
    }
    case T_WILLS: {
        mqttproto_str id = col_str(r, 0, "client_id");
        uint64_t mid = col_u64(r, 1, "message_id");
        uint32_t delay = (uint32_t)col_uint(r, 2, "will_delay", 0, UINT32_MAX);
        uint64_t at = col_u64(r, 3, "will_at");
        return r->bad != NULL ? 0 : ops->will(ctx, id, mid, delay, at);
    }
    default: {
        mqttproto_str id = col_str(r, 0, "client_id");
        uint16_t pid = (uint16_t)col_uint(r, 1, "packet_id", 1, 65535);
        return r->bad != NULL ? 0 : ops->inbound(ctx, id, pid);
    }
    }
}

static int load_table(struct store *st, int table, const struct store_loader *ops, void *ctx,
                      char *err, size_t cap)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(st->db, load_sql[table], -1, &s, NULL);
    if (rc != SQLITE_OK) {
        store_error(err, cap, st->path, "cannot read table %s: %s", table_name[table],
                    sqlite3_errmsg(st->db));
        return -1;
    }
    int result = 0;
    while (result == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct row r = {s, NULL};
        result = load_row(table, &r, ops, ctx);
        if (result == 0 && r.bad != NULL) {
            store_error(err, cap, st->path, "table %s holds a bad %s", table_name[table], r.bad);
            result = -1;
        }
    }
    if (result == 0 && rc != SQLITE_DONE) {
        store_error(err, cap, st->path, "cannot read table %s: %s", table_name[table],
                    sqlite3_errmsg(st->db));
        result = -1;
    }
    sqlite3_finalize(s);
    return result;
}

int store_load(struct store *st, const struct store_loader *ops, void *ctx, char *err, size_t cap)
{
    /* store_open() compacted the journal; batches committed since are
       applied too. */
    if (store_journal_rows(st) > 0 && !store_compact(st, err, cap)) {
        return -1;
    }
    for (int t = 0; t < (int)(sizeof load_sql / sizeof load_sql[0]); t++) {
        int r = load_table(st, t, ops, ctx, err, cap);
        if (r != 0) {
            return r;
        }
    }
    int rc = sqlite3_exec(st->db, "DELETE FROM messages WHERE message_id NOT IN (" REFERENCED ")",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        store_error(err, cap, st->path, "cannot write: %s", sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}
