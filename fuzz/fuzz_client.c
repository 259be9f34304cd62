/*
 * Fuzz target for the client state machine.
 *
 * The input is a little program. Byte 0 chooses the settings:
 *   bit 0  manual_ack
 *   bit 1  small limits (maximum_packet_size 200, receive_maximum 2, topic
 *          alias maxima 2, 4 queued messages / 600 queued bytes, 2 user
 *          properties)
 *   bit 2  pingresp_timeout_ms 500
 *   bit 3  do not connect at the start (otherwise connect() with the
 *          default options and keep alive 2 runs first)
 *   bits 6-7  the protocol version of that first connect(): 0 MQTT 5,
 *          1 MQTT 3.1.1, 2 MQTT 3.1, 3 MQTT 5 (bits 4-5 are unused)
 * Every following byte is an operation (its value modulo 16), which reads
 * its parameters from the bytes after it (0 once the input is used up):
 *   0  feed raw bytes: length, chunk size, then that many bytes
 *   1  feed a valid CONNACK built from a flags byte (session present,
 *      Receive Maximum, Maximum QoS, Retain Available, Topic Alias Maximum,
 *      Maximum Packet Size, Server Keep Alive, refusal or extra properties)
 *   2  feed a valid server packet (PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP,
 *      SUBACK, UNSUBACK, PINGRESP, DISCONNECT, AUTH) built from the bytes
 *      after it; packet identifiers come from a small range or from those
 *      the client used recently
 *   3  publish()       4  subscribe()     5  unsubscribe()
 *   6  acknowledge()   7  auth()          8  disconnect()
 *   9  connection_lost()                  10 connect() (its second flags
 *      byte, the limits, chooses the protocol version in bits 5-6 as byte 0
 *      does in bits 6-7)
 *   11 advance the clock and call handle_expiry()
 *   12 drain every event
 *   13 consume part or all of the outbound data
 *   14 make the next allocation fail
 *   15 copy_outbound() into a buffer of a chosen size
 * At the end everything is drained and consumed, the connection is lost,
 * and the client destroyed. fuzz/gen_client_seeds.py writes the seed corpus
 * in this language; its helpers spell out the parameter bytes of each
 * operation.
 *
 * Checked: no crash, no leak (a counting allocator must be back to zero
 * after destroy) and no sanitizer finding; the state is always one of the
 * four and error() is non-zero exactly when FAILED; a call that met a
 * failed allocation returns MQTTPROTO_ERR_NO_MEMORY (or, for feed_bytes(),
 * takes fewer bytes than given, which are then fed again; bytes refused
 * with MQTTPROTO_ERR_NO_MEMORY are fed again too), and that error comes
 * from nowhere else; after a protocol error from feed_bytes() the client is
 * FAILED with that error, and feeding again returns it again; feed_bytes()
 * never takes more than it was given and always makes progress once the
 * events are drained; two peeks at the outbound data without a consume
 * agree, and consuming leaves the rest in place; every event is of a known
 * type, its views are readable and its fields consistent; and the bytes the
 * client writes are whole valid packets, starting with CONNECT, nothing
 * after a DISCONNECT, within the server's Maximum Packet Size, Maximum QoS,
 * Retain Available and Topic Alias Maximum, with topic aliases assigned
 * 1, 2, ... and never remapped within a connection, and SUBSCRIBE packets
 * without the wildcards, shared filters or Subscription Identifier the
 * CONNACK said the server does not support. Any failure aborts
 * after printing what failed.
 *
 * Versions: the packets fed are written, and the bytes the client writes
 * read, in the forms of the version of the last connect() that succeeded
 * (MQTT 5 before one), and its CONNECT must name that version; before MQTT 5
 * a CONNACK refusal is a 3.1.1 return code (1 to 5), which CONNECT_REFUSED
 * then carries, and an UNSUBSCRIBE_ACK has no reason codes. A call that
 * asks for what only MQTT 5 has (properties, No Local, Retain As Published,
 * Retain Handling, auth(), a reason code in acknowledge() or disconnect(),
 * the MQTT 5 connect options) must fail on a 3.1.1 or 3.1 connection (the
 * client documents MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION), and that error
 * never comes in MQTT 5.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_alloc.h"

#include "mqttproto/mqttproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

/* Never returns: the checks after a failed one may rely on it. */
static _Noreturn void fail(const char *what, long long value)
{
    fprintf(stderr, "fuzz_client: %s (value %lld, %s)\n", what, value,
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
static const uint8_t *bytes(struct input *in, size_t k, size_t *len)
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

/* ---- the bytes the client writes, as a server would read them ----------- */

#define MAX_ALIAS 16

struct wire {
    uint8_t *buf; /* consumed bytes not yet forming a whole packet */
    size_t len;
    size_t cap;
    size_t exposed;     /* bytes a peek returned that are not consumed yet */
    bool started;       /* the CONNECT of this connection went out */
    bool ended;         /* a DISCONNECT went out */
    size_t alias_count; /* aliases assigned on this connection */
    size_t alias_len[MAX_ALIAS + 1];
    char alias_topic[MAX_ALIAS + 1][256];
};

/* ---- the fuzzing session ------------------------------------------------ */

#define RECENT 8

struct fz {
    mqttproto_client *c;
    struct fuzz_alloc a;
    mqttproto_mem mem;
    mqttproto_client_settings s;
    uint64_t now;
    struct wire w;
    uint16_t out_ids[RECENT]; /* identifiers publish/subscribe/unsubscribe returned */
    size_t out_id_next;
    uint16_t in_ids[RECENT]; /* identifiers of inbound QoS 1/2 messages */
    size_t in_id_next;
    char long_topic[240];
    uint8_t ver;   /* protocol version of the last connect() that succeeded */
    bool ever_old; /* a 3.1.1 or 3.1 connect() ever succeeded */
    uint8_t *snap; /* the bytes of the last peek */
    size_t snap_len;
    size_t snap_cap;
};

static void remember(uint16_t *ring, size_t *next, uint16_t id)
{
    ring[*next % RECENT] = id;
    (*next)++;
}

static uint16_t pick_id(struct input *in, const uint16_t *ring, size_t count)
{
    uint8_t b = u8(in);
    if ((b & 0x80) != 0 && count > 0) {
        uint16_t id = ring[(b & 0x7f) % (count < RECENT ? count : RECENT)];
        return id != 0 ? id : 1;
    }
    return (uint16_t)((b & 0x07) + 1);
}

/* A version from two bits of the input: 0 MQTT 5, 1 MQTT 3.1.1, 2 MQTT 3.1,
   3 MQTT 5. */
static uint8_t version_of(unsigned bits)
{
    static const uint8_t v[4] = {MQTTPROTO_PROTOCOL_V5, MQTTPROTO_PROTOCOL_V311,
                                 MQTTPROTO_PROTOCOL_V31, MQTTPROTO_PROTOCOL_V5};
    return v[bits & 3];
}

/* A call that used what only MQTT 5 has must fail on an older connection;
   MQTT 5 never refuses with MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION. */
static void check_v5_only(uint8_t ver, long long rc, bool v5_only, const char *what)
{
    if (ver == MQTTPROTO_PROTOCOL_V5) {
        if (rc == MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION) {
            fprintf(stderr, "fuzz_client: %s\n", what);
            fail("MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION in MQTT 5", rc);
        }
    } else if (v5_only && rc >= 0) {
        fprintf(stderr, "fuzz_client: %s\n", what);
        fail("what only MQTT 5 has succeeded before MQTT 5", rc);
    }
}

static void check_state(struct fz *f)
{
    mqttproto_client_state st = mqttproto_client_get_state(f->c);
    check((int)st >= MQTTPROTO_CLIENT_DISCONNECTED && (int)st <= MQTTPROTO_CLIENT_FAILED,
          "state out of range", (long long)st);
    int err = mqttproto_client_error(f->c);
    check((err != 0) == (st == MQTTPROTO_CLIENT_FAILED), "error() non-zero exactly when FAILED",
          err);
    check(err == 0 || listed_error(err), "error() is not a listed error", err);
    if (st == MQTTPROTO_CLIENT_DISCONNECTED) {
        check(mqttproto_client_get_expiry(f->c) == UINT64_MAX, "a timer runs while DISCONNECTED",
              0);
    }
    mqttproto_str id = mqttproto_client_client_id(f->c);
    touch(id.data, id.len);
    mqttproto_client_server_info si = mqttproto_client_server(f->c);
    check(si.maximum_qos <= 2, "server maximum QoS", si.maximum_qos);
    check(si.receive_maximum >= 1, "server receive maximum", si.receive_maximum);
    check(si.maximum_packet_size >= 1, "server maximum packet size",
          (long long)si.maximum_packet_size);
}

static void call_begin(struct fz *f)
{
    f->a.hit = false;
}

/* After each call; returns whether an allocation failed during it. */
static bool call_end(struct fz *f, long long rc, bool returns_errors, const char *what)
{
    bool hit = f->a.hit;
    f->a.hit = false;
    check_state(f);
    if (!returns_errors) {
        return hit;
    }
    if (hit) {
        if (rc != MQTTPROTO_ERR_NO_MEMORY) {
            fprintf(stderr, "fuzz_client: %s\n", what);
            fail("a call that met a failed allocation did not return MQTTPROTO_ERR_NO_MEMORY", rc);
        }
    } else if (rc == MQTTPROTO_ERR_NO_MEMORY) {
        fprintf(stderr, "fuzz_client: %s\n", what);
        fail("MQTTPROTO_ERR_NO_MEMORY without a failed allocation", rc);
    }
    if (rc < 0 && !listed_error(rc)) {
        fprintf(stderr, "fuzz_client: %s\n", what);
        fail("a result that is not a listed error", rc);
    }
    return hit;
}

/* ---- events ------------------------------------------------------------- */

static void walk_properties(const mqttproto_properties *p)
{
    if (p == NULL) { /* fail() itself, as in touch() */
        fail("event without properties", 0);
    }
    const struct {
        int id;
        const mqttproto_str *value;
    } strs[] = {
        {MQTTPROTO_PROP_CONTENT_TYPE, &p->content_type},
        {MQTTPROTO_PROP_RESPONSE_TOPIC, &p->response_topic},
        {MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER, &p->assigned_client_identifier},
        {MQTTPROTO_PROP_AUTHENTICATION_METHOD, &p->authentication_method},
        {MQTTPROTO_PROP_RESPONSE_INFORMATION, &p->response_information},
        {MQTTPROTO_PROP_SERVER_REFERENCE, &p->server_reference},
        {MQTTPROTO_PROP_REASON_STRING, &p->reason_string},
    };
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
        if (mqttproto_properties_has(p, strs[i].id)) {
            touch(strs[i].value->data, strs[i].value->len);
        }
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_CORRELATION_DATA)) {
        touch(p->correlation_data.data, p->correlation_data.len);
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_DATA)) {
        touch(p->authentication_data.data, p->authentication_data.len);
    }
    size_t cursor = 0;
    size_t n = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        touch(up.name.data, up.name.len);
        touch(up.value.data, up.value.len);
        n++;
    }
    check(n == p->user_property_count, "user property iterator count", (long long)n);
    cursor = 0;
    uint32_t sid;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &sid)) {
        check(sid >= 1 && sid <= MQTTPROTO_MAX_VARIABLE_INT, "subscription identifier range", sid);
        sink += sid;
    }
}

