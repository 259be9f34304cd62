/*
 * Streaming: a byte stream of many packets, cut into reads in every way we
 * can think of, must give the same events as the stream read whole. The
 * framer below is what an application would write on top of
 * mqttproto_decode(): accumulate, decode, consume or wait.
 */
#include "testutil.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* MQTTPROTO_TEST_QUICK set and not "0" (the valgrind test setup sets it):
   the exhaustive loops take a sample; every check stays the same. */
static bool quick_mode(void)
{
    const char *q = getenv("MQTTPROTO_TEST_QUICK");
    return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define STR(s)       ((mqttproto_str){(s), sizeof(s) - 1})
/* clang-format off */
#define SV(s) {(s), sizeof(s) - 1}
/* clang-format on */
#define BIN(s)   ((mqttproto_bin){(const uint8_t *)(s), sizeof(s) - 1})
#define PR(x)    MQTTPROTO_PROP_##x
#define PK(x)    MQTTPROTO_PACKET_##x
#define F(field) offsetof(mqttproto_properties, field)

/* ---- a growable text, and a rendering of packets as text lines ---- */

struct text {
    char *s;
    size_t len;
    size_t cap;
};

static void text_addf(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void text_addf(struct text *t, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if (t->len + (size_t)n + 1 > t->cap) {
        t->cap = (t->len + (size_t)n + 1) * 2;
        t->s = realloc(t->s, t->cap);
        assert_non_null(t->s);
    }
    va_start(ap, fmt);
    vsnprintf(t->s + t->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    t->len += (size_t)n;
}

static void text_clear(struct text *t)
{
    t->len = 0;
    if (t->s != NULL) {
        t->s[0] = '\0';
    }
}

/* A fast 64-bit digest, so that a 70,000-byte payload renders cheaply. */
static uint64_t digest(const uint8_t *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15u ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, sizeof w);
        h = (h ^ w) * 0x100000001B3u;
        h ^= h >> 29;
    }
    for (; i < n; i++) {
        h = (h ^ p[i]) * 0x100000001B3u;
    }
    return h;
}

static void render_str(struct text *t, mqttproto_str s)
{
    text_addf(t, "\"");
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.data[i];
        if (c >= 0x20 && c < 0x7F && c != '"' && c != '\\') {
            text_addf(t, "%c", c);
        } else {
            text_addf(t, "\\x%02x", c);
        }
    }
    text_addf(t, "\"");
}

static void render_bin(struct text *t, mqttproto_bin b)
{
    text_addf(t, "%zu:%016" PRIx64, b.len, digest(b.data, b.len));
}

/* Where each integer property lives. */
static const struct {
    int id;
    size_t offset;
} int_fields[] = {
    {PR(PAYLOAD_FORMAT_INDICATOR), F(payload_format_indicator)},
    {PR(MESSAGE_EXPIRY_INTERVAL), F(message_expiry_interval)},
    {PR(SESSION_EXPIRY_INTERVAL), F(session_expiry_interval)},
    {PR(SERVER_KEEP_ALIVE), F(server_keep_alive)},
    {PR(REQUEST_PROBLEM_INFORMATION), F(request_problem_information)},
    {PR(WILL_DELAY_INTERVAL), F(will_delay_interval)},
    {PR(REQUEST_RESPONSE_INFORMATION), F(request_response_information)},
    {PR(RECEIVE_MAXIMUM), F(receive_maximum)},
    {PR(TOPIC_ALIAS_MAXIMUM), F(topic_alias_maximum)},
    {PR(TOPIC_ALIAS), F(topic_alias)},
    {PR(MAXIMUM_QOS), F(maximum_qos)},
    {PR(RETAIN_AVAILABLE), F(retain_available)},
    {PR(MAXIMUM_PACKET_SIZE), F(maximum_packet_size)},
    {PR(WILDCARD_SUBSCRIPTION_AVAILABLE), F(wildcard_subscription_available)},
    {PR(SUBSCRIPTION_IDENTIFIER_AVAILABLE), F(subscription_identifier_available)},
    {PR(SHARED_SUBSCRIPTION_AVAILABLE), F(shared_subscription_available)},
    {PR(CONTENT_TYPE), F(content_type)},
    {PR(RESPONSE_TOPIC), F(response_topic)},
    {PR(ASSIGNED_CLIENT_IDENTIFIER), F(assigned_client_identifier)},
    {PR(AUTHENTICATION_METHOD), F(authentication_method)},
    {PR(RESPONSE_INFORMATION), F(response_information)},
    {PR(SERVER_REFERENCE), F(server_reference)},
    {PR(REASON_STRING), F(reason_string)},
    {PR(CORRELATION_DATA), F(correlation_data)},
    {PR(AUTHENTICATION_DATA), F(authentication_data)},
};

