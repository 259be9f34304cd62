/*
 * Writing a batch: store_commit() makes the batch durable as one row of
 * the journal (its records in one blob, store_journal.c) in one BEGIN
 * IMMEDIATE ... COMMIT. The tables get the records later, when the
 * journal is compacted: there every record becomes one or more prepared
 * statements (store_run_record()). Puts are upserts and deletes of rows
 * that do not exist change nothing, as the library's records allow
 * repeats; a session's delete takes everything of that session with it.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

const char *const store_stmt_sql[ST_COUNT] = {
    [ST_SESSION_PUT] = "INSERT INTO sessions (client_id, expiry_interval, expires_at) "
                       "VALUES (?1, ?2, ?3) ON CONFLICT (client_id) DO UPDATE SET "
                       "expiry_interval = excluded.expiry_interval, "
                       "expires_at = excluded.expires_at",
    [ST_SESSION_DELETE] = "DELETE FROM sessions WHERE client_id = ?1",
    [ST_SESSION_DELETE_SUBSCRIPTIONS] = "DELETE FROM subscriptions WHERE client_id = ?1",
    [ST_SESSION_DELETE_DELIVERIES] = "DELETE FROM deliveries WHERE client_id = ?1",
    [ST_SESSION_DELETE_WILL] = "DELETE FROM wills WHERE client_id = ?1",
    [ST_SESSION_DELETE_INBOUND] = "DELETE FROM inbound WHERE client_id = ?1",
    [ST_SUBSCRIPTION_PUT] = "INSERT INTO subscriptions (client_id, topic_filter, options, "
                            "subscription_identifier) VALUES (?1, ?2, ?3, ?4) "
                            "ON CONFLICT (client_id, topic_filter) DO UPDATE SET "
                            "options = excluded.options, "
                            "subscription_identifier = excluded.subscription_identifier",
    [ST_SUBSCRIPTION_DELETE] = "DELETE FROM subscriptions WHERE client_id = ?1 "
                               "AND topic_filter = ?2",
    [ST_MESSAGE_PUT] = "INSERT INTO messages (message_id, qos, expires_at, packet) "
                       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (message_id) DO UPDATE SET "
                       "qos = excluded.qos, expires_at = excluded.expires_at, "
                       "packet = excluded.packet",
    [ST_MESSAGE_DELETE] = "DELETE FROM messages WHERE message_id = ?1",
    [ST_DELIVERY_PUT] = "INSERT INTO deliveries (client_id, delivery_id, message_id, qos, "
                        "retain, shared, subscription_identifiers, stage, packet_id) "
                        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0, 0) "
                        "ON CONFLICT (client_id, delivery_id) DO UPDATE SET "
                        "message_id = excluded.message_id, qos = excluded.qos, "
                        "retain = excluded.retain, shared = excluded.shared, "
                        "subscription_identifiers = excluded.subscription_identifiers, "
                        "stage = 0, packet_id = 0",
    [ST_DELIVERY_STAGE] = "UPDATE deliveries SET stage = ?3, packet_id = ?4 "
                          "WHERE client_id = ?1 AND delivery_id = ?2",
    [ST_DELIVERY_DELETE] = "DELETE FROM deliveries WHERE client_id = ?1 AND delivery_id = ?2",
    [ST_RETAINED_PUT] = "INSERT INTO retained (topic, message_id) VALUES (?1, ?2) "
                        "ON CONFLICT (topic) DO UPDATE SET message_id = excluded.message_id",
    [ST_RETAINED_DELETE] = "DELETE FROM retained WHERE topic = ?1",
    [ST_WILL_PUT] = "INSERT INTO wills (client_id, message_id, will_delay, will_at) "
                    "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (client_id) DO UPDATE SET "
                    "message_id = excluded.message_id, will_delay = excluded.will_delay, "
                    "will_at = excluded.will_at",
    [ST_WILL_DELETE] = "DELETE FROM wills WHERE client_id = ?1",
    [ST_INBOUND_PUT] = "INSERT INTO inbound (client_id, packet_id) VALUES (?1, ?2) "
                       "ON CONFLICT DO NOTHING",
    [ST_INBOUND_DELETE] = "DELETE FROM inbound WHERE client_id = ?1 AND packet_id = ?2",
    [ST_JOURNAL_PUT] = "INSERT INTO journal (first_seq, last_seq, data) VALUES (?1, ?2, ?3)",
    [ST_JOURNAL_READ] = "SELECT id, data FROM journal ORDER BY id",
    [ST_JOURNAL_DELETE] = "DELETE FROM journal WHERE id <= ?1",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
};

bool store_apply(struct store *st, const mqttproto_store_record *record)
{
    return store_batch_add(&st->batch, record);
}

size_t store_pending(const struct store *st)
{
    return st->batch.count - st->committed;
}

size_t store_pending_bytes(const struct store *st)
{
    return st->batch.used - st->committed_bytes + store_pending(st) * sizeof(struct batch_record);
}

/* Binding helpers: a statement's parameters are bound by number. */
struct binder {
    const struct store_batch *batch;
    sqlite3_stmt *s;
    int rc;
};

