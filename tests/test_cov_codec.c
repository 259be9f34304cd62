/*
 * The codec at its edges: the repeatable-property iterators walking blocks
 * that mix every property type; the encoder refusing views it cannot
 * write (a NULL pointer with a length, more than 65,535 bytes) on every
 * path, fast or not; every output buffer one byte too small, with a guard
 * page after it; the maximum packet size for every packet type; and
 * lengths at each boundary of the variable byte integer.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define E(x)   MQTTPROTO_ERR_##x
#define PR(x)  MQTTPROTO_PROP_##x
#define PK(x)  MQTTPROTO_PACKET_##x
#define STR(s) mqttproto_str_from_cstr(s)
#define BIN(s) mqttproto_bin_make((s), strlen(s))
#define WILL   MQTTPROTO_PROPERTY_CONTEXT_WILL

struct buf {
    uint8_t b[4096];
    size_t n;
};

static void put_hex(struct buf *b, const char *hex)
{
    size_t n;
    uint8_t *x = tu_hex(hex, &n);
    assert_true(b->n + n <= sizeof b->b);
    memcpy(b->b + b->n, x, n);
    b->n += n;
    free(x);
}

static void put_vbi(struct buf *b, size_t v)
{
    do {
        uint8_t d = (uint8_t)(v & 127u);
        v >>= 7;
        b->b[b->n++] = (uint8_t)(d | (v > 0 ? 128u : 0u));
    } while (v > 0);
}

/* A sample value of each wire type that every property of the type takes. */
static const char *sample(int type)
{
    switch (type) {
    case MQTTPROTO_PTYPE_BYTE:
        return "01";
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        return "00 10";
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
        return "00 00 00 10";
    case MQTTPROTO_PTYPE_VARIABLE_INT:
        return "85 01";
    case MQTTPROTO_PTYPE_BINARY:
        return "00 02 FF 00";
    default:
        return "00 01 61";
    }
}

/*
 * Every property allowed in the context, each followed by a User Property
 * (and, in a PUBLISH, a Subscription Identifier): the iterators step over
 * every other type to find theirs, in order.
 */
static void check_iterators(int ctx, const char *head, unsigned first)
{
    struct buf props = {.n = 0};
    size_t users = 0, subids = 0;
    for (int id = 1; id < 64; id++) {
        const mqttproto_property_info *pi = mqttproto_property_info_get(id);
        if (pi == NULL || pi->repeatable || !mqttproto_property_allowed(id, ctx)) {
            continue;
        }
        char hex[32];
        snprintf(hex, sizeof hex, "%02X %s", (unsigned)id, sample(pi->type));
        put_hex(&props, hex);
        snprintf(hex, sizeof hex, "26 00 01 6B 00 01 %02X", (unsigned)('a' + users % 26));
        put_hex(&props, hex);
        users++;
        if (ctx == PK(PUBLISH)) {
            snprintf(hex, sizeof hex, "0B %02X", (unsigned)(subids + 1));
            put_hex(&props, hex);
            subids++;
        }
    }
    struct buf body = {.n = 0};
    put_hex(&body, head);
    if (ctx == WILL) {
        put_hex(&body, "00"); /* CONNECT properties */
        put_hex(&body, "00 00");
    }
    put_vbi(&body, props.n);
    memcpy(body.b + body.n, props.b, props.n);
    body.n += props.n;
    if (ctx == WILL) {
        put_hex(&body, "00 01 77 00 00");
    } else if (ctx == PK(CONNECT)) {
        put_hex(&body, "00 00");
    }
    struct buf pkt = {.n = 0};
    pkt.b[pkt.n++] = (uint8_t)first;
    put_vbi(&pkt, body.n);
    memcpy(pkt.b + pkt.n, body.b, body.n);
    pkt.n += body.n;

    uint8_t *g = tu_guard_copy(pkt.b, pkt.n);
    mqttproto_packet d;
    assert_int_equal(mqttproto_decode(g, pkt.n, NULL, &d), (ptrdiff_t)pkt.n);
    const mqttproto_properties *p = ctx == PK(PUBLISH)   ? &d.publish.properties
                                    : ctx == PK(CONNACK) ? &d.connack.properties
                                    : ctx == WILL        ? &d.connect.will.properties
                                    : ctx == PK(CONNECT) ? &d.connect.properties
                                                         : &d.disconnect.properties;
    assert_int_equal(p->user_property_count, users);
    size_t cursor = 0, k = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        assert_int_equal(up.value.len, 1);
        assert_int_equal(up.value.data[0], 'a' + k % 26);
        k++;
    }
    assert_int_equal(k, users);
    cursor = 0;
    k = 0;
    uint32_t sid;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &sid)) {
        assert_int_equal(sid, k + 1);
        k++;
    }
    assert_int_equal(k, subids);
    tu_guard_free(g, pkt.n);
}