static const void *field_of(const mqttproto_properties *p, int id)
{
    for (size_t i = 0; i < ARRAY_LEN(int_fields); i++) {
        if (int_fields[i].id == id) {
            return (const uint8_t *)p + int_fields[i].offset;
        }
    }
    fail();
    abort();
}

static void render_props(struct text *t, const mqttproto_properties *p)
{
    text_addf(t, " {");
    for (int id = 1; id < 64; id++) {
        if (!mqttproto_properties_has(p, id)) {
            continue;
        }
        const mqttproto_property_info *info = mqttproto_property_info_get(id);
        assert_non_null(info);
        text_addf(t, " %s=", info->name);
        size_t cursor = 0;
        uint16_t v16;
        uint32_t v32;
        mqttproto_str s;
        mqttproto_bin b;
        switch (info->type) {
        case MQTTPROTO_PTYPE_BYTE:
            text_addf(t, "%u", *(const uint8_t *)field_of(p, id));
            break;
        case MQTTPROTO_PTYPE_TWO_BYTE_INT:
            memcpy(&v16, field_of(p, id), sizeof v16);
            text_addf(t, "%u", v16);
            break;
        case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
            memcpy(&v32, field_of(p, id), sizeof v32);
            text_addf(t, "%" PRIu32, v32);
            break;
        case MQTTPROTO_PTYPE_VARIABLE_INT:
            while (mqttproto_subscription_identifiers_next(p, &cursor, &v32)) {
                text_addf(t, "%" PRIu32 ",", v32);
            }
            break;
        case MQTTPROTO_PTYPE_UTF8_STRING:
            memcpy(&s, field_of(p, id), sizeof s);
            render_str(t, s);
            break;
        case MQTTPROTO_PTYPE_BINARY:
            memcpy(&b, field_of(p, id), sizeof b);
            render_bin(t, b);
            break;
        default: {
            mqttproto_user_property u;
            while (mqttproto_user_properties_next(p, &cursor, &u)) {
                render_str(t, u.name);
                text_addf(t, ":");
                render_str(t, u.value);
                text_addf(t, ",");
            }
            break;
        }
        }
    }
    text_addf(t, " }");
}

static void render_connect(struct text *t, const mqttproto_connect *c)
{
    text_addf(t, " v=%u clean=%d keepalive=%u id=", c->protocol_version, c->clean_start,
              c->keep_alive);
    render_str(t, c->client_id);
    render_props(t, &c->properties);
    if (c->has_will) {
        text_addf(t, " will(qos=%d retain=%d topic=", (int)c->will.qos, c->will.retain);
        render_str(t, c->will.topic);
        text_addf(t, " payload=");
        render_bin(t, c->will.payload);
        render_props(t, &c->will.properties);
        text_addf(t, ")");
    }
    if (c->has_username) {
        text_addf(t, " user=");
        render_str(t, c->username);
    }
    if (c->has_password) {
        text_addf(t, " password=");
        render_bin(t, c->password);
    }
}