static void bind_text(struct binder *b, int i, struct batch_span sp)
{
    if (b->rc == SQLITE_OK) {
        /* An empty string is "" (NOT NULL columns), not NULL. */
        const char *p = sp.len > 0 ? (const char *)store_batch_at(b->batch, sp) : "";
        b->rc = sqlite3_bind_text64(b->s, i, p, sp.len, SQLITE_STATIC, SQLITE_UTF8);
    }
}

static void bind_blob(struct binder *b, int i, struct batch_span sp)
{
    if (b->rc == SQLITE_OK) {
        b->rc = sp.len > 0 ? sqlite3_bind_blob64(b->s, i, store_batch_at(b->batch, sp), sp.len,
                                                 SQLITE_STATIC)
                           : sqlite3_bind_zeroblob(b->s, i, 0);
    }
}

static void bind_int(struct binder *b, int i, uint64_t v)
{
    if (b->rc == SQLITE_OK) {
        b->rc = sqlite3_bind_int64(b->s, i, store_i64(v));
    }
}

static int run(struct store *st, const struct store_batch *batch, enum store_stmt which,
               const struct batch_record *r)
{
    struct binder b = {batch, st->stmt[which], SQLITE_OK};
    switch (which) {
    case ST_SESSION_PUT:
        bind_text(&b, 1, r->client_id);
        bind_int(&b, 2, r->session_expiry_interval);
        bind_int(&b, 3, r->expires_at);
        break;
    case ST_SESSION_DELETE:
    case ST_SESSION_DELETE_SUBSCRIPTIONS:
    case ST_SESSION_DELETE_DELIVERIES:
    case ST_SESSION_DELETE_WILL:
    case ST_SESSION_DELETE_INBOUND:
    case ST_WILL_DELETE:
        bind_text(&b, 1, r->client_id);
        break;
    case ST_SUBSCRIPTION_PUT:
        bind_text(&b, 1, r->client_id);
        bind_text(&b, 2, r->topic);
        bind_int(&b, 3, r->options);
        bind_int(&b, 4, r->subscription_identifier);
        break;
    case ST_SUBSCRIPTION_DELETE:
        bind_text(&b, 1, r->client_id);
        bind_text(&b, 2, r->topic);
        break;
    case ST_MESSAGE_PUT:
        bind_int(&b, 1, r->message_id);
        bind_int(&b, 2, r->qos);
        bind_int(&b, 3, r->expires_at);
        bind_blob(&b, 4, r->message);
        break;
    case ST_MESSAGE_DELETE:
        bind_int(&b, 1, r->message_id);
        break;
    case ST_DELIVERY_PUT:
        bind_text(&b, 1, r->client_id);
        bind_int(&b, 2, r->delivery_id);
        bind_int(&b, 3, r->message_id);
        bind_int(&b, 4, r->qos);
        bind_int(&b, 5, r->retain);
        bind_int(&b, 6, r->shared);
        bind_blob(&b, 7, r->subscription_identifiers);
        break;
    case ST_DELIVERY_STAGE:
        bind_text(&b, 1, r->client_id);
        bind_int(&b, 2, r->delivery_id);
        bind_int(&b, 3,
                 r->type == MQTTPROTO_STORE_DELIVERY_SENT ? MQTTPROTO_STORE_STAGE_SENT
                                                          : MQTTPROTO_STORE_STAGE_RELEASED);
        bind_int(&b, 4, r->packet_id);
        break;
    case ST_DELIVERY_DELETE:
        bind_text(&b, 1, r->client_id);
        bind_int(&b, 2, r->delivery_id);
        break;
    case ST_RETAINED_PUT:
        bind_text(&b, 1, r->topic);
        bind_int(&b, 2, r->message_id);
        break;
    case ST_RETAINED_DELETE:
        bind_text(&b, 1, r->topic);
        break;
    case ST_WILL_PUT:
        bind_text(&b, 1, r->client_id);
        bind_int(&b, 2, r->message_id);
        bind_int(&b, 3, r->will_delay);
        bind_int(&b, 4, r->will_at);
        break;
    case ST_INBOUND_PUT:
    case ST_INBOUND_DELETE:
        bind_text(&b, 1, r->client_id);
        bind_int(&b, 2, r->packet_id);
        break;
    default:
        break;
    }
    int rc = b.rc;
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(b.s);
        if (rc == SQLITE_DONE) {
            rc = SQLITE_OK;
        }
    }
    sqlite3_reset(b.s);
    sqlite3_clear_bindings(b.s);
    return rc;
}

