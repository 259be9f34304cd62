/*
 * The journal: what makes a batch durable, and its compaction into the
 * tables.
 *
 * store_commit() writes a batch as one row of the table journal: its
 * records serialized into one blob (format below). store_compact() reads
 * every journal row in order, decodes the records, drops those whose
 * effect a later record of the span undoes (the coalescing rule below),
 * runs the statements of the others, and deletes the rows it read, all
 * in one transaction: after a crash the file holds either the journal
 * rows or the tables they made, never half of both.
 *
 * Between two compactions in one process the records of the rows are
 * still in memory (a commit keeps them in the batch: st->committed), and
 * compaction takes them from there instead of reading back what it has
 * just written; it reads and decodes the rows at open, and after a
 * compaction failed (the memory is then given up).
 *
 * Blob format 1 (integers are unsigned LEB128 varints):
 *
 *   blob    = version (one byte, 1)  count (varint)  record * count
 *   record  = type (one byte, the mqttproto_store_record_type)
 *             the fields its type has, in the order of enum field:
 *             an integer is a varint; bytes are a varint length, then
 *             the bytes (subscription identifiers: 4 bytes big-endian
 *             each, as in the deliveries table)
 *
 * A blob with another version, a type or value out of range, a length
 * past the end, or bytes after the last record does not decode: the
 * store is damaged.
 */
#include "store_internal.h"

#include <stdlib.h>
#include <string.h>

#define BLOB_VERSION 1

/* The fields of a record, in the blob's order. */
enum field {
    F_CLIENT_ID,
    F_TOPIC,
    F_MESSAGE,
    F_SUBSCRIPTION_IDS,
    F_SESSION_EXPIRY,
    F_EXPIRES_AT,
    F_OPTIONS,
    F_SUBSCRIPTION_ID,
    F_MESSAGE_ID,
    F_DELIVERY_ID,
    F_QOS,
    F_FLAGS, /* bit 0 retain, bit 1 shared */
    F_PACKET_ID,
    F_WILL_DELAY,
    F_WILL_AT,
    F_COUNT
};

#define BYTES_FIELDS 4 /* the first four are bytes */
#define B(f)         (1u << (f))

/* The fields of each record type: what store_write.c binds. */
static const uint16_t fields_of[] = {
    [MQTTPROTO_STORE_SESSION_PUT] = B(F_CLIENT_ID) | B(F_SESSION_EXPIRY) | B(F_EXPIRES_AT),
    [MQTTPROTO_STORE_SESSION_DELETE] = B(F_CLIENT_ID),
    [MQTTPROTO_STORE_SUBSCRIPTION_PUT] =
        B(F_CLIENT_ID) | B(F_TOPIC) | B(F_OPTIONS) | B(F_SUBSCRIPTION_ID),
    [MQTTPROTO_STORE_SUBSCRIPTION_DELETE] = B(F_CLIENT_ID) | B(F_TOPIC),
    [MQTTPROTO_STORE_MESSAGE_PUT] = B(F_MESSAGE) | B(F_MESSAGE_ID) | B(F_QOS) | B(F_EXPIRES_AT),
    [MQTTPROTO_STORE_MESSAGE_DELETE] = B(F_MESSAGE_ID),
    [MQTTPROTO_STORE_DELIVERY_PUT] = B(F_CLIENT_ID) | B(F_SUBSCRIPTION_IDS) | B(F_MESSAGE_ID) |
                                     B(F_DELIVERY_ID) | B(F_QOS) | B(F_FLAGS),
    [MQTTPROTO_STORE_DELIVERY_SENT] = B(F_CLIENT_ID) | B(F_DELIVERY_ID) | B(F_PACKET_ID),
    [MQTTPROTO_STORE_DELIVERY_RELEASED] = B(F_CLIENT_ID) | B(F_DELIVERY_ID) | B(F_PACKET_ID),
    [MQTTPROTO_STORE_DELIVERY_DELETE] = B(F_CLIENT_ID) | B(F_DELIVERY_ID),
    [MQTTPROTO_STORE_RETAINED_PUT] = B(F_TOPIC) | B(F_MESSAGE_ID),
    [MQTTPROTO_STORE_RETAINED_DELETE] = B(F_TOPIC),
    [MQTTPROTO_STORE_WILL_PUT] = B(F_CLIENT_ID) | B(F_MESSAGE_ID) | B(F_WILL_DELAY) | B(F_WILL_AT),
    [MQTTPROTO_STORE_WILL_DELETE] = B(F_CLIENT_ID),
    [MQTTPROTO_STORE_INBOUND_PUT] = B(F_CLIENT_ID) | B(F_PACKET_ID),
    [MQTTPROTO_STORE_INBOUND_DELETE] = B(F_CLIENT_ID) | B(F_PACKET_ID),
};