static void check_event(struct fz *f, const mqttproto_client_event *e)
{
    walk_properties(e->properties);
    touch(e->topic.data, e->topic.len);
    touch(e->payload.data, e->payload.len);
    touch(e->reason_codes, e->reason_code_count);
    check(e->error == 0 || listed_error(e->error), "event error is not a listed error", e->error);
    switch (e->type) {
    case MQTTPROTO_CLIENT_EVENT_CONNECTED:
        check(e->reason_code == 0, "CONNECTED with a reason code", e->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_CONNECT_REFUSED:
        /* 3.1.1 return codes 1 to 5 before MQTT 5 */
        check(e->reason_code >= 0x80 || (f->ever_old && e->reason_code >= 1 && e->reason_code <= 5),
              "CONNECT_REFUSED with a success reason code", e->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_AUTH:
        check(mqttproto_reason_code_allowed(e->reason_code, MQTTPROTO_PACKET_AUTH),
              "AUTH event reason code", e->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_MESSAGE:
        check(e->topic.len > 0, "MESSAGE without a resolved topic", 0);
        check(mqttproto_topic_name_validate(e->topic) == 0, "MESSAGE topic is not a topic name",
              (long long)e->topic.len);
        check((unsigned)e->qos <= 2, "MESSAGE QoS", e->qos);
        check((e->packet_id != 0) == (e->qos != 0), "MESSAGE packet identifier and QoS",
              e->packet_id);
        check(!e->dup || e->qos != 0, "MESSAGE with DUP at QoS 0", 0);
        if (e->packet_id != 0) {
            remember(f->in_ids, &f->in_id_next, e->packet_id);
        }
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED:
        check(e->packet_id != 0, "PUBLISH_COMPLETED without a packet identifier", 0);
        check(e->reason_code < 0x80 && e->error == 0, "PUBLISH_COMPLETED with a failure",
              e->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED:
        check((e->error == 0 && e->reason_code >= 0x80) || (e->error < 0 && e->reason_code == 0),
              "PUBLISH_FAILED needs either a failure reason code or a local error", e->reason_code);
        break;
    case MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK:
    case MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK:
        check(e->packet_id != 0, "SUBACK/UNSUBACK event without a packet identifier", 0);
        /* A 3.1.1 UNSUBACK has no reason codes. */
        check(e->reason_code_count >= 1 ||
                  (f->ever_old && e->type == MQTTPROTO_CLIENT_EVENT_UNSUBSCRIBE_ACK),
              "SUBACK/UNSUBACK event without reason codes", 0);
        for (size_t i = 0; i < e->reason_code_count; i++) {
            check(mqttproto_reason_code_allowed(e->reason_codes[i],
                                                e->type == MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK
                                                    ? MQTTPROTO_PACKET_SUBACK
                                                    : MQTTPROTO_PACKET_UNSUBACK),
                  "SUBACK/UNSUBACK event reason code", e->reason_codes[i]);
        }
        break;
    case MQTTPROTO_CLIENT_EVENT_REQUEST_FAILED:
        check(e->packet_id != 0, "REQUEST_FAILED without a packet identifier", 0);
        check(e->error == MQTTPROTO_ERR_CONNECTION_LOST, "REQUEST_FAILED error", e->error);
        break;
    case MQTTPROTO_CLIENT_EVENT_DISCONNECTED:
        check(mqttproto_reason_code_allowed(e->reason_code, MQTTPROTO_PACKET_DISCONNECT),
              "DISCONNECTED event reason code", e->reason_code);
        break;
    default:
        fail("event of unknown type", (long long)e->type);
    }
}

static void drain(struct fz *f)
{
    for (int guard = 0;; guard++) {
        check(guard < 1000000, "next_event never runs dry", guard);
        mqttproto_client_event e;
        call_begin(f);
        int rc = mqttproto_client_next_event(f->c, &e);
        call_end(f, rc, true, "next_event");
        check(rc == 0 || rc == 1, "next_event result", rc);
        if (rc == 0) {
            return;
        }
        check_event(f, &e);
    }
}

/* ---- outbound ----------------------------------------------------------- */

static void wire_reset(struct wire *w)
{
    w->len = 0;
    w->exposed = 0;
    w->started = false;
    w->ended = false;
    w->alias_count = 0;
}

static void wire_check_publish(struct fz *f, const mqttproto_publish *p, size_t size)
{
    struct wire *w = &f->w;
    mqttproto_client_server_info si = mqttproto_client_server(f->c);
    check(size <= si.maximum_packet_size, "PUBLISH over the server's Maximum Packet Size",
          (long long)size); /* [MQTT-3.2.2-15] */
    check((unsigned)p->qos <= si.maximum_qos, "PUBLISH over the server's Maximum QoS",
          p->qos); /* [MQTT-3.2.2-11] */
    check(!p->retain || si.retain_available, "retained PUBLISH to a server without retain",
          0); /* [MQTT-3.2.2-14] */
    if (!mqttproto_properties_has(&p->properties, MQTTPROTO_PROP_TOPIC_ALIAS)) {
        check(p->topic.len > 0, "PUBLISH without topic or alias", 0);
        return;
    }
    uint16_t alias = p->properties.topic_alias;
    size_t limit = si.topic_alias_maximum < f->s.outbound_topic_alias_maximum
                       ? si.topic_alias_maximum
                       : f->s.outbound_topic_alias_maximum;
    /* [MQTT-3.2.2-17] [MQTT-3.2.2-18] [MQTT-3.3.2-9] */
    check(alias >= 1 && alias <= limit, "Topic Alias above the limit", alias);
    check(alias <= MAX_ALIAS, "Topic Alias above the settings", alias);
    if (p->topic.len == 0) {
        check(alias <= w->alias_count, "empty topic with an alias never assigned", alias);
        return;
    }
    check(p->topic.len < sizeof w->alias_topic[0], "aliased topic too long for the check",
          (long long)p->topic.len);
    if (alias <= w->alias_count) {
        check(w->alias_len[alias] == p->topic.len &&
                  memcmp(w->alias_topic[alias], p->topic.data, p->topic.len) == 0,
              "Topic Alias mapped to another topic", alias);
        return;
    }
    check(alias == w->alias_count + 1, "Topic Aliases not assigned in order", alias);
    memcpy(w->alias_topic[alias], p->topic.data, p->topic.len);
    w->alias_len[alias] = p->topic.len;
    w->alias_count = alias;
}

/* A SUBSCRIBE asks for nothing the CONNACK said the server lacks
   (sections 3.2.2.3.11 to 3.2.2.3.13). */
static void wire_check_subscribe(struct fz *f, const mqttproto_subscribe *s)
{
    mqttproto_client_server_info si = mqttproto_client_server(f->c);
    check(si.subscription_identifier_available ||
              !mqttproto_properties_has(&s->properties, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER),
          "Subscription Identifier to a server without them", 0);
    size_t cursor = 0;
    mqttproto_subscription sub;
    while (mqttproto_subscriptions_next(&s->subscriptions, &cursor, &sub)) {
        mqttproto_str inner;
        int shared = mqttproto_shared_filter_parse(sub.topic_filter, NULL, &inner);
        check(si.shared_subscription_available || shared != 1,
              "shared subscription to a server without them", 0);
        bool wild = memchr(inner.data, '+', inner.len) != NULL ||
                    memchr(inner.data, '#', inner.len) != NULL;
        check(si.wildcard_subscription_available || !wild,
              "wildcard subscription to a server without them", 0);
    }
}

/* Takes consumed bytes as the server reads them. */
static void wire_take(struct fz *f, const uint8_t *data, size_t n)
{
    struct wire *w = &f->w;
    if (n == 0) {
        return;
    }
    w->exposed = w->exposed > n ? w->exposed - n : 0;
    if (w->len + n > w->cap) {
        size_t cap = w->cap == 0 ? 1024 : w->cap;
        while (cap < w->len + n) {
            cap *= 2;
        }
        uint8_t *nb = realloc(w->buf, cap);
        if (nb == NULL) {
            fail("out of memory", (long long)cap);
        }
        w->buf = nb;
        w->cap = cap;
    }
    memcpy(w->buf + w->len, data, n);
    w->len += n;

    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    opts.protocol_version = f->ver; /* the forms of the connection's version */
    size_t off = 0;
    for (;;) {
        mqttproto_packet pkt;
        ptrdiff_t d = mqttproto_decode(w->buf + off, w->len - off, &opts, &pkt);
        check(d >= 0, "the client wrote a packet that does not decode", d);
        if (d == 0) {
            break;
        }
        size_t size = (size_t)d;
        if (!w->started) {
            check(pkt.type == MQTTPROTO_PACKET_CONNECT, "first packet is not CONNECT",
                  pkt.type); /* [MQTT-3.1.0-1] */
            check(pkt.connect.protocol_version == f->ver,
                  "CONNECT of another protocol version than connect() asked for",
                  pkt.connect.protocol_version);
            w->started = true;
        } else {
            check(pkt.type != MQTTPROTO_PACKET_CONNECT, "a second CONNECT", 0);
        }
        check(!w->ended, "a packet after DISCONNECT", pkt.type); /* [MQTT-3.14.4-1] */
        check(pkt.type != MQTTPROTO_PACKET_CONNACK && pkt.type != MQTTPROTO_PACKET_SUBACK &&
                  pkt.type != MQTTPROTO_PACKET_UNSUBACK && pkt.type != MQTTPROTO_PACKET_PINGRESP,
              "the client wrote a server-only packet", pkt.type);
        if (pkt.type != MQTTPROTO_PACKET_CONNECT && pkt.type != MQTTPROTO_PACKET_AUTH) {
            /* Written once the CONNACK told the limits. */
            check(size <= mqttproto_client_server(f->c).maximum_packet_size,
                  "packet over the server's Maximum Packet Size",
                  (long long)size); /* [MQTT-3.2.2-15] */
        }
        if (pkt.type == MQTTPROTO_PACKET_PUBLISH) {
            wire_check_publish(f, &pkt.publish, size);
        }
        if (pkt.type == MQTTPROTO_PACKET_SUBSCRIBE) {
            wire_check_subscribe(f, &pkt.subscribe);
        }
        if (pkt.type == MQTTPROTO_PACKET_DISCONNECT) {
            w->ended = true;
        }
        off += size;
    }
    if (off > 0) {
        memmove(w->buf, w->buf + off, w->len - off);
        w->len -= off;
    }
}

static void snap_set(struct fz *f, const uint8_t *p, size_t n)
{
    if (n > f->snap_cap) {
        uint8_t *nb = realloc(f->snap, n);
        if (nb == NULL) {
            fail("out of memory", (long long)n);
        }
        f->snap = nb;
        f->snap_cap = n;
    }
    if (n > 0) {
        memcpy(f->snap, p, n);
    }
    f->snap_len = n;
}

/*
 * Peeks twice; the two answers must agree. Returns the length; the bytes
 * are copied to f->snap, since the client's pointer is only good until the
 * next call.
 */
static size_t peek(struct fz *f)
{
    const uint8_t *p1 = NULL;
    call_begin(f);
    size_t n1 = mqttproto_client_get_outbound_data(f->c, &p1);
    bool hit1 = call_end(f, 0, false, "get_outbound_data");
    check((n1 == 0) == (p1 == NULL), "outbound pointer and length disagree", (long long)n1);
    snap_set(f, p1, n1);
    const uint8_t *p2 = NULL;
    call_begin(f);
    size_t n2 = mqttproto_client_get_outbound_data(f->c, &p2);
    bool hit2 = call_end(f, 0, false, "get_outbound_data");
    check((n2 == 0) == (p2 == NULL), "outbound pointer and length disagree", (long long)n2);
    if (!hit1 && !hit2) {
        check(n1 == n2 && p1 == p2, "two peeks without a consume differ", (long long)n2);
    }
    /* A failed allocation may have left queued publishes for the second
       peek, but what was returned stays. */
    check(n2 >= n1 && (n1 == 0 || memcmp(f->snap, p2, n1) == 0),
          "bytes already returned changed without a consume", (long long)n2);
    snap_set(f, p2, n2);
    if (n2 > f->w.exposed) {
        f->w.exposed = n2;
    }
    return n2;
}

static void consume(struct fz *f, uint8_t how)
{
    size_t n = peek(f);
    size_t k = (how & 0x80) != 0 ? n : n * (how & 0x7f) / 0x7f;
    if (how == 0x7e && n > 1) {
        k = n - 1;
    }
    uint8_t *rest = malloc(n > 0 ? n : 1);
    if (rest == NULL) {
        fail("out of memory", (long long)n);
    }
    if (n > 0) {
        memcpy(rest, f->snap, n);
    }
    call_begin(f);
    mqttproto_client_consume_outbound(f->c, k);
    call_end(f, 0, false, "consume_outbound");
    wire_take(f, rest, k);
    if (k < n) {
        size_t m = peek(f);
        check(m >= n - k && memcmp(f->snap, rest + k, n - k) == 0,
              "consume changed the bytes after the consumed ones", (long long)m);
    }
    free(rest);
}

static void copy_out(struct fz *f, uint8_t cap_byte)
{
    size_t n = peek(f);
    size_t cap = (size_t)cap_byte * 4;
    uint8_t *buf = malloc(cap > 0 ? cap : 1);
    if (buf == NULL) {
        fail("out of memory", (long long)cap);
    }
    call_begin(f);
    size_t k = mqttproto_client_copy_outbound(f->c, buf, cap);
    call_end(f, 0, false, "copy_outbound");
    check(k <= cap, "copy_outbound wrote past its buffer", (long long)k);
    size_t same = k < n ? k : n;
    check(same == 0 || memcmp(buf, f->snap, same) == 0, "copy_outbound copied other bytes",
          (long long)k);
    check(k >= (cap < n ? cap : n), "copy_outbound copied less than it could", (long long)k);
    wire_take(f, buf, k);
    free(buf);
}

/* ---- feeding ------------------------------------------------------------ */

static void feed(struct fz *f, const uint8_t *data, size_t len, size_t chunk)
{
    if (chunk == 0) {
        chunk = len;
    }
    size_t off = 0;
    bool retried = false;
    while (off < len) {
        size_t n = len - off < chunk ? len - off : chunk;
        mqttproto_client_state before = mqttproto_client_get_state(f->c);
        int before_err = mqttproto_client_error(f->c);
        call_begin(f);
        ptrdiff_t rc = mqttproto_client_feed_bytes(f->c, data + off, n, f->now);
        /* Out of memory after some of the packets were processed: only their
           bytes are taken (allowed only then), the rest is fed again. */
        bool partial = f->a.hit && rc > 0 && (size_t)rc < n;
        bool hit = call_end(f, rc, !partial, "feed_bytes");
        if (hit && rc == MQTTPROTO_ERR_NO_MEMORY) {
            /* Nothing was taken and nothing changed: the same bytes again, as
               an application would once memory is back. */
            continue;
        }
        if (rc < 0) {
            if (before == MQTTPROTO_CLIENT_DISCONNECTED) {
                check(rc == MQTTPROTO_ERR_BAD_STATE, "feed_bytes while DISCONNECTED", rc);
            } else if (before == MQTTPROTO_CLIENT_FAILED) {
                check(rc == before_err, "feed_bytes of a FAILED client, another error", rc);
            } else if (!hit) {
                check(mqttproto_client_get_state(f->c) == MQTTPROTO_CLIENT_FAILED,
                      "a protocol error did not leave the client FAILED", rc);
                check(mqttproto_client_error(f->c) == rc, "error() differs from feed_bytes", rc);
                check(mqttproto_err_reason_code((int)rc) >= 0x80,
                      "protocol error without a failure reason code", rc);
                call_begin(f);
                ptrdiff_t again = mqttproto_client_feed_bytes(f->c, data + off, n, f->now);
                call_end(f, again, true, "feed_bytes");
                check(again == rc, "the error of a FAILED client is not sticky", again);
            }
            return;
        }
        check((size_t)rc <= n, "feed_bytes took more than it was given", rc);
        if (partial) {
            retried = false;
            off += (size_t)rc;
            continue;
        }
        if (rc == 0) {
            /* Undrained events hold the input: drain them and go on. */
            check(!retried, "feed_bytes took nothing with every event drained", 0);
            drain(f);
            retried = true;
            continue;
        }
        retried = false;
        off += (size_t)rc;
    }
}

static size_t chunk_of(uint8_t b)
{
    return b < 0x80 ? (size_t)(b & 0x0f) + 1 : 0;
}

static void feed_packet(struct fz *f, const mqttproto_packet *pkt, uint8_t chunk)
{
    uint8_t buf[1024];
    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    opts.protocol_version = f->ver; /* a server writes the connection's forms */
    ptrdiff_t n = mqttproto_encode(pkt, &opts, buf, sizeof buf);
    if (n <= 0) {
        return; /* the parameters drawn make no valid packet */
    }
    feed(f, buf, (size_t)n, chunk_of(chunk));
}

static const char *const topics[] = {
    "a",          "a/b", "c/d/e", "$SYS/x", "t/1", "sport/tennis/player1",
    "u/\xc3\xa9", "",    "a/+",   "a/#",    NULL /* the long topic */
};
#define N_TOPICS (sizeof topics / sizeof topics[0])

static mqttproto_str topic_of(struct fz *f, uint8_t b)
{
    const char *t = topics[b % N_TOPICS];
    return mqttproto_str_from_cstr(t != NULL ? t : f->long_topic);
}

static const char *const filters[] = {"a/+",    "#",     "a/b", "$share/g/a/b", "+/+/e",
                                      "bad#",   "t/1",   "",    "$share/g",     "c/d/e",
                                      "$SYS/#", "a/b/#", "+"};
#define N_FILTERS (sizeof filters / sizeof filters[0])

static const mqttproto_user_property fuzz_user_props[] = {
    {{"k", 1}, {"v", 1}}, {{"name", 4}, {"value", 5}}, {{"x", 1}, {"", 0}}};

static void op_feed_connack(struct fz *f, struct input *in)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_CONNACK;
    mqttproto_properties *p = &pkt.connack.properties;
    mqttproto_properties_init(p);
    uint8_t fl = u8(in);
    pkt.connack.session_present = (fl & 0x01) != 0;
    if (fl & 0x02) {
        p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_RECEIVE_MAXIMUM);
        p->receive_maximum = (uint16_t)(u8(in) % 4 + 1);
    }
    if (fl & 0x04) {
        p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_MAXIMUM_QOS);
        p->maximum_qos = (uint8_t)(u8(in) % 2);
    }
    if (fl & 0x08) {
        p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_RETAIN_AVAILABLE);
        p->retain_available = 0;
    }
    if (fl & 0x10) {
        p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM);
        p->topic_alias_maximum = (uint16_t)(u8(in) % 5);
    }
    if (fl & 0x20) {
        p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE);
        p->maximum_packet_size = 20u + 2u * u8(in);
    }
    if (fl & 0x40) {
        p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SERVER_KEEP_ALIVE);
        p->server_keep_alive = (uint16_t)(u8(in) % 4);
    }
    if (fl & 0x80) {
        uint8_t v = u8(in);
        switch (v % 4) {
        case 0: {
            static const uint8_t refusals[] = {0x80, 0x85, 0x86, 0x87, 0x88,
                                               0x8c, 0x9a, 0x9c, 0x9d};
            pkt.connack.reason_code = f->ver == MQTTPROTO_PROTOCOL_V5
                                          ? refusals[(v >> 2) % sizeof refusals]
                                          : (uint8_t)((v >> 2) % 5 + 1); /* 3.1.1 codes */
            pkt.connack.session_present = false;
            break;
        }
        case 1:
            p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER);
            p->assigned_client_identifier = mqttproto_str_from_cstr("srv-assigned");
            break;
        case 2:
            p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_AUTHENTICATION_METHOD);
            p->authentication_method = mqttproto_str_from_cstr((v & 4) ? "other" : "m");
            break;
        default:
            p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING) |
                          MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE) |
                          MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE) |
                          MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE) |
                          MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY);
            p->reason_string = mqttproto_str_from_cstr("welcome");
            p->user_properties = fuzz_user_props;
            p->user_property_count = (size_t)(v >> 2) % 3 + 1;
            break;
        }
    }
    feed_packet(f, &pkt, u8(in));
}