/* One line: stream offset, size, type and every field. */
static void render_packet(struct text *t, size_t offset, ptrdiff_t size, const mqttproto_packet *p)
{
    size_t cursor = 0;
    text_addf(t, "@%zu +%td %s", offset, size, mqttproto_packet_type_name((int)p->type));
    switch (p->type) {
    case PK(CONNECT):
        render_connect(t, &p->connect);
        break;
    case PK(CONNACK):
        text_addf(t, " session=%d rc=%02x", p->connack.session_present, p->connack.reason_code);
        render_props(t, &p->connack.properties);
        break;
    case PK(PUBLISH):
        text_addf(t, " qos=%d retain=%d dup=%d id=%u topic=", (int)p->publish.qos,
                  p->publish.retain, p->publish.dup, p->publish.packet_id);
        render_str(t, p->publish.topic);
        text_addf(t, " payload=");
        render_bin(t, p->publish.payload);
        render_props(t, &p->publish.properties);
        break;
    case PK(PUBACK):
    case PK(PUBREC):
    case PK(PUBREL):
    case PK(PUBCOMP):
        text_addf(t, " id=%u rc=%02x", p->puback.packet_id, p->puback.reason_code);
        render_props(t, &p->puback.properties);
        break;
    case PK(SUBSCRIBE): {
        mqttproto_subscription s;
        text_addf(t, " id=%u", p->subscribe.packet_id);
        render_props(t, &p->subscribe.properties);
        while (mqttproto_subscriptions_next(&p->subscribe.subscriptions, &cursor, &s)) {
            text_addf(t, " ");
            render_str(t, s.topic_filter);
            text_addf(t, ":q%d,nl%d,rap%d,rh%d", (int)s.max_qos, s.no_local, s.retain_as_published,
                      (int)s.retain_handling);
        }
        break;
    }
    case PK(SUBACK):
    case PK(UNSUBACK):
        text_addf(t, " id=%u", p->suback.packet_id);
        render_props(t, &p->suback.properties);
        for (size_t i = 0; i < p->suback.reason_code_count; i++) {
            text_addf(t, " %02x", p->suback.reason_codes[i]);
        }
        break;
    case PK(UNSUBSCRIBE): {
        mqttproto_str f;
        text_addf(t, " id=%u", p->unsubscribe.packet_id);
        render_props(t, &p->unsubscribe.properties);
        while (mqttproto_topic_filters_next(&p->unsubscribe.topic_filters, &cursor, &f)) {
            text_addf(t, " ");
            render_str(t, f);
        }
        break;
    }
    case PK(DISCONNECT):
    case PK(AUTH):
        text_addf(t, " rc=%02x", p->disconnect.reason_code);
        render_props(t, &p->disconnect.properties);
        break;
    default: /* PINGREQ, PINGRESP */
        break;
    }
    text_addf(t, "\n");
}

/* ---- the framer ---- */

struct framer {
    uint8_t *buf;
    size_t start; /* first byte not yet consumed */
    size_t end;   /* end of the bytes received */
    size_t cap;
    size_t offset; /* stream offset of buf[start] */
    bool failed;   /* an error ends the stream: later bytes are ignored */
    struct text log;
};

static void framer_reset(struct framer *f)
{
    f->start = f->end = f->offset = 0;
    f->failed = false;
    text_clear(&f->log);
}

static void framer_feed(struct framer *f, const uint8_t *data, size_t n)
{
    if (f->failed) {
        return;
    }
    if (f->start > 0) {
        memmove(f->buf, f->buf + f->start, f->end - f->start);
        f->end -= f->start;
        f->start = 0;
    }
    if (f->end + n > f->cap) {
        f->cap = (f->end + n) * 2;
        f->buf = realloc(f->buf, f->cap);
        assert_non_null(f->buf);
    }
    if (n > 0) {
        memcpy(f->buf + f->end, data, n);
    }
    f->end += n;
    for (;;) {
        mqttproto_packet pkt;
        ptrdiff_t r = mqttproto_decode(f->buf + f->start, f->end - f->start, NULL, &pkt);
        if (r == 0) {
            return;
        }
        if (r < 0) {
            text_addf(&f->log, "@%zu error %s\n", f->offset, mqttproto_err_name((int)r));
            f->failed = true;
            return;
        }
        render_packet(&f->log, f->offset, r, &pkt);
        f->start += (size_t)r;
        f->offset += (size_t)r;
    }
}