#define TYPE_COUNT (sizeof fields_of / sizeof fields_of[0])

/* The largest value of each integer field (its C type). */
static const uint64_t field_max[F_COUNT] = {
    [F_SESSION_EXPIRY] = UINT32_MAX,
    [F_EXPIRES_AT] = UINT64_MAX,
    [F_OPTIONS] = UINT8_MAX,
    [F_SUBSCRIPTION_ID] = UINT32_MAX,
    [F_MESSAGE_ID] = UINT64_MAX,
    [F_DELIVERY_ID] = UINT64_MAX,
    [F_QOS] = UINT8_MAX,
    [F_FLAGS] = 3,
    [F_PACKET_ID] = UINT16_MAX,
    [F_WILL_DELAY] = UINT32_MAX,
    [F_WILL_AT] = UINT64_MAX,
};

static struct batch_span *span_of(struct batch_record *r, enum field f)
{
    switch (f) {
    case F_CLIENT_ID:
        return &r->client_id;
    case F_TOPIC:
        return &r->topic;
    case F_MESSAGE:
        return &r->message;
    default:
        return &r->subscription_identifiers;
    }
}

static uint64_t get_uint(const struct batch_record *r, enum field f)
{
    switch (f) {
    case F_SESSION_EXPIRY:
        return r->session_expiry_interval;
    case F_EXPIRES_AT:
        return r->expires_at;
    case F_OPTIONS:
        return r->options;
    case F_SUBSCRIPTION_ID:
        return r->subscription_identifier;
    case F_MESSAGE_ID:
        return r->message_id;
    case F_DELIVERY_ID:
        return r->delivery_id;
    case F_QOS:
        return r->qos;
    case F_FLAGS:
        return (uint64_t)r->retain | (uint64_t)r->shared << 1;
    case F_PACKET_ID:
        return r->packet_id;
    case F_WILL_DELAY:
        return r->will_delay;
    default:
        return r->will_at;
    }
}

/* v is within field_max[f]. */
static void set_uint(struct batch_record *r, enum field f, uint64_t v)
{
    switch (f) {
    case F_SESSION_EXPIRY:
        r->session_expiry_interval = (uint32_t)v;
        break;
    case F_EXPIRES_AT:
        r->expires_at = v;
        break;
    case F_OPTIONS:
        r->options = (uint8_t)v;
        break;
    case F_SUBSCRIPTION_ID:
        r->subscription_identifier = (uint32_t)v;
        break;
    case F_MESSAGE_ID:
        r->message_id = v;
        break;
    case F_DELIVERY_ID:
        r->delivery_id = v;
        break;
    case F_QOS:
        r->qos = (uint8_t)v;
        break;
    case F_FLAGS:
        r->retain = (v & 1u) != 0;
        r->shared = (v & 2u) != 0;
        break;
    case F_PACKET_ID:
        r->packet_id = (uint16_t)v;
        break;
    case F_WILL_DELAY:
        r->will_delay = (uint32_t)v;
        break;
    default:
        r->will_at = v;
        break;
    }
}

