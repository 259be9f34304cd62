/*
 * The interpreter of the broker fuzz targets.
 *
 * The input is a little program. Byte 0 chooses the broker settings:
 *   bit 0  authorize_publish (every inbound PUBLISH waits for an answer)
 *   bit 1  small limits (maximum_packet_size 128, 2 sessions, 2
 *          subscriptions per session, 3 queued messages / 300 queued
 *          bytes, 2 retained messages, 3 topic levels, 2 user properties,
 *          connect timeout 1 s)
 *   bit 2  max_keep_alive 2 and max_session_expiry 5
 *   bit 3  no wildcard, subscription identifier or shared subscriptions
 *   bit 4  maximum_qos 1
 *   bit 5  retain not available
 *   bit 6  topic_alias_maximum 0 (else 2)
 *   bit 7  receive_maximum 1 (else 3)
 * Every following byte is an operation: its value modulo 16, and (in
 * fuzz_broker, with several connections) the connection it acts on in bits
 * 4-5. Each reads its parameters from the bytes after it (0 once the input
 * is used up):
 *   0  feed raw bytes: length, chunk byte, then that many bytes
 *   1  feed a valid client packet built from the bytes after it (CONNECT,
 *      PUBLISH, PUBACK/PUBREC/PUBREL/PUBCOMP, SUBSCRIBE, UNSUBSCRIBE,
 *      PINGREQ, DISCONNECT, AUTH), then a chunk byte. The first of those
 *      bytes selects the packet (modulo 12); for a CONNECT (0 modulo 12)
 *      its value also chooses the protocol version: 12 MQTT 3.1.1, 24
 *      MQTT 3.1, any other MQTT 5. The other packets are written in the
 *      forms of the version of the CONNECT the broker read on that
 *      connection (MQTT 5 before one); what a version cannot say (AUTH, or
 *      No Local before MQTT 5) is not fed, and properties are dropped.
 *   2  drain every event (the decisions they ask for are remembered)
 *   3  acknowledge_connect(reason code, user name, properties)
 *   4  acknowledge_subscribe(a remembered SUBSCRIBE, one code per filter)
 *   5  authorize_publish(a remembered ticket, reason code)
 *   6  auth(reason code, data)
 *   7  disconnect(reason code, properties)
 *   8  take part or all of the outbound data
 *   9  advance the clock and run every timer due (client and broker)
 *   10 make the next allocation fail
 *   11 mqttproto_broker_publish() from the application
 *   12 several connections: drop the connection (destroy); one: copy_outbound()
 *   13 several connections: open it (dropping it first if open); one:
 *      read the accessors and the broker's counters
 *   14 an automatic round on every connection: drain, answer every decision
 *      with success, take the outbound data and feed the acknowledgements a
 *      client would send (PUBACK, PUBREC, PUBCOMP)
 *   15 next_writable() until it returns 0
 * A chunk byte of 0x80 or more feeds everything at once; a smaller value v
 * feeds (v & 15) + 1 bytes at a time. At the end every connection is
 * drained, its outbound data taken, and everything destroyed.
 * fuzz/gen_broker_seeds.py writes seed corpora in this language.
 *
 * Checked (any failure aborts after printing what failed): no crash, no
 * leak (the counting allocator is back to zero after the broker is
 * destroyed) and no sanitizer finding; the state is always one of the four
 * and error() is non-zero only when CLOSING; a call that met the failed
 * allocation returns MQTTPROTO_ERR_NO_MEMORY (feed_bytes() may instead take
 * fewer bytes than given, which are then fed again), MQTTPROTO_ERR_NO_MEMORY
 * comes from nowhere else, and the same call made again then succeeds or
 * fails for another reason; every other negative result is a listed error;
 * feed_bytes() never takes more than it is given, takes everything while
 * memory lasts (the inputs stay far below the input limit), and its
 * protocol errors are sticky: CLOSING with error() set to it, and every
 * later feed returns it again; next_event() never allocates, its events are
 * of known types with readable views and consistent fields (tickets only
 * with authorize_publish, resolved topics valid, one UNSUBSCRIBE code per
 * filter); two peeks at the outbound data agree, and what the broker writes
 * is a sequence of packets mqttproto_decode() accepts: one CONNACK,
 * nothing after a DISCONNECT or a refusing CONNACK, only AUTH before it, only
 * server packets,
 * none over the Maximum Packet Size of the CONNECT the broker read, and
 * QoS 1/2 PUBLISH with packet identifiers not in use on the connection,
 * never more in flight than the Receive Maximum of the CONNECT;
 * next_writable() names only open connections. What the broker writes is
 * read in the forms of the version of the CONNECT it read on that
 * connection (for a CONNECT it could not decode, the protocol level its
 * header names), and before MQTT 5 any non-zero CONNACK return code is a
 * refusal.
 */
#include "broker_fuzz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"
#include "fuzz_buf.h"

#include "mqttproto/mqttproto.h"

static const char *target = "broker fuzz";
static volatile unsigned sink;

/* Never returns: the checks after a failed one may rely on it. */
static _Noreturn void fail(const char *what, long long value)
{
    fprintf(stderr, "%s: %s (value %lld, %s)\n", target, what, value,
            mqttproto_err_name(value < 0 && value >= INT32_MIN ? (int)value : 0));
    abort();
}

static void check(bool ok, const char *what, long long value)
{
    if (!ok) {
        fail(what, value);
    }
}

static bool listed_error(long long rc)
{
    return rc < 0 && rc >= INT32_MIN &&
           strcmp(mqttproto_err_name((int)rc), "MQTTPROTO_ERR_UNKNOWN") != 0;
}

static void touch(const void *p, size_t len)
{
    if (len == 0) {
        return;
    }
    /* fail() itself, not check(): the analyzer follows calls only so deep,
       and must see that a NULL view is never read. */
    if (p == NULL) {
        fail("non-empty view with a NULL pointer", (long long)len);
    }
    const uint8_t *b = p;
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += b[i];
    }
    sink += sum;
}

/* ---- input -------------------------------------------------------------- */

struct input {
    const uint8_t *p;
    size_t n;
    size_t pos;
};

static bool more(const struct input *in)
{
    return in->pos < in->n;
}

static uint8_t u8(struct input *in)
{
    return in->pos < in->n ? in->p[in->pos++] : 0;
}

/* Up to k bytes of the input; *len receives how many there were. */
static const uint8_t *take_bytes(struct input *in, size_t k, size_t *len)
{
    size_t left = in->n - in->pos;
    if (k > left) {
        k = left;
    }
    const uint8_t *p = in->p + in->pos;
    in->pos += k;
    *len = k;
    return p;
}

static size_t chunk_of(uint8_t c)
{
    return c >= 0x80 ? SIZE_MAX : (size_t)(c & 15) + 1;
}

/* ---- the world ---------------------------------------------------------- */

#define PEND   8
#define FLIGHT 128
#define RECENT 8

struct pending_sub {
    uint16_t id;
    size_t count;
    uint8_t req[8]; /* requested QoS of the first 8 filters */
};

struct flight {
    uint16_t id;
    uint8_t qos;
    bool pubrec_fed;
};