static void test_iterators_skip_every_property_type(void **state)
{
    (void)state;
    check_iterators(PK(PUBLISH), "00 01 74", 0x30);
    check_iterators(PK(CONNACK), "00 00", 0x20);
    check_iterators(PK(CONNECT), "00 04 4D 51 54 54 05 02 00 00", 0x10);
    check_iterators(WILL, "00 04 4D 51 54 54 05 06 00 00", 0x10);
    check_iterators(PK(DISCONNECT), "00", 0xE0);
    check_iterators(PK(AUTH), "18", 0xF0);
    check_iterators(PK(PUBACK), "00 01 00", 0x40);
}

static void test_iterators_null_arguments(void **state)
{
    (void)state;
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    size_t cursor = 0;
    mqttproto_user_property up;
    uint32_t id;
    assert_false(mqttproto_user_properties_next(NULL, &cursor, &up));
    assert_false(mqttproto_user_properties_next(&p, NULL, &up));
    assert_false(mqttproto_user_properties_next(&p, &cursor, NULL));
    assert_false(mqttproto_subscription_identifiers_next(NULL, &cursor, &id));
    assert_false(mqttproto_subscription_identifiers_next(&p, &cursor, NULL));
    assert_false(mqttproto_subscription_identifiers_next(&p, &cursor, &id));
    mqttproto_subscription_list sl;
    memset(&sl, 0, sizeof sl);
    mqttproto_subscription s;
    assert_false(mqttproto_subscriptions_next(NULL, &cursor, &s));
    assert_false(mqttproto_subscriptions_next(&sl, NULL, &s));
    assert_false(mqttproto_subscriptions_next(&sl, &cursor, NULL));
    assert_false(mqttproto_subscriptions_next(&sl, &cursor, &s));
    mqttproto_topic_filter_list fl;
    memset(&fl, 0, sizeof fl);
    mqttproto_str f;
    assert_false(mqttproto_topic_filters_next(NULL, &cursor, &f));
    assert_false(mqttproto_topic_filters_next(&fl, NULL, &f));
    assert_false(mqttproto_topic_filters_next(&fl, &cursor, NULL));
    assert_false(mqttproto_topic_filters_next(&fl, &cursor, &f));
    /* Caller arrays, read back in order. */
    static const mqttproto_user_property items[2] = {{{"a", 1}, {"1", 1}}, {{"b", 1}, {"2", 1}}};
    assert_int_equal(mqttproto_properties_set_user_properties(&p, PK(PUBLISH), items, 2), 0);
    static const uint32_t ids[2] = {7, 9};
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, PK(PUBLISH), ids, 2), 0);
    cursor = 0;
    assert_true(mqttproto_user_properties_next(&p, &cursor, &up));
    assert_true(mqttproto_user_properties_next(&p, &cursor, &up));
    assert_int_equal(up.name.data[0], 'b');
    assert_false(mqttproto_user_properties_next(&p, &cursor, &up));
    cursor = 0;
    assert_true(mqttproto_subscription_identifiers_next(&p, &cursor, &id));
    assert_true(mqttproto_subscription_identifiers_next(&p, &cursor, &id));
    assert_int_equal(id, 9);
    assert_false(mqttproto_subscription_identifiers_next(&p, &cursor, &id));
}