static uint8_t pick(struct input *in, const uint8_t *table, size_t n)
{
    return table[u8(in) % n];
}

static void op_feed_packet(struct fz *f, struct input *in)
{
    static const uint8_t puback_rcs[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
    static const uint8_t pubrel_rcs[] = {0x00, 0x92};
    static const uint8_t suback_rcs[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                         0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2};
    static const uint8_t unsuback_rcs[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91};
    static const uint8_t disconnect_rcs[] = {0x00, 0x80, 0x81, 0x82, 0x87, 0x89, 0x8b,
                                             0x8d, 0x8e, 0x93, 0x94, 0x95, 0x9c, 0x9d};
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    uint8_t kind = u8(in) % 10;
    uint16_t out_count = (uint16_t)(f->out_id_next < RECENT ? f->out_id_next : RECENT);
    uint16_t in_count = (uint16_t)(f->in_id_next < RECENT ? f->in_id_next : RECENT);
    switch (kind) {
    case 0: {
        pkt.type = MQTTPROTO_PACKET_PUBLISH;
        mqttproto_publish *p = &pkt.publish;
        mqttproto_properties_init(&p->properties);
        uint8_t fl = u8(in);
        p->qos = (mqttproto_qos)((fl & 0x03) % 3);
        p->dup = p->qos != 0 && (fl & 0x04) != 0;
        p->retain = (fl & 0x08) != 0;
        if (p->qos != 0) {
            p->packet_id = (uint16_t)(u8(in) % 8 + 1);
        }
        if ((fl & 0x10) == 0) {
            p->topic = topic_of(f, u8(in));
        }
        if ((fl & 0x30) != 0) {
            p->properties.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS);
            p->properties.topic_alias = (uint16_t)(u8(in) % 5 + 1);
        }
        if (fl & 0x40) {
            p->properties.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY);
            p->properties.user_properties = fuzz_user_props;
            p->properties.user_property_count = (size_t)(u8(in) % 3) + 1;
        }
        if (fl & 0x80) {
            static const uint32_t sids[] = {1, 7, 268435455};
            p->properties.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER) |
                                     MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL);
            p->properties.subscription_identifiers = sids;
            p->properties.subscription_identifier_count = (size_t)(u8(in) % 3) + 1;
            p->properties.subscription_identifier = sids[0];
            p->properties.message_expiry_interval = 30;
        }
        size_t len;
        const uint8_t *payload = bytes(in, u8(in) % 48, &len);
        p->payload = mqttproto_bin_make(payload, len);
        break;
    }
    case 1:
    case 2:
    case 3:
    case 4: {
        static const mqttproto_packet_type types[] = {
            MQTTPROTO_PACKET_PUBACK, MQTTPROTO_PACKET_PUBREC, MQTTPROTO_PACKET_PUBREL,
            MQTTPROTO_PACKET_PUBCOMP};
        pkt.type = types[kind - 1];
        mqttproto_ack *a = &pkt.puback;
        mqttproto_properties_init(&a->properties);
        bool rel_or_comp = kind >= 3;
        a->packet_id =
            pick_id(in, kind == 3 ? f->in_ids : f->out_ids, kind == 3 ? in_count : out_count);
        a->reason_code = rel_or_comp ? pick(in, pubrel_rcs, sizeof pubrel_rcs)
                                     : pick(in, puback_rcs, sizeof puback_rcs);
        if (u8(in) & 1) {
            a->properties.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING);
            a->properties.reason_string = mqttproto_str_from_cstr("why");
        }
        break;
    }
    case 5:
    case 6: {
        pkt.type = kind == 5 ? MQTTPROTO_PACKET_SUBACK : MQTTPROTO_PACKET_UNSUBACK;
        mqttproto_suback *s = &pkt.suback;
        mqttproto_properties_init(&s->properties);
        s->packet_id = pick_id(in, f->out_ids, out_count);
        static uint8_t rcs[4];
        size_t count = (size_t)(u8(in) % 3) + 1;
        for (size_t i = 0; i < count; i++) {
            rcs[i] = kind == 5 ? pick(in, suback_rcs, sizeof suback_rcs)
                               : pick(in, unsuback_rcs, sizeof unsuback_rcs);
        }
        s->reason_codes = rcs;
        s->reason_code_count = count;
        break;
    }
    case 7:
        pkt.type = MQTTPROTO_PACKET_PINGRESP;
        break;
    case 8: {
        pkt.type = MQTTPROTO_PACKET_DISCONNECT;
        mqttproto_properties_init(&pkt.disconnect.properties);
        pkt.disconnect.reason_code = pick(in, disconnect_rcs, sizeof disconnect_rcs);
        if (u8(in) & 1) {
            pkt.disconnect.properties.present |=
                MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING) |
                MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SERVER_REFERENCE);
            pkt.disconnect.properties.reason_string = mqttproto_str_from_cstr("bye");
            pkt.disconnect.properties.server_reference = mqttproto_str_from_cstr("other:1883");
        }
        break;
    }
    default: {
        pkt.type = MQTTPROTO_PACKET_AUTH;
        mqttproto_properties *p = &pkt.auth.properties;
        mqttproto_properties_init(p);
        uint8_t fl = u8(in);
        pkt.auth.reason_code = (fl & 1) ? 0x18 : 0x00;
        if ((fl & 2) == 0) {
            p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_AUTHENTICATION_METHOD);
            p->authentication_method = mqttproto_str_from_cstr((fl & 4) ? "other" : "m");
        }
        if (fl & 8) {
            size_t len;
            const uint8_t *d = bytes(in, u8(in) % 16, &len);
            p->present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_AUTHENTICATION_DATA);
            p->authentication_data = mqttproto_bin_make(d, len);
        }
        break;
    }
    }
    feed_packet(f, &pkt, u8(in));
}