/* An acknowledgement fed for a packet identifier not seen in flight: the
   broker counts a PUBLISH as sent once it is in its output, which the
   harness may not have taken yet. Applied when that PUBLISH shows up. */
struct early_ack {
    uint16_t id;
    uint8_t type;
    uint8_t rc;
};

#define EARLY 16

struct conn {
    mqttproto_broker_client *c;
    int perr;             /* the protocol error feed_bytes() returned; 0: none */
    bool connect_pending; /* a CONNECT (or AUTH during it) waits for an answer */
    struct pending_sub subs[PEND];
    size_t nsubs;
    uint32_t tickets[PEND];
    size_t ntickets;

    /* The bytes the broker took, parsed as it parses them. */
    struct buf in;
    bool in_broken;
    bool connect_seen;
    uint8_t ver; /* protocol level of the CONNECT the broker took; 0: none yet */
    uint32_t peer_max_packet;
    uint16_t peer_recv_max;

    /* The bytes the broker wrote and the application took. */
    struct buf out;
    size_t out_packets;
    bool connack_seen;
    bool out_ended;
    struct flight fl[FLIGHT];
    size_t nfl;
    struct early_ack early[EARLY];
    size_t nearly;
    bool fl_overflow;
    uint16_t recent[RECENT];
    size_t nrecent;
    struct buf acks; /* what an automatic client would answer */
};

struct world {
    mqttproto_broker *b;
    struct fuzz_alloc a;
    mqttproto_mem mem;
    mqttproto_broker_settings s;
    uint64_t now;
    int multi;
    struct conn k[BF_MAX_CONNS];
};

static const char *const topics[8] = {"a", "a/b", "b", "c/d", "$SYS/x", "a/b/c/d/e", "x/y", "b/c"};
static const char *const filters[8] = {"a",          "a/#",        "+/b", "#",
                                       "$share/g/a", "$share/g/#", "a/b", "$SYS/#"};
static const char *const client_ids[4] = {"", "a", "b", "c"};

static void call_begin(struct world *w)
{
    w->a.hit = false;
}

/* After a call that reports a failed allocation with MQTTPROTO_ERR_NO_MEMORY. */
static void call_errors(struct world *w, long long rc, const char *what)
{
    bool hit = w->a.hit;
    w->a.hit = false;
    if (hit && rc != MQTTPROTO_ERR_NO_MEMORY) {
        fprintf(stderr, "%s: %s\n", target, what);
        fail("a call met the failed allocation but did not return MQTTPROTO_ERR_NO_MEMORY", rc);
    }
    if (!hit && rc == MQTTPROTO_ERR_NO_MEMORY) {
        fprintf(stderr, "%s: %s\n", target, what);
        fail("MQTTPROTO_ERR_NO_MEMORY without a failed allocation", rc);
    }
    if (rc < 0 && !listed_error(rc)) {
        fprintf(stderr, "%s: %s\n", target, what);
        fail("a result that is not a listed error", rc);
    }
}

/* Make a call; once more when it ran out of memory, as an application
   would once memory is back. */
