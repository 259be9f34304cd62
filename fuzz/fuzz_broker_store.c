/*
 * Fuzz target for the broker's durable state (broker_store.h): one broker
 * with a store callback, up to four connections whose clients are raw MQTT
 * 5 packets built with mqttproto_encode(), and crashes: the broker is
 * destroyed without closing its clients, a new one is created with the same
 * settings, restored from the records the store kept, and goes on.
 *
 * The input is a little program. Byte 0 chooses the settings:
 *   bit 0  hold_acks (output waits for mqttproto_broker_store_synced())
 *   bit 1  small limits (3 sessions, 2 subscriptions per session, 3 queued
 *          messages, 2 retained messages)
 *   bit 2  max_session_expiry 10
 *   bit 3  maximum_qos 1
 * (always: at most 16 queued messages per session, so that the model's
 * tables stay bounded). Every following byte is an operation: its value
 * modulo 16, and the connection it acts on in bits 4-5. Each reads its
 * parameters from the bytes after it (0 once the input is used up):
 *   0  open the connection (dropping it first if open)
 *   1  CONNECT f1 f2: f1 bits 0-1 client id ("a", "b", "c", "d"), bit 2
 *      clean start, bit 3 will, bits 4-5 Session Expiry Interval (0, 2, 300,
 *      0xFFFFFFFF), bit 6 Receive Maximum 1, bit 7 keep alive 1 s (else 0);
 *      f2 bits 0-2 will topic, bits 3-4 will QoS, bit 5 will retain, bits
 *      6-7 Will Delay Interval (none, 1, 5, 100 s)
 *   2  SUBSCRIBE f1 f2: f1 bits 0-2 filter, bits 3-4 QoS, bit 5 No Local,
 *      bit 6 Retain As Published, bit 7 a Subscription Identifier
 *      (1 + f2 bits 2-4); f2 modulo 3 Retain Handling, bits 5-7 packet id - 1
 *   3  PUBLISH f1 f2: f1 bits 0-2 topic, bits 3-4 QoS, bit 5 retain, bit 6
 *      Message Expiry Interval (bit 7: 100 s, else 1 s); f2 bits 0-2 packet
 *      id - 1, bits 3-4 payload length (0, 1, 5, 20)
 *   4  acknowledgement f: f modulo 4 = 0 or 1: the answer a client gives to
 *      the PUBLISH or PUBREL the broker sent that is remembered at index
 *      (f >> 2) (PUBACK, PUBREC, PUBCOMP); 2: PUBREL for packet id
 *      1 + ((f >> 2) & 7); 3: PUBACK/PUBREC/PUBREL/PUBCOMP ((f >> 2) & 3)
 *      for packet id 1 + ((f >> 4) & 7) whatever the broker sent
 *   5  DISCONNECT f: bit 0 reason 0x04 (else 0x00), bit 1 with Session
 *      Expiry Interval 0
 *   6  drain the events and accept every CONNECT and SUBSCRIBE waiting
 *   7  take outbound data f: 0x80 or more: all, else f + 1 bytes
 *   8  drop the connection (mqttproto_broker_client_destroy)
 *   9  advance the clock f (f & 7 indexes 0, 100 ms, 1 s, 1.5 s, 5 s, 60 s,
 *      400 s, 2^31 ms) and run every client's and the broker's timers due
 *   10 store_synced f: the last sequence number minus (f & 3); with bit 2
 *      one above it
 *   11 make the next allocation fail
 *   12 CRASH: broker_destroy() with its clients, a new broker, every
 *      mqttproto_broker_restore_*() call from the model, set_store(),
 *      restore_finish(now)
 *   13 an automatic round: drain and accept, take everything, answer every
 *      PUBLISH/PUBREL seen, synced(last), three times over
 *   14 mqttproto_broker_publish() f1 f2: f1 as for PUBLISH; f2 bits 0-1
 *      payload length index
 *   15 UNSUBSCRIBE f: filter f & 7, packet id 1 + ((f >> 3) & 7)
 * At the end every connection is drained, its output taken, and
 * everything is destroyed. fuzz/gen_store_seeds.py writes the seed corpus.
 *
 * The model store copies every record into tables (upserts and deletes;
 * SESSION_DELETE takes the session's rows with it) of fixed size; when one
 * is full the model is marked broken and the checks that need it (and the
 * crashes) stop. Checked (any failure aborts after printing it): no crash
 * or sanitizer finding; no leak (the counting allocator is back to zero
 * after every broker_destroy); sequence numbers consecutive per broker;
 * every record naming a message names one the model holds (MESSAGE_PUT
 * first, no MESSAGE_DELETE since), a session the model holds, a delivery
 * the model holds; a MESSAGE_PUT is a QoS 0 MQTT 5 PUBLISH and never reuses
 * the id of a different message the model holds; delivery ids are new and
 * increase in each session's queue; every restore call returns 0
 * (MQTTPROTO_ERR_NO_MEMORY only after the failed allocation, and then
 * again 0); after restore_finish the broker's session count is the number
 * of stored sessions not expired and that of the model, and its retained
 * count the model's (that one after every operation too); with hold_acks,
 * after an inbound QoS 1/2 PUBLISH or a SUBSCRIBE answer that made records
 * output waits for (all but DELIVERY_DELETE, MESSAGE_DELETE and the
 * DELIVERY_SENT of a QoS 1 delivery) the bytes get_outbound_data() offers
 * do not grow until store_synced() covers the first of them; MQTTPROTO_ERR_NO_MEMORY only after a
 * failed allocation; every byte the broker writes decodes as MQTT 5 server packets.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"
#include "fuzz_buf.h"

#include "mqttproto/mqttproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what, long long value)
{
    fprintf(stderr, "fuzz_broker_store: %s (value %lld, %s)\n", what, value,
            mqttproto_err_name(value < 0 && value >= INT32_MIN ? (int)value : 0));
    abort();
}

static void check(bool ok, const char *what, long long value)
{
    if (!ok) {
        fail(what, value);
    }
}

/* ---- input -------------------------------------------------------------- */