/* ---- operations on the client -------------------------------------------- */

static void op_publish(struct fz *f, struct input *in)
{
    uint8_t fl = u8(in);
    mqttproto_str topic = topic_of(f, u8(in));
    mqttproto_qos qos = (mqttproto_qos)((fl & 0x03) % 3);
    bool retain = (fl & 0x04) != 0;
    size_t len;
    const uint8_t *payload = bytes(in, u8(in), &len);
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if (fl & 0x08) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL);
        props.message_expiry_interval = 60;
    }
    if (fl & 0x10) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY);
        props.user_properties = fuzz_user_props;
        props.user_property_count = 3;
    }
    if (fl & 0x20) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_CONTENT_TYPE) |
                         MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_RESPONSE_TOPIC) |
                         MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_CORRELATION_DATA);
        props.content_type = mqttproto_str_from_cstr("text/plain");
        props.response_topic = mqttproto_str_from_cstr("reply/here");
        props.correlation_data = mqttproto_bin_make("corr", 4);
    }
    bool forbidden = (fl & 0x40) != 0;
    if (forbidden) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS);
        props.topic_alias = 1;
    }
    mqttproto_client_state before = mqttproto_client_get_state(f->c);
    call_begin(f);
    int32_t rc = mqttproto_client_publish(f->c, topic, mqttproto_bin_make(payload, len), qos,
                                          retain, (fl & 0x80) ? NULL : &props);
    call_end(f, rc, true, "publish");
    check_v5_only(f->ver, rc, (fl & 0x80) == 0 && (fl & 0x78) != 0, "publish");
    check(rc <= 65535, "publish returned an identifier above 65535", rc);
    if (before == MQTTPROTO_CLIENT_FAILED || mqttproto_topic_name_validate(topic) != 0 ||
        (forbidden && (fl & 0x80) == 0)) {
        check(rc < 0, "publish succeeded where it cannot", rc);
    }
    if (qos == MQTTPROTO_QOS_AT_MOST_ONCE) {
        check(rc <= 0, "QoS 0 publish returned a packet identifier", rc);
    }
    if (rc > 0) {
        remember(f->out_ids, &f->out_id_next, (uint16_t)rc);
    }
}