#define CALL(w, rc, expr)                                                                          \
    do {                                                                                           \
        call_begin(w);                                                                             \
        (rc) = (long long)(expr);                                                                  \
        call_errors((w), (rc), #expr);                                                             \
        if ((rc) == MQTTPROTO_ERR_NO_MEMORY) {                                                     \
            call_begin(w);                                                                         \
            (rc) = (long long)(expr);                                                              \
            call_errors((w), (rc), #expr);                                                         \
        }                                                                                          \
    } while (0)

static void check_conn(const struct conn *k)
{
    if (k->c == NULL) {
        return;
    }
    mqttproto_broker_client_state st = mqttproto_broker_client_get_state(k->c);
    check((int)st >= MQTTPROTO_BROKER_CLIENT_AWAIT_CONNECT &&
              (int)st <= MQTTPROTO_BROKER_CLIENT_CLOSING,
          "state out of range", (long long)st);
    int e = mqttproto_broker_client_error(k->c);
    check(e == 0 || st == MQTTPROTO_BROKER_CLIENT_CLOSING, "error() set while not CLOSING", e);
    check(e == 0 || listed_error(e), "error() is not a listed error", e);
    if (k->perr != 0) {
        check(st == MQTTPROTO_BROKER_CLIENT_CLOSING, "not CLOSING after a protocol error", st);
        check(e == k->perr, "error() is not the protocol error feed_bytes returned", e);
    }
}

static void check_all(const struct world *w)
{
    for (int i = 0; i < BF_MAX_CONNS; i++) {
        check_conn(&w->k[i]);
    }
}

/* ---- the broker's input, as it parses it -------------------------------- */

static struct flight *flight_find(struct conn *k, uint16_t id)
{
    for (size_t i = 0; i < k->nfl; i++) {
        if (k->fl[i].id == id) {
            return &k->fl[i];
        }
    }
    return NULL;
}

static void flight_remove(struct conn *k, struct flight *f)
{
    *f = k->fl[--k->nfl];
}

static void early_add(struct conn *k, uint16_t id, uint8_t type, uint8_t rc)
{
    if (k->nearly == EARLY) {
        memmove(&k->early[0], &k->early[1], (EARLY - 1) * sizeof k->early[0]);
        k->nearly--;
    }
    k->early[k->nearly].id = id;
    k->early[k->nearly].type = type;
    k->early[k->nearly].rc = rc;
    k->nearly++;
}

/* Apply the early acknowledgements of the PUBLISH just added as @p f. */
static void early_apply(struct conn *k, struct flight *f)
{
    size_t i = 0;
    while (i < k->nearly && f != NULL) {
        struct early_ack a = k->early[i];
        if (a.id != f->id) {
            i++;
            continue;
        }
        memmove(&k->early[i], &k->early[i + 1], (k->nearly - i - 1) * sizeof k->early[0]);
        k->nearly--;
        if (a.type == MQTTPROTO_PACKET_PUBACK && f->qos == 1) {
            flight_remove(k, f);
            f = NULL;
        } else if (a.type == MQTTPROTO_PACKET_PUBREC && f->qos == 2) {
            if (a.rc >= 0x80) {
                flight_remove(k, f);
                f = NULL;
            } else {
                f->pubrec_fed = true;
            }
        } else if (a.type == MQTTPROTO_PACKET_PUBCOMP && f->qos == 2 && f->pubrec_fed) {
            flight_remove(k, f);
            f = NULL;
        }
    }
}

/* MQTT 5 until the broker has read a CONNECT, then that CONNECT's version. */
static uint8_t conn_ver(const struct conn *k)
{
    return k->ver != 0 ? k->ver : MQTTPROTO_PROTOCOL_V5;
}

static mqttproto_codec_options opts_of(uint8_t ver)
{
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.protocol_version = ver;
    return o;
}

/* The version of a built CONNECT from its selector byte (0 modulo 12): 12
   MQTT 3.1.1, 24 MQTT 3.1, any other (0 in the older seeds) MQTT 5. */
static uint8_t version_of(uint8_t selector)
{
    return selector == 12   ? MQTTPROTO_PROTOCOL_V311
           : selector == 24 ? MQTTPROTO_PROTOCOL_V31
                            : MQTTPROTO_PROTOCOL_V5;
}

/* The version the broker answers a CONNECT it could not decode in: 4 for
   the protocol name "MQTT" with level 4, 3 for "MQIsdp" with level 3, and
   0 (MQTT 5) for anything else, as the broker decides. */
static uint8_t sniff_level(const uint8_t *p, size_t n)
{
    if (n < 2 || p[0] != 0x10) {
        return 0;
    }
    size_t i = 1;
    for (int k = 0; k < 4 && i < n; k++) {
        if ((p[i++] & 0x80) == 0) {
            break;
        }
    }
    static const uint8_t mqtt[7] = {0, 4, 'M', 'Q', 'T', 'T', 4};
    static const uint8_t mqisdp[9] = {0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3};
    if (n >= i + sizeof mqtt && memcmp(p + i, mqtt, sizeof mqtt) == 0) {
        return 4;
    }
    if (n >= i + sizeof mqisdp && memcmp(p + i, mqisdp, sizeof mqisdp) == 0) {
        return 3;
    }
    return 0;
}

static void mirror_in(struct conn *k, const uint8_t *p, size_t n)
{
    if (k->in_broken) {
        return;
    }
    buf_append(&k->in, p, n);
    for (;;) {
        mqttproto_packet pkt;
        mqttproto_codec_options opts = opts_of(conn_ver(k));
        ptrdiff_t d = mqttproto_decode(k->in.d, k->in.len, &opts, &pkt);
        if (d == 0) {
            return;
        }
        if (d < 0) {
            k->in_broken = true; /* the broker fails the connection there */
            if (!k->connect_seen && k->ver == 0) {
                /* It may still answer in the form of the level it read. */
                k->ver = sniff_level(k->in.d, k->in.len);
            }
            return;
        }
        switch (pkt.type) {
        case MQTTPROTO_PACKET_CONNECT:
            if (!k->connect_seen) {
                const mqttproto_properties *pp = &pkt.connect.properties;
                k->connect_seen = true;
                k->ver = pkt.connect.protocol_version;
                k->peer_max_packet =
                    mqttproto_properties_has(pp, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE)
                        ? pp->maximum_packet_size
                        : MQTTPROTO_MAX_PACKET_SIZE;
                k->peer_recv_max = mqttproto_properties_has(pp, MQTTPROTO_PROP_RECEIVE_MAXIMUM)
                                       ? pp->receive_maximum
                                       : 65535;
            }
            break;
        case MQTTPROTO_PACKET_PUBACK: {
            struct flight *f = flight_find(k, pkt.puback.packet_id);
            if (f != NULL && f->qos == 1) {
                flight_remove(k, f);
            } else if (f == NULL) {
                early_add(k, pkt.puback.packet_id, MQTTPROTO_PACKET_PUBACK, 0);
            }
            break;
        }
        case MQTTPROTO_PACKET_PUBREC: {
            struct flight *f = flight_find(k, pkt.pubrec.packet_id);
            if (f != NULL && f->qos == 2) {
                if (pkt.pubrec.reason_code >= 0x80) {
                    flight_remove(k, f);
                } else {
                    f->pubrec_fed = true;
                }
            } else if (f == NULL) {
                early_add(k, pkt.pubrec.packet_id, MQTTPROTO_PACKET_PUBREC, pkt.pubrec.reason_code);
            }
            break;
        }
        case MQTTPROTO_PACKET_PUBCOMP: {
            struct flight *f = flight_find(k, pkt.pubcomp.packet_id);
            if (f != NULL && f->qos == 2 && f->pubrec_fed) {
                flight_remove(k, f);
            } else if (f == NULL) {
                early_add(k, pkt.pubcomp.packet_id, MQTTPROTO_PACKET_PUBCOMP, 0);
            }
            break;
        }
        default:
            break;
        }
        buf_drop(&k->in, (size_t)d);
    }
}

/* ---- the broker's output ------------------------------------------------ */

static void queue_ack(struct conn *k, uint8_t first, uint16_t id)
{
    uint8_t a[4] = {first, 2, (uint8_t)(id >> 8), (uint8_t)id};
    if (k->acks.len < 512) {
        buf_append(&k->acks, a, 4);
    }
}

static void parse_out(struct conn *k)
{
    for (;;) {
        mqttproto_packet pkt;
        /* In the forms of the version of the CONNECT the broker read. */
        mqttproto_codec_options opts = opts_of(conn_ver(k));
        ptrdiff_t d = mqttproto_decode(k->out.d, k->out.len, &opts, &pkt);
        if (d == 0) {
            return;
        }
        check(d > 0, "the broker wrote a packet that does not decode", d);
        check(!k->out_ended, "the broker wrote a packet after DISCONNECT or a refusing CONNACK",
              pkt.type);
        if (!k->connack_seen) {
            check(pkt.type == MQTTPROTO_PACKET_CONNACK || pkt.type == MQTTPROTO_PACKET_AUTH,
                  "a packet before CONNACK that is not AUTH", pkt.type);
        } else {
            check(pkt.type != MQTTPROTO_PACKET_CONNACK, "a second CONNACK", pkt.type);
        }
        k->connack_seen = k->connack_seen || pkt.type == MQTTPROTO_PACKET_CONNACK;
        k->out_packets++;
        if (k->connect_seen) {
            check((uint64_t)d <= k->peer_max_packet,
                  "a packet over the client's Maximum Packet Size", d);
        }
        switch (pkt.type) {
        case MQTTPROTO_PACKET_CONNACK:
            /* a 3.1.1 refusal is any non-zero return code */
            if (pkt.connack.reason_code >= 0x80 ||
                (conn_ver(k) != MQTTPROTO_PROTOCOL_V5 && pkt.connack.reason_code != 0)) {
                k->out_ended = true;
            }
            break;
        case MQTTPROTO_PACKET_DISCONNECT:
            k->out_ended = true;
            break;
        case MQTTPROTO_PACKET_PUBLISH: {
            const mqttproto_publish *p = &pkt.publish;
            check(p->topic.len > 0, "a PUBLISH without a topic", 0);
            check(!mqttproto_properties_has(&p->properties, MQTTPROTO_PROP_TOPIC_ALIAS),
                  "the broker used a Topic Alias", 0);
            if (p->qos == MQTTPROTO_QOS_AT_MOST_ONCE) {
                break;
            }
            check(flight_find(k, p->packet_id) == NULL, "a PUBLISH with a packet identifier in use",
                  p->packet_id);
            k->recent[k->nrecent++ % RECENT] = p->packet_id;
            if (k->nfl == FLIGHT) {
                k->fl_overflow = true;
            } else {
                struct flight *f = &k->fl[k->nfl++];
                f->id = p->packet_id;
                f->qos = (uint8_t)p->qos;
                f->pubrec_fed = false;
                early_apply(k, f);
            }
            if (k->connect_seen && !k->fl_overflow) {
                check(k->nfl <= k->peer_recv_max, "more in flight than the Receive Maximum",
                      (long long)k->nfl);
            }
            queue_ack(k, p->qos == MQTTPROTO_QOS_AT_LEAST_ONCE ? 0x40 : 0x50, p->packet_id);
            break;
        }
        case MQTTPROTO_PACKET_PUBREL:
            queue_ack(k, 0x70, pkt.pubrel.packet_id);
            break;
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

/* Peek twice, then consume up to @p max bytes (SIZE_MAX: all). */
static void take_out(struct world *w, struct conn *k, size_t max)
{
    if (k->c == NULL) {
        return;
    }
    const uint8_t *p = NULL;
    call_begin(w);
    size_t n = mqttproto_broker_client_get_outbound_data(k->c, &p);
    check(n == 0 || p != NULL, "outbound bytes at NULL", (long long)n);
    uint8_t *snap = malloc(n > 0 ? n : 1);
    if (snap == NULL) {
        fail("harness out of memory", (long long)n);
    }
    if (n > 0) {
        memcpy(snap, p, n);
    }
    const uint8_t *p2 = NULL;
    size_t n2 = mqttproto_broker_client_get_outbound_data(k->c, &p2);
    w->a.hit = false;
    check(n2 >= n && (n == 0 || memcmp(p2, snap, n) == 0),
          "the outbound bytes changed without a consume", (long long)n2);
    free(snap);
    size_t t = n2 < max ? n2 : max;
    buf_append(&k->out, p2, t);
    mqttproto_broker_client_consume_outbound(k->c, t);
    parse_out(k);
    check_conn(k);
}

static void copy_out(struct world *w, struct conn *k, size_t cap)
{
    if (k->c == NULL) {
        return;
    }
    uint8_t buf[300];
    if (cap > sizeof buf) {
        cap = sizeof buf;
    }
    call_begin(w);
    size_t before = mqttproto_broker_client_get_outbound_data(k->c, NULL);
    size_t n = mqttproto_broker_client_copy_outbound(k->c, buf, cap);
    w->a.hit = false;
    check(n <= cap, "copy_outbound copied more than asked", (long long)n);
    check(n >= (before < cap ? before : cap), "copy_outbound copied less than waited",
          (long long)n);
    buf_append(&k->out, buf, n);
    parse_out(k);
    check_conn(k);
}

/* ---- feeding ------------------------------------------------------------ */

static void feed(struct world *w, struct conn *k, const uint8_t *d, size_t n, size_t chunk)
{
    if (k->c == NULL) {
        return;
    }
    size_t off = 0;
    int no_memory = 0;
    while (off < n) {
        size_t m = n - off < chunk ? n - off : chunk;
        bool was_closing =
            mqttproto_broker_client_get_state(k->c) == MQTTPROTO_BROKER_CLIENT_CLOSING;
        call_begin(w);
        ptrdiff_t r = mqttproto_broker_client_feed_bytes(k->c, d + off, m, w->now);
        bool hit = w->a.hit;
        w->a.hit = false;
        check_conn(k);
        if (r == MQTTPROTO_ERR_NO_MEMORY) {
            check(hit, "feed_bytes: MQTTPROTO_ERR_NO_MEMORY without a failed allocation", r);
            check(++no_memory < 4, "feed_bytes keeps failing", r);
            continue; /* the same bytes again */
        }
        if (r < 0) {
            check(listed_error(r), "feed_bytes: not a listed error", r);
            int e = mqttproto_broker_client_error(k->c);
            check(mqttproto_broker_client_get_state(k->c) == MQTTPROTO_BROKER_CLIENT_CLOSING,
                  "feed_bytes failed but the client is not CLOSING", r);
            if (k->perr != 0) {
                check(r == k->perr, "feed_bytes: the protocol error is not sticky", r);
            } else if (e != 0) {
                check(r == e, "feed_bytes: the error is not error()", r);
                if (!was_closing) {
                    k->perr = e;
                }
            } else {
                check(r == MQTTPROTO_ERR_BAD_STATE, "feed_bytes: closing without an error", r);
            }
            if (!was_closing) {
                /* The broker read up to the packet that failed: the mirror
                   reads it too, to learn the version the answer is in. */
                mirror_in(k, d + off, m);
            }
            return;
        }
        check(!was_closing, "feed_bytes took bytes while CLOSING", r);
        check((size_t)r <= m, "feed_bytes took more than it was given", r);
        if (hit) {
            check((size_t)r < m && r > 0,
                  "feed_bytes met the failed allocation but took everything", r);
        } else {
            check((size_t)r == m, "feed_bytes took fewer bytes without a failed allocation", r);
        }
        mirror_in(k, d + off, (size_t)r);
        off += (size_t)r;
    }
}

/* ---- building client packets -------------------------------------------- */

static uint16_t pick_id(struct conn *k, uint8_t f)
{
    if ((f & 8) != 0 && k->nrecent > 0) {
        size_t n = k->nrecent < RECENT ? k->nrecent : RECENT;
        return k->recent[(f & 7) % n];
    }
    return (uint16_t)(1 + (f & 7));
}

static size_t build(struct conn *k, struct input *in, uint8_t *buf, size_t cap)
{
    mqttproto_codec_options opts = opts_of(conn_ver(k));
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    mqttproto_subscription subs[3];
    mqttproto_str flist[3];
    mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    memset(subs, 0, sizeof subs);
    uint8_t raw = u8(in);
    uint8_t sel = (uint8_t)(raw % 12);
    switch (sel) {
    case 0: {
        uint8_t f1 = u8(in), f2 = u8(in), f3 = u8(in);
        uint8_t ver = version_of(raw);
        static const uint32_t expiry[4] = {0, 5, 60, UINT32_MAX};
        static const uint16_t keep_alive[4] = {0, 1, 2, 60};
        mqttproto_connect *cn = &pkt.connect;
        pkt.type = MQTTPROTO_PACKET_CONNECT;
        cn->protocol_version = ver;
        opts.protocol_version = ver;
        mqttproto_properties_init(&cn->properties);
        mqttproto_properties *pp = &cn->properties;
        cn->client_id = mqttproto_str_from_cstr(client_ids[f1 & 3]);
        cn->clean_start = (f1 & 4) != 0;
        cn->keep_alive = keep_alive[(f1 >> 6) & 3];
        if (((f1 >> 4) & 3) != 0) {
            (void)mqttproto_properties_set_int(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL,
                                               expiry[(f1 >> 4) & 3]);
        }
        if ((f1 & 8) != 0) {
            cn->has_will = true;
            cn->will.topic = mqttproto_str_from_cstr(topics[(f2 >> 4) & 7]);
            cn->will.payload = mqttproto_bin_make("w", 1);
            cn->will.qos = (mqttproto_qos)((f2 & 3) % 3);
            cn->will.retain = (f2 & 4) != 0;
            mqttproto_properties_init(&cn->will.properties);
            if ((f2 & 8) != 0) {
                (void)mqttproto_properties_set_int(
                    &cn->will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                    MQTTPROTO_PROP_WILL_DELAY_INTERVAL, (f2 & 0x80) != 0 ? 3 : 1);
            }
        }
        if ((f3 & 1) != 0) {
            cn->has_username = true;
            cn->username = mqttproto_str_from_cstr("u");
        }
        if ((f3 & 2) != 0) {
            cn->has_password = true;
            cn->password = mqttproto_bin_make("p", 1);
        }
        if ((f3 & 4) != 0) {
            (void)mqttproto_properties_set_str(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_AUTHENTICATION_METHOD,
                                               mqttproto_str_from_cstr("m"));
            (void)mqttproto_properties_set_bin(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_AUTHENTICATION_DATA,
                                               mqttproto_bin_make("d", 1));
        }
        if (((f3 >> 3) & 3) != 0) {
            (void)mqttproto_properties_set_int(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_RECEIVE_MAXIMUM, (f3 >> 3) & 3);
        }
        if ((f3 & 0x20) != 0) {
            (void)mqttproto_properties_set_int(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, 64);
        }
        if ((f3 & 0x40) != 0) {
            (void)mqttproto_properties_set_user_properties(pp, MQTTPROTO_PACKET_CONNECT, &up, 1);
        }
        if ((f3 & 0x80) != 0) {
            (void)mqttproto_properties_set_int(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, 2);
            (void)mqttproto_properties_set_int(pp, MQTTPROTO_PACKET_CONNECT,
                                               MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION, 1);
        }
        break;
    }
    case 1:
    case 11: {
        uint8_t f1 = u8(in), f2 = u8(in);
        static const size_t plen[4] = {0, 1, 5, 40};
        static const char payload[41] = "pppppppppppppppppppppppppppppppppppppppp";
        mqttproto_publish *p = &pkt.publish;
        pkt.type = MQTTPROTO_PACKET_PUBLISH;
        mqttproto_properties_init(&p->properties);
        p->topic = mqttproto_str_from_cstr(sel == 11 ? "a/b/c/d/e/f" : topics[f1 & 7]);
        p->qos = (mqttproto_qos)(((f1 >> 3) & 3) % 3);
        p->retain = (f1 & 0x20) != 0;
        p->dup = p->qos != MQTTPROTO_QOS_AT_MOST_ONCE && (f1 & 0x40) != 0;
        p->packet_id = p->qos != MQTTPROTO_QOS_AT_MOST_ONCE ? (uint16_t)(1 + (f2 & 3)) : 0;
        if (((f2 >> 2) & 3) != 0) {
            (void)mqttproto_properties_set_int(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                               MQTTPROTO_PROP_TOPIC_ALIAS, (f2 >> 2) & 3);
            if ((f2 & 0x10) != 0) {
                p->topic.data = NULL;
                p->topic.len = 0;
            }
        }
        if ((f2 & 0x20) != 0) {
            (void)mqttproto_properties_set_int(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                               MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
        }
        if ((f1 & 0x80) != 0) {
            (void)mqttproto_properties_set_str(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                               MQTTPROTO_PROP_RESPONSE_TOPIC,
                                               mqttproto_str_from_cstr("r"));
            (void)mqttproto_properties_set_user_properties(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                                           &up, 1);
        }
        p->payload = mqttproto_bin_make(payload, plen[(f2 >> 6) & 3]);
        break;
    }
    case 2:
    case 3:
    case 4:
    case 5: {
        static const uint8_t types[4] = {MQTTPROTO_PACKET_PUBACK, MQTTPROTO_PACKET_PUBREC,
                                         MQTTPROTO_PACKET_PUBREL, MQTTPROTO_PACKET_PUBCOMP};
        static const uint8_t codes[4] = {0x00, 0x10, 0x80, 0x92};
        uint8_t f = u8(in);
        pkt.type = (mqttproto_packet_type)types[sel - 2];
        pkt.puback.packet_id = pick_id(k, f);
        pkt.puback.reason_code = codes[(f >> 4) & 3];
        if (!mqttproto_reason_code_allowed(pkt.puback.reason_code, (int)pkt.type)) {
            pkt.puback.reason_code = (f & 0x40) != 0 ? 0x87 : 0x00;
            if (!mqttproto_reason_code_allowed(pkt.puback.reason_code, (int)pkt.type)) {
                pkt.puback.reason_code = 0;
            }
        }
        mqttproto_properties_init(&pkt.puback.properties);
        break;
    }
    case 6: {
        uint8_t f1 = u8(in);
        size_t n = 1 + (size_t)(((f1 >> 2) & 3) % 3);
        pkt.type = MQTTPROTO_PACKET_SUBSCRIBE;
        pkt.subscribe.packet_id = (uint16_t)(1 + (f1 & 3));
        mqttproto_properties_init(&pkt.subscribe.properties);
        if ((f1 & 0x10) != 0) {
            (void)mqttproto_properties_set_int(
                &pkt.subscribe.properties, MQTTPROTO_PACKET_SUBSCRIBE,
                MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 1u + ((f1 >> 5) & 7));
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t fb = u8(in);
            subs[i].topic_filter = mqttproto_str_from_cstr(filters[fb & 7]);
            subs[i].max_qos = (mqttproto_qos)(((fb >> 3) & 3) % 3);
            subs[i].no_local = (fb & 0x20) != 0;
            subs[i].retain_as_published = (fb & 0x40) != 0;
            subs[i].retain_handling =
                (fb & 0x80) != 0 ? (mqttproto_retain_handling)(u8(in) % 3) : 0;
        }
        pkt.subscribe.subscriptions.items = subs;
        pkt.subscribe.subscriptions.count = n;
        break;
    }
    case 7: {
        uint8_t f1 = u8(in);
        size_t n = 1 + (size_t)(((f1 >> 2) & 3) % 3);
        pkt.type = MQTTPROTO_PACKET_UNSUBSCRIBE;
        pkt.unsubscribe.packet_id = (uint16_t)(1 + (f1 & 3));
        mqttproto_properties_init(&pkt.unsubscribe.properties);
        for (size_t i = 0; i < n; i++) {
            flist[i] = mqttproto_str_from_cstr(filters[u8(in) & 7]);
        }
        pkt.unsubscribe.topic_filters.items = flist;
        pkt.unsubscribe.topic_filters.count = n;
        break;
    }
    case 8:
        pkt.type = MQTTPROTO_PACKET_PINGREQ;
        break;
    case 9: {
        static const uint8_t codes[4] = {0x00, 0x04, 0x80, 0x81};
        static const uint32_t expiry[4] = {0, 0, 30, UINT32_MAX};
        uint8_t f = u8(in);
        pkt.type = MQTTPROTO_PACKET_DISCONNECT;
        pkt.disconnect.reason_code = codes[f & 3];
        mqttproto_properties_init(&pkt.disconnect.properties);
        if (((f >> 2) & 3) != 0) {
            (void)mqttproto_properties_set_int(
                &pkt.disconnect.properties, MQTTPROTO_PACKET_DISCONNECT,
                MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, expiry[(f >> 2) & 3]);
        }
        break;
    }
    default: {
        static const uint8_t codes[4] = {0x18, 0x19, 0x00, 0x18};
        uint8_t f = u8(in);
        pkt.type = MQTTPROTO_PACKET_AUTH;
        pkt.auth.reason_code = codes[f & 3];
        mqttproto_properties_init(&pkt.auth.properties);
        (void)mqttproto_properties_set_str(&pkt.auth.properties, MQTTPROTO_PACKET_AUTH,
                                           MQTTPROTO_PROP_AUTHENTICATION_METHOD,
                                           mqttproto_str_from_cstr((f & 4) != 0 ? "x" : "m"));
        if ((f & 8) != 0) {
            (void)mqttproto_properties_set_bin(&pkt.auth.properties, MQTTPROTO_PACKET_AUTH,
                                               MQTTPROTO_PROP_AUTHENTICATION_DATA,
                                               mqttproto_bin_make("d", 1));
        }
        break;
    }
    }
    ptrdiff_t n = mqttproto_encode(&pkt, &opts, buf, cap);
    return n > 0 ? (size_t)n : 0;
}

/* ---- events ------------------------------------------------------------- */

static void check_props(const mqttproto_properties *p)
{
    check(p != NULL, "an event without properties", 0);
    size_t cursor = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        touch(up.name.data, up.name.len);
        touch(up.value.data, up.value.len);
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_METHOD)) {
        touch(p->authentication_method.data, p->authentication_method.len);
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_DATA)) {
        touch(p->authentication_data.data, p->authentication_data.len);
    }
}

static void on_event(struct world *w, struct conn *k, const mqttproto_broker_event *ev)
{
    check((int)ev->type >= MQTTPROTO_BROKER_EVENT_CONNECT &&
              (int)ev->type <= MQTTPROTO_BROKER_EVENT_TAKEN_OVER,
          "an event of unknown type", ev->type);
    check_props(ev->properties);
    check(ev->ticket == 0 || ev->type == MQTTPROTO_BROKER_EVENT_PUBLISH,
          "a ticket on an event that is not PUBLISH", ev->type);
    switch (ev->type) {
    case MQTTPROTO_BROKER_EVENT_CONNECT:
        touch(ev->client_id.data, ev->client_id.len);
        touch(ev->username.data, ev->username.len);
        touch(ev->password.data, ev->password.len);
        check(ev->has_will == (ev->will != NULL), "CONNECT: has_will and will disagree", 0);
        if (ev->will != NULL) {
            touch(ev->will->topic.data, ev->will->topic.len);
            touch(ev->will->payload.data, ev->will->payload.len);
            check_props(&ev->will->properties);
        }
        k->connect_pending = true;
        break;
    case MQTTPROTO_BROKER_EVENT_AUTH:
        check(ev->reason_code == 0x18 || ev->reason_code == 0x19, "AUTH: reason code",
              ev->reason_code);
        break;
    case MQTTPROTO_BROKER_EVENT_SUBSCRIBE: {
        check(ev->subscriptions != NULL, "SUBSCRIBE without subscriptions", 0);
        struct pending_sub ps;
        memset(&ps, 0, sizeof ps);
        ps.id = ev->packet_id;
        size_t cursor = 0;
        mqttproto_subscription s;
        while (mqttproto_subscriptions_next(ev->subscriptions, &cursor, &s)) {
            touch(s.topic_filter.data, s.topic_filter.len);
            if (ps.count < 8) {
                ps.req[ps.count] = (uint8_t)s.max_qos;
            }
            ps.count++;
        }
        check(ps.count == ev->subscriptions->count, "SUBSCRIBE: count", (long long)ps.count);
        if (k->nsubs < PEND) {
            k->subs[k->nsubs++] = ps;
        }
        break;
    }
    case MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE: {
        check(ev->topic_filters != NULL, "UNSUBSCRIBE without filters", 0);
        size_t cursor = 0, n = 0;
        mqttproto_str f;
        while (mqttproto_topic_filters_next(ev->topic_filters, &cursor, &f)) {
            touch(f.data, f.len);
            n++;
        }
        check(n == ev->reason_code_count, "UNSUBSCRIBE: one code per filter", (long long)n);
        touch(ev->reason_codes, ev->reason_code_count);
        for (size_t i = 0; i < ev->reason_code_count; i++) {
            check(ev->reason_codes[i] == 0x00 || ev->reason_codes[i] == 0x11,
                  "UNSUBSCRIBE: reason code", ev->reason_codes[i]);
        }
        break;
    }
    case MQTTPROTO_BROKER_EVENT_PUBLISH:
        touch(ev->payload.data, ev->payload.len);
        check(mqttproto_topic_name_validate(ev->topic) == 0, "PUBLISH: the topic is not valid",
              (long long)ev->topic.len);
        check((int)ev->qos >= 0 && (int)ev->qos <= 2, "PUBLISH: QoS", ev->qos);
        check(ev->ticket == 0 || w->s.authorize_publish, "a ticket without authorize_publish",
              ev->ticket);
        if (ev->ticket != 0 && k->ntickets < PEND) {
            k->tickets[k->ntickets++] = ev->ticket;
        }
        break;
    default:
        break;
    }
}

static void drain(struct world *w, struct conn *k)
{
    if (k->c == NULL) {
        return;
    }
    for (int guard = 0; guard < 10000; guard++) {
        mqttproto_broker_event ev;
        call_begin(w);
        int r = mqttproto_broker_client_next_event(k->c, &ev);
        check(!w->a.hit, "next_event allocated", r);
        if (r == 0) {
            return;
        }
        check(r == 1, "next_event result", r);
        on_event(w, k, &ev);
    }
    fail("next_event never ends", 0);
}

/* ---- the application's answers ------------------------------------------ */

static void ack_connect(struct world *w, struct conn *k, uint8_t rc, uint8_t f)
{
    if (k->c == NULL) {
        return;
    }
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    if ((f & 2) != 0) {
        (void)mqttproto_properties_set_str(&props, MQTTPROTO_PACKET_CONNACK,
                                           MQTTPROTO_PROP_REASON_STRING,
                                           mqttproto_str_from_cstr("why"));
        (void)mqttproto_properties_set_user_properties(&props, MQTTPROTO_PACKET_CONNACK, &up, 1);
    }
    if ((f & 4) != 0) {
        (void)mqttproto_properties_set_str(&props, MQTTPROTO_PACKET_CONNACK,
                                           MQTTPROTO_PROP_RESPONSE_INFORMATION,
                                           mqttproto_str_from_cstr("resp"));
    }
    mqttproto_str user = mqttproto_str_from_cstr((f & 1) != 0 ? "cert-user" : "");
    long long rc2;
    CALL(w, rc2,
         mqttproto_broker_client_acknowledge_connect(k->c, rc, user, (f & 6) != 0 ? &props : NULL,
                                                     w->now));
    if (rc2 != MQTTPROTO_ERR_INVALID_ARGUMENT) {
        k->connect_pending = false;
    }
    if (rc2 == 0 && rc == 0) {
        mqttproto_broker_client_state st = mqttproto_broker_client_get_state(k->c);
        check(st == MQTTPROTO_BROKER_CLIENT_CONNECTED || st == MQTTPROTO_BROKER_CLIENT_CLOSING,
              "accepted but neither CONNECTED nor CLOSING", st);
    }
    check_all(w);
}

static void ack_subscribe(struct world *w, struct conn *k, struct input *in)
{
    if (k->c == NULL) {
        return;
    }
    uint8_t f = u8(in);
    uint16_t id = (uint16_t)(1 + (f & 3));
    size_t count = 1;
    const uint8_t *req = NULL;
    size_t idx = 0;
    if (k->nsubs > 0 && (f & 0x80) == 0) {
        idx = (f & 7) % k->nsubs;
        id = k->subs[idx].id;
        count = k->subs[idx].count;
        req = k->subs[idx].req;
    }
    if ((f & 0x40) != 0) {
        count = (count + 1) % 4; /* the wrong number of codes */
    }
    uint8_t codes[16];
    if (count > sizeof codes) {
        count = sizeof codes;
    }
    static const uint8_t table[8] = {0x00, 0x01, 0x02, 0x80, 0x87, 0x8F, 0x97, 0x03};
    for (size_t i = 0; i < count; i++) {
        uint8_t c = u8(in);
        codes[i] = (c & 0x80) != 0 || req == NULL || i >= 8 ? table[c & 7] : req[i];
    }
    long long rc;
    CALL(w, rc, mqttproto_broker_client_acknowledge_subscribe(k->c, id, codes, count));
    if (rc == 0 && req != NULL) {
        k->subs[idx] = k->subs[--k->nsubs];
    }
    check_all(w);
}

static void authorize(struct world *w, struct conn *k, uint8_t f)
{
    if (k->c == NULL) {
        return;
    }
    static const uint8_t table[8] = {0x00, 0x00, 0x00, 0x87, 0x80, 0x97, 0x10, 0x99};
    uint32_t ticket = 1 + (f & 3);
    size_t idx = 0;
    bool known = false;
    if (k->ntickets > 0 && (f & 0x80) == 0) {
        idx = (f & 7) % k->ntickets;
        ticket = k->tickets[idx];
        known = true;
    }
    long long rc;
    CALL(w, rc,
         mqttproto_broker_client_authorize_publish(k->c, ticket, table[(f >> 3) & 7], w->now));
    if (known && (rc == 0 || rc == MQTTPROTO_ERR_UNKNOWN_PACKET_ID)) {
        k->tickets[idx] = k->tickets[--k->ntickets];
    }
    check_all(w);
}

static void auth(struct world *w, struct conn *k, uint8_t f)
{
    if (k->c == NULL) {
        return;
    }
    static const uint8_t table[4] = {0x18, 0x00, 0x19, 0x18};
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if ((f & 8) != 0) {
        (void)mqttproto_properties_set_str(&props, MQTTPROTO_PACKET_AUTH,
                                           MQTTPROTO_PROP_REASON_STRING,
                                           mqttproto_str_from_cstr("go on"));
    }
    if ((f & 16) != 0) {
        (void)mqttproto_properties_set_str(&props, MQTTPROTO_PACKET_AUTH,
                                           MQTTPROTO_PROP_AUTHENTICATION_METHOD,
                                           mqttproto_str_from_cstr("m"));
    }
    mqttproto_bin data = mqttproto_bin_make("challenge", (f & 4) != 0 ? 9 : 0);
    long long rc;
    CALL(w, rc, mqttproto_broker_client_auth(k->c, table[f & 3], data, &props));
    check_all(w);
}

static void app_disconnect(struct world *w, struct conn *k, uint8_t f)
{
    if (k->c == NULL) {
        return;
    }
    static const uint8_t table[4] = {0x00, 0x8B, 0x98, 0x01};
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if ((f & 4) != 0) {
        (void)mqttproto_properties_set_str(&props, MQTTPROTO_PACKET_DISCONNECT,
                                           MQTTPROTO_PROP_REASON_STRING,
                                           mqttproto_str_from_cstr("bye"));
    }
    if ((f & 8) != 0) {
        (void)mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_DISCONNECT,
                                           MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 0);
    }
    long long rc;
    CALL(w, rc, mqttproto_broker_client_disconnect(k->c, table[f & 3], &props));
    if (rc == 0) {
        check(mqttproto_broker_client_get_state(k->c) == MQTTPROTO_BROKER_CLIENT_CLOSING,
              "disconnect() did not enter CLOSING", 0);
    }
    check_all(w);
}

static void app_publish(struct world *w, uint8_t f1, uint8_t f2)
{
    static const char payload[9] = "app-data";
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if ((f2 & 1) != 0) {
        (void)mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_PUBLISH,
                                           MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 1);
    }
    if ((f2 & 2) != 0) {
        (void)mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_PUBLISH,
                                           MQTTPROTO_PROP_TOPIC_ALIAS, 1);
    }
    mqttproto_str topic = mqttproto_str_from_cstr((f2 & 4) != 0 ? "bad/+" : topics[f1 & 7]);
    long long rc;
    CALL(w, rc,
         mqttproto_broker_publish(w->b, topic, mqttproto_bin_make(payload, (f2 >> 3) & 7),
                                  (mqttproto_qos)(((f1 >> 3) & 3) % 3), (f1 & 0x20) != 0, &props,
                                  w->now));
    check_all(w);
}