/* ---- encoding ---- */

static mqttproto_packet publish(const char *topic, const char *payload, int qos, bool props)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_PUBLISH;
    p.publish.topic = STR(topic);
    p.publish.payload = BIN(payload);
    p.publish.qos = (mqttproto_qos)qos;
    p.publish.packet_id = qos > 0 ? 3 : 0;
    mqttproto_properties_init(&p.publish.properties);
    if (props) {
        assert_int_equal(mqttproto_properties_set_int(&p.publish.properties, PK(PUBLISH),
                                                      PR(MESSAGE_EXPIRY_INTERVAL), 60),
                         0);
    }
    return p;
}

static mqttproto_packet connect_pkt(bool full)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_CONNECT;
    p.connect.protocol_version = 5;
    p.connect.clean_start = true;
    p.connect.client_id = STR("id");
    p.connect.has_username = true;
    p.connect.username = STR("user");
    p.connect.has_password = true;
    p.connect.password = BIN("pw");
    mqttproto_properties_init(&p.connect.properties);
    if (full) {
        p.connect.has_will = true;
        p.connect.will.topic = STR("w");
        p.connect.will.payload = BIN("bye");
        mqttproto_properties_init(&p.connect.will.properties);
        assert_int_equal(mqttproto_properties_set_int(&p.connect.properties, PK(CONNECT),
                                                      PR(RECEIVE_MAXIMUM), 5),
                         0);
    }
    return p;
}

/* Both the size and the encoding refuse @p pkt with @p err; a packet the
   size accepts may still fail the encoding's content checks, @p enc_err. */
static void refuses(const mqttproto_packet *pkt, ptrdiff_t size_err, ptrdiff_t enc_err, int line)
{
    uint8_t out[512];
    ptrdiff_t s = mqttproto_encoded_size(pkt, NULL);
    ptrdiff_t e = mqttproto_encode(pkt, NULL, out, sizeof out);
    if (s != size_err || e != enc_err) {
        fail_msg("line %d: encoded_size %td (%s), encode %td (%s); want %s, %s", line, s,
                 mqttproto_err_name((int)s), e, mqttproto_err_name((int)e),
                 mqttproto_err_name((int)size_err), mqttproto_err_name((int)enc_err));
    }
}

#define REFUSES(pkt, err)           refuses(&(pkt), (err), (err), __LINE__)
#define REFUSES2(pkt, s_err, e_err) refuses(&(pkt), (s_err), (e_err), __LINE__)