/* The statements one record becomes (ST_COUNT ends the list). */
static void statements_of(mqttproto_store_record_type type, enum store_stmt out[6])
{
    enum store_stmt one = ST_COUNT;
    switch (type) {
    case MQTTPROTO_STORE_SESSION_PUT:
        one = ST_SESSION_PUT;
        break;
    case MQTTPROTO_STORE_SESSION_DELETE:
        out[0] = ST_SESSION_DELETE;
        out[1] = ST_SESSION_DELETE_SUBSCRIPTIONS;
        out[2] = ST_SESSION_DELETE_DELIVERIES;
        out[3] = ST_SESSION_DELETE_WILL;
        out[4] = ST_SESSION_DELETE_INBOUND;
        out[5] = ST_COUNT;
        return;
    case MQTTPROTO_STORE_SUBSCRIPTION_PUT:
        one = ST_SUBSCRIPTION_PUT;
        break;
    case MQTTPROTO_STORE_SUBSCRIPTION_DELETE:
        one = ST_SUBSCRIPTION_DELETE;
        break;
    case MQTTPROTO_STORE_MESSAGE_PUT:
        one = ST_MESSAGE_PUT;
        break;
    case MQTTPROTO_STORE_MESSAGE_DELETE:
        one = ST_MESSAGE_DELETE;
        break;
    case MQTTPROTO_STORE_DELIVERY_PUT:
        one = ST_DELIVERY_PUT;
        break;
    case MQTTPROTO_STORE_DELIVERY_SENT:
    case MQTTPROTO_STORE_DELIVERY_RELEASED:
        one = ST_DELIVERY_STAGE;
        break;
    case MQTTPROTO_STORE_DELIVERY_DELETE:
        one = ST_DELIVERY_DELETE;
        break;
    case MQTTPROTO_STORE_RETAINED_PUT:
        one = ST_RETAINED_PUT;
        break;
    case MQTTPROTO_STORE_RETAINED_DELETE:
        one = ST_RETAINED_DELETE;
        break;
    case MQTTPROTO_STORE_WILL_PUT:
        one = ST_WILL_PUT;
        break;
    case MQTTPROTO_STORE_WILL_DELETE:
        one = ST_WILL_DELETE;
        break;
    case MQTTPROTO_STORE_INBOUND_PUT:
        one = ST_INBOUND_PUT;
        break;
    case MQTTPROTO_STORE_INBOUND_DELETE:
        one = ST_INBOUND_DELETE;
        break;
    }
    out[0] = one;
    out[1] = ST_COUNT;
}

int store_run_record(struct store *st, const struct store_batch *b, size_t i, size_t *statements)
{
    enum store_stmt list[6];
    statements_of(b->v[i].type, list);
    if (list[0] == ST_COUNT) {
        return SQLITE_MISMATCH; /* the journal's decoder lets no such record in */
    }
    int rc = SQLITE_OK;
    for (int k = 0; rc == SQLITE_OK && list[k] != ST_COUNT; k++) {
        rc = run(st, b, list[k], &b->v[i]);
        (*statements)++;
    }
    return rc;
}

int store_step_plain(struct store *st, enum store_stmt which)
{
    int rc = sqlite3_step(st->stmt[which]);
    sqlite3_reset(st->stmt[which]);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

bool store_commit(struct store *st, uint64_t *last_seq, char *err, size_t cap)
{
    struct store_batch *b = &st->batch;
    if (b->incomplete) {
        store_error(err, cap, st->path,
                    "out of memory for a store record: the batch is incomplete and is not written");
        return false;
    }
    if (store_pending(st) == 0) {
        return true;
    }
    size_t len = store_journal_encode(st, b, st->committed);
    if (len == 0) {
        store_error(err, cap, st->path, "out of memory for the journal");
        return false;
    }
    sqlite3_stmt *put = st->stmt[ST_JOURNAL_PUT];
    int rc = store_step_plain(st, ST_BEGIN);
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(put, 1, store_i64(b->v[st->committed].seq));
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(put, 2, store_i64(b->v[b->count - 1].seq));
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_blob64(put, 3, st->blob, len, SQLITE_STATIC);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(put);
        rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    sqlite3_reset(put);
    sqlite3_clear_bindings(put);
    if (rc == SQLITE_OK) {
        rc = store_step_plain(st, ST_COMMIT);
    }
    if (rc != SQLITE_OK) {
        store_error(err, cap, st->path, "cannot write: %s", sqlite3_errmsg(st->db));
        if (!sqlite3_get_autocommit(st->db)) {
            (void)store_step_plain(st, ST_ROLLBACK);
        }
        return false;
    }
    st->last_journal_id = sqlite3_last_insert_rowid(st->db);
    st->journal_rows++;
    st->journal_bytes += len;
    *last_seq = b->v[b->count - 1].seq;
    if (st->journal_in_memory) {
        st->committed = b->count;
        st->committed_bytes = b->used;
        /* Nobody compacts: the journal rows are enough. */
        if (st->journal_bytes > 4 * STORE_COMPACT_BYTES) {
            store_journal_forget(st);
        }
    } else {
        store_batch_clear(b);
    }
    return true;
}