static void clock_step(struct world *w, uint8_t f)
{
    static const uint32_t steps[16] = {0,    1,    100,   500,   999,   1000,   1500,   2000,
                                       3000, 4500, 10000, 30000, 60000, 100000, 600000, 1u << 30};
    w->now += steps[f & 15];
    for (int i = 0; i < BF_MAX_CONNS; i++) {
        struct conn *k = &w->k[i];
        if (k->c == NULL || mqttproto_broker_client_get_expiry(k->c) > w->now) {
            continue;
        }
        call_begin(w);
        int e = mqttproto_broker_client_handle_expiry(k->c, w->now);
        w->a.hit = false; /* the DISCONNECT 0x8D may be lost to a failure */
        check(e == 0 || e == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT || e == MQTTPROTO_ERR_BAD_STATE,
              "handle_expiry result", e);
        check(mqttproto_broker_client_get_expiry(k->c) > w->now,
              "a client timer still due after handle_expiry", 0);
        check_conn(k);
    }
    if (mqttproto_broker_get_expiry(w->b) <= w->now) {
        long long rc;
        CALL(w, rc, mqttproto_broker_handle_expiry(w->b, w->now));
        check(rc == 0, "broker handle_expiry result", rc);
        check(mqttproto_broker_get_expiry(w->b) > w->now,
              "a broker timer still due after handle_expiry", 0);
    }
    check_all(w);
}