struct input {
    const uint8_t *p;
    size_t n;
    size_t pos;
};

static uint8_t u8(struct input *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

/* ---- the model store ---------------------------------------------------- */

#define MT       128 /* rows per table */
#define MSUBIDS  8
#define BLOB_CAP 256

struct mrow {
    bool used;
    char client[8];
    char topic[32];
    uint64_t id; /* message id, delivery id or inbound packet id */
    uint32_t expiry;
    uint64_t at;
    uint8_t options;
    uint32_t subid;
    uint64_t msg;
    uint8_t qos;
    bool retain, shared;
    uint32_t subids[MSUBIDS];
    size_t nsubids;
    uint16_t packet_id;
    uint8_t stage;
    uint32_t delay;
    uint8_t blob[BLOB_CAP];
    size_t blob_len;
};

struct model {
    struct mrow sessions[MT], subs[MT], msgs[MT], dels[MT], ret[MT], wills[MT], inb[MT];
    uint64_t last_seq; /* of the current broker */
    /* Records output waits for (all but DELIVERY_DELETE, MESSAGE_DELETE and
       a QoS 1 DELIVERY_SENT, as broker_store.h says): the last one, and the
       first after hold_mark. */
    uint64_t last_hold_seq, first_hold_seq, hold_mark;
    bool broken; /* a table was full: the model is incomplete */
};

static bool same(const char *a, mqttproto_str b)
{
    return strlen(a) == b.len && (b.len == 0 || memcmp(a, b.data, b.len) == 0);
}

static bool copy_str(struct model *m, char *dst, size_t cap, mqttproto_str s)
{
    if (s.len >= cap) {
        m->broken = true;
        return false;
    }
    if (s.len > 0) {
        memcpy(dst, s.data, s.len);
    }
    dst[s.len] = '\0';
    return true;
}

/* The row matching the key (client and topic when given, id when not 0). */
static struct mrow *row_find(struct mrow *t, const mqttproto_str *client,
                             const mqttproto_str *topic, uint64_t id)
{
    for (size_t i = 0; i < MT; i++) {
        struct mrow *r = &t[i];
        if (r->used && (client == NULL || same(r->client, *client)) &&
            (topic == NULL || same(r->topic, *topic)) && (id == 0 || r->id == id)) {
            return r;
        }
    }
    return NULL;
}

/* The matching row, or a new one; NULL (and the model broken) when full. */
static struct mrow *row_put(struct model *m, struct mrow *t, const mqttproto_str *client,
                            const mqttproto_str *topic, uint64_t id)
{
    struct mrow *r = row_find(t, client, topic, id);
    if (r != NULL) {
        return r;
    }
    for (size_t i = 0; i < MT; i++) {
        if (!t[i].used) {
            r = &t[i];
            memset(r, 0, sizeof *r);
            if ((client != NULL && !copy_str(m, r->client, sizeof r->client, *client)) ||
                (topic != NULL && !copy_str(m, r->topic, sizeof r->topic, *topic))) {
                return NULL;
            }
            r->used = true;
            r->id = id;
            return r;
        }
    }
    m->broken = true;
    return NULL;
}

static void drop_client_rows(struct mrow *t, mqttproto_str client)
{
    for (size_t i = 0; i < MT; i++) {
        if (t[i].used && same(t[i].client, client)) {
            t[i].used = false;
        }
    }
}

static size_t count_rows(const struct mrow *t)
{
    size_t n = 0;
    for (size_t i = 0; i < MT; i++) {
        n += t[i].used ? 1u : 0u;
    }
    return n;
}

static void need_message(struct model *m, uint64_t id, const char *what)
{
    if (!m->broken && row_find(m->msgs, NULL, NULL, id) == NULL) {
        fprintf(stderr, "fuzz_broker_store: %s\n", what);
        fail("a record names a message the store does not hold", (long long)id);
    }
}

static void need_session(struct model *m, mqttproto_str client, const char *what)
{
    if (!m->broken && row_find(m->sessions, &client, NULL, 0) == NULL) {
        fprintf(stderr, "fuzz_broker_store: %s %.*s\n", what, (int)client.len, client.data);
        fail("a record names a session the store does not hold", 0);
    }
}

static void check_message_bytes(mqttproto_bin msg)
{
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.protocol_version = MQTTPROTO_PROTOCOL_V5;
    mqttproto_packet pkt;
    ptrdiff_t d = mqttproto_decode(msg.data, msg.len, &o, &pkt);
    check(d > 0 && (size_t)d == msg.len, "MESSAGE_PUT: the bytes are not one packet", d);
    check(pkt.type == MQTTPROTO_PACKET_PUBLISH && pkt.publish.qos == MQTTPROTO_QOS_AT_MOST_ONCE &&
              pkt.publish.topic.len > 0,
          "MESSAGE_PUT: not a QoS 0 PUBLISH with a topic", pkt.type);
}

static void model_record(void *ctx, const mqttproto_store_record *r)
{
    struct model *m = ctx;
    check(r->seq == m->last_seq + 1, "sequence numbers do not follow each other",
          (long long)r->seq);
    m->last_seq = r->seq;
    bool holds = r->type != MQTTPROTO_STORE_DELIVERY_DELETE &&
                 r->type != MQTTPROTO_STORE_MESSAGE_DELETE &&
                 !(r->type == MQTTPROTO_STORE_DELIVERY_SENT && r->qos == 1);
    if (holds) {
        m->last_hold_seq = r->seq;
        if (m->first_hold_seq <= m->hold_mark) {
            m->first_hold_seq = r->seq;
        }
    }
    const mqttproto_str *cid = &r->client_id;
    struct mrow *row;
    switch (r->type) {
    case MQTTPROTO_STORE_SESSION_PUT:
        check(r->session_expiry_interval != 0, "SESSION_PUT of a session that ends with it", 0);
        row = row_put(m, m->sessions, cid, NULL, 0);
        if (row != NULL) {
            row->expiry = r->session_expiry_interval;
            row->at = r->expires_at;
        }
        break;
    case MQTTPROTO_STORE_SESSION_DELETE:
        drop_client_rows(m->sessions, *cid);
        drop_client_rows(m->subs, *cid);
        drop_client_rows(m->dels, *cid);
        drop_client_rows(m->wills, *cid);
        drop_client_rows(m->inb, *cid);
        break;
    case MQTTPROTO_STORE_SUBSCRIPTION_PUT:
        need_session(m, *cid, "SUBSCRIPTION_PUT");
        row = row_put(m, m->subs, cid, &r->topic, 0);
        if (row != NULL) {
            row->options = r->options;
            row->subid = r->subscription_identifier;
        }
        break;
    case MQTTPROTO_STORE_SUBSCRIPTION_DELETE:
        row = row_find(m->subs, cid, &r->topic, 0);
        if (row != NULL) {
            row->used = false;
        }
        break;
    case MQTTPROTO_STORE_MESSAGE_PUT:
        check(r->message_id != 0, "MESSAGE_PUT with id 0", 0);
        check(r->qos <= 2, "MESSAGE_PUT: QoS", r->qos);
        check_message_bytes(r->message);
        row = row_find(m->msgs, NULL, NULL, r->message_id);
        if (row != NULL) {
            /* Only a repeat after a failed allocation may name it again. */
            check(row->blob_len == r->message.len &&
                      memcmp(row->blob, r->message.data, r->message.len) == 0 && row->qos == r->qos,
                  "MESSAGE_PUT reuses the id of another message the store holds",
                  (long long)r->message_id);
        }
        if (r->message.len > BLOB_CAP) {
            m->broken = true;
            break;
        }
        row = row_put(m, m->msgs, NULL, NULL, r->message_id);
        if (row != NULL) {
            memcpy(row->blob, r->message.data, r->message.len);
            row->blob_len = r->message.len;
            row->qos = r->qos;
            row->at = r->expires_at;
        }
        break;
    case MQTTPROTO_STORE_MESSAGE_DELETE:
        need_message(m, r->message_id, "MESSAGE_DELETE");
        row = row_find(m->msgs, NULL, NULL, r->message_id);
        if (row != NULL) {
            row->used = false;
        }
        break;
    case MQTTPROTO_STORE_DELIVERY_PUT: {
        need_session(m, *cid, "DELIVERY_PUT");
        need_message(m, r->message_id, "DELIVERY_PUT");
        check(r->qos == 1 || r->qos == 2, "DELIVERY_PUT: QoS", r->qos);
        check(r->delivery_id != 0, "DELIVERY_PUT: id 0", 0);
        row = row_find(m->dels, NULL, NULL, r->delivery_id);
        if (row != NULL) {
            check(same(row->client, *cid) && row->msg == r->message_id && row->qos == r->qos,
                  "DELIVERY_PUT reuses the id of another delivery the store holds",
                  (long long)r->delivery_id);
        } else if (!m->broken) {
            for (size_t i = 0; i < MT; i++) {
                const struct mrow *d = &m->dels[i];
                check(!d->used || !same(d->client, *cid) || d->id < r->delivery_id,
                      "DELIVERY_PUT: the id is not above the session's queued ones",
                      (long long)r->delivery_id);
            }
        }
        if (r->subscription_identifier_count > MSUBIDS) {
            m->broken = true;
            break;
        }
        row = row_put(m, m->dels, NULL, NULL, r->delivery_id);
        if (row != NULL) {
            if (!copy_str(m, row->client, sizeof row->client, *cid)) {
                row->used = false;
                break;
            }
            row->msg = r->message_id;
            row->qos = r->qos;
            row->retain = r->retain;
            row->shared = r->shared;
            row->nsubids = r->subscription_identifier_count;
            for (size_t i = 0; i < row->nsubids; i++) {
                row->subids[i] = r->subscription_identifiers[i];
            }
        }
        break;
    }
    case MQTTPROTO_STORE_DELIVERY_SENT:
    case MQTTPROTO_STORE_DELIVERY_RELEASED:
        check(r->packet_id != 0, "DELIVERY_SENT/RELEASED without a packet id", r->type);
        row = row_find(m->dels, NULL, NULL, r->delivery_id);
        if (row == NULL) {
            check(m->broken, "DELIVERY_SENT/RELEASED of a delivery the store does not hold",
                  (long long)r->delivery_id);
            break;
        }
        check(same(row->client, *cid), "DELIVERY_SENT/RELEASED names another session",
              (long long)r->delivery_id);
        check(r->type == MQTTPROTO_STORE_DELIVERY_SENT || row->qos == 2,
              "DELIVERY_RELEASED of a QoS 1 delivery", (long long)r->delivery_id);
        row->packet_id = r->packet_id;
        row->stage = r->type == MQTTPROTO_STORE_DELIVERY_SENT ? MQTTPROTO_STORE_STAGE_SENT
                                                              : MQTTPROTO_STORE_STAGE_RELEASED;
        break;
    case MQTTPROTO_STORE_DELIVERY_DELETE:
        row = row_find(m->dels, NULL, NULL, r->delivery_id);
        if (row != NULL) {
            row->used = false;
        }
        break;
    case MQTTPROTO_STORE_RETAINED_PUT:
        need_message(m, r->message_id, "RETAINED_PUT");
        row = row_put(m, m->ret, NULL, &r->topic, 0);
        if (row != NULL) {
            row->msg = r->message_id;
        }
        break;
    case MQTTPROTO_STORE_RETAINED_DELETE:
        row = row_find(m->ret, NULL, &r->topic, 0);
        if (row != NULL) {
            row->used = false;
        }
        break;
    case MQTTPROTO_STORE_WILL_PUT:
        need_session(m, *cid, "WILL_PUT");
        need_message(m, r->message_id, "WILL_PUT");
        row = row_put(m, m->wills, cid, NULL, 0);
        if (row != NULL) {
            row->msg = r->message_id;
            row->delay = r->will_delay;
            row->at = r->will_at;
        }
        break;
    case MQTTPROTO_STORE_WILL_DELETE:
        drop_client_rows(m->wills, *cid);
        break;
    case MQTTPROTO_STORE_INBOUND_PUT:
        need_session(m, *cid, "INBOUND_PUT");
        check(r->packet_id != 0, "INBOUND_PUT without a packet id", 0);
        (void)row_put(m, m->inb, cid, NULL, r->packet_id);
        break;
    case MQTTPROTO_STORE_INBOUND_DELETE:
        row = row_find(m->inb, cid, NULL, r->packet_id);
        if (row != NULL) {
            row->used = false;
        }
        break;
    default:
        fail("a record of unknown type", r->type);
    }
}

/* ---- the world ---------------------------------------------------------- */

#define NCONN 4
#define SEEN  32
#define PEND  4

struct seen { /* a PUBLISH (kind 1, 2: its QoS) or PUBREL (3) the broker sent */
    uint16_t id;
    uint8_t kind;
};

struct pending_sub {
    uint16_t id;
    size_t count;
    uint8_t req[8];
};

struct conn {
    mqttproto_broker_client *c;
    bool connect_pending;
    struct pending_sub subs[PEND];
    size_t nsubs;
    struct buf out; /* taken, not yet decoded */
    struct seen seen[SEEN];
    size_t nseen;
    /* hold_acks: while store_synced() is below hold_seq, at most hold_len
       bytes may be offered. */
    uint64_t hold_seq;
    size_t hold_len;
};

struct world {
    mqttproto_broker *b;
    struct fuzz_alloc a;
    mqttproto_mem mem;
    mqttproto_broker_settings s;
    bool hold;
    uint64_t now;
    uint64_t synced;
    struct conn k[NCONN];
    struct model m;
};

static const char *const topics[8] = {"a", "a/b", "b", "c/d", "x/y", "a/c", "b/b", "q"};
static const char *const filters[8] = {"a",          "a/#",        "+/b", "#",
                                       "$share/g/a", "$share/g/#", "a/b", "b/+"};
static const char *const client_ids[4] = {"a", "b", "c", "d"};

static void call_errors(struct world *w, long long rc, const char *what)
{
    bool hit = w->a.hit;
    w->a.hit = false;
    if (hit != (rc == MQTTPROTO_ERR_NO_MEMORY) && !(hit && rc == 0)) {
        fprintf(stderr, "fuzz_broker_store: %s\n", what);
        fail(hit ? "a call met the failed allocation but returned neither 0 nor NO_MEMORY"
                 : "MQTTPROTO_ERR_NO_MEMORY without a failed allocation",
             rc);
    }
}

/* Make a call; once more when it ran out of memory. */
#define CALL(w, rc, expr)                                                                          \
    do {                                                                                           \
        (w)->a.hit = false;                                                                        \
        (rc) = (long long)(expr);                                                                  \
        call_errors((w), (rc), #expr);                                                             \
        if ((rc) == MQTTPROTO_ERR_NO_MEMORY) {                                                     \
            (w)->a.hit = false;                                                                    \
            (rc) = (long long)(expr);                                                              \
            call_errors((w), (rc), #expr);                                                         \
        }                                                                                          \
    } while (0)

static size_t ready(struct world *w, struct conn *k)
{
    bool hit = w->a.hit;
    size_t n = mqttproto_broker_client_get_outbound_data(k->c, NULL);
    w->a.hit = hit;
    return n;
}

static void check_retained(struct world *w)
{
    if (w->m.broken) {
        return;
    }
    mqttproto_broker_stats st = mqttproto_broker_get_stats(w->b);
    check(st.retained_messages == count_rows(w->m.ret),
          "the broker's retained messages are not the store's", (long long)st.retained_messages);
}

/* Before a call that may acknowledge durable state: returns the bytes
   offered and the last sequence number in *seq. */
static size_t hold_begin(struct world *w, struct conn *k, uint64_t *seq)
{
    *seq = w->m.last_hold_seq;
    w->m.hold_mark = w->m.last_seq;
    w->m.first_hold_seq = 0;
    return k->c != NULL ? ready(w, k) : 0;
}

static void hold_end(struct world *w, struct conn *k, size_t before, uint64_t seq)
{
    /* Only from a state with nothing held: every byte offered before the
       call was all the client's output, and what the call wrote is after. */
    if (!w->hold || k->c == NULL || w->m.first_hold_seq == 0 || w->synced < seq) {
        return;
    }
    size_t now = ready(w, k);
    check(now <= before, "hold_acks: output offered before the store synced its records",
          (long long)now);
    /* The acknowledgement comes after the first record the call made (what
       it promises); later records may be for what follows it. */
    if (k->hold_seq <= w->synced) {
        k->hold_len = before;
        k->hold_seq = w->m.first_hold_seq;
    } else if (before < k->hold_len) {
        k->hold_len = before;
    }
}

/* ---- the broker's output ------------------------------------------------ */

static void seen_add(struct conn *k, uint16_t id, uint8_t kind)
{
    if (k->nseen == SEEN) {
        memmove(&k->seen[0], &k->seen[1], (SEEN - 1) * sizeof k->seen[0]);
        k->nseen--;
    }
    k->seen[k->nseen].id = id;
    k->seen[k->nseen].kind = kind;
    k->nseen++;
}

static void parse_out(struct conn *k)
{
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.protocol_version = MQTTPROTO_PROTOCOL_V5;
    for (;;) {
        mqttproto_packet pkt;
        ptrdiff_t d = mqttproto_decode(k->out.d, k->out.len, &o, &pkt);
        if (d == 0) {
            return;
        }
        check(d > 0, "the broker wrote a packet that does not decode", d);
        switch (pkt.type) {
        case MQTTPROTO_PACKET_PUBLISH:
            if (pkt.publish.qos != MQTTPROTO_QOS_AT_MOST_ONCE) {
                seen_add(k, pkt.publish.packet_id, (uint8_t)pkt.publish.qos);
            }
            break;
        case MQTTPROTO_PACKET_PUBREL:
            seen_add(k, pkt.pubrel.packet_id, 3);
            break;
        case MQTTPROTO_PACKET_CONNACK:
        case MQTTPROTO_PACKET_DISCONNECT:
        case MQTTPROTO_PACKET_PUBACK:
        case MQTTPROTO_PACKET_PUBREC:
        case MQTTPROTO_PACKET_PUBCOMP:
        case MQTTPROTO_PACKET_SUBACK:
        case MQTTPROTO_PACKET_UNSUBACK:
        case MQTTPROTO_PACKET_PINGRESP:
        case MQTTPROTO_PACKET_AUTH:
            break;
        default:
            fail("the broker wrote a packet only clients send", pkt.type);
        }
        buf_drop(&k->out, (size_t)d);
    }
}

static void take_out(struct world *w, struct conn *k, size_t max)
{
    if (k->c == NULL) {
        return;
    }
    const uint8_t *p = NULL;
    bool hit = w->a.hit;
    size_t n = mqttproto_broker_client_get_outbound_data(k->c, &p);
    w->a.hit = hit;
    check(n == 0 || p != NULL, "outbound bytes at NULL", (long long)n);
    if (k->hold_seq > w->synced) {
        if (n > k->hold_len) {
            fprintf(stderr,
                    "fuzz_broker_store: %zu bytes offered, %zu before record %llu, synced %llu\n",
                    n, k->hold_len, (unsigned long long)k->hold_seq, (unsigned long long)w->synced);
            fail("hold_acks: output offered before the store synced its records", (long long)n);
        }
    }
    size_t t = n < max ? n : max;
    buf_append(&k->out, p, t);
    mqttproto_broker_client_consume_outbound(k->c, t);
    if (k->hold_seq > w->synced) {
        k->hold_len -= t;
    } else {
        k->hold_seq = 0;
    }
    parse_out(k);
}

/* ---- feeding ------------------------------------------------------------ */

static void feed(struct world *w, struct conn *k, const uint8_t *d, size_t n)
{
    size_t off = 0;
    int no_memory = 0;
    while (k->c != NULL && off < n) {
        w->a.hit = false;
        ptrdiff_t r = mqttproto_broker_client_feed_bytes(k->c, d + off, n - off, w->now);
        bool hit = w->a.hit;
        w->a.hit = false;
        if (r == MQTTPROTO_ERR_NO_MEMORY) {
            check(hit, "feed_bytes: MQTTPROTO_ERR_NO_MEMORY without a failed allocation", r);
            check(++no_memory < 4, "feed_bytes keeps failing", r);
            continue;
        }
        if (r < 0) {
            return; /* the connection is closing */
        }
        check((size_t)r <= n - off, "feed_bytes took more than it was given", r);
        check(hit || (size_t)r == n - off,
              "feed_bytes took fewer bytes without a failed allocation", r);
        if (r == 0) {
            check(++no_memory < 4, "feed_bytes takes nothing", r);
        }
        off += (size_t)r;
    }
}

static void feed_packet(struct world *w, struct conn *k, mqttproto_packet *pkt)
{
    if (k->c == NULL) {
        return;
    }
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.protocol_version = MQTTPROTO_PROTOCOL_V5;
    uint8_t buf[512];
    ptrdiff_t n = mqttproto_encode(pkt, &o, buf, sizeof buf);
    check(n > 0, "the harness built a packet that does not encode", n);
    feed(w, k, buf, (size_t)n);
}

static void feed_connect(struct world *w, struct conn *k, uint8_t f1, uint8_t f2)
{
    static const uint32_t expiry[4] = {0, 2, 300, UINT32_MAX};
    static const uint32_t delay[4] = {0, 1, 5, 100};
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    mqttproto_connect *cn = &pkt.connect;
    pkt.type = MQTTPROTO_PACKET_CONNECT;
    cn->protocol_version = MQTTPROTO_PROTOCOL_V5;
    mqttproto_properties_init(&cn->properties);
    cn->client_id = mqttproto_str_from_cstr(client_ids[f1 & 3]);
    cn->clean_start = (f1 & 4) != 0;
    cn->keep_alive = (f1 & 0x80) != 0 ? 1 : 0;
    if (((f1 >> 4) & 3) != 0) {
        (void)mqttproto_properties_set_int(&cn->properties, MQTTPROTO_PACKET_CONNECT,
                                           MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL,
                                           expiry[(f1 >> 4) & 3]);
    }
    if ((f1 & 0x40) != 0) {
        (void)mqttproto_properties_set_int(&cn->properties, MQTTPROTO_PACKET_CONNECT,
                                           MQTTPROTO_PROP_RECEIVE_MAXIMUM, 1);
    }
    if ((f1 & 8) != 0) {
        cn->has_will = true;
        cn->will.topic = mqttproto_str_from_cstr(topics[f2 & 7]);
        cn->will.payload = mqttproto_bin_make("will", 4);
        cn->will.qos = (mqttproto_qos)(((f2 >> 3) & 3) % 3);
        cn->will.retain = (f2 & 0x20) != 0;
        mqttproto_properties_init(&cn->will.properties);
        if ((f2 >> 6) != 0) {
            (void)mqttproto_properties_set_int(&cn->will.properties,
                                               MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                               MQTTPROTO_PROP_WILL_DELAY_INTERVAL, delay[f2 >> 6]);
        }
    }
    feed_packet(w, k, &pkt);
}

static void feed_subscribe(struct world *w, struct conn *k, uint8_t f1, uint8_t f2)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    mqttproto_subscription s;
    memset(&s, 0, sizeof s);
    pkt.type = MQTTPROTO_PACKET_SUBSCRIBE;
    pkt.subscribe.packet_id = (uint16_t)(1 + (f2 >> 5));
    mqttproto_properties_init(&pkt.subscribe.properties);
    if ((f1 & 0x80) != 0) {
        (void)mqttproto_properties_set_int(&pkt.subscribe.properties, MQTTPROTO_PACKET_SUBSCRIBE,
                                           MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER,
                                           1u + ((f2 >> 2) & 7));
    }
    s.topic_filter = mqttproto_str_from_cstr(filters[f1 & 7]);
    s.max_qos = (mqttproto_qos)(((f1 >> 3) & 3) % 3);
    s.no_local = (f1 & 0x20) != 0 && s.topic_filter.data[0] != '$';
    s.retain_as_published = (f1 & 0x40) != 0;
    s.retain_handling = (mqttproto_retain_handling)(f2 % 3);
    pkt.subscribe.subscriptions.items = &s;
    pkt.subscribe.subscriptions.count = 1;
    feed_packet(w, k, &pkt);
}

static void feed_publish(struct world *w, struct conn *k, uint8_t f1, uint8_t f2)
{
    static const size_t plen[4] = {0, 1, 5, 20};
    static const char payload[21] = "ppppppppppppppppppppp";
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    mqttproto_publish *p = &pkt.publish;
    pkt.type = MQTTPROTO_PACKET_PUBLISH;
    mqttproto_properties_init(&p->properties);
    p->topic = mqttproto_str_from_cstr(topics[f1 & 7]);
    p->qos = (mqttproto_qos)(((f1 >> 3) & 3) % 3);
    p->retain = (f1 & 0x20) != 0;
    p->packet_id = p->qos != MQTTPROTO_QOS_AT_MOST_ONCE ? (uint16_t)(1 + (f2 & 7)) : 0;
    if ((f1 & 0x40) != 0) {
        (void)mqttproto_properties_set_int(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                           MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL,
                                           (f1 & 0x80) != 0 ? 100 : 1);
    }
    p->payload = mqttproto_bin_make(payload, plen[(f2 >> 3) & 3]);
    uint64_t seq;
    size_t before = hold_begin(w, k, &seq);
    feed_packet(w, k, &pkt);
    if (p->qos != MQTTPROTO_QOS_AT_MOST_ONCE) {
        hold_end(w, k, before, seq);
    }
}

static void feed_ack(struct world *w, struct conn *k, uint8_t type, uint16_t id, uint8_t rc)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = (mqttproto_packet_type)type;
    pkt.puback.packet_id = id;
    pkt.puback.reason_code = rc;
    mqttproto_properties_init(&pkt.puback.properties);
    feed_packet(w, k, &pkt);
}

/* The answer of a client to what the broker sent (seen[i]); it is forgotten. */
static void answer_seen(struct world *w, struct conn *k, size_t i)
{
    struct seen s = k->seen[i];
    memmove(&k->seen[i], &k->seen[i + 1], (k->nseen - i - 1) * sizeof k->seen[0]);
    k->nseen--;
    uint8_t type = s.kind == 1   ? MQTTPROTO_PACKET_PUBACK
                   : s.kind == 2 ? MQTTPROTO_PACKET_PUBREC
                                 : MQTTPROTO_PACKET_PUBCOMP;
    feed_ack(w, k, type, s.id, 0);
}

static void op_ack(struct world *w, struct conn *k, uint8_t f)
{
    static const uint8_t types[4] = {MQTTPROTO_PACKET_PUBACK, MQTTPROTO_PACKET_PUBREC,
                                     MQTTPROTO_PACKET_PUBREL, MQTTPROTO_PACKET_PUBCOMP};
    switch (f & 3) {
    case 0:
    case 1:
        if (k->nseen > 0) {
            answer_seen(w, k, (size_t)(f >> 2) % k->nseen);
        }
        break;
    case 2:
        feed_ack(w, k, MQTTPROTO_PACKET_PUBREL, (uint16_t)(1 + ((f >> 2) & 7)), 0);
        break;
    default:
        feed_ack(w, k, types[(f >> 2) & 3], (uint16_t)(1 + ((f >> 4) & 7)), 0);
        break;
    }
}

static void feed_disconnect(struct world *w, struct conn *k, uint8_t f)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_DISCONNECT;
    pkt.disconnect.reason_code = (f & 1) != 0 ? 0x04 : 0x00;
    mqttproto_properties_init(&pkt.disconnect.properties);
    if ((f & 2) != 0) {
        (void)mqttproto_properties_set_int(&pkt.disconnect.properties, MQTTPROTO_PACKET_DISCONNECT,
                                           MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 0);
    }
    feed_packet(w, k, &pkt);
}