static void test_encode_refuses_bad_views(void **state)
{
    (void)state;
    static char big[65536];
    memset(big, 'x', sizeof big);
    const mqttproto_str null3 = {NULL, 3}, long_str = {big, 65536};
    const mqttproto_bin nullb = {NULL, 3};
    for (int with_props = 0; with_props <= 1; with_props++) {
        mqttproto_packet p = publish("t", "x", 1, with_props);
        p.publish.topic = null3;
        REFUSES(p, E(INVALID_ARGUMENT));
        p = publish("t", "x", 1, with_props);
        p.publish.topic = long_str;
        REFUSES(p, E(STRING_TOO_LONG));
        p = publish("t", "x", 1, with_props);
        p.publish.payload = nullb;
        REFUSES(p, E(INVALID_ARGUMENT));
        p = publish("t", "x", 0, with_props);
        p.publish.dup = true;
        REFUSES2(p, (ptrdiff_t)(with_props ? 12 : 7), E(DUP_ON_QOS0));
        p = publish("t", "x", 1, with_props);
        p.publish.packet_id = 0;
        REFUSES2(p, (ptrdiff_t)(with_props ? 14 : 9), E(ZERO_PACKET_ID));
        p = publish("t", "x", 0, with_props);
        p.publish.packet_id = 4;
        REFUSES2(p, (ptrdiff_t)(with_props ? 12 : 7), E(UNEXPECTED_PACKET_ID));
        p = publish("t", "x", 3, with_props);
        REFUSES2(p, (ptrdiff_t)(with_props ? 14 : 9), E(BAD_QOS));
        p = publish("t/+", "x", 1, with_props);
        REFUSES2(p, (ptrdiff_t)(with_props ? 16 : 11), E(TOPIC_NAME_INVALID));
        p = publish("\xC0\xAF", "x", 1, with_props);
        REFUSES2(p, (ptrdiff_t)(with_props ? 15 : 10), E(INVALID_UTF8));
        /* An empty topic needs an alias; with one it goes. */
        p = publish("", "x", 1, with_props);
        REFUSES2(p, (ptrdiff_t)(with_props ? 13 : 8), E(EMPTY_TOPIC_WITHOUT_ALIAS));
        /* A payload too large for any packet. */
        p = publish("t", "x", 1, with_props);
        p.publish.payload.len = MQTTPROTO_MAX_VARIABLE_INT + 1u;
        assert_int_equal(mqttproto_encoded_size(&p, NULL), E(PACKET_TOO_LARGE));
        p.publish.payload.len = MQTTPROTO_MAX_VARIABLE_INT - 2u; /* the body is over it */
        assert_int_equal(mqttproto_encoded_size(&p, NULL), E(PACKET_TOO_LARGE));
    }
    /* A property view. */
    mqttproto_packet p = publish("t", "x", 1, true);
    p.publish.properties.present |= MQTTPROTO_PROP_BIT(PR(CONTENT_TYPE));
    p.publish.properties.content_type = null3;
    REFUSES2(p, (ptrdiff_t)20, E(INVALID_ARGUMENT));
    p.publish.properties.content_type = long_str;
    REFUSES(p, E(STRING_TOO_LONG));
    p = publish("t", "x", 1, true);
    p.publish.properties.present |= MQTTPROTO_PROP_BIT(PR(CORRELATION_DATA));
    p.publish.properties.correlation_data = nullb;
    REFUSES2(p, (ptrdiff_t)20, E(INVALID_ARGUMENT));

    /* CONNECT, fast and full. */
    for (int full = 0; full <= 1; full++) {
        mqttproto_packet c = connect_pkt(full);
        c.connect.client_id = null3;
        REFUSES(c, E(INVALID_ARGUMENT));
        c = connect_pkt(full);
        c.connect.client_id = long_str;
        REFUSES(c, E(STRING_TOO_LONG));
        c = connect_pkt(full);
        c.connect.username = null3;
        REFUSES(c, E(INVALID_ARGUMENT));
        c = connect_pkt(full);
        c.connect.username = long_str;
        REFUSES(c, E(STRING_TOO_LONG));
        c = connect_pkt(full);
        c.connect.password = nullb;
        REFUSES(c, E(INVALID_ARGUMENT));
        c = connect_pkt(full);
        c.connect.password.data = (const uint8_t *)big;
        c.connect.password.len = 65536;
        REFUSES(c, E(STRING_TOO_LONG));
        c = connect_pkt(full);
        c.connect.client_id = STR("\xED\xA0\x80");
        REFUSES2(c, (ptrdiff_t)(full ? 40 : 28), E(INVALID_UTF8));
    }
    mqttproto_packet c = connect_pkt(true);
    c.connect.will.topic = null3;
    REFUSES(c, E(INVALID_ARGUMENT));
    c = connect_pkt(true);
    c.connect.will.topic = long_str;
    REFUSES(c, E(STRING_TOO_LONG));
    c = connect_pkt(true);
    c.connect.will.payload = nullb;
    REFUSES(c, E(INVALID_ARGUMENT));

    /* SUBSCRIBE, UNSUBSCRIBE, SUBACK. */
    mqttproto_subscription subs[1];
    memset(subs, 0, sizeof subs);
    subs[0].topic_filter = null3;
    mqttproto_packet s;
    memset(&s, 0, sizeof s);
    s.type = MQTTPROTO_PACKET_SUBSCRIBE;
    s.subscribe.packet_id = 1;
    mqttproto_properties_init(&s.subscribe.properties);
    s.subscribe.subscriptions.items = subs;
    s.subscribe.subscriptions.count = 1;
    REFUSES(s, E(INVALID_ARGUMENT));
    subs[0].topic_filter = long_str;
    REFUSES(s, E(STRING_TOO_LONG));
    s.subscribe.subscriptions.items = NULL; /* a count with no array */
    REFUSES(s, E(INVALID_ARGUMENT));
    mqttproto_str filters[1] = {null3};
    mqttproto_packet u;
    memset(&u, 0, sizeof u);
    u.type = MQTTPROTO_PACKET_UNSUBSCRIBE;
    u.unsubscribe.packet_id = 1;
    mqttproto_properties_init(&u.unsubscribe.properties);
    u.unsubscribe.topic_filters.items = filters;
    u.unsubscribe.topic_filters.count = 1;
    REFUSES(u, E(INVALID_ARGUMENT));
    filters[0] = long_str;
    REFUSES(u, E(STRING_TOO_LONG));
    u.unsubscribe.topic_filters.items = NULL;
    REFUSES(u, E(INVALID_ARGUMENT));
    mqttproto_packet a;
    memset(&a, 0, sizeof a);
    a.type = MQTTPROTO_PACKET_SUBACK;
    a.suback.packet_id = 1;
    mqttproto_properties_init(&a.suback.properties);
    a.suback.reason_code_count = 2;
    REFUSES(a, E(INVALID_ARGUMENT));
    /* Output arguments. */
    mqttproto_packet ok = publish("t", "x", 0, false);
    assert_int_equal(mqttproto_encode(NULL, NULL, NULL, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_encode(&ok, NULL, NULL, 8), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_encode(&ok, NULL, NULL, 0), E(BUFFER_TOO_SMALL));
    assert_int_equal(mqttproto_encoded_size(NULL, NULL), E(INVALID_ARGUMENT));
    mqttproto_packet bad = ok;
    bad.type = (mqttproto_packet_type)0;
    assert_int_equal(mqttproto_encoded_size(&bad, NULL), E(INVALID_ARGUMENT));
    uint8_t out[16];
    assert_int_equal(mqttproto_encode(&bad, NULL, out, sizeof out), E(INVALID_ARGUMENT));
}

/* A set of packets of every type, in common and uncommon shapes. */
static size_t sample_packets(mqttproto_packet *out, size_t max)
{
    static const mqttproto_user_property up[1] = {{{"k", 1}, {"v", 1}}};
    static const uint8_t codes[3] = {0, 1, 0x80};
    static mqttproto_subscription subs[2];
    static mqttproto_str filters[2];
    size_t n = 0;
    out[n++] = publish("t", "payload", 0, false);
    out[n++] = publish("a/b", "payload", 2, false);
    out[n++] = publish("a/b", "payload", 1, true);
    out[n++] = connect_pkt(false);
    out[n++] = connect_pkt(true);
    memset(subs, 0, sizeof subs);
    subs[0].topic_filter = STR("a/+");
    subs[1].topic_filter = STR("$share/g/#");
    subs[1].max_qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    filters[0] = STR("a/+");
    filters[1] = STR("b");
    for (int t = 2; t <= 15; t++) {
        if (t == PK(PUBLISH) || n >= max) {
            continue;
        }
        mqttproto_packet p;
        memset(&p, 0, sizeof p);
        p.type = (mqttproto_packet_type)t;
        mqttproto_properties *pr = &p.disconnect.properties;
        switch (t) {
        case PK(CONNACK):
            pr = &p.connack.properties;
            break;
        case PK(PUBACK):
        case PK(PUBREC):
        case PK(PUBREL):
        case PK(PUBCOMP):
            p.puback.packet_id = 9;
            p.puback.reason_code = t == PK(PUBREL) || t == PK(PUBCOMP) ? 0x92 : 0x80;
            pr = &p.puback.properties;
            break;
        case PK(SUBSCRIBE):
            p.subscribe.packet_id = 2;
            p.subscribe.subscriptions.items = subs;
            p.subscribe.subscriptions.count = 2;
            pr = &p.subscribe.properties;
            break;
        case PK(UNSUBSCRIBE):
            p.unsubscribe.packet_id = 2;
            p.unsubscribe.topic_filters.items = filters;
            p.unsubscribe.topic_filters.count = 2;
            pr = &p.unsubscribe.properties;
            break;
        case PK(SUBACK):
        case PK(UNSUBACK):
            p.suback.packet_id = 2;
            p.suback.reason_codes = codes;
            p.suback.reason_code_count = t == PK(SUBACK) ? 3 : 1;
            pr = &p.suback.properties;
            break;
        case PK(DISCONNECT):
            p.disconnect.reason_code = 0x8B;
            break;
        case PK(AUTH):
            p.auth.reason_code = 0x18;
            break;
        default:
            break;
        }
        mqttproto_properties_init(pr);
        if (t != PK(PINGREQ) && t != PK(PINGRESP)) {
            assert_int_equal(mqttproto_properties_set_user_properties(pr, t, up, 1), 0);
        }
        out[n++] = p;
    }
    return n;
}

/* Every capacity below the size gives BUFFER_TOO_SMALL and writes nothing
   past it (the guard page); the size itself works and decodes back. */
static void test_encode_every_short_buffer(void **state)
{
    (void)state;
    mqttproto_packet pkts[24];
    size_t n = sample_packets(pkts, 24);
    for (size_t i = 0; i < n; i++) {
        ptrdiff_t size = mqttproto_encoded_size(&pkts[i], NULL);
        assert_true(size > 0);
        static const uint8_t zero[512];
        assert_true((size_t)size <= sizeof zero);
        for (size_t cap = 0; cap < (size_t)size; cap++) {
            uint8_t *g = tu_guard_copy(zero, cap);
            if (mqttproto_encode(&pkts[i], NULL, cap == 0 ? NULL : g, cap) != E(BUFFER_TOO_SMALL)) {
                fail_msg("packet %zu (%s), cap %zu of %td", i,
                         mqttproto_packet_type_name((int)pkts[i].type), cap, size);
            }
            tu_guard_free(g, cap);
        }
        uint8_t *g = tu_guard_copy(zero, (size_t)size);
        assert_int_equal(mqttproto_encode(&pkts[i], NULL, g, (size_t)size), size);
        mqttproto_packet back;
        assert_int_equal(mqttproto_decode(g, (size_t)size, NULL, &back), size);
        assert_int_equal(back.type, pkts[i].type);
        tu_guard_free(g, (size_t)size);
    }
}

/* The maximum packet size is the whole packet's, for every type. */
static void test_encode_maximum_packet_size_every_type(void **state)
{
    (void)state;
    mqttproto_packet pkts[24];
    size_t n = sample_packets(pkts, 24);
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    uint8_t out[512];
    for (size_t i = 0; i < n; i++) {
        ptrdiff_t size = mqttproto_encoded_size(&pkts[i], NULL);
        o.maximum_packet_size = (uint32_t)size;
        assert_int_equal(mqttproto_encoded_size(&pkts[i], &o), size);
        assert_int_equal(mqttproto_encode(&pkts[i], &o, out, sizeof out), size);
        o.maximum_packet_size = (uint32_t)size - 1;
        assert_int_equal(mqttproto_encoded_size(&pkts[i], &o), E(PACKET_TOO_LARGE));
        assert_int_equal(mqttproto_encode(&pkts[i], &o, out, sizeof out), E(PACKET_TOO_LARGE));
        /* And the decoder holds the same line. */
        o.maximum_packet_size = (uint32_t)size;
        ptrdiff_t w = mqttproto_encode(&pkts[i], NULL, out, sizeof out);
        mqttproto_packet back;
        assert_int_equal(mqttproto_decode(out, (size_t)w, &o, &back), size);
        o.maximum_packet_size = (uint32_t)size - 1;
        assert_int_equal(mqttproto_decode(out, (size_t)w, &o, &back), E(PACKET_TOO_LARGE));
    }
}

static size_t vbi_len(size_t v)
{
    return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

/*
 * Remaining lengths and property lengths at each boundary of the variable
 * byte integer (127/128, 16,383/16,384, 2,097,151/2,097,152): sized,
 * encoded and decoded back exactly, on the fast and the generic paths.
 */
static void test_lengths_at_vbi_boundaries(void **state)
{
    (void)state;
    static const size_t bounds[] = {127, 128, 16383, 16384, 2097151, 2097152};
    uint8_t *payload = calloc(1, 2097152 + 64);
    uint8_t *out = malloc(2097152 + 128);
    assert_non_null(payload);
    assert_non_null(out);
    for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++) {
        for (int with_props = 0; with_props <= 1; with_props++) {
            /* Remaining length = 3 (topic) + 2 (id) + props + payload. */
            size_t props = with_props ? 6 : 1;
            size_t plen = bounds[b] - 5 - props;
            mqttproto_packet p = publish("t", "", 1, with_props);
            p.publish.payload = mqttproto_bin_make(payload, plen);
            size_t vbi = vbi_len(bounds[b]);
            ptrdiff_t size = (ptrdiff_t)(1 + vbi + bounds[b]);
            assert_int_equal(mqttproto_encoded_size(&p, NULL), size);
            assert_int_equal(mqttproto_encode(&p, NULL, out, 2097152 + 128), size);
            mqttproto_packet back;
            assert_int_equal(mqttproto_decode(out, (size_t)size, NULL, &back), size);
            assert_int_equal(back.publish.payload.len, plen);
            mqttproto_packet_type type;
            assert_int_equal(mqttproto_frame_size(out, 1 + vbi, NULL, &type), size);
            assert_int_equal(mqttproto_frame_size(out, vbi, NULL, &type), 0);
        }
        if (bounds[b] > 65535) {
            continue;
        }
        /* A property block of that length in a DISCONNECT and a SUBACK: one
           Reason String of bounds - 3 bytes. */
        mqttproto_packet d;
        memset(&d, 0, sizeof d);
        d.type = MQTTPROTO_PACKET_DISCONNECT;
        d.disconnect.reason_code = 0x80;
        mqttproto_properties_init(&d.disconnect.properties);
        memset(payload, 'r', bounds[b]);
        assert_int_equal(mqttproto_properties_set_str(
                             &d.disconnect.properties, PK(DISCONNECT), PR(REASON_STRING),
                             (mqttproto_str){(const char *)payload, bounds[b] - 3}),
                         0);
        size_t rem = 1 + vbi_len(bounds[b]) + bounds[b];
        ptrdiff_t size = (ptrdiff_t)(1 + vbi_len(rem) + rem);
        assert_int_equal(mqttproto_encode(&d, NULL, out, 2097152), size);
        mqttproto_packet back;
        assert_int_equal(mqttproto_decode(out, (size_t)size, NULL, &back), size);
        assert_int_equal(back.disconnect.properties.reason_string.len, bounds[b] - 3);
        mqttproto_packet s;
        memset(&s, 0, sizeof s);
        s.type = MQTTPROTO_PACKET_SUBACK;
        static const uint8_t code = 0;
        s.suback.packet_id = 1;
        s.suback.properties = d.disconnect.properties;
        s.suback.reason_codes = &code;
        s.suback.reason_code_count = 1;
        rem = 2 + vbi_len(bounds[b]) + bounds[b] + 1;
        size = (ptrdiff_t)(1 + vbi_len(rem) + rem);
        assert_int_equal(mqttproto_encode(&s, NULL, out, 2097152), size);
        assert_int_equal(mqttproto_decode(out, (size_t)size, NULL, &back), size);
        memset(payload, 0, bounds[b]);
    }
    free(payload);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iterators_skip_every_property_type),
        cmocka_unit_test(test_iterators_null_arguments),
        cmocka_unit_test(test_encode_refuses_bad_views),
        cmocka_unit_test(test_encode_every_short_buffer),
        cmocka_unit_test(test_encode_maximum_packet_size_every_type),
        cmocka_unit_test(test_lengths_at_vbi_boundaries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