static void framer_free(struct framer *f)
{
    free(f->buf);
    free(f->log.s);
}

/* ---- streams ---- */

struct stream {
    uint8_t *bytes;
    size_t len;
    struct text expected; /* the log the framer must produce */
    size_t count;         /* packets, and for each its offset, size and type */
    size_t offsets[64];
    size_t sizes[64];
    int types[64];
};

static void stream_append(struct stream *s, const void *data, size_t n)
{
    s->bytes = realloc(s->bytes, s->len + n);
    assert_non_null(s->bytes);
    memcpy(s->bytes + s->len, data, n);
    s->len += n;
}

/* Encode pkt onto the stream; its rendering is what decoding must give back. */
static void stream_add(struct stream *s, const mqttproto_packet *pkt)
{
    ptrdiff_t n = mqttproto_encoded_size(pkt, NULL);
    assert_true(n > 0);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(mqttproto_encode(pkt, NULL, buf, (size_t)n), n);
    assert_true(s->count < ARRAY_LEN(s->offsets));
    s->offsets[s->count] = s->len;
    s->sizes[s->count] = (size_t)n;
    s->types[s->count] = (int)pkt->type;
    s->count++;
    render_packet(&s->expected, s->len, n, pkt);
    stream_append(s, buf, (size_t)n);
    free(buf);
}

/* Raw bytes on which the decoder fails with err; what follows them must
   never be reported. */
static void stream_add_bad(struct stream *s, const char *hex, const char *err)
{
    size_t n;
    uint8_t *b = tu_hex(hex, &n);
    text_addf(&s->expected, "@%zu error %s\n", s->len, err);
    stream_append(s, b, n);
    free(b);
}

static void stream_free(struct stream *s)
{
    free(s->bytes);
    free(s->expected.s);
}

static const mqttproto_user_property users[] = {
    {SV("k"), SV("1")}, {SV("k"), SV("2")}, {SV("unit"), SV("\302\260C")}}; /* degrees C */
static const uint32_t subids[] = {1, 300, 268435455};
static const mqttproto_subscription subs[] = {
    {SV("a/+"), MQTTPROTO_QOS_AT_MOST_ONCE, false, false, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE},
    {SV("b/#"), MQTTPROTO_QOS_AT_LEAST_ONCE, true, true, MQTTPROTO_RETAIN_SEND_IF_NEW},
    {SV("$share/g/c"), MQTTPROTO_QOS_EXACTLY_ONCE, false, true, MQTTPROTO_RETAIN_DO_NOT_SEND},
};
static const mqttproto_str filters[] = {SV("a/+"), SV("$share/g/c")};
static const uint8_t suback_codes[] = {0x00, 0x01, 0x02, 0x8f};
static const uint8_t unsuback_codes[] = {0x00, 0x11};
static uint8_t big[70000];
static uint8_t medium[3000];

static void set_ok(int r)
{
    assert_int_equal(r, MQTTPROTO_OK);
}

static void add_publish(struct stream *s, const char *topic, int qos, uint16_t id,
                        mqttproto_bin payload, bool retain, bool dup)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = PK(PUBLISH);
    p.publish.topic = mqttproto_str_from_cstr(topic);
    p.publish.qos = (mqttproto_qos)qos;
    p.publish.packet_id = id;
    p.publish.payload = payload;
    p.publish.retain = retain;
    p.publish.dup = dup;
    stream_add(s, &p);
}

static void add_ack(struct stream *s, int type, uint16_t id, uint8_t rc, const char *reason)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = (mqttproto_packet_type)type;
    if (type == PK(DISCONNECT) || type == PK(AUTH)) {
        p.disconnect.reason_code = rc;
    } else if (type != PK(PINGREQ) && type != PK(PINGRESP)) {
        p.puback.packet_id = id;
        p.puback.reason_code = rc;
    }
    if (reason != NULL) {
        mqttproto_properties *q = type == PK(DISCONNECT) || type == PK(AUTH)
                                      ? &p.disconnect.properties
                                      : &p.puback.properties;
        set_ok(mqttproto_properties_set_str(q, type, PR(REASON_STRING),
                                            mqttproto_str_from_cstr(reason)));
        set_ok(mqttproto_properties_set_user_properties(q, type, users, 2));
    }
    stream_add(s, &p);
}