static void conn_close(struct world *w, struct conn *k)
{
    if (k->c != NULL) {
        call_begin(w);
        mqttproto_broker_client_destroy(k->c, w->now);
        w->a.hit = false; /* nothing to report: a will may be lost */
    }
    buf_free(&k->in);
    buf_free(&k->out);
    buf_free(&k->acks);
    memset(k, 0, sizeof *k);
    check_all(w);
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

static void writable(struct world *w)
{
    static char dummy;
    mqttproto_broker_client *c = (mqttproto_broker_client *)(void *)&dummy;
    int guard = 0;
    while (mqttproto_broker_next_writable(w->b, &c) == 1) {
        bool known = false;
        for (int i = 0; i < BF_MAX_CONNS; i++) {
            known = known || (c != NULL && w->k[i].c == c);
        }
        check(known, "next_writable named a connection that is not open", 0);
        guard++;
        check(guard < 1000, "next_writable never ends", guard);
    }
    check(c == NULL, "next_writable returned 0 without clearing the client", 0);
}

static void auto_round(struct world *w)
{
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < BF_MAX_CONNS; i++) {
            struct conn *k = &w->k[i];
            if (k->c == NULL) {
                continue;
            }
            drain(w, k);
            if (k->connect_pending) {
                ack_connect(w, k, 0x00, 0);
            }
            while (k->nsubs > 0 && k->c != NULL) {
                struct pending_sub *ps = &k->subs[k->nsubs - 1];
                long long rc;
                size_t n = ps->count < 8 ? ps->count : 8;
                CALL(w, rc,
                     mqttproto_broker_client_acknowledge_subscribe(k->c, ps->id, ps->req, n));
                k->nsubs--;
            }
            while (k->ntickets > 0) {
                long long rc;
                CALL(w, rc,
                     mqttproto_broker_client_authorize_publish(k->c, k->tickets[k->ntickets - 1], 0,
                                                               w->now));
                k->ntickets--;
            }
            take_out(w, k, SIZE_MAX);
            if (k->acks.len > 0) {
                struct buf acks = k->acks;
                memset(&k->acks, 0, sizeof k->acks);
                feed(w, k, acks.d, acks.len, SIZE_MAX);
                buf_free(&acks);
            }
            drain(w, k);
        }
        writable(w);
    }
    check_all(w);
}