static void op_subscribe(struct fz *f, struct input *in)
{
    mqttproto_subscription subs[3];
    memset(subs, 0, sizeof subs);
    size_t count = (size_t)(u8(in) % 3) + 1;
    for (size_t i = 0; i < count; i++) {
        subs[i].topic_filter = mqttproto_str_from_cstr(filters[u8(in) % N_FILTERS]);
        uint8_t o = u8(in);
        subs[i].max_qos = (mqttproto_qos)((o & 0x03) % 3);
        subs[i].no_local = (o & 0x04) != 0;
        subs[i].retain_as_published = (o & 0x08) != 0;
        subs[i].retain_handling = (mqttproto_retain_handling)((o >> 4) % 3);
    }
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    uint8_t fl = u8(in);
    if (fl & 1) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER);
        props.subscription_identifier = (uint32_t)u8(in) + 1;
    }
    if (fl & 2) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY);
        props.user_properties = fuzz_user_props;
        props.user_property_count = 1;
    }
    mqttproto_client_state before = mqttproto_client_get_state(f->c);
    call_begin(f);
    int32_t rc = mqttproto_client_subscribe(f->c, subs, count, &props);
    call_end(f, rc, true, "subscribe");
    bool v5_opts = (fl & 3) != 0;
    for (size_t i = 0; i < count; i++) {
        v5_opts = v5_opts || subs[i].no_local || subs[i].retain_as_published ||
                  subs[i].retain_handling != 0;
    }
    check_v5_only(f->ver, rc, v5_opts, "subscribe");
    check(rc <= 65535, "subscribe returned an identifier above 65535", rc);
    if (before != MQTTPROTO_CLIENT_CONNECTED) {
        check(rc < 0, "subscribe succeeded while not CONNECTED", rc);
    }
    if (rc > 0) {
        remember(f->out_ids, &f->out_id_next, (uint16_t)rc);
    }
}