/* Every packet type, with properties, a 70,000-byte and a 3,000-byte payload,
   and a PUBLISH whose remaining length is exactly 128. */
static void build_packets(struct stream *s)
{
    mqttproto_packet p;
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (uint8_t)(i * 31u + (i >> 9));
    }
    memset(medium, 0x5A, sizeof medium);

    memset(&p, 0, sizeof p);
    p.type = PK(CONNECT);
    p.connect.protocol_version = 5;
    p.connect.clean_start = true;
    p.connect.keep_alive = 30;
    p.connect.client_id = STR("framer");
    set_ok(mqttproto_properties_set_int(&p.connect.properties, PK(CONNECT),
                                        PR(SESSION_EXPIRY_INTERVAL), 3600));
    set_ok(
        mqttproto_properties_set_int(&p.connect.properties, PK(CONNECT), PR(RECEIVE_MAXIMUM), 20));
    p.connect.has_will = true;
    p.connect.will.topic = STR("will/t");
    p.connect.will.payload = BIN("\x00gone");
    p.connect.will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    set_ok(mqttproto_properties_set_int(&p.connect.will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                        PR(WILL_DELAY_INTERVAL), 10));
    set_ok(mqttproto_properties_set_user_properties(
        &p.connect.will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL, users, ARRAY_LEN(users)));
    p.connect.has_username = true;
    p.connect.username = STR("user");
    p.connect.has_password = true;
    p.connect.password = BIN("\x01\x00\x02");
    stream_add(s, &p);

    memset(&p, 0, sizeof p);
    p.type = PK(CONNACK);
    p.connack.session_present = true;
    set_ok(mqttproto_properties_set_str(&p.connack.properties, PK(CONNACK),
                                        PR(ASSIGNED_CLIENT_IDENTIFIER), STR("auto-1")));
    set_ok(mqttproto_properties_set_int(&p.connack.properties, PK(CONNACK), PR(MAXIMUM_QOS), 1));
    stream_add(s, &p);

    add_publish(s, "a/b", 0, 0, BIN("hello"), false, false);

    memset(&p, 0, sizeof p);
    p.type = PK(PUBLISH);
    p.publish.topic = STR("sensors/1");
    p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.publish.packet_id = 1;
    p.publish.payload = BIN("21.5");
    set_ok(mqttproto_properties_set_user_properties(&p.publish.properties, PK(PUBLISH), users,
                                                    ARRAY_LEN(users)));
    set_ok(mqttproto_properties_set_subscription_identifiers(&p.publish.properties, PK(PUBLISH),
                                                             subids, ARRAY_LEN(subids)));
    set_ok(mqttproto_properties_set_str(&p.publish.properties, PK(PUBLISH), PR(CONTENT_TYPE),
                                        STR("text/plain")));
    set_ok(mqttproto_properties_set_bin(&p.publish.properties, PK(PUBLISH), PR(CORRELATION_DATA),
                                        BIN("\x00\xff")));
    stream_add(s, &p);

    add_publish(s, "big/data", 2, 2, mqttproto_bin_make(big, sizeof big), true, false);
    add_ack(s, PK(PUBACK), 1, 0, NULL);
    add_ack(s, PK(PUBREC), 2, 0x10, NULL);
    add_ack(s, PK(PUBREL), 2, 0x92, "gone");
    add_ack(s, PK(PUBCOMP), 2, 0, NULL);

    memset(&p, 0, sizeof p);
    p.type = PK(SUBSCRIBE);
    p.subscribe.packet_id = 3;
    p.subscribe.subscriptions.items = subs;
    p.subscribe.subscriptions.count = ARRAY_LEN(subs);
    set_ok(mqttproto_properties_set_int(&p.subscribe.properties, PK(SUBSCRIBE),
                                        PR(SUBSCRIPTION_IDENTIFIER), 300));
    stream_add(s, &p);

    memset(&p, 0, sizeof p);
    p.type = PK(SUBACK);
    p.suback.packet_id = 3;
    p.suback.reason_codes = suback_codes;
    p.suback.reason_code_count = sizeof suback_codes;
    stream_add(s, &p);

    memset(&p, 0, sizeof p);
    p.type = PK(UNSUBSCRIBE);
    p.unsubscribe.packet_id = 4;
    p.unsubscribe.topic_filters.items = filters;
    p.unsubscribe.topic_filters.count = ARRAY_LEN(filters);
    stream_add(s, &p);

    memset(&p, 0, sizeof p);
    p.type = PK(UNSUBACK);
    p.unsuback.packet_id = 4;
    p.unsuback.reason_codes = unsuback_codes;
    p.unsuback.reason_code_count = sizeof unsuback_codes;
    set_ok(mqttproto_properties_set_str(&p.unsuback.properties, PK(UNSUBACK), PR(REASON_STRING),
                                        STR("ok")));
    stream_add(s, &p);

    add_ack(s, PK(PINGREQ), 0, 0, NULL);
    add_ack(s, PK(PINGRESP), 0, 0, NULL);
    /* topic "t" (3) + property length (1) + 124 bytes: remaining length 128 */
    add_publish(s, "t", 0, 0, mqttproto_bin_make(medium, 124), false, false);
    assert_memory_equal(s->bytes + s->offsets[s->count - 1], "\x30\x80\x01", 3);

    memset(&p, 0, sizeof p);
    p.type = PK(PUBLISH);
    p.publish.qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    p.publish.dup = true;
    p.publish.packet_id = 0xFFFF;
    p.publish.payload = mqttproto_bin_make(medium, sizeof medium);
    set_ok(mqttproto_properties_set_int(&p.publish.properties, PK(PUBLISH), PR(TOPIC_ALIAS), 7));
    stream_add(s, &p);

    memset(&p, 0, sizeof p);
    p.type = PK(AUTH);
    p.auth.reason_code = MQTTPROTO_RC_CONTINUE_AUTHENTICATION;
    set_ok(mqttproto_properties_set_str(&p.auth.properties, PK(AUTH), PR(AUTHENTICATION_METHOD),
                                        STR("SCRAM-SHA-1")));
    set_ok(mqttproto_properties_set_bin(&p.auth.properties, PK(AUTH), PR(AUTHENTICATION_DATA),
                                        BIN("\x01\x02\x03")));
    stream_add(s, &p);
    add_ack(s, PK(AUTH), 0, MQTTPROTO_RC_REAUTHENTICATE, NULL);
    add_ack(s, PK(DISCONNECT), 0, MQTTPROTO_RC_SERVER_SHUTTING_DOWN, "bye");
    add_ack(s, PK(DISCONNECT), 0, 0, NULL);
    add_publish(s, "empty", 0, 0, BIN(""), true, false);
}