/* ---- encoding ---- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* The most a record of @p b can take in the blob. */
static size_t record_bound(const struct batch_record *r)
{
    return 1 + 15 * 10 + r->client_id.len + r->topic.len + r->message.len +
           r->subscription_identifiers.len;
}

size_t store_journal_encode(struct store *st, const struct store_batch *b, size_t from)
{
    size_t need = 1 + 10;
    for (size_t i = from; i < b->count; i++) {
        need += record_bound(&b->v[i]);
    }
    if (need > st->blob_cap) {
        uint8_t *p = realloc(st->blob, need);
        if (p == NULL) {
            return 0;
        }
        st->blob = p;
        st->blob_cap = need;
    }
    uint8_t *out = st->blob;
    size_t n = 0;
    out[n++] = BLOB_VERSION;
    n += put_varint(out + n, b->count - from);
    for (size_t i = from; i < b->count; i++) {
        struct batch_record *r = &b->v[i];
        unsigned type = (unsigned)r->type;
        out[n++] = (uint8_t)type;
        unsigned mask = type < TYPE_COUNT ? fields_of[type] : 0;
        for (int f = 0; f < F_COUNT; f++) {
            if ((mask & B(f)) == 0) {
                continue;
            }
            if (f < BYTES_FIELDS) {
                struct batch_span s = *span_of(r, (enum field)f);
                n += put_varint(out + n, s.len);
                if (s.len > 0) {
                    memcpy(out + n, store_batch_at(b, s), s.len);
                    n += s.len;
                }
            } else {
                n += put_varint(out + n, get_uint(r, (enum field)f));
            }
        }
    }
    return n;
}

/* ---- decoding ---- */

static const char out_of_memory[] = "out of memory";

struct reader {
    const uint8_t *p;
    size_t pos, len;
    const char *bad; /* why it does not decode */
};

static uint64_t get_varint(struct reader *r)
{
    uint64_t v = 0;
    for (int shift = 0; r->bad == NULL; shift += 7) {
        if (r->pos >= r->len) {
            r->bad = "it ends inside a record";
            break;
        }
        uint8_t c = r->p[r->pos++];
        if (shift == 63 && c > 1) {
            r->bad = "an integer is too large";
            break;
        }
        v |= (uint64_t)(c & 0x7f) << shift;
        if ((c & 0x80) == 0) {
            return v;
        }
    }
    return 0;
}

/* Decode the blob that is the last @p len bytes of @p b's buffer,
   appending its records to @p b. NULL, or why it does not decode. */
static const char *decode(struct store_batch *b, size_t len)
{
    size_t base = b->used - len;
    struct reader r = {b->bytes + base, 0, len, NULL};
    if (r.p[r.pos++] != BLOB_VERSION) { /* len > 0 */
        return "an unknown format version";
    }
    uint64_t count = get_varint(&r);
    if (r.bad == NULL && count > len) {
        r.bad = "a record count past its end";
    }
    for (uint64_t i = 0; r.bad == NULL && i < count; i++) {
        if (r.pos >= len) {
            r.bad = "it ends inside a record";
            break;
        }
        uint8_t type = r.p[r.pos++];
        if (type >= TYPE_COUNT || fields_of[type] == 0) {
            r.bad = "an unknown record type";
            break;
        }
        struct batch_record *rec = store_batch_push(b);
        if (rec == NULL) {
            return out_of_memory;
        }
        rec->type = (mqttproto_store_record_type)type;
        for (int f = 0; r.bad == NULL && f < F_COUNT; f++) {
            if ((fields_of[type] & B(f)) == 0) {
                continue;
            }
            uint64_t v = get_varint(&r);
            if (r.bad != NULL) {
                break;
            }
            if (f >= BYTES_FIELDS) {
                if (v > field_max[f]) {
                    r.bad = "a value out of range";
                }
                set_uint(rec, (enum field)f, v);
            } else if (v > len - r.pos) {
                r.bad = "a length past its end";
            } else if (f == F_SUBSCRIPTION_IDS && v % 4 != 0) {
                r.bad = "bad subscription identifiers";
            } else {
                *span_of(rec, (enum field)f) = (struct batch_span){base + r.pos, (size_t)v};
                r.pos += (size_t)v;
            }
        }
    }
    if (r.bad == NULL && r.pos != len) {
        r.bad = "bytes after its last record";
    }
    return r.bad;
}