static void accessors(struct world *w, struct conn *k)
{
    if (k->c != NULL) {
        mqttproto_str id = mqttproto_broker_client_client_id(k->c);
        touch(id.data, id.len);
        mqttproto_str user = mqttproto_broker_client_username(k->c);
        touch(user.data, user.len);
        check(mqttproto_broker_client_get_user_data(k->c) == NULL, "user data", 0);
        check(mqttproto_broker_client_state_name((int)mqttproto_broker_client_get_state(k->c)) !=
                  NULL,
              "state name", 0);
    }
    mqttproto_broker_stats st = mqttproto_broker_get_stats(w->b);
    uint64_t open = 0;
    for (int i = 0; i < BF_MAX_CONNS; i++) {
        open += w->k[i].c != NULL;
    }
    check(st.connections == open, "stats: connections", (long long)st.connections);
    check(st.sessions <= w->s.max_sessions, "stats: more sessions than the limit",
          (long long)st.sessions);
    check(st.retained_messages <= w->s.max_retained_messages, "stats: retained over the limit",
          (long long)st.retained_messages);
}

/* ---- the program -------------------------------------------------------- */

static void settings_from(mqttproto_broker_settings *s, uint8_t f)
{
    mqttproto_broker_settings_default(s);
    s->authorize_publish = (f & 1) != 0;
    if ((f & 2) != 0) {
        s->maximum_packet_size = 128;
        s->max_sessions = 2;
        s->max_subscriptions_per_session = 2;
        s->max_queued_messages = 3;
        s->max_queued_bytes = 300;
        s->max_retained_messages = 2;
        s->max_topic_levels = 3;
        s->max_user_properties = 2;
        s->connect_timeout_ms = 1000;
    }
    if ((f & 4) != 0) {
        s->max_keep_alive = 2;
        s->max_session_expiry = 5;
    }
    if ((f & 8) != 0) {
        s->wildcard_subscription_available = false;
        s->subscription_identifier_available = false;
        s->shared_subscription_available = false;
    }
    s->maximum_qos = (f & 16) != 0 ? 1 : 2;
    s->retain_available = (f & 32) == 0;
    s->topic_alias_maximum = (f & 64) != 0 ? 0 : 2;
    s->receive_maximum = (f & 128) != 0 ? 1 : 3;
}