/* The main stream: every packet, then a PUBLISH with a wildcard in its topic
   [MQTT-3.3.2-2] (an error found only once its body is complete), then bytes
   that must never be read. */
static void build_main_stream(struct stream *s)
{
    memset(s, 0, sizeof *s);
    build_packets(s);
    stream_add_bad(s, "30 06 00 03 61 2f 23 00", "MQTTPROTO_ERR_TOPIC_NAME_INVALID");
    stream_append(s, "\xc0\x00\xd0\x00", 4);
}

/* ---- feeding a stream in chunks ---- */

/* In quick mode, the split points tried: each within 8 bytes of a packet's
   start (where fixed headers split), and one in every 2048th of the stream. */
static bool quick_skip(const struct stream *s, size_t cut)
{
    if (!quick_mode() || cut % (s->len / 2048 + 1) == 0) {
        return false;
    }
    for (size_t i = 0; i < s->count; i++) {
        if (cut >= s->offsets[i] && cut - s->offsets[i] <= 8) {
            return false;
        }
    }
    return true;
}

/* Feed the stream cut at the given offsets (ascending, within the stream). */
static void feed_cuts(struct framer *f, const struct stream *s, const size_t *cuts, size_t n)
{
    framer_reset(f);
    size_t pos = 0;
    for (size_t i = 0; i <= n; i++) {
        size_t next = i < n ? cuts[i] : s->len;
        framer_feed(f, s->bytes + pos, next - pos);
        pos = next;
    }
}