/* ---- coalescing ---- */

/*
 * The coalescing rule. The tables are independent (no triggers, no
 * foreign keys), so a row's final state depends only on the records that
 * name it, in order. A put or delete (a "full" record) sets its row
 * whatever was there; so does a session's delete for every row of that
 * session (its session row, subscriptions, deliveries, will, inbound
 * identifiers). Only a delivery's SENT or RELEASED is partial: it updates
 * the row if there is one. Hence, within the span being compacted:
 *
 *  1. A record is dropped when a later full record of the span names the
 *     same row (same table, same key), or when a later SESSION_DELETE of
 *     the span takes its row; a SESSION_DELETE is dropped when a later
 *     one of the same session follows. So the intermediate updates of a
 *     row deleted later (a delivery's SENT and RELEASED, a message put
 *     before its delete, ...) leave nothing.
 *  2. A DELIVERY_DELETE or MESSAGE_DELETE that rule 1 keeps is dropped
 *     too when its id is above the largest id the tables can hold
 *     (st->max_delivery_id, st->max_message_id): the row was not in the
 *     tables before the span, so after rule 1 dropped what the span did
 *     to it, there is nothing to delete. The library's ids increase, so
 *     a delivery or message both put and deleted in the span leaves no
 *     statement at all; a delete whose put was compacted earlier (the
 *     row is in the tables) is applied; a put repeated for a row already
 *     in the tables (ids at or below the bound) keeps its delete.
 *
 * Every other record is applied, in order. The bounds only grow: they
 * start as the largest ids in the tables at open and take every put's id
 * at each compaction, so no row in the tables has a higher id.
 */

enum key_kind {
    K_SESSION,
    K_SUBSCRIPTION,
    K_MESSAGE,
    K_DELIVERY,
    K_RETAINED,
    K_WILL,
    K_INBOUND,
    K_SESSION_DELETE
};

struct key {
    struct batch_span a, b;
    uint64_t n;
    int kind;
};

/* A set of keys, each held as the record it came from: open addressing,
   a slot is the record's index + 1 (0: empty) and 32 bits of its hash. */
struct slot {
    uint32_t rec, hash;
};

struct key_set {
    const struct store_batch *batch;
    struct slot *v;
    size_t mask;
};

/* What a compaction works in, kept for the next one (up to a limit). */
struct journal_scratch {
    struct store_batch batch;
    bool *keep;
    struct slot *slots;
    size_t keep_cap, slots_cap;
};

#define KEEP_SCRATCH_RECORDS (1u << 17)

static uint64_t hash_span(uint64_t h, const struct store_batch *b, struct batch_span sp)
{
    const uint8_t *p = sp.len > 0 ? store_batch_at(b, sp) : NULL;
    for (size_t i = 0; i < sp.len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return (h ^ 0xff) * 0x100000001b3ull;
}

static uint32_t hash_key(const struct store_batch *b, const struct key *k)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325) ^ (unsigned)k->kind;
    h = hash_span(hash_span(h, b, k->a), b, k->b);
    h = (h ^ k->n) * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(h >> 32);
}

static bool same_span(const struct store_batch *b, struct batch_span x, struct batch_span y)
{
    return x.len == y.len &&
           (x.len == 0 || memcmp(store_batch_at(b, x), store_batch_at(b, y), x.len) == 0);
}

static const struct batch_span none = {0, 0};

/* The row a record names; *full when it sets the row whatever was there,
 *scoped when the row belongs to a session (a SESSION_DELETE takes it). */