static void feed_unsubscribe(struct world *w, struct conn *k, uint8_t f)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    mqttproto_str filter = mqttproto_str_from_cstr(filters[f & 7]);
    pkt.type = MQTTPROTO_PACKET_UNSUBSCRIBE;
    pkt.unsubscribe.packet_id = (uint16_t)(1 + ((f >> 3) & 7));
    mqttproto_properties_init(&pkt.unsubscribe.properties);
    pkt.unsubscribe.topic_filters.items = &filter;
    pkt.unsubscribe.topic_filters.count = 1;
    feed_packet(w, k, &pkt);
}

/* ---- events and answers ------------------------------------------------- */

static void drain(struct world *w, struct conn *k)
{
    for (int guard = 0; k->c != NULL; guard++) {
        check(guard < 10000, "next_event never ends", 0);
        mqttproto_broker_event ev;
        w->a.hit = false;
        int r = mqttproto_broker_client_next_event(k->c, &ev);
        check(!w->a.hit, "next_event allocated", r);
        if (r == 0) {
            return;
        }
        check(r == 1, "next_event result", r);
        if (ev.type == MQTTPROTO_BROKER_EVENT_CONNECT) {
            k->connect_pending = true;
        } else if (ev.type == MQTTPROTO_BROKER_EVENT_SUBSCRIBE && k->nsubs < PEND) {
            struct pending_sub *ps = &k->subs[k->nsubs++];
            memset(ps, 0, sizeof *ps);
            ps->id = ev.packet_id;
            size_t cursor = 0;
            mqttproto_subscription s;
            while (mqttproto_subscriptions_next(ev.subscriptions, &cursor, &s)) {
                if (ps->count < 8) {
                    ps->req[ps->count++] = (uint8_t)s.max_qos;
                }
            }
        }
    }
}