void bf_run(const uint8_t *data, size_t size, int multi, const char *name)
{
    target = name;
    struct world *w = calloc(1, sizeof *w);
    if (w == NULL) {
        fail("harness out of memory", 0);
    }
    struct input in = {data, size, 0};
    w->multi = multi;
    w->now = 1000;
    w->a.owner = "broker";
    w->mem = fuzz_alloc_mem(&w->a);
    settings_from(&w->s, u8(&in));
    w->s.mem = &w->mem;
    int e = mqttproto_broker_create(&w->s, &w->b);
    check(e == 0, "broker_create", e);
    conn_open(w, &w->k[0]);
    check(w->k[0].c != NULL, "the first connection", 0);

    uint8_t pkt[600];
    while (more(&in)) {
        uint8_t op = u8(&in);
        struct conn *k = &w->k[multi ? (op >> 4) & 3 : 0];
        switch (op & 15) {
        case 0: {
            size_t len;
            size_t want = u8(&in);
            size_t chunk = chunk_of(u8(&in));
            const uint8_t *p = take_bytes(&in, want, &len);
            feed(w, k, p, len, chunk);
            break;
        }
        case 1: {
            size_t n = build(k, &in, pkt, sizeof pkt);
            size_t chunk = chunk_of(u8(&in));
            feed(w, k, pkt, n, chunk);
            break;
        }
        case 2:
            drain(w, k);
            break;
        case 3: {
            static const uint8_t table[8] = {0x00, 0x00, 0x00, 0x80, 0x86, 0x87, 0x9C, 0x01};
            uint8_t f = u8(&in);
            ack_connect(w, k, table[f & 7], (uint8_t)(f >> 3));
            break;
        }
        case 4:
            ack_subscribe(w, k, &in);
            break;
        case 5:
            authorize(w, k, u8(&in));
            break;
        case 6:
            auth(w, k, u8(&in));
            break;
        case 7:
            app_disconnect(w, k, u8(&in));
            break;
        case 8: {
            uint8_t f = u8(&in);
            take_out(w, k, f >= 0x80 ? SIZE_MAX : (size_t)f + 1);
            break;
        }
        case 9:
            clock_step(w, u8(&in));
            break;
        case 10:
            w->a.fail_next = true;
            break;
        case 11: {
            uint8_t f1 = u8(&in);
            app_publish(w, f1, u8(&in));
            break;
        }
        case 12:
            if (multi) {
                drain(w, k);
                conn_close(w, k);
            } else {
                copy_out(w, k, (size_t)u8(&in) + 1);
            }
            break;
        case 13:
            if (multi) {
                conn_open(w, k);
            } else {
                accessors(w, k);
            }
            break;
        case 14:
            auto_round(w);
            break;
        default:
            writable(w);
            break;
        }
    }

    w->a.fail_next = false;
    for (int i = 0; i < BF_MAX_CONNS; i++) {
        drain(w, &w->k[i]);
        take_out(w, &w->k[i], SIZE_MAX);
    }
    accessors(w, &w->k[0]);
    for (int i = 0; i < BF_MAX_CONNS; i++) {
        conn_close(w, &w->k[i]);
    }
    mqttproto_broker_stats st = mqttproto_broker_get_stats(w->b);
    check(st.connections == 0, "connections left after every destroy", (long long)st.connections);
    mqttproto_broker_destroy(w->b);
    check(w->a.live == 0, "blocks still allocated after broker_destroy", w->a.live);
    free(w);
}