static struct key key_of(const struct batch_record *r, bool *full, bool *scoped)
{
    *full = true;
    *scoped = true;
    switch (r->type) {
    case MQTTPROTO_STORE_SESSION_PUT:
        return (struct key){r->client_id, none, 0, K_SESSION};
    case MQTTPROTO_STORE_SUBSCRIPTION_PUT:
    case MQTTPROTO_STORE_SUBSCRIPTION_DELETE:
        return (struct key){r->client_id, r->topic, 0, K_SUBSCRIPTION};
    case MQTTPROTO_STORE_DELIVERY_SENT:
    case MQTTPROTO_STORE_DELIVERY_RELEASED:
        *full = false;
        return (struct key){r->client_id, none, r->delivery_id, K_DELIVERY};
    case MQTTPROTO_STORE_DELIVERY_PUT:
    case MQTTPROTO_STORE_DELIVERY_DELETE:
        return (struct key){r->client_id, none, r->delivery_id, K_DELIVERY};
    case MQTTPROTO_STORE_WILL_PUT:
    case MQTTPROTO_STORE_WILL_DELETE:
        return (struct key){r->client_id, none, 0, K_WILL};
    case MQTTPROTO_STORE_INBOUND_PUT:
    case MQTTPROTO_STORE_INBOUND_DELETE:
        return (struct key){r->client_id, none, r->packet_id, K_INBOUND};
    case MQTTPROTO_STORE_MESSAGE_PUT:
    case MQTTPROTO_STORE_MESSAGE_DELETE:
        *scoped = false;
        return (struct key){none, none, r->message_id, K_MESSAGE};
    case MQTTPROTO_STORE_RETAINED_PUT:
    case MQTTPROTO_STORE_RETAINED_DELETE:
        *scoped = false;
        return (struct key){r->topic, none, 0, K_RETAINED};
    default: /* SESSION_DELETE */
        *scoped = false;
        return (struct key){r->client_id, none, 0, K_SESSION_DELETE};
    }
}

/* The slot of @p k: its entry, or the empty slot where it would go. */
static struct slot *key_slot(struct key_set *s, const struct key *k, uint32_t hash)
{
    for (size_t i = hash & s->mask;; i = (i + 1) & s->mask) {
        struct slot *e = &s->v[i];
        if (e->rec == 0) {
            return e;
        }
        if (e->hash == hash) {
            bool full, scoped;
            struct key o = key_of(&s->batch->v[e->rec - 1], &full, &scoped);
            if (o.kind == k->kind && o.n == k->n && same_span(s->batch, o.a, k->a) &&
                same_span(s->batch, o.b, k->b)) {
                return e;
            }
        }
    }
}

/* Which records of @p b to apply (rules 1 and 2 above), into @p keep.
   @p s has room for twice as many keys as records. */
static void coalesce(const struct store *st, struct key_set *s, bool *keep)
{
    const struct store_batch *b = s->batch;
    for (size_t i = b->count; i-- > 0;) {
        const struct batch_record *r = &b->v[i];
        bool full, scoped;
        struct key k = key_of(r, &full, &scoped);
        if (scoped) {
            struct key cascade = {r->client_id, none, 0, K_SESSION_DELETE};
            if (key_slot(s, &cascade, hash_key(b, &cascade))->rec != 0) {
                keep[i] = false;
                continue;
            }
        }
        uint32_t hash = hash_key(b, &k);
        struct slot *e = key_slot(s, &k, hash);
        if (e->rec != 0) {
            keep[i] = false;
            continue;
        }
        keep[i] = true;
        if (full) {
            *e = (struct slot){(uint32_t)i + 1, hash};
            if ((r->type == MQTTPROTO_STORE_DELIVERY_DELETE &&
                 r->delivery_id > st->max_delivery_id) ||
                (r->type == MQTTPROTO_STORE_MESSAGE_DELETE && r->message_id > st->max_message_id)) {
                keep[i] = false;
            }
        }
    }
}