static void answer(struct world *w, struct conn *k)
{
    drain(w, k);
    long long rc;
    if (k->c != NULL && k->connect_pending) {
        k->connect_pending = false;
        CALL(w, rc,
             mqttproto_broker_client_acknowledge_connect(k->c, 0, mqttproto_str_from_cstr(""), NULL,
                                                         w->now));
    }
    while (k->c != NULL && k->nsubs > 0) {
        struct pending_sub ps = k->subs[--k->nsubs];
        uint64_t seq;
        size_t before = hold_begin(w, k, &seq);
        CALL(w, rc, mqttproto_broker_client_acknowledge_subscribe(k->c, ps.id, ps.req, ps.count));
        hold_end(w, k, before, seq);
    }
}

static void writable(struct world *w)
{
    mqttproto_broker_client *c = NULL;
    for (int guard = 0; mqttproto_broker_next_writable(w->b, &c) == 1; guard++) {
        check(guard < 1000, "next_writable never ends", guard);
        bool known = false;
        for (int i = 0; i < NCONN; i++) {
            known = known || (c != NULL && w->k[i].c == c);
        }
        check(known, "next_writable named a connection that is not open", 0);
    }
}

static void synced(struct world *w, uint64_t seq)
{
    check(mqttproto_broker_store_synced(w->b, seq) == 0, "store_synced", 0);
    if (seq > w->m.last_seq) {
        seq = w->m.last_seq;
    }
    if (seq > w->synced) {
        w->synced = seq;
    }
    writable(w);
}