static void op_unsubscribe(struct fz *f, struct input *in)
{
    mqttproto_str list[2];
    size_t count = (size_t)(u8(in) % 2) + 1;
    for (size_t i = 0; i < count; i++) {
        list[i] = mqttproto_str_from_cstr(filters[u8(in) % N_FILTERS]);
    }
    mqttproto_client_state before = mqttproto_client_get_state(f->c);
    call_begin(f);
    int32_t rc = mqttproto_client_unsubscribe(f->c, list, count, NULL);
    call_end(f, rc, true, "unsubscribe");
    check_v5_only(f->ver, rc, false, "unsubscribe");
    check(rc <= 65535, "unsubscribe returned an identifier above 65535", rc);
    if (before != MQTTPROTO_CLIENT_CONNECTED) {
        check(rc < 0, "unsubscribe succeeded while not CONNECTED", rc);
    }
    if (rc > 0) {
        remember(f->out_ids, &f->out_id_next, (uint16_t)rc);
    }
}

static void op_acknowledge(struct fz *f, struct input *in)
{
    static const uint8_t rcs[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99, 0x01};
    uint16_t count = (uint16_t)(f->in_id_next < RECENT ? f->in_id_next : RECENT);
    uint16_t id = pick_id(in, f->in_ids, count);
    uint8_t rc_byte = pick(in, rcs, sizeof rcs);
    call_begin(f);
    int rc = mqttproto_client_acknowledge(f->c, id, rc_byte);
    call_end(f, rc, true, "acknowledge");
    check_v5_only(f->ver, rc, rc_byte != 0, "acknowledge");
    check(rc <= 0, "acknowledge result", rc);
    if (!f->s.manual_ack || rc_byte == 0x01) {
        check(rc < 0, "acknowledge succeeded where it cannot", rc);
    }
}