/* ---- compaction ---- */

static bool sql_failed(struct store *st, int rc, char *err, size_t cap)
{
    if (rc == SQLITE_OK || rc == SQLITE_DONE) {
        return false;
    }
    store_error(err, cap, st->path, "cannot compact the journal: %s", sqlite3_errmsg(st->db));
    return true;
}

/* Read every journal row into @p b; the id of the last one in *last_id
   (0: none). False with the reason in @p err. */
static bool read_journal(struct store *st, struct store_batch *b, sqlite3_int64 *last_id, char *err,
                         size_t cap)
{
    sqlite3_stmt *s = st->stmt[ST_JOURNAL_READ];
    int rc;
    bool ok = true;
    *last_id = 0;
    while (ok && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(s, 0);
        bool blob = sqlite3_column_type(s, 1) == SQLITE_BLOB; /* before any conversion */
        const void *data = sqlite3_column_blob(s, 1);
        size_t len = (size_t)sqlite3_column_bytes(s, 1);
        const char *bad = !blob ? "it is not a blob" : len == 0 ? "it is empty" : NULL;
        uint8_t *to = bad == NULL ? store_batch_grow(b, len) : NULL;
        if (bad == NULL && to == NULL) {
            bad = out_of_memory;
        }
        if (bad == NULL) {
            memcpy(to, data, len);
            bad = decode(b, len);
        }
        if (bad == out_of_memory) {
            store_error(err, cap, st->path, "cannot compact the journal: out of memory");
            ok = false;
        } else if (bad != NULL) {
            store_error(err, cap, st->path, "the file is damaged (journal row %lld: %s)",
                        (long long)id, bad);
            ok = false;
        }
        *last_id = id;
    }
    if (ok && rc != SQLITE_DONE) {
        ok = !sql_failed(st, rc, err, cap);
    }
    sqlite3_reset(s);
    return ok;
}

/* Room for @p n records' keep flags and keys in @p j: the number of key
   slots to use (a power of two, at least 2n), or 0 when out of memory. */
static size_t scratch_room(struct journal_scratch *j, size_t n)
{
    if (n > UINT32_MAX - 1 || n > SIZE_MAX / 4 / sizeof(struct slot)) {
        return 0;
    }
    if (n > j->keep_cap) {
        bool *keep = realloc(j->keep, n);
        if (keep == NULL) {
            return 0;
        }
        j->keep = keep;
        j->keep_cap = n;
    }
    size_t slots = 16;
    while (slots < 2 * n) {
        slots *= 2;
    }
    if (slots > j->slots_cap) {
        free(j->slots);
        j->slots = malloc(slots * sizeof *j->slots);
        j->slots_cap = j->slots != NULL ? slots : 0;
        if (j->slots == NULL) {
            return 0;
        }
    }
    return slots;
}

/* Coalesce the records of @p b, run the statements of those kept, and
   delete the journal rows up to @p last_id. */
static bool apply_journal(struct store *st, struct journal_scratch *j, const struct store_batch *b,
                          sqlite3_int64 last_id, char *err, size_t cap)
{
    size_t slots = scratch_room(j, b->count);
    if (slots == 0) {
        store_error(err, cap, st->path, "cannot compact the journal: out of memory");
        return false;
    }
    memset(j->slots, 0, slots * sizeof *j->slots);
    struct key_set set = {b, j->slots, slots - 1};
    coalesce(st, &set, j->keep);
    /* The bounds after the coalescing, which used the old ones: a larger
       bound is always safe, so this comes before anything is applied. */
    for (size_t i = 0; i < b->count; i++) {
        const struct batch_record *r = &b->v[i];
        if (r->type == MQTTPROTO_STORE_DELIVERY_PUT && r->delivery_id > st->max_delivery_id) {
            st->max_delivery_id = r->delivery_id;
        }
        if (r->type == MQTTPROTO_STORE_MESSAGE_PUT && r->message_id > st->max_message_id) {
            st->max_message_id = r->message_id;
        }
    }
    size_t statements = 0;
    int rc = SQLITE_OK;
    for (size_t i = 0; rc == SQLITE_OK && i < b->count; i++) {
        if (j->keep[i]) {
            rc = store_run_record(st, b, i, &statements);
        }
    }
    sqlite3_stmt *del = st->stmt[ST_JOURNAL_DELETE];
    if (rc == SQLITE_OK) {
        rc = sqlite3_bind_int64(del, 1, last_id);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(del);
    }
    sqlite3_reset(del);
    if (sql_failed(st, rc, err, cap)) {
        return false;
    }
    st->compact_statements = statements;
    st->compact_records = b->count;
    return true;
}