static void expect_log(const struct framer *f, const struct stream *s, const char *how)
{
    if (f->log.len != s->expected.len ||
        (f->log.len > 0 && memcmp(f->log.s, s->expected.s, f->log.len) != 0)) {
        print_error("stream fed %s:\n--- expected\n%s--- got\n%.*s", how, s->expected.s,
                    (int)f->log.len, f->log.s);
        fail();
    }
}

static uint64_t rng_state;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Whole, one byte at a time, two chunks split at every offset, and random
   chunkings from a fixed seed: the same log every time. */
static void check_chunkings(const struct stream *s)
{
    struct framer f;
    memset(&f, 0, sizeof f);
    char how[64];

    feed_cuts(&f, s, NULL, 0);
    expect_log(&f, s, "whole");

    framer_reset(&f);
    for (size_t i = 0; i < s->len; i++) {
        framer_feed(&f, s->bytes + i, 1);
    }
    expect_log(&f, s, "one byte at a time");

    for (size_t cut = 0; cut <= s->len; cut++) {
        if (quick_skip(s, cut)) {
            continue;
        }
        feed_cuts(&f, s, &cut, 1);
        snprintf(how, sizeof how, "split at %zu", cut);
        expect_log(&f, s, how);
    }

    static const size_t max_chunk[] = {3, 17, 256, 4096, 100000};
    size_t *cuts = malloc((s->len + 1) * sizeof *cuts);
    assert_non_null(cuts);
    rng_state = 0x2545F4914F6CDD1Du;
    for (size_t run = 0; run < 3 * ARRAY_LEN(max_chunk); run++) {
        size_t max = max_chunk[run % ARRAY_LEN(max_chunk)];
        size_t n = 0;
        for (size_t pos = 0;;) {
            pos += 1 + (size_t)(rng_next() % max);
            if (pos >= s->len) {
                break;
            }
            cuts[n++] = pos;
        }
        feed_cuts(&f, s, cuts, n);
        snprintf(how, sizeof how, "in random chunks of at most %zu (run %zu)", max, run);
        expect_log(&f, s, how);
    }
    free(cuts);
    framer_free(&f);
}

static void test_stream_of_every_packet(void **state)
{
    struct stream s;
    (void)state;
    build_main_stream(&s);
    for (int type = PK(CONNECT); type <= PK(AUTH); type++) {
        bool seen = false;
        for (size_t i = 0; i < s.count; i++) {
            seen = seen || s.types[i] == type;
        }
        assert_true(seen);
    }
    assert_true(s.count >= 20);
    check_chunkings(&s);
    stream_free(&s);
}

/* An error inside a fixed header (a fifth length byte) stops the stream at
   the same point however the bytes arrive. */
static void test_stream_with_bad_length(void **state)
{
    struct stream s;
    (void)state;
    memset(&s, 0, sizeof s);
    add_ack(&s, PK(PINGREQ), 0, 0, NULL);
    add_publish(&s, "x", 1, 9, BIN("data"), false, true);
    stream_add_bad(&s, "30 ff ff ff ff 7f", "MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER");
    stream_append(&s, "\xc0\x00", 2);
    check_chunkings(&s);
    stream_free(&s);
}

/* A stream that ends inside a packet: the complete packets, then silence. */
static void test_stream_ending_mid_packet(void **state)
{
    struct stream s;
    (void)state;
    memset(&s, 0, sizeof s);
    add_ack(&s, PK(PUBACK), 5, 0, NULL);
    add_publish(&s, "t", 0, 0, mqttproto_bin_make(medium, 200), false, false);
    stream_append(&s, "\x30\x80\x01\x00\x01", 5); /* 131 bytes announced, 5 given */
    check_chunkings(&s);
    stream_free(&s);
}