static void conn_reset(struct conn *k)
{
    buf_free(&k->out);
    memset(k, 0, sizeof *k);
}

static void conn_close(struct world *w, struct conn *k)
{
    if (k->c != NULL) {
        drain(w, k);
        w->a.hit = false;
        mqttproto_broker_client_destroy(k->c, w->now);
        w->a.hit = false; /* nothing to report: a will may be lost */
    }
    conn_reset(k);
}

static void conn_open(struct world *w, struct conn *k)
{
    conn_close(w, k);
    long long rc;
    CALL(w, rc, mqttproto_broker_client_create(w->b, w->now, &k->c));
    if (rc != 0) {
        k->c = NULL;
    }
}

static void clock_step(struct world *w, uint8_t f)
{
    static const uint64_t steps[8] = {0, 100, 1000, 1500, 5000, 60000, 400000, 1ull << 31};
    w->now += steps[f & 7];
    for (int i = 0; i < NCONN; i++) {
        struct conn *k = &w->k[i];
        if (k->c != NULL && mqttproto_broker_client_get_expiry(k->c) <= w->now) {
            w->a.hit = false;
            (void)mqttproto_broker_client_handle_expiry(k->c, w->now);
            w->a.hit = false;
        }
    }
    if (mqttproto_broker_get_expiry(w->b) <= w->now) {
        long long rc;
        CALL(w, rc, mqttproto_broker_handle_expiry(w->b, w->now));
        check(rc == 0, "broker handle_expiry result", rc);
    }
}