void store_journal_free(struct store *st)
{
    struct journal_scratch *j = st->scratch;
    if (j != NULL) {
        store_batch_free(&j->batch);
        free(j->keep);
        free(j->slots);
        free(j);
        st->scratch = NULL;
    }
}

void store_journal_forget(struct store *st)
{
    store_batch_drop_front(&st->batch, st->committed, st->committed_bytes);
    st->committed = 0;
    st->committed_bytes = 0;
    st->journal_in_memory = false;
}

bool store_compact(struct store *st, char *err, size_t cap)
{
    if (st->scratch == NULL && (st->scratch = calloc(1, sizeof *st->scratch)) == NULL) {
        store_error(err, cap, st->path, "cannot compact the journal: out of memory");
        return false;
    }
    struct journal_scratch *j = st->scratch;
    bool from_memory = st->journal_in_memory;
    /* From memory: the committed records, as a view of the batch. */
    struct store_batch view = st->batch;
    view.count = st->committed;
    const struct store_batch *b = from_memory ? &view : &j->batch;
    sqlite3_int64 last_id = from_memory && st->committed > 0 ? st->last_journal_id : 0;
    bool ok = !sql_failed(st, store_step_plain(st, ST_BEGIN), err, cap) &&
              (from_memory || read_journal(st, &j->batch, &last_id, err, cap)) &&
              (last_id == 0 || apply_journal(st, j, b, last_id, err, cap)) &&
              !sql_failed(st, store_step_plain(st, ST_COMMIT), err, cap);
    if (!ok && !sqlite3_get_autocommit(st->db)) {
        (void)store_step_plain(st, ST_ROLLBACK);
    }
    /* A burst (the journal a crash left, a large periodic batch) does not
       pin its memory. */
    if (j->batch.cap > KEEP_SCRATCH_RECORDS || j->batch.bytes_cap > STORE_COMPACT_BYTES * 2) {
        store_journal_free(st);
    } else {
        j->batch.count = 0;
        j->batch.used = 0;
    }
    if (ok) {
        /* The journal is empty: what is committed from now on is kept. */
        store_batch_drop_front(&st->batch, st->committed, st->committed_bytes);
        st->committed = 0;
        st->committed_bytes = 0;
        st->journal_in_memory = true;
        if (st->batch.count == 0 && (st->batch.cap > KEEP_SCRATCH_RECORDS ||
                                     st->batch.bytes_cap > STORE_COMPACT_BYTES * 2)) {
            store_batch_clear(&st->batch); /* gives back a burst's memory */
        }
        st->journal_rows = 0;
        st->journal_bytes = 0;
    } else if (from_memory) {
        store_journal_forget(st); /* the next try reads the rows */
    }
    return ok;
}

bool store_compact_due(const struct store *st)
{
    return st->journal_rows > STORE_COMPACT_ROWS || st->journal_bytes > STORE_COMPACT_BYTES;
}

size_t store_journal_rows(const struct store *st)
{
    return st->journal_rows;
}

bool store_journal_open(struct store *st, char *err, size_t cap)
{
    return store_compact(st, err, cap);
}