/* The fixed header's length in bytes, for a packet of the given total size. */
static size_t header_len(size_t size)
{
    for (size_t h = 2; h <= 5; h++) {
        size_t rem = size - h;
        size_t vbi = rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4;
        if (vbi == h - 1) {
            return h;
        }
    }
    fail();
    return 0;
}

/* mqttproto_frame_size on every prefix from each packet's start: 0 until the
   fixed header is complete, then the whole packet's size. */
static void test_frame_size_on_prefixes(void **state)
{
    struct stream s;
    (void)state;
    build_main_stream(&s);
    size_t bad = s.offsets[s.count - 1] + s.sizes[s.count - 1];
    s.offsets[s.count] = bad; /* the wildcard PUBLISH: its header is well formed */
    s.sizes[s.count] = 8;
    s.types[s.count] = PK(PUBLISH);
    for (size_t i = 0; i <= s.count; i++) {
        const uint8_t *at = s.bytes + s.offsets[i];
        size_t hdr = header_len(s.sizes[i]);
        size_t avail = s.len - s.offsets[i];
        for (size_t k = 0; k <= avail && k <= s.sizes[i] + 8; k++) {
            mqttproto_packet_type type = (mqttproto_packet_type)0;
            ptrdiff_t r = mqttproto_frame_size(at, k, NULL, &type);
            if (k < hdr) {
                assert_int_equal(r, 0);
            } else {
                assert_int_equal(r, (ptrdiff_t)s.sizes[i]);
                assert_int_equal(type, s.types[i]);
            }
            if (k <= hdr) {
                uint8_t *g = tu_guard_copy(at, k); /* the header is read within k bytes */
                assert_int_equal(mqttproto_frame_size(g, k, NULL, NULL), r);
                tu_guard_free(g, k);
            }
        }
    }
    stream_free(&s);
}

/* A length cut after its first byte (70 80): nothing yet, then the packet. */
static void test_truncated_multibyte_length(void **state)
{
    static char reason[122];
    mqttproto_packet p, got;
    (void)state;
    memset(&p, 0, sizeof p);
    memset(reason, 'r', 121);
    p.type = PK(PUBCOMP);
    p.pubcomp.packet_id = 1;
    p.pubcomp.reason_code = MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND;
    /* id (2) + rc (1) + property length (1) + 1f 00 79 + 121 bytes = 128 */
    set_ok(mqttproto_properties_set_str(&p.pubcomp.properties, PK(PUBCOMP), PR(REASON_STRING),
                                        mqttproto_str_from_cstr(reason)));
    uint8_t buf[140];
    assert_int_equal(mqttproto_encode(&p, NULL, buf, sizeof buf), 131);
    assert_memory_equal(buf, "\x70\x80\x01\x00\x01\x92\x7c\x1f\x00\x79", 10);
    for (size_t k = 0; k <= 131; k++) {
        uint8_t *g = tu_guard_copy(buf, k);
        ptrdiff_t want_frame = k < 3 ? 0 : 131;
        assert_int_equal(mqttproto_frame_size(g, k, NULL, NULL), want_frame);
        assert_int_equal(mqttproto_decode(g, k, NULL, &got), k < 131 ? 0 : 131);
        tu_guard_free(g, k);
    }
    assert_int_equal(got.pubcomp.properties.reason_string.len, 121);

    struct framer f;
    memset(&f, 0, sizeof f);
    framer_feed(&f, buf, 2); /* 70 80 */
    assert_int_equal(f.log.len, 0);
    framer_feed(&f, buf + 2, 1);
    assert_int_equal(f.log.len, 0);
    framer_feed(&f, buf + 3, 128);
    assert_non_null(strstr(f.log.s, "@0 +131 PUBCOMP id=1 rc=92"));
    framer_free(&f);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_of_every_packet),
        cmocka_unit_test(test_stream_with_bad_length),
        cmocka_unit_test(test_stream_ending_mid_packet),
        cmocka_unit_test(test_frame_size_on_prefixes),
        cmocka_unit_test(test_truncated_multibyte_length),
    };
    return cmocka_run_group_tests_name("framer", tests, NULL, NULL);
}