static void app_publish(struct world *w, uint8_t f1, uint8_t f2)
{
    static const size_t plen[4] = {0, 1, 5, 20};
    static const char payload[21] = "aaaaaaaaaaaaaaaaaaaaa";
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if ((f1 & 0x40) != 0) {
        (void)mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_PUBLISH,
                                           MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL,
                                           (f1 & 0x80) != 0 ? 100 : 1);
    }
    long long rc;
    CALL(w, rc,
         mqttproto_broker_publish(w->b, mqttproto_str_from_cstr(topics[f1 & 7]),
                                  mqttproto_bin_make(payload, plen[f2 & 3]),
                                  (mqttproto_qos)(((f1 >> 3) & 3) % 3), (f1 & 0x20) != 0, &props,
                                  w->now));
}

static void auto_round(struct world *w)
{
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < NCONN; i++) {
            struct conn *k = &w->k[i];
            answer(w, k);
            take_out(w, k, SIZE_MAX);
            while (k->c != NULL && k->nseen > 0) {
                answer_seen(w, k, 0);
            }
            answer(w, k);
        }
        synced(w, w->m.last_seq);
    }
}

/* ---- crash and restore -------------------------------------------------- */

/* A restore call: 0, or NO_MEMORY after the failed allocation and then 0. */
#define RESTORE(w, expr)                                                                           \
    do {                                                                                           \
        long long rc_;                                                                             \
        (w)->a.hit = false;                                                                        \
        rc_ = (long long)(expr);                                                                   \
        if (rc_ == MQTTPROTO_ERR_NO_MEMORY && (w)->a.hit) {                                        \
            (w)->a.hit = false;                                                                    \
            rc_ = (long long)(expr);                                                               \
        }                                                                                          \
        if (rc_ != 0) {                                                                            \
            fprintf(stderr, "fuzz_broker_store: %s\n", #expr);                                     \
            fail("a restore call with the store's data failed", rc_);                              \
        }                                                                                          \
    } while (0)

static mqttproto_str str_of(const char *s)
{
    return mqttproto_str_from_cstr(s);
}

static void crash(struct world *w)
{
    struct model *m = &w->m;
    if (m->broken) {
        return;
    }
    for (int i = 0; i < NCONN; i++) {
        conn_reset(&w->k[i]); /* the broker frees them */
    }
    mqttproto_broker_destroy(w->b);
    w->b = NULL;
    check(w->a.live == 0, "blocks still allocated after broker_destroy (crash)", w->a.live);
    long long rc;
    CALL(w, rc, mqttproto_broker_create(&w->s, &w->b));
    check(rc == 0, "broker_create after the crash", rc);

    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->sessions[i];
        if (r->used) {
            RESTORE(w, mqttproto_broker_restore_session(w->b, str_of(r->client), r->expiry, r->at));
        }
    }
    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->subs[i];
        if (r->used) {
            RESTORE(w, mqttproto_broker_restore_subscription(
                           w->b, str_of(r->client), str_of(r->topic), r->options, r->subid));
        }
    }
    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->msgs[i];
        if (r->used) {
            RESTORE(w, mqttproto_broker_restore_message(
                           w->b, r->id, mqttproto_bin_make(r->blob, r->blob_len), r->qos, r->at));
        }
    }
    for (uint64_t last = 0;;) { /* deliveries in increasing id: the queues' order */
        const struct mrow *next = NULL;
        for (size_t i = 0; i < MT; i++) {
            const struct mrow *r = &m->dels[i];
            if (r->used && r->id > last && (next == NULL || r->id < next->id)) {
                next = r;
            }
        }
        if (next == NULL) {
            break;
        }
        RESTORE(w, mqttproto_broker_restore_delivery(
                       w->b, str_of(next->client), next->id, next->msg, next->qos, next->retain,
                       next->shared, next->subids, next->nsubids, next->packet_id,
                       (mqttproto_store_delivery_stage)next->stage));
        last = next->id;
    }
    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->ret[i];
        if (r->used) {
            RESTORE(w, mqttproto_broker_restore_retained(w->b, str_of(r->topic), r->msg));
        }
    }
    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->wills[i];
        if (r->used) {
            RESTORE(
                w, mqttproto_broker_restore_will(w->b, str_of(r->client), r->msg, r->delay, r->at));
        }
    }
    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->inb[i];
        if (r->used) {
            RESTORE(w, mqttproto_broker_restore_inbound(w->b, str_of(r->client), (uint16_t)r->id));
        }
    }
    if (getenv("FUZZ_BROKER_STORE_DEBUG") != NULL) {
        fprintf(stderr,
                "crash: %zu sessions, %zu subscriptions, %zu messages, %zu deliveries, %zu "
                "retained, %zu wills, %zu inbound\n",
                count_rows(m->sessions), count_rows(m->subs), count_rows(m->msgs),
                count_rows(m->dels), count_rows(m->ret), count_rows(m->wills), count_rows(m->inb));
    }
    uint64_t alive = 0;
    for (size_t i = 0; i < MT; i++) {
        const struct mrow *r = &m->sessions[i];
        alive += r->used && r->at > w->now ? 1u : 0u;
    }
    check(mqttproto_broker_set_store(w->b, model_record, m, w->hold) == 0, "set_store", 0);
    m->last_seq = 0;
    m->last_hold_seq = 0;
    m->first_hold_seq = 0;
    m->hold_mark = 0;
    w->synced = 0;
    RESTORE(w, mqttproto_broker_restore_finish(w->b, w->now));
    mqttproto_broker_stats st = mqttproto_broker_get_stats(w->b);
    if (!m->broken) {
        check(st.sessions == alive, "sessions after restore_finish: not the stored ones alive",
              (long long)st.sessions);
        check(st.sessions == count_rows(m->sessions),
              "sessions after restore_finish: not the store's", (long long)st.sessions);
        check_retained(w);
    }
}