static void op_auth(struct fz *f, struct input *in)
{
    static const uint8_t rcs[] = {0x18, 0x19, 0x00, 0x80};
    uint8_t rc_byte = pick(in, rcs, sizeof rcs);
    size_t len;
    const uint8_t *d = bytes(in, u8(in) % 16, &len);
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    uint8_t fl = u8(in);
    if (fl & 1) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING);
        props.reason_string = mqttproto_str_from_cstr("more");
    }
    call_begin(f);
    int rc =
        mqttproto_client_auth(f->c, rc_byte, mqttproto_bin_make(d, len), (fl & 2) ? NULL : &props);
    call_end(f, rc, true, "auth");
    check_v5_only(f->ver, rc, true, "auth");
    check(rc <= 0, "auth result", rc);
}

static void op_disconnect(struct fz *f, struct input *in)
{
    static const uint8_t rcs[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x93, 0x98, 0x01};
    uint8_t rc_byte = pick(in, rcs, sizeof rcs);
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    uint8_t fl = u8(in);
    if (fl & 1) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL);
        props.session_expiry_interval = (fl & 2) ? 0 : 100;
    }
    if (fl & 4) {
        props.present |= MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_REASON_STRING);
        props.reason_string = mqttproto_str_from_cstr("done");
    }
    mqttproto_client_state before = mqttproto_client_get_state(f->c);
    call_begin(f);
    int rc = mqttproto_client_disconnect(f->c, rc_byte, (fl & 8) ? NULL : &props);
    call_end(f, rc, true, "disconnect");
    check_v5_only(f->ver, rc, rc_byte != 0 || ((fl & 8) == 0 && (fl & 5) != 0), "disconnect");
    check(rc <= 0, "disconnect result", rc);
    if (before != MQTTPROTO_CLIENT_CONNECTED) {
        check(rc < 0, "disconnect succeeded while not CONNECTED", rc);
    }
    if (rc == 0) {
        check(mqttproto_client_get_state(f->c) == MQTTPROTO_CLIENT_DISCONNECTED,
              "disconnect left the client connected", 0);
    }
}

static void op_connection_lost(struct fz *f)
{
    call_begin(f);
    int rc = mqttproto_client_connection_lost(f->c);
    call_end(f, rc, true, "connection_lost");
    check(rc == 0 || rc == MQTTPROTO_ERR_NO_MEMORY, "connection_lost result", rc);
    check(mqttproto_client_get_state(f->c) == MQTTPROTO_CLIENT_DISCONNECTED,
          "connection_lost did not leave the client DISCONNECTED", 0);
    check(peek(f) == 0, "outbound bytes left after connection_lost", 0);
    wire_reset(&f->w);
}