/* ---- the program -------------------------------------------------------- */

static void settings_from(mqttproto_broker_settings *s, uint8_t f)
{
    mqttproto_broker_settings_default(s);
    s->max_queued_messages = 16;
    if ((f & 2) != 0) {
        s->max_sessions = 3;
        s->max_subscriptions_per_session = 2;
        s->max_queued_messages = 3;
        s->max_retained_messages = 2;
    }
    if ((f & 4) != 0) {
        s->max_session_expiry = 10;
    }
    if ((f & 8) != 0) {
        s->maximum_qos = 1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct world *w = calloc(1, sizeof *w);
    if (w == NULL) {
        fail("harness out of memory", 0);
    }
    struct input in = {data, size, 0};
    w->now = 1700000000000ull;
    w->a.owner = "broker";
    w->mem = fuzz_alloc_mem(&w->a);
    uint8_t flags = u8(&in);
    settings_from(&w->s, flags);
    w->s.mem = &w->mem;
    w->hold = (flags & 1) != 0;
    check(mqttproto_broker_create(&w->s, &w->b) == 0, "broker_create", 0);
    check(mqttproto_broker_set_store(w->b, model_record, &w->m, w->hold) == 0, "set_store", 0);

    while (in.pos < in.n) {
        uint8_t op = u8(&in);
        struct conn *k = &w->k[(op >> 4) & 3];
        uint8_t f1, f2;
        switch (op & 15) {
        case 0:
            conn_open(w, k);
            break;
        case 1:
            f1 = u8(&in);
            f2 = u8(&in);
            feed_connect(w, k, f1, f2);
            break;
        case 2:
            f1 = u8(&in);
            f2 = u8(&in);
            feed_subscribe(w, k, f1, f2);
            break;
        case 3:
            f1 = u8(&in);
            f2 = u8(&in);
            feed_publish(w, k, f1, f2);
            break;
        case 4:
            op_ack(w, k, u8(&in));
            break;
        case 5:
            feed_disconnect(w, k, u8(&in));
            break;
        case 6:
            answer(w, k);
            break;
        case 7:
            f1 = u8(&in);
            take_out(w, k, f1 >= 0x80 ? SIZE_MAX : (size_t)f1 + 1);
            break;
        case 8:
            conn_close(w, k);
            break;
        case 9:
            clock_step(w, u8(&in));
            break;
        case 10: {
            f1 = u8(&in);
            uint64_t last = w->m.last_seq;
            uint64_t back = f1 & 3;
            synced(w, (f1 & 4) != 0 ? last + 1 : (back > last ? 0 : last - back));
            break;
        }
        case 11:
            w->a.fail_next = true;
            break;
        case 12:
            crash(w);
            break;
        case 13:
            auto_round(w);
            break;
        case 14:
            f1 = u8(&in);
            f2 = u8(&in);
            app_publish(w, f1, f2);
            break;
        default:
            feed_unsubscribe(w, k, u8(&in));
            break;
        }
        w->a.fail_next = w->a.fail_next && (op & 15) == 11;
        check_retained(w);
    }

    w->a.fail_next = false;
    for (int i = 0; i < NCONN; i++) {
        answer(w, &w->k[i]);
        take_out(w, &w->k[i], SIZE_MAX);
    }
    for (int i = 0; i < NCONN; i++) {
        conn_close(w, &w->k[i]);
    }
    check_retained(w);
    mqttproto_broker_destroy(w->b);
    check(w->a.live == 0, "blocks still allocated after broker_destroy", w->a.live);
    free(w);
    return 0;
}