static void op_connect(struct fz *f, struct input *in)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    uint8_t fl = u8(in);
    o.clean_start = (fl & 0x01) != 0;
    o.keep_alive = (fl & 0x02) ? (uint16_t)(u8(in) % 5) : 0;
    if (fl & 0x04) {
        uint8_t e = u8(in);
        o.session_expiry_interval = e == 0xff ? 0xFFFFFFFFu : e;
    }
    o.client_id = mqttproto_str_from_cstr((fl & 0x08) ? "" : "fz-client");
    if (fl & 0x10) {
        o.authentication_method = mqttproto_str_from_cstr("m");
        o.authentication_data = mqttproto_bin_make("init", 4);
    }
    mqttproto_will will;
    if (fl & 0x20) {
        memset(&will, 0, sizeof will);
        will.topic = topic_of(f, u8(in));
        will.payload = mqttproto_bin_make("gone", 4);
        will.qos = (mqttproto_qos)(u8(in) % 3);
        mqttproto_properties_init(&will.properties);
        o.will = &will;
    }
    if (fl & 0x40) {
        o.user_properties = fuzz_user_props;
        o.user_property_count = 2;
    }
    if (fl & 0x80) {
        o.has_username = true;
        o.username = mqttproto_str_from_cstr("user");
        o.has_password = true;
        o.password = mqttproto_bin_make("pw", 2);
    }
    uint8_t limits = u8(in);
    if (limits & 1) {
        o.receive_maximum = (uint16_t)(u8(in) % 4 + 1);
    }
    if (limits & 2) {
        o.topic_alias_maximum = u8(in) % 4;
    }
    if (limits & 4) {
        o.maximum_packet_size = 16u + u8(in);
    }
    o.request_problem_information = (limits & 8) == 0;
    o.request_response_information = (limits & 16) != 0;
    o.protocol_version = version_of(limits >> 5);
    bool v5_only = (fl & 0x50) != 0 || o.session_expiry_interval != 0 || o.receive_maximum != 0 ||
                   o.topic_alias_maximum > 0 || o.maximum_packet_size != 0 ||
                   !o.request_problem_information || o.request_response_information;

    mqttproto_client_state before = mqttproto_client_get_state(f->c);
    call_begin(f);
    int rc = mqttproto_client_connect(f->c, &o, f->now);
    call_end(f, rc, true, "connect");
    check_v5_only(o.protocol_version, rc, v5_only, "connect");
    check(rc <= 0, "connect result", rc);
    if (before != MQTTPROTO_CLIENT_DISCONNECTED) {
        check(rc < 0, "connect succeeded while not DISCONNECTED", rc);
    }
    if (rc == 0) {
        check(mqttproto_client_get_state(f->c) == MQTTPROTO_CLIENT_CONNECTING,
              "connect did not leave the client CONNECTING", 0);
        /* The old connection's bytes were all consumed or dropped. */
        check(f->w.len == 0, "connect with part of a packet still unwritten", (long long)f->w.len);
        wire_reset(&f->w);
        f->ver = o.protocol_version;
        f->ever_old = f->ever_old || f->ver != MQTTPROTO_PROTOCOL_V5;
    }
}

static void op_clock(struct fz *f, struct input *in)
{
    uint8_t b = u8(in);
    bool armed = f->a.fail_next;
    uint64_t expiry = mqttproto_client_get_expiry(f->c);
    if (b == 0xff) {
        if (expiry != UINT64_MAX && expiry > f->now) {
            f->now = expiry;
        }
    } else {
        f->now += (uint64_t)(b & 0x7f) * ((b & 0x80) ? 1000u : 10u);
    }
    size_t out_before = peek(f);
    call_begin(f);
    int rc = mqttproto_client_handle_expiry(f->c, f->now);
    call_end(f, rc, true, "handle_expiry");
    check(rc == 0 || rc == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT || rc == MQTTPROTO_ERR_NO_MEMORY,
          "handle_expiry result", rc);
    if (rc == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT) {
        check(mqttproto_client_get_state(f->c) == MQTTPROTO_CLIENT_FAILED,
              "keep-alive timeout without FAILED", 0);
        check(mqttproto_client_error(f->c) == MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT,
              "keep-alive timeout, another error()", 0);
    }
    if (expiry > f->now && !armed) {
        check(rc == 0, "handle_expiry failed before the expiry", rc);
        check(peek(f) == out_before, "handle_expiry wrote before the expiry", 0);
    }
}

/* ---- the program -------------------------------------------------------- */

static void setup(struct fz *f, uint8_t cfg)
{
    memset(f, 0, sizeof *f);
    memset(f->long_topic, 'l', sizeof f->long_topic - 1);
    f->long_topic[1] = '/';
    f->a.owner = "client";
    f->mem = fuzz_alloc_mem(&f->a);
    mqttproto_client_settings_default(&f->s);
    f->s.mem = &f->mem;
    f->s.manual_ack = (cfg & 0x01) != 0;
    if (cfg & 0x02) {
        f->s.maximum_packet_size = 200;
        f->s.receive_maximum = 2;
        f->s.topic_alias_maximum = 2;
        f->s.outbound_topic_alias_maximum = 2;
        f->s.max_queued_messages = 4;
        f->s.max_queued_bytes = 600;
        f->s.max_user_properties = 2;
    }
    if (cfg & 0x04) {
        f->s.pingresp_timeout_ms = 500;
    }
    f->now = 1000;
    f->ver = MQTTPROTO_PROTOCOL_V5;
    int rc = mqttproto_client_create(&f->s, &f->c);
    check(rc == 0 && f->c != NULL, "create failed", rc);
    check_state(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in = {data, size, 0};
    struct fz *f = malloc(sizeof *f);
    if (f == NULL) {
        fail("out of memory", 0);
    }
    uint8_t cfg = u8(&in);
    setup(f, cfg);
    if ((cfg & 0x08) == 0) {
        mqttproto_connect_options o;
        mqttproto_connect_options_default(&o);
        o.client_id = mqttproto_str_from_cstr("fz-client");
        o.keep_alive = 2;
        o.protocol_version = version_of(cfg >> 6);
        call_begin(f);
        int rc = mqttproto_client_connect(f->c, &o, f->now);
        call_end(f, rc, true, "connect");
        check(rc == 0, "the first connect failed", rc);
        f->ver = o.protocol_version;
        f->ever_old = f->ver != MQTTPROTO_PROTOCOL_V5;
    }

    while (more(&in)) {
        uint8_t op = u8(&in) % 16;
        switch (op) {
        case 0: {
            size_t want = u8(&in);
            uint8_t chunk = u8(&in);
            size_t len;
            const uint8_t *p = bytes(&in, want, &len);
            feed(f, p, len, chunk_of(chunk));
            break;
        }
        case 1:
            op_feed_connack(f, &in);
            break;
        case 2:
            op_feed_packet(f, &in);
            break;
        case 3:
            op_publish(f, &in);
            break;
        case 4:
            op_subscribe(f, &in);
            break;
        case 5:
            op_unsubscribe(f, &in);
            break;
        case 6:
            op_acknowledge(f, &in);
            break;
        case 7:
            op_auth(f, &in);
            break;
        case 8:
            op_disconnect(f, &in);
            break;
        case 9:
            op_connection_lost(f);
            break;
        case 10:
            op_connect(f, &in);
            break;
        case 11:
            op_clock(f, &in);
            break;
        case 12:
            drain(f);
            break;
        case 13:
            consume(f, u8(&in));
            break;
        case 14:
            f->a.fail_next = true;
            break;
        default:
            copy_out(f, u8(&in));
            break;
        }
    }

    f->a.fail_next = false;
    drain(f);
    consume(f, 0xff);
    op_connection_lost(f);
    drain(f);
    mqttproto_client_destroy(f->c);
    check(f->a.live == 0, "blocks still allocated after destroy", f->a.live);
    free(f->w.buf);
    free(f->snap);
    free(f);
    return 0;
}
