/*
 * Every rejection of the codec, fed as bytes placed right before a guard page
 * (so a read past the input faults), with the exact error and the reason code
 * mqttproto_err_reason_code() maps it to; then the encoder refusing the same
 * content. Which properties and reason codes each packet may carry comes from
 * this file's own tables of the specification (MQTT 5.0 sections 2.2.2.2 and
 * 2.4), not from the library's.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

enum {
    CONNECT = MQTTPROTO_PACKET_CONNECT,
    CONNACK = MQTTPROTO_PACKET_CONNACK,
    PUBLISH = MQTTPROTO_PACKET_PUBLISH,
    PUBACK = MQTTPROTO_PACKET_PUBACK,
    PUBREC = MQTTPROTO_PACKET_PUBREC,
    PUBREL = MQTTPROTO_PACKET_PUBREL,
    PUBCOMP = MQTTPROTO_PACKET_PUBCOMP,
    SUBSCRIBE = MQTTPROTO_PACKET_SUBSCRIBE,
    SUBACK = MQTTPROTO_PACKET_SUBACK,
    UNSUBSCRIBE = MQTTPROTO_PACKET_UNSUBSCRIBE,
    UNSUBACK = MQTTPROTO_PACKET_UNSUBACK,
    DISCONNECT = MQTTPROTO_PACKET_DISCONNECT,
    AUTH = MQTTPROTO_PACKET_AUTH,
    WILL = MQTTPROTO_PROPERTY_CONTEXT_WILL
};

/* ---- the specification's tables ---- */

#define C(t) (1u << (t))

/* Section 2.2.2.2: identifier, wire type, contexts. */
static const struct {
    int id;
    int type;
    uint32_t contexts;
} spec_props[] = {
    {0x01, MQTTPROTO_PTYPE_BYTE, C(PUBLISH) | C(WILL)},
    {0x02, MQTTPROTO_PTYPE_FOUR_BYTE_INT, C(PUBLISH) | C(WILL)},
    {0x03, MQTTPROTO_PTYPE_UTF8_STRING, C(PUBLISH) | C(WILL)},
    {0x08, MQTTPROTO_PTYPE_UTF8_STRING, C(PUBLISH) | C(WILL)},
    {0x09, MQTTPROTO_PTYPE_BINARY, C(PUBLISH) | C(WILL)},
    {0x0B, MQTTPROTO_PTYPE_VARIABLE_INT, C(PUBLISH) | C(SUBSCRIBE)},
    {0x11, MQTTPROTO_PTYPE_FOUR_BYTE_INT, C(CONNECT) | C(CONNACK) | C(DISCONNECT)},
    {0x12, MQTTPROTO_PTYPE_UTF8_STRING, C(CONNACK)},
    {0x13, MQTTPROTO_PTYPE_TWO_BYTE_INT, C(CONNACK)},
    {0x15, MQTTPROTO_PTYPE_UTF8_STRING, C(CONNECT) | C(CONNACK) | C(AUTH)},
    {0x16, MQTTPROTO_PTYPE_BINARY, C(CONNECT) | C(CONNACK) | C(AUTH)},
    {0x17, MQTTPROTO_PTYPE_BYTE, C(CONNECT)},
    {0x18, MQTTPROTO_PTYPE_FOUR_BYTE_INT, C(WILL)},
    {0x19, MQTTPROTO_PTYPE_BYTE, C(CONNECT)},
    {0x1A, MQTTPROTO_PTYPE_UTF8_STRING, C(CONNACK)},
    {0x1C, MQTTPROTO_PTYPE_UTF8_STRING, C(CONNACK) | C(DISCONNECT)},
    {0x1F, MQTTPROTO_PTYPE_UTF8_STRING,
     C(CONNACK) | C(PUBACK) | C(PUBREC) | C(PUBREL) | C(PUBCOMP) | C(SUBACK) | C(UNSUBACK) |
         C(DISCONNECT) | C(AUTH)},
    {0x21, MQTTPROTO_PTYPE_TWO_BYTE_INT, C(CONNECT) | C(CONNACK)},
    {0x22, MQTTPROTO_PTYPE_TWO_BYTE_INT, C(CONNECT) | C(CONNACK)},
    {0x23, MQTTPROTO_PTYPE_TWO_BYTE_INT, C(PUBLISH)},
    {0x24, MQTTPROTO_PTYPE_BYTE, C(CONNACK)},
    {0x25, MQTTPROTO_PTYPE_BYTE, C(CONNACK)},
    {0x26, MQTTPROTO_PTYPE_UTF8_PAIR,
     C(CONNECT) | C(CONNACK) | C(PUBLISH) | C(WILL) | C(PUBACK) | C(PUBREC) | C(PUBREL) |
         C(PUBCOMP) | C(SUBSCRIBE) | C(SUBACK) | C(UNSUBSCRIBE) | C(UNSUBACK) | C(DISCONNECT) |
         C(AUTH)},
    {0x27, MQTTPROTO_PTYPE_FOUR_BYTE_INT, C(CONNECT) | C(CONNACK)},
    {0x28, MQTTPROTO_PTYPE_BYTE, C(CONNACK)},
    {0x29, MQTTPROTO_PTYPE_BYTE, C(CONNACK)},
    {0x2A, MQTTPROTO_PTYPE_BYTE, C(CONNACK)},
};
#define N_SPEC_PROPS (sizeof spec_props / sizeof spec_props[0])

static int spec_prop_index(int id)
{
    for (size_t i = 0; i < N_SPEC_PROPS; i++) {
        if (spec_props[i].id == id) {
            return (int)i;
        }
    }
    return -1;
}

static bool spec_prop_allowed(int id, int ctx)
{
    int i = spec_prop_index(id);
    return i >= 0 && (spec_props[i].contexts & C(ctx)) != 0;
}

/* A valid value of each wire type, as hex. */
static const char *sample_value(int type)
{
    switch (type) {
    case MQTTPROTO_PTYPE_BYTE:
        return "01";
    case MQTTPROTO_PTYPE_TWO_BYTE_INT:
        return "0001";
    case MQTTPROTO_PTYPE_FOUR_BYTE_INT:
        return "00000001";
    case MQTTPROTO_PTYPE_VARIABLE_INT:
        return "01";
    case MQTTPROTO_PTYPE_UTF8_STRING:
        return "0001 61";
    case MQTTPROTO_PTYPE_BINARY:
        return "0001 FF";
    default:
        return "0001 61 0001 62";
    }
}

/* Section 2.4 (and 3.x.2.1): the reason codes each packet may carry. */
static const uint8_t rc_connack[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                     0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                     0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
static const uint8_t rc_puback[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
static const uint8_t rc_pubrel[] = {0x00, 0x92};
static const uint8_t rc_suback[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                    0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
static const uint8_t rc_unsuback[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
static const uint8_t rc_disconnect[] = {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8C,
                                        0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
                                        0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
static const uint8_t rc_auth[] = {0x00, 0x18, 0x19};

static const struct {
    int type;
    const uint8_t *codes;
    size_t n;
} rc_tables[] = {
    {CONNACK, rc_connack, sizeof rc_connack},
    {PUBACK, rc_puback, sizeof rc_puback},
    {PUBREC, rc_puback, sizeof rc_puback},
    {PUBREL, rc_pubrel, sizeof rc_pubrel},
    {PUBCOMP, rc_pubrel, sizeof rc_pubrel},
    {SUBACK, rc_suback, sizeof rc_suback},
    {UNSUBACK, rc_unsuback, sizeof rc_unsuback},
    {DISCONNECT, rc_disconnect, sizeof rc_disconnect},
    {AUTH, rc_auth, sizeof rc_auth},
};

static bool spec_rc_allowed(int type, unsigned rc)
{
    for (size_t i = 0; i < sizeof rc_tables / sizeof rc_tables[0]; i++) {
        if (rc_tables[i].type == type) {
            return memchr(rc_tables[i].codes, (int)rc, rc_tables[i].n) != NULL;
        }
    }
    return false;
}

/* ---- building and decoding bytes ---- */

struct buf {
    uint8_t b[2048];
    size_t n;
};

static void put_bytes(struct buf *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof b->b);
    if (n > 0) {
        memcpy(b->b + b->n, p, n);
    }
    b->n += n;
}

static void put_u8(struct buf *b, unsigned v)
{
    uint8_t c = (uint8_t)v;
    put_bytes(b, &c, 1);
}

static void put_hex(struct buf *b, const char *hex)
{
    size_t n;
    uint8_t *t = tu_hex(hex, &n);
    put_bytes(b, t, n);
    free(t);
}

/* A Variable Byte Integer, written here independently of the library. */
static void put_vbi(struct buf *b, size_t v)
{
    do {
        unsigned digit = (unsigned)(v % 128);
        v /= 128;
        put_u8(b, v > 0 ? digit | 128u : digit);
    } while (v > 0);
}

static void put_str(struct buf *b, const void *s, size_t n)
{
    put_u8(b, (unsigned)(n >> 8));
    put_u8(b, (unsigned)(n & 255));
    put_bytes(b, s, n);
}

/* The input of the last decode, kept so that the views stay valid. */
static uint8_t *held;
static size_t held_len;

static ptrdiff_t decode_bytes(const uint8_t *bytes, size_t n, const mqttproto_codec_options *o,
                              mqttproto_packet *out)
{
    if (held != NULL) {
        tu_guard_free(held, held_len);
    }
    held = tu_guard_copy(bytes, n);
    held_len = n;
    return mqttproto_decode(held, n, o, out);
}

static ptrdiff_t decode_hex(const char *hex, const mqttproto_codec_options *o,
                            mqttproto_packet *out)
{
    if (o == NULL) {
        return tu_decode_hex(hex, out);
    }
    size_t n;
    uint8_t *b = tu_hex(hex, &n);
    ptrdiff_t r = decode_bytes(b, n, o, out);
    free(b);
    return r;
}

/* Frame a body with its fixed header and decode it. */
static ptrdiff_t decode_frame(unsigned first, const struct buf *body,
                              const mqttproto_codec_options *o, mqttproto_packet *out)
{
    static struct buf frame;
    frame.n = 0;
    put_u8(&frame, first);
    put_vbi(&frame, body->n);
    put_bytes(&frame, body->b, body->n);
    return decode_bytes(frame.b, frame.n, o, out);
}

static size_t hex_len(const char *hex)
{
    size_t digits = 0;
    for (const char *p = hex; *p != '\0'; p++) {
        digits += *p != ' ' ? 1u : 0u;
    }
    return digits / 2;
}

static void expect_result(int line, const char *what, ptrdiff_t r, ptrdiff_t want, int rc)
{
    if (r != want) {
        fail_msg("line %d, %s: got %s (%td), expected %s (%td)", line, what,
                 mqttproto_err_name((int)r), r, mqttproto_err_name((int)want), want);
    }
    if (want < 0 && mqttproto_err_reason_code((int)r) != rc) {
        fail_msg("line %d, %s: %s gives reason code 0x%02X, expected 0x%02X", line, what,
                 mqttproto_err_name((int)r), mqttproto_err_reason_code((int)r), (unsigned)rc);
    }
}

/* Decode hand-written hex; expect error err mapped to reason code rc. */
#define REJECT(hex, err, rc) expect_result(__LINE__, hex, decode_hex(hex, NULL, &pkt), err, rc)
#define REJECT_OPTS(hex, opts, err, rc)                                                            \
    expect_result(__LINE__, hex, decode_hex(hex, opts, &pkt), err, rc)
/* Decode hand-written hex; expect the whole packet to be accepted. */
#define ACCEPT(hex)                                                                                \
    expect_result(__LINE__, hex, decode_hex(hex, NULL, &pkt), (ptrdiff_t)hex_len(hex), 0)
#define ACCEPT_OPTS(hex, opts)                                                                     \
    expect_result(__LINE__, hex, decode_hex(hex, opts, &pkt), (ptrdiff_t)hex_len(hex), 0)

/* Where a property block sits in each packet (and in a will). */
struct site {
    int ctx;
    unsigned first;
    const char *before;
    const char *after;
};

static const struct site sites[] = {
    {CONNECT, 0x10, "0004 4D515454 05 02 003C", "0001 63"},
    {WILL, 0x10, "0004 4D515454 05 06 003C 00 0001 63", "0001 74 0000"},
    {CONNACK, 0x20, "00 00", ""},
    {PUBLISH, 0x32, "0001 74 0001", "70"},
    {PUBACK, 0x40, "0001 00", ""},
    {PUBREC, 0x50, "0001 00", ""},
    {PUBREL, 0x62, "0001 00", ""},
    {PUBCOMP, 0x70, "0001 00", ""},
    {SUBSCRIBE, 0x82, "0001", "0001 74 00"},
    {SUBACK, 0x90, "0001", "00"},
    {UNSUBSCRIBE, 0xA2, "0001", "0001 74"},
    {UNSUBACK, 0xB0, "0001", "00"},
    {DISCONNECT, 0xE0, "00", ""},
    {AUTH, 0xF0, "00", ""},
};
#define N_SITES (sizeof sites / sizeof sites[0])

static const struct site *site_of(int ctx)
{
    for (size_t i = 0; i < N_SITES; i++) {
        if (sites[i].ctx == ctx) {
            return &sites[i];
        }
    }
    fail_msg("no site for context %d", ctx);
    return &sites[0];
}

static ptrdiff_t decode_props(int ctx, const struct buf *props, const mqttproto_codec_options *o,
                              mqttproto_packet *out)
{
    const struct site *s = site_of(ctx);
    struct buf body = {.n = 0};
    put_hex(&body, s->before);
    put_vbi(&body, props->n);
    put_bytes(&body, props->b, props->n);
    put_hex(&body, s->after);
    return decode_frame(s->first, &body, o, out);
}

static ptrdiff_t decode_props_hex(int ctx, const char *hex, mqttproto_packet *out)
{
    struct buf props = {.n = 0};
    put_hex(&props, hex);
    return decode_props(ctx, &props, NULL, out);
}

static const mqttproto_properties *props_of(const mqttproto_packet *p, int ctx)
{
    switch (ctx) {
    case CONNECT:
        return &p->connect.properties;
    case WILL:
        return &p->connect.will.properties;
    case CONNACK:
        return &p->connack.properties;
    case PUBLISH:
        return &p->publish.properties;
    case SUBSCRIBE:
        return &p->subscribe.properties;
    case UNSUBSCRIBE:
        return &p->unsubscribe.properties;
    case SUBACK:
    case UNSUBACK:
        return &p->suback.properties;
    case DISCONNECT:
    case AUTH:
        return &p->disconnect.properties;
    default:
        return &p->puback.properties;
    }
}

#define PROPS_AT(ctx, hex, err, rc)                                                                \
    expect_result(__LINE__, hex, decode_props_hex(ctx, hex, &pkt), err, rc)

/* ==== fixed header ==== */

static void test_reserved_packet_type(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    char hex[16];
    for (unsigned flags = 0; flags < 16; flags++) {
        snprintf(hex, sizeof hex, "0%X 00", flags);
        REJECT(hex, MQTTPROTO_ERR_RESERVED_PACKET_TYPE, 0x81);
    }
    REJECT("00", MQTTPROTO_ERR_RESERVED_PACKET_TYPE, 0x81); /* known from the first byte */
}

static void test_fixed_header_flags_every_type(void **state)
{
    (void)state;
    /* A valid packet of each type, without its first byte. */
    static const struct {
        unsigned type;
        unsigned flags;
        const char *rest;
    } cases[] = {
        {1, 0, "0D 0004 4D515454 05 02 003C 00 0000"},
        {2, 0, "03 00 00 00"},
        {4, 0, "02 0001"},
        {5, 0, "02 0001"},
        {6, 2, "02 0001"},
        {7, 0, "02 0001"},
        {8, 2, "07 0001 00 0001 74 00"},
        {9, 0, "04 0001 00 00"},
        {10, 2, "06 0001 00 0001 74"},
        {11, 0, "04 0001 00 00"},
        {12, 0, "00"},
        {13, 0, "00"},
        {14, 0, "00"},
        {15, 0, "00"},
    };
    mqttproto_packet pkt;
    char hex[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (unsigned flags = 0; flags < 16; flags++) {
            snprintf(hex, sizeof hex, "%X%X %s", cases[i].type, flags, cases[i].rest);
            if (flags == cases[i].flags) {
                ACCEPT(hex);
                assert_int_equal(pkt.type, cases[i].type);
            } else {
                /* [MQTT-2.1.3-1] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]
                   [MQTT-3.14.1-1] [MQTT-3.15.1-1] */
                REJECT(hex, MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS, 0x81);
                size_t n;
                uint8_t *b = tu_hex(hex, &n);
                assert_int_equal(mqttproto_frame_size(b, n, NULL, NULL),
                                 MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS);
                free(b);
            }
        }
    }
}

static void test_wrong_flags_on_subscribe_pubrel_connect(void **state)
{
    (void)state;
    /* Hardening case 23, the bytes a fuzzer or a broken peer would send. */
    mqttproto_packet pkt;
    REJECT("80 07 0001 00 0001 74 00", MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS,
           0x81);                                                     /* [MQTT-3.8.1-1] */
    REJECT("60 02 0001", MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS, 0x81); /* [MQTT-3.6.1-1] */
    REJECT("12 0D 0004 4D515454 05 02 003C 00 0000", MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS,
           0x81);                                                 /* [MQTT-2.1.3-1] */
    REJECT("36 06 0001 74 0001 00", MQTTPROTO_ERR_BAD_QOS, 0x81); /* [MQTT-3.3.1-4] */
}

static void test_publish_flags_every_value(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    char hex[48];
    for (unsigned flags = 0; flags < 16; flags++) {
        unsigned qos = (flags >> 1) & 3u;
        snprintf(hex, sizeof hex, "3%X %s", flags,
                 qos == 0 ? "04 0001 74 00" : "06 0001 74 0009 00");
        if (qos == 3) {
            REJECT(hex, MQTTPROTO_ERR_BAD_QOS, 0x81); /* [MQTT-3.3.1-4] */
        } else if (qos == 0 && (flags & 8u) != 0) {
            REJECT(hex, MQTTPROTO_ERR_DUP_ON_QOS0, 0x81); /* [MQTT-3.3.1-2] */
        } else {
            ACCEPT(hex);
            assert_int_equal(pkt.publish.qos, qos);
            assert_int_equal(pkt.publish.dup, (flags & 8u) != 0);
            assert_int_equal(pkt.publish.retain, (flags & 1u) != 0);
            assert_int_equal(pkt.publish.packet_id, qos == 0 ? 0 : 9);
        }
    }
}

/* ==== remaining length and size ==== */

static void test_remaining_length_malformed(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* The input ends after the fourth continuation byte: a fifth is never
       read, or the guard page would fault [MQTT-1.5.5-1]. Hardening case 2. */
    REJECT("10 FF FF FF FF", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0x81);
    REJECT("10 FF FF FF FF 01", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0x81);
    REJECT("30 80 80 80 80", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0x81);
    size_t n;
    uint8_t *b = tu_hex("10 FF FF FF FF", &n);
    uint8_t *g = tu_guard_copy(b, n);
    assert_int_equal(mqttproto_frame_size(g, n, NULL, NULL),
                     MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER);
    tu_guard_free(g, n);
    free(b);
}

static void test_remaining_length_non_minimal(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* [MQTT-1.5.5-1] Hardening case 4. */
    REJECT("30 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
    REJECT("C0 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
    REJECT("E0 FF 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
    REJECT("30 80 80 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
    /* The smallest two-byte length is fine. */
    REJECT("30 80 01", 0, 0);
}

static void test_incomplete_input_needs_more(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 3: a length cut after its first byte. */
    REJECT("70 80", 0, 0);
    REJECT("70", 0, 0);
    REJECT("", 0, 0);
    REJECT("30 05 0001 74", 0, 0);
    /* The same packet given whole: PUBCOMP, remaining length 128, with a
       Reason String of 121 bytes. */
    struct buf body = {.n = 0};
    put_hex(&body, "0001 00 7C 1F 0079");
    for (int i = 0; i < 121; i++) {
        put_u8(&body, 'r');
    }
    assert_int_equal(body.n, 128);
    assert_int_equal(decode_frame(0x70, &body, NULL, &pkt), 131);
    assert_int_equal(pkt.pubcomp.properties.reason_string.len, 121);
    size_t n;
    uint8_t *b = tu_hex("70 80", &n);
    assert_int_equal(mqttproto_frame_size(b, n, NULL, NULL), 0);
    free(b);
    b = tu_hex("70 80 01", &n);
    mqttproto_packet_type type;
    assert_int_equal(mqttproto_frame_size(b, n, NULL, &type), 131);
    assert_int_equal(type, MQTTPROTO_PACKET_PUBCOMP);
    free(b);
}

static void test_packet_too_large_from_header(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.maximum_packet_size = 1024 * 1024;
    /* Hardening case 1: only the five header bytes are there. */
    REJECT_OPTS("30 FF FF FF 7F", &o, MQTTPROTO_ERR_PACKET_TOO_LARGE, 0x95);
    REJECT_OPTS("30 80 80 40", &o, MQTTPROTO_ERR_PACKET_TOO_LARGE, 0x95);
    size_t n;
    uint8_t *b = tu_hex("30 FF FF FF 7F", &n);
    assert_int_equal(mqttproto_frame_size(b, n, &o, NULL), MQTTPROTO_ERR_PACKET_TOO_LARGE);
    free(b);
    /* Without a limit the same header just asks for the body. */
    REJECT("30 FF FF FF 7F", 0, 0);
}

static void test_packet_too_large_boundary(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    const char *ten = "30 08 0001 74 00 61626364"; /* 10 bytes in all */
    o.maximum_packet_size = 10;
    ACCEPT_OPTS(ten, &o);
    o.maximum_packet_size = 9;
    REJECT_OPTS(ten, &o, MQTTPROTO_ERR_PACKET_TOO_LARGE, 0x95);
    REJECT_OPTS("30 08", &o, MQTTPROTO_ERR_PACKET_TOO_LARGE, 0x95);

    /* With a two-byte length: 1 + 2 + 197 = 200 bytes. */
    struct buf body = {.n = 0};
    put_hex(&body, "0001 74 00");
    while (body.n < 197) {
        put_u8(&body, 'p');
    }
    o.maximum_packet_size = 200;
    assert_int_equal(decode_frame(0x30, &body, &o, &pkt), 200);
    put_u8(&body, 'p');
    expect_result(__LINE__, "201 bytes", decode_frame(0x30, &body, &o, &pkt),
                  MQTTPROTO_ERR_PACKET_TOO_LARGE, 0x95);
}

/* ==== truncation and leftovers ==== */

static void test_truncated_fields(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    static const char *const vectors[] = {
        "10 04 0004 4D51",                           /* protocol name cut */
        "10 06 0004 4D515454",                       /* no version */
        "10 07 0004 4D515454 05",                    /* no flags */
        "10 09 0004 4D515454 05 02 00",              /* keep alive cut */
        "10 0A 0004 4D515454 05 02 003C",            /* no properties */
        "10 0B 0004 4D515454 05 02 003C 00",         /* no client id [MQTT-3.1.3-3] */
        "10 0E 0004 4D515454 05 02 003C 00 0005 61", /* client id cut */
        "20 01 00",                                  /* CONNACK without reason code */
        "20 02 00 00",                               /* CONNACK without properties */
        "30 01 00",                                  /* topic length cut */
        "30 03 0001 74",                             /* no property length */
        "32 05 0002 6162 00",                        /* packet id cut */
        "40 01 00",                                  /* PUBACK packet id cut */
        "82 02 0001",                                /* SUBSCRIBE without properties */
        "82 05 0001 00 0005",                        /* filter cut */
        "90 02 0001",                                /* SUBACK without properties */
        "A2 05 0001 00 0005",                        /* UNSUBSCRIBE filter cut */
        "E0 02 00 80",                               /* property length cut */
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        REJECT(vectors[i], MQTTPROTO_ERR_TRUNCATED, 0x81);
    }
}

static void test_trailing_bytes(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    static const char *const vectors[] = {
        "C0 01 00",
        "D0 02 0000",
        "20 04 00 00 00 00",
        "40 05 0001 00 00 FF",
        "62 05 0001 00 00 FF",
        "E0 03 00 00 FF",
        "F0 03 00 00 FF",
        "10 0E 0004 4D515454 05 02 003C 00 0000 FF",
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        REJECT(vectors[i], MQTTPROTO_ERR_TRAILING_BYTES, 0x81);
    }
}

/* ==== UTF-8 strings in every string field ==== */

/* Every UTF-8 string field: in the body of a packet (ctx 0) or in a property
   block of context ctx, between before and after. */
static const struct {
    const char *name;
    int ctx;
    unsigned first;
    const char *before;
    const char *after;
} slots[] = {
    {"topic", 0, 0x30, "", "00"},
    {"client id", 0, 0x10, "0004 4D515454 05 02 003C 00", ""},
    {"user name", 0, 0x10, "0004 4D515454 05 82 003C 00 0001 63", ""},
    {"will topic", 0, 0x10, "0004 4D515454 05 06 003C 00 0001 63 00", "0000"},
    {"subscribe filter", 0, 0x82, "0001 00", "00"},
    {"unsubscribe filter", 0, 0xA2, "0001 00", ""},
    {"content type", PUBLISH, 0, "03", ""},
    {"response topic", PUBLISH, 0, "08", ""},
    {"will content type", WILL, 0, "03", ""},
    {"assigned client id", CONNACK, 0, "12", ""},
    {"authentication method", AUTH, 0, "15", ""},
    {"response information", CONNACK, 0, "1A", ""},
    {"server reference", DISCONNECT, 0, "1C", ""},
    {"reason string", PUBACK, 0, "1F", ""},
    {"user property name", PUBLISH, 0, "26", "0001 76"},
    {"user property value", CONNECT, 0, "26 0001 6E", ""},
};
#define N_SLOTS (sizeof slots / sizeof slots[0])

static ptrdiff_t decode_string_in(size_t slot, const char *s, size_t n, mqttproto_packet *out)
{
    struct buf b = {.n = 0};
    put_hex(&b, slots[slot].before);
    put_str(&b, s, n);
    put_hex(&b, slots[slot].after);
    if (slots[slot].ctx == 0) {
        return decode_frame(slots[slot].first, &b, NULL, out);
    }
    return decode_props(slots[slot].ctx, &b, NULL, out);
}

static const struct {
    const char *bytes;
    size_t len;
} ill_formed[] = {
    {"\xC0\xAF", 2},         /* overlong '/' */
    {"a\xE0\x80\xAF", 4},    /* overlong, 3 bytes */
    {"\xF0\x80\x80\xAF", 4}, /* overlong, 4 bytes */
    {"\xED\xA0\x80", 3},     /* high surrogate */
    {"x/\xED\xBF\xBF", 5},   /* low surrogate */
    {"\xF4\x90\x80\x80", 4}, /* past U+10FFFF */
    {"\xFF", 1},
    {"a\x80", 2},        /* lone continuation */
    {"abcdefgh\xC3", 9}, /* cut at the end */
};

static void test_utf8_ill_formed_in_every_string(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    for (size_t slot = 0; slot < N_SLOTS; slot++) {
        for (size_t i = 0; i < sizeof ill_formed / sizeof ill_formed[0]; i++) {
            ptrdiff_t r = decode_string_in(slot, ill_formed[i].bytes, ill_formed[i].len, &pkt);
            /* [MQTT-1.5.4-1] [MQTT-3.3.2-1] [MQTT-3.1.3-4] [MQTT-3.1.3-11]
               [MQTT-3.1.3-12] [MQTT-3.8.3-1] [MQTT-3.10.3-1] [MQTT-3.3.2-13]
               [MQTT-3.3.2-19] [MQTT-1.5.7-1] */
            expect_result(__LINE__, slots[slot].name, r, MQTTPROTO_ERR_INVALID_UTF8, 0x81);
        }
        /* The control: plain ASCII in the same field is accepted. */
        assert_true(decode_string_in(slot, "ok", 2, &pkt) > 0);
    }
}

static void test_utf8_null_in_every_string(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    static const struct {
        const char *bytes;
        size_t len;
    } with_null[] = {{"\0", 1}, {"a\0b", 3}, {"abcdefg\0", 8}, {"\xC3\xA9\0", 3}};
    for (size_t slot = 0; slot < N_SLOTS; slot++) {
        for (size_t i = 0; i < sizeof with_null / sizeof with_null[0]; i++) {
            ptrdiff_t r = decode_string_in(slot, with_null[i].bytes, with_null[i].len, &pkt);
            /* [MQTT-1.5.4-2] [MQTT-4.7.3-2] */
            expect_result(__LINE__, slots[slot].name, r, MQTTPROTO_ERR_UTF8_NULL_CHARACTER, 0x81);
        }
    }
}

static void test_utf8_bom_kept(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* [MQTT-1.5.4-3] U+FEFF stays in the string. */
    ACCEPT("30 08 0004 EFBBBF 61 00 70");
    assert_int_equal(pkt.publish.topic.len, 4);
    assert_memory_equal(pkt.publish.topic.data,
                        "\xEF\xBB\xBF"
                        "a",
                        4);
    ACCEPT("10 10 0004 4D515454 05 02 003C 00 0003 EFBBBF");
    assert_int_equal(pkt.connect.client_id.len, 3);
    assert_memory_equal(pkt.connect.client_id.data, "\xEF\xBB\xBF", 3);
}

static void test_binary_fields_accept_any_bytes(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 8: the bytes refused in strings are fine as a password. */
    ACCEPT("10 16 0004 4D515454 05 42 003C 00 0001 63 0006 C0AF EDA080 00");
    assert_true(pkt.connect.has_password);
    assert_int_equal(pkt.connect.password.len, 6);
    assert_memory_equal(pkt.connect.password.data, "\xC0\xAF\xED\xA0\x80\x00", 6);
    /* Will payload, Correlation Data, Authentication Data, PUBLISH payload. */
    ACCEPT("10 17 0004 4D515454 05 06 003C 00 0001 63 00 0001 74 0003 00FFC0");
    assert_int_equal(pkt.connect.will.payload.len, 3);
    ACCEPT("30 0C 0001 74 05 09 0002 00FF C0 AF 00");
    assert_int_equal(pkt.publish.properties.correlation_data.len, 2);
    assert_int_equal(pkt.publish.payload.len, 3);
    ACCEPT("F0 09 18 07 15 0001 61 16 0000");
    ACCEPT("F0 07 18 05 16 0002 ED A0");
    assert_int_equal(pkt.auth.properties.authentication_data.len, 2);
}

/* ==== CONNECT ==== */

static void test_connect_protocol_name(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* [MQTT-3.1.2-1] */
    REJECT("10 0D 0004 4D515458 05 02 003C 00 0000", MQTTPROTO_ERR_BAD_PROTOCOL_NAME, 0x84);
    REJECT("10 0D 0004 6D717474 05 02 003C 00 0000", MQTTPROTO_ERR_BAD_PROTOCOL_NAME, 0x84);
    REJECT("10 0D 0005 4D515454 05 02 003C 00 0000", MQTTPROTO_ERR_BAD_PROTOCOL_NAME, 0x84);
    REJECT("10 0E 0006 4D5149736471 03 02 003C 0000", MQTTPROTO_ERR_BAD_PROTOCOL_NAME, 0x84);
    REJECT("10 05 0004 4D5154", MQTTPROTO_ERR_TRUNCATED, 0x81);
}

static void test_connect_protocol_version(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    char hex[64];
    /* 4 (3.1.1) is accepted: tests/test_codec_v311.c; 3 only as "MQIsdp". */
    static const unsigned versions[] = {0, 1, 2, 3, 6, 0x85, 0xFF};
    for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
        snprintf(hex, sizeof hex, "10 0D 0004 4D515454 %02X 02 003C 00 0000", versions[i]);
        REJECT(hex, MQTTPROTO_ERR_UNSUPPORTED_PROTOCOL_VERSION, 0x84); /* [MQTT-3.1.2-2] */
    }
}

static void test_connect_flags_every_value(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    for (unsigned f = 0; f < 256; f++) {
        bool will = (f & 0x04u) != 0;
        unsigned will_qos = (f >> 3) & 3u;
        bool will_retain = (f & 0x20u) != 0;
        struct buf body = {.n = 0};
        put_hex(&body, "0004 4D515454 05");
        put_u8(&body, f);
        put_hex(&body, "003C 00 0001 63");
        if (will) {
            put_hex(&body, "00 0001 74 0002 5750");
        }
        if ((f & 0x80u) != 0) {
            put_hex(&body, "0002 7531");
        }
        if ((f & 0x40u) != 0) {
            put_hex(&body, "0002 7077");
        }
        ptrdiff_t r = decode_frame(0x10, &body, NULL, &pkt);
        if ((f & 1u) != 0) {
            expect_result(__LINE__, "reserved", r, MQTTPROTO_ERR_BAD_CONNECT_FLAGS,
                          0x81); /* [MQTT-3.1.2-3] */
        } else if (!will && (will_qos != 0 || will_retain)) {
            expect_result(__LINE__, "no will", r, MQTTPROTO_ERR_BAD_CONNECT_FLAGS,
                          0x81); /* [MQTT-3.1.2-11] [MQTT-3.1.2-13] */
        } else if (will_qos == 3) {
            expect_result(__LINE__, "will QoS 3", r, MQTTPROTO_ERR_BAD_QOS,
                          0x81); /* [MQTT-3.1.2-12] */
        } else {
            /* Each flagged field read from its place [MQTT-3.1.3-1]
               [MQTT-3.1.2-9] [MQTT-3.1.2-17] [MQTT-3.1.2-19]. */
            expect_result(__LINE__, "valid flags", r, (ptrdiff_t)body.n + 2, 0);
            assert_int_equal(pkt.connect.clean_start, (f & 0x02u) != 0);
            assert_int_equal(pkt.connect.has_will, will);
            assert_int_equal(pkt.connect.has_username, (f & 0x80u) != 0);
            assert_int_equal(pkt.connect.has_password, (f & 0x40u) != 0);
            assert_memory_equal(pkt.connect.client_id.data, "c", 1);
            if (will) {
                assert_int_equal(pkt.connect.will.qos, will_qos);
                assert_int_equal(pkt.connect.will.retain, will_retain);
                assert_memory_equal(pkt.connect.will.topic.data, "t", 1);
                assert_memory_equal(pkt.connect.will.payload.data, "WP", 2);
            }
            if (pkt.connect.has_username) {
                assert_memory_equal(pkt.connect.username.data, "u1", 2);
            }
            if (pkt.connect.has_password) {
                assert_memory_equal(pkt.connect.password.data, "pw", 2);
            }
        }
    }
}

static void test_connect_flagged_fields_present(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Will flag without will fields [MQTT-3.1.2-9]. */
    REJECT("10 0E 0004 4D515454 05 06 003C 00 0001 63", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("10 12 0004 4D515454 05 06 003C 00 0001 63 00 0001 74", MQTTPROTO_ERR_TRUNCATED, 0x81);
    /* User Name flag without a User Name [MQTT-3.1.2-17]. */
    REJECT("10 0E 0004 4D515454 05 82 003C 00 0001 63", MQTTPROTO_ERR_TRUNCATED, 0x81);
    /* Password flag without a Password [MQTT-3.1.2-19]. */
    REJECT("10 0E 0004 4D515454 05 42 003C 00 0001 63", MQTTPROTO_ERR_TRUNCATED, 0x81);
    /* A User Name without its flag [MQTT-3.1.2-16]. */
    REJECT("10 11 0004 4D515454 05 02 003C 00 0001 63 0001 75", MQTTPROTO_ERR_TRAILING_BYTES, 0x81);
    /* A Password without its flag [MQTT-3.1.2-18]. */
    REJECT("10 14 0004 4D515454 05 82 003C 00 0001 63 0001 75 0001 70",
           MQTTPROTO_ERR_TRAILING_BYTES, 0x81);
}

static void test_connect_will_topic(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* The Will Topic is a topic name [MQTT-3.1.3-11] [MQTT-4.7.3-1]. */
    REJECT("10 13 0004 4D515454 05 06 003C 00 0001 63 00 0000 0000",
           MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("10 16 0004 4D515454 05 06 003C 00 0001 63 00 0003 612F23 0000",
           MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("10 14 0004 4D515454 05 06 003C 00 0001 63 00 0001 2B 0000",
           MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
}

/* ==== CONNACK ==== */

static void test_connack_flags(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    char hex[32];
    for (unsigned f = 0; f < 256; f++) {
        snprintf(hex, sizeof hex, "20 03 %02X 00 00", f);
        if (f <= 1) {
            ACCEPT(hex);
            assert_int_equal(pkt.connack.session_present, f == 1);
        } else {
            REJECT(hex, MQTTPROTO_ERR_BAD_CONNACK_FLAGS, 0x81); /* [MQTT-3.2.2-1] */
        }
    }
}

static void test_connack_session_present_on_error(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    char hex[32];
    for (size_t i = 0; i < sizeof rc_connack; i++) {
        snprintf(hex, sizeof hex, "20 03 01 %02X 00", rc_connack[i]);
        if (rc_connack[i] < 0x80) {
            ACCEPT(hex);
        } else {
            REJECT(hex, MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR, 0x82); /* [MQTT-3.2.2-6] */
        }
    }
}

/* ==== reason codes of every packet that carries one ==== */

static unsigned decoded_reason_code(const mqttproto_packet *p)
{
    switch ((int)p->type) {
    case CONNACK:
        return p->connack.reason_code;
    case SUBACK:
    case UNSUBACK:
        return p->suback.reason_codes[p->suback.reason_code_count - 1];
    case DISCONNECT:
    case AUTH:
        return p->disconnect.reason_code;
    default:
        return p->puback.reason_code;
    }
}

/* Every code 0..255 between prefix and suffix: accepted exactly per section 2.4. */
static void check_reason_codes(int type, const char *prefix, const char *suffix)
{
    mqttproto_packet pkt;
    char hex[64];
    for (unsigned rc = 0; rc < 256; rc++) {
        snprintf(hex, sizeof hex, "%s %02X %s", prefix, rc, suffix);
        if (spec_rc_allowed(type, rc)) {
            ACCEPT(hex);
            assert_int_equal(decoded_reason_code(&pkt), rc);
        } else {
            REJECT(hex, MQTTPROTO_ERR_INVALID_REASON_CODE, 0x82);
        }
    }
}

static void test_reason_codes_every_packet(void **state)
{
    (void)state;
    /* Each packet in its short and long form; SUBACK and UNSUBACK with the
       code last in a list. */
    static const struct {
        int type;
        const char *prefix;
        const char *suffix;
    } forms[] = {
        {CONNACK, "20 03 00", "00"},         /* [MQTT-3.2.2-8] */
        {PUBACK, "40 03 0001", ""},          /* [MQTT-3.4.2-1] */
        {PUBACK, "40 04 0001", "00"},        /* [MQTT-3.4.2-1] */
        {PUBREC, "50 03 0001", ""},          /* [MQTT-3.5.2-1] */
        {PUBREC, "50 04 0001", "00"},        /* [MQTT-3.5.2-1] */
        {PUBREL, "62 03 0001", ""},          /* [MQTT-3.6.2-1] */
        {PUBREL, "62 04 0001", "00"},        /* [MQTT-3.6.2-1] */
        {PUBCOMP, "70 03 0001", ""},         /* [MQTT-3.7.2-1] */
        {PUBCOMP, "70 04 0001", "00"},       /* [MQTT-3.7.2-1] */
        {SUBACK, "90 04 0001 00", ""},       /* [MQTT-3.9.3-2] */
        {SUBACK, "90 06 0001 00 01 02", ""}, /* [MQTT-3.9.3-2] */
        {UNSUBACK, "B0 04 0001 00", ""},     /* [MQTT-3.11.3-2] */
        {UNSUBACK, "B0 05 0001 00 11", ""},  /* [MQTT-3.11.3-2] */
        {DISCONNECT, "E0 01", ""},           /* [MQTT-3.14.2-1] */
        {DISCONNECT, "E0 02", "00"},         /* [MQTT-3.14.2-1] */
        {AUTH, "F0 01", ""},                 /* [MQTT-3.15.2-1] */
        {AUTH, "F0 02", "00"},               /* [MQTT-3.15.2-1] */
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        check_reason_codes(forms[i].type, forms[i].prefix, forms[i].suffix);
    }
}

static void test_empty_reason_code_list(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    REJECT("90 03 0001 00", MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST, 0x82);
    REJECT("B0 03 0001 00", MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST, 0x82);
}

/* ==== packet identifiers ==== */

static void test_zero_packet_id(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    static const char *const vectors[] = {
        "32 06 0001 74 0000 00",
        "34 06 0001 74 0000 00",
        "40 02 0000",
        "50 02 0000",
        "62 02 0000",
        "70 02 0000",
        "40 03 0000 10",
        "82 07 0000 00 0001 74 00",
        "90 04 0000 00 00",
        "A2 06 0000 00 0001 74",
        "B0 04 0000 00 00",
    };
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        REJECT(vectors[i], MQTTPROTO_ERR_ZERO_PACKET_ID, 0x82); /* [MQTT-2.2.1-3] */
    }
}

/* ==== PUBLISH ==== */

static void test_publish_qos0_has_no_packet_id(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* The two bytes after the properties are payload [MQTT-2.2.1-2]. */
    ACCEPT("30 06 0001 74 00 0001");
    assert_int_equal(pkt.publish.packet_id, 0);
    assert_int_equal(pkt.publish.payload.len, 2);
    assert_memory_equal(pkt.publish.payload.data, "\x00\x01", 2);
}

static void test_publish_topic_wildcards(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
    REJECT("30 04 0001 2B 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("30 04 0001 23 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("30 06 0003 612F2B 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("30 06 0003 612F23 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("30 05 0002 612B 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    REJECT("32 13 000E 73706F72742F74656E6E69732F23 0001 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID,
           0x82);
}

static void test_publish_empty_topic_without_alias(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 7 [MQTT-4.7.3-1]. */
    REJECT("30 03 0000 00", MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS, 0x82);
    REJECT("32 07 0000 0001 02 0100", MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS, 0x82);
    ACCEPT("30 06 0000 03 230005");
    assert_int_equal(pkt.publish.topic.len, 0);
    assert_int_equal(pkt.publish.properties.topic_alias, 5);
}

static void test_publish_topic_alias_zero(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    REJECT("30 06 0000 03 230000", MQTTPROTO_ERR_TOPIC_ALIAS_INVALID, 0x94); /* [MQTT-3.3.2-8] */
    REJECT("30 07 0001 74 03 230000", MQTTPROTO_ERR_TOPIC_ALIAS_INVALID, 0x94);
}

static void test_publish_response_topic_wildcards(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* [MQTT-3.3.2-14] */
    PROPS_AT(PUBLISH, "08 0003 612F2B", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    PROPS_AT(PUBLISH, "08 0001 23", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    PROPS_AT(WILL, "08 0002 2F23", MQTTPROTO_ERR_TOPIC_NAME_INVALID, 0x82);
    assert_true(decode_props_hex(PUBLISH, "08 0003 612F62", &pkt) > 0);
}

static void test_publish_too_short_for_packet_id(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 5. */
    REJECT("32 04 0002 6162", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("34 05 0002 6162 01", MQTTPROTO_ERR_TRUNCATED, 0x81);
}

static void test_publish_topic_length_past_end(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 6: no length arithmetic may wrap. */
    REJECT("30 03 0005 61", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("30 02 FFFF", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("32 05 0004 616263", MQTTPROTO_ERR_TRUNCATED, 0x81);
}

/* ==== SUBSCRIBE and UNSUBSCRIBE ==== */

static void test_subscribe_empty(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    REJECT("82 03 0001 00", MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST, 0x82); /* [MQTT-3.8.3-2] */
    REJECT("82 05 0001 02 0B01", MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST, 0x82);
}

static void test_unsubscribe_empty(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    REJECT("A2 03 0001 00", MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST, 0x82); /* [MQTT-3.10.3-2] */
}

static void test_subscribe_options_missing(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 21: a filter without its options byte. */
    REJECT("82 06 0001 00 0001 74", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("82 0A 0001 00 0001 74 00 0001 75", MQTTPROTO_ERR_TRUNCATED, 0x81);
}

static void test_subscribe_options_every_value(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    char hex[48];
    for (unsigned o = 0; o < 256; o++) {
        snprintf(hex, sizeof hex, "82 07 0001 00 0001 74 %02X", o);
        if ((o & 0xC0u) != 0) {
            REJECT(hex, MQTTPROTO_ERR_BAD_SUBSCRIPTION_OPTIONS, 0x81); /* [MQTT-3.8.3-5] */
        } else if ((o & 3u) == 3) {
            REJECT(hex, MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID, 0x82);
        } else if (((o >> 4) & 3u) == 3) {
            REJECT(hex, MQTTPROTO_ERR_BAD_RETAIN_HANDLING, 0x82);
        } else {
            ACCEPT(hex);
            size_t cursor = 0;
            mqttproto_subscription s;
            assert_true(mqttproto_subscriptions_next(&pkt.subscribe.subscriptions, &cursor, &s));
            assert_int_equal(s.max_qos, o & 3u);
            assert_int_equal(s.no_local, (o & 4u) != 0);
            assert_int_equal(s.retain_as_published, (o & 8u) != 0);
            assert_int_equal(s.retain_handling, (o >> 4) & 3u);
            assert_false(mqttproto_subscriptions_next(&pkt.subscribe.subscriptions, &cursor, &s));
        }
    }
}

static const char *const bad_filters[] = {
    "$share/ab", "$share//t", "$share/a+/t", "$share/a/", "foo/+bar", "#/bar",
    "",          "a/#/b",     "a#",          "+a",        "a/b#",     "sport+",
    "++",        "##",        "$share/a#/t", "$share/",   "$share/g",
};

static const char *const good_filters[] = {
    "#", "+", "a/+/b", "+/+", "/", "a//b", "$SYS/#", "$share/g/a/#", "$share/g/+", "$share/g//",
};

/* SUBSCRIBE (0x82, with an options byte) or UNSUBSCRIBE (0xA2) of filters. */
static ptrdiff_t decode_filters(unsigned first, const char *f1, const char *f2,
                                mqttproto_packet *out)
{
    struct buf body = {.n = 0};
    put_hex(&body, "0001 00");
    const char *filters[2] = {f1, f2};
    for (size_t i = 0; i < 2 && filters[i] != NULL; i++) {
        put_str(&body, filters[i], strlen(filters[i]));
        if (first == 0x82) {
            put_u8(&body, 0x01);
        }
    }
    return decode_frame(first, &body, NULL, out);
}

static void test_filters_invalid(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    static const unsigned firsts[] = {0x82, 0xA2};
    for (size_t k = 0; k < 2; k++) {
        for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
            const char *f = bad_filters[i];
            /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.8.2-1] [MQTT-4.8.2-2] [MQTT-4.7.3-1] */
            expect_result(__LINE__, f, decode_filters(firsts[k], f, NULL, &pkt),
                          MQTTPROTO_ERR_TOPIC_FILTER_INVALID, 0x8F);
            /* A valid entry before it does not hide it. */
            expect_result(__LINE__, f, decode_filters(firsts[k], "t", f, &pkt),
                          MQTTPROTO_ERR_TOPIC_FILTER_INVALID, 0x8F);
        }
        for (size_t i = 0; i < sizeof good_filters / sizeof good_filters[0]; i++) {
            const char *f = good_filters[i];
            expect_result(__LINE__, f, decode_filters(firsts[k], f, "t", &pkt),
                          (ptrdiff_t)(7 + strlen(f) + (firsts[k] == 0x82 ? 2 : 0) + 3), 0);
        }
    }
}

static void test_subscribe_no_local_on_shared(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* "$share/g/t" with No Local [MQTT-3.8.3-4]. */
    REJECT("82 10 0001 00 000A 2473686172652F672F74 04", MQTTPROTO_ERR_NO_LOCAL_ON_SHARED, 0x82);
    REJECT("82 14 0001 00 0001 74 04 000A 2473686172652F672F74 05",
           MQTTPROTO_ERR_NO_LOCAL_ON_SHARED, 0x82);
    ACCEPT("82 10 0001 00 000A 2473686172652F672F74 01");
    ACCEPT("82 07 0001 00 0001 74 04");
    /* Not a shared filter: "$sharex/g/t". */
    ACCEPT("82 11 0001 00 000B 247368617265782F672F74 04");
}

/* ==== properties ==== */

static void test_property_ids_every_context(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    for (size_t s = 0; s < N_SITES; s++) {
        int ctx = sites[s].ctx;
        for (int id = 0; id < 128; id++) {
            int i = spec_prop_index(id);
            struct buf props = {.n = 0};
            put_u8(&props, (unsigned)id);
            put_hex(&props, i >= 0 ? sample_value(spec_props[i].type) : "00");
            ptrdiff_t r = decode_props(ctx, &props, NULL, &pkt);
            char what[48];
            snprintf(what, sizeof what, "property 0x%02X in context %d", (unsigned)id, ctx);
            if (spec_prop_allowed(id, ctx)) {
                if (r <= 0) {
                    fail_msg("%s: %s", what, mqttproto_err_name((int)r));
                }
                assert_true(mqttproto_properties_has(props_of(&pkt, ctx), id));
            } else if (i >= 0) {
                expect_result(__LINE__, what, r, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED, 0x81);
            } else {
                expect_result(__LINE__, what, r, MQTTPROTO_ERR_UNKNOWN_PROPERTY, 0x81);
            }
        }
        /* An identifier encoded on two bytes is none of the defined ones. */
        expect_result(__LINE__, "id 0x80 0x01", decode_props_hex(ctx, "8001 00", &pkt),
                      MQTTPROTO_ERR_UNKNOWN_PROPERTY, 0x81);
    }
}

static void test_property_not_allowed_named_cases(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Hardening case 12. */
    PROPS_AT(PUBLISH, "11 00000001", MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED, 0x81);
    PROPS_AT(WILL, "23 0001", MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED, 0x81);
    PROPS_AT(CONNECT, "18 00000001", MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED, 0x81);
    PROPS_AT(PUBLISH, "00", MQTTPROTO_ERR_UNKNOWN_PROPERTY, 0x81);
    PROPS_AT(DISCONNECT, "7F 00", MQTTPROTO_ERR_UNKNOWN_PROPERTY, 0x81);
}

static void test_property_duplicates(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    for (size_t i = 0; i < N_SPEC_PROPS; i++) {
        int id = spec_props[i].id;
        if (id == MQTTPROTO_PROP_USER_PROPERTY) {
            continue;
        }
        /* Subscription Identifier may repeat in a PUBLISH only. */
        int ctx = id == MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER ? SUBSCRIBE : -1;
        for (int c = 1; ctx < 0 && c <= WILL; c++) {
            if ((spec_props[i].contexts & C(c)) != 0) {
                ctx = c;
            }
        }
        struct buf props = {.n = 0};
        for (int k = 0; k < 2; k++) {
            put_u8(&props, (unsigned)id);
            put_hex(&props, sample_value(spec_props[i].type));
        }
        char what[48];
        snprintf(what, sizeof what, "property 0x%02X twice", (unsigned)id);
        expect_result(__LINE__, what, decode_props(ctx, &props, NULL, &pkt),
                      MQTTPROTO_ERR_DUPLICATE_PROPERTY, 0x82);
    }
    /* Hardening case 13, by name. */
    PROPS_AT(PUBLISH, "23 0001 23 0002", MQTTPROTO_ERR_DUPLICATE_PROPERTY, 0x82);
    PROPS_AT(CONNECT, "21 0010 21 0010", MQTTPROTO_ERR_DUPLICATE_PROPERTY, 0x82);
    PROPS_AT(PUBLISH, "02 00000001 26 0000 0000 02 00000002", MQTTPROTO_ERR_DUPLICATE_PROPERTY,
             0x82);
}

static void test_user_property_repeats_everywhere(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    for (size_t s = 0; s < N_SITES; s++) {
        int ctx = sites[s].ctx;
        assert_true(
            decode_props_hex(ctx, "26 0001 61 0001 31 26 0001 61 0001 32 26 0000 0000", &pkt) > 0);
        const mqttproto_properties *p = props_of(&pkt, ctx);
        assert_int_equal(p->user_property_count, 3);
        size_t cursor = 0;
        mqttproto_user_property up;
        static const char values[] = {'1', '2'};
        for (size_t k = 0; k < 2; k++) {
            assert_true(mqttproto_user_properties_next(p, &cursor, &up));
            assert_memory_equal(up.name.data, "a", 1);
            assert_int_equal(up.value.data[0], values[k]);
        }
        assert_true(mqttproto_user_properties_next(p, &cursor, &up));
        assert_int_equal(up.name.len + up.value.len, 0);
        assert_false(mqttproto_user_properties_next(p, &cursor, &up));
    }
}

static void test_subscription_identifier_repeat(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    assert_true(decode_props_hex(PUBLISH, "0B 01 0B 02 0B FFFFFF7F", &pkt) > 0);
    assert_int_equal(pkt.publish.properties.subscription_identifier_count, 3);
    assert_int_equal(pkt.publish.properties.subscription_identifier, 1);
    PROPS_AT(SUBSCRIBE, "0B 01 0B 02", MQTTPROTO_ERR_DUPLICATE_PROPERTY, 0x82);
}

static void test_property_invalid_values(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    const int bad = MQTTPROTO_ERR_INVALID_PROPERTY_VALUE;
    static const struct {
        int ctx;
        const char *props;
    } byte_flags[] = {
        {PUBLISH, "01"}, {WILL, "01"},    {CONNECT, "17"}, {CONNECT, "19"}, {CONNACK, "24"},
        {CONNACK, "25"}, {CONNACK, "28"}, {CONNACK, "29"}, {CONNACK, "2A"},
    };
    char hex[16];
    for (size_t i = 0; i < sizeof byte_flags / sizeof byte_flags[0]; i++) {
        for (unsigned v = 0; v < 256; v++) {
            snprintf(hex, sizeof hex, "%s %02X", byte_flags[i].props, v);
            ptrdiff_t r = decode_props_hex(byte_flags[i].ctx, hex, &pkt);
            if (v <= 1) {
                assert_true(r > 0);
            } else {
                expect_result(__LINE__, hex, r, bad, 0x82);
            }
        }
    }
    PROPS_AT(CONNECT, "21 0000", bad, 0x82); /* Receive Maximum 0 */
    PROPS_AT(CONNACK, "21 0000", bad, 0x82);
    PROPS_AT(CONNECT, "27 00000000", bad, 0x82); /* Maximum Packet Size 0 */
    PROPS_AT(CONNACK, "27 00000000", bad, 0x82);
    PROPS_AT(PUBLISH, "0B 00", bad, 0x82); /* Subscription Identifier 0 */
    PROPS_AT(SUBSCRIBE, "0B 00", bad, 0x82);
    PROPS_AT(PUBLISH, "23 0000", MQTTPROTO_ERR_TOPIC_ALIAS_INVALID, 0x94); /* [MQTT-3.3.2-8] */
    PROPS_AT(PUBLISH, "0B 8000", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
    PROPS_AT(SUBSCRIBE, "0B FFFFFFFF", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0x81);
    /* The edges that are fine. */
    assert_true(decode_props_hex(CONNECT, "21 0001 27 00000001 22 0000", &pkt) > 0);
    assert_true(decode_props_hex(CONNACK, "21 FFFF 27 FFFFFFFF 13 0000", &pkt) > 0);
    assert_true(decode_props_hex(SUBSCRIBE, "0B FFFFFF7F", &pkt) > 0);
    assert_int_equal(pkt.subscribe.properties.subscription_identifier, 268435455);
    assert_true(decode_props_hex(PUBLISH, "23 FFFF 02 FFFFFFFF", &pkt) > 0);
}

static void test_property_truncated_in_block(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Each block ends inside its last property, and payload bytes follow it,
       so a check against the packet's end instead of the block's would pass.
       Hardening cases 10 and 11. */
    static const char *const blocks[] = {
        "26 0001 61 0005 62", /* the value runs past the block */
        "26 0001 61 00",
        "26 0001 61",
        "26 0003 61",
        "02 0000", /* four-byte integer cut */
        "23 00",
        "01",
        "03 0005 6162",
        "03 00",
        "09 0004 FF",
        "0B 80",
    };
    for (size_t i = 0; i < sizeof blocks / sizeof blocks[0]; i++) {
        struct buf props = {.n = 0};
        put_hex(&props, blocks[i]);
        struct buf body = {.n = 0};
        put_hex(&body, "0001 74 0001");
        put_vbi(&body, props.n);
        put_bytes(&body, props.b, props.n);
        put_hex(&body, "70 71 72 73 74 75 76 77");
        expect_result(__LINE__, blocks[i], decode_frame(0x32, &body, NULL, &pkt),
                      MQTTPROTO_ERR_TRUNCATED, 0x81);
    }
}

static void test_property_length(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Longer than what is left of the packet: hardening case 9. */
    REJECT("E0 03 00 05 1F", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("30 07 0001 74 0A 0100 70", MQTTPROTO_ERR_TRUNCATED, 0x81);
    REJECT("20 03 00 00 01", MQTTPROTO_ERR_TRUNCATED, 0x81);
    /* Four continuation bytes end the input: the fifth is never read. */
    REJECT("E0 05 00 FF FF FF FF", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0x81);
    REJECT("E0 03 00 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
    REJECT("30 05 0001 74 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0x81);
}

static void test_max_user_properties(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    static const int contexts[] = {CONNECT, WILL, PUBLISH, DISCONNECT, SUBSCRIBE};
    for (uint32_t limit = 1; limit <= 3; limit++) {
        o.max_user_properties = limit;
        for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
            struct buf props = {.n = 0};
            for (uint32_t k = 0; k < limit; k++) {
                put_hex(&props, "26 0001 6B 0001 76");
            }
            assert_true(decode_props(contexts[c], &props, &o, &pkt) > 0);
            assert_int_equal(props_of(&pkt, contexts[c])->user_property_count, limit);
            put_hex(&props, "26 0001 6B 0001 76");
            expect_result(__LINE__, "one too many", decode_props(contexts[c], &props, &o, &pkt),
                          MQTTPROTO_ERR_TOO_MANY_PROPERTIES, 0x83);
        }
    }
    /* 0 means no limit. */
    o.max_user_properties = 0;
    struct buf props = {.n = 0};
    for (int k = 0; k < 100; k++) {
        put_hex(&props, "26 0000 0000");
    }
    assert_true(decode_props(CONNECT, &props, &o, &pkt) > 0);
    assert_int_equal(pkt.connect.properties.user_property_count, 100);
}

static void test_many_user_properties(void **state)
{
    (void)state;
    /* Hardening case 14: 20,000 empty User Properties in one CONNECT. */
    enum { COUNT = 20000, PROPS_LEN = COUNT * 5 };
    static const uint8_t head[] = {0x00, 0x04, 'M', 'Q', 'T', 'T', 0x05, 0x02, 0x00, 0x3C};
    size_t remaining = sizeof head + 3 + PROPS_LEN + 2;
    size_t total = 1 + 3 + remaining;
    uint8_t *b = malloc(total);
    assert_non_null(b);
    uint8_t *p = b;
    *p++ = 0x10;
    for (size_t v = remaining, k = 0; k < 3; k++, v >>= 7) {
        *p++ = (uint8_t)((v & 127u) | (k < 2 ? 128u : 0u));
    }
    memcpy(p, head, sizeof head);
    p += sizeof head;
    for (size_t v = PROPS_LEN, k = 0; k < 3; k++, v >>= 7) {
        *p++ = (uint8_t)((v & 127u) | (k < 2 ? 128u : 0u));
    }
    for (int k = 0; k < COUNT; k++) {
        memcpy(p, "\x26\x00\x00\x00\x00", 5);
        p += 5;
    }
    *p++ = 0;
    *p++ = 0;
    assert_int_equal((size_t)(p - b), total);

    mqttproto_packet pkt;
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.maximum_packet_size = (uint32_t)total;
    assert_int_equal(decode_bytes(b, total, &o, &pkt), (ptrdiff_t)total);
    assert_int_equal(pkt.connect.properties.user_property_count, COUNT);
    size_t cursor = 0, seen = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(&pkt.connect.properties, &cursor, &up)) {
        seen++;
    }
    assert_int_equal(seen, COUNT);
    free(b);
}

/* ==== options and arguments ==== */

static void test_invalid_options(void **state)
{
    (void)state;
    static const uint8_t ping[] = {0xC0, 0x00};
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PINGREQ;
    uint8_t out[8];
    mqttproto_codec_options good;
    mqttproto_codec_options_default(&good);
    assert_int_equal(good.version, MQTTPROTO_CODEC_OPTIONS_VERSION);
    assert_int_equal(good.protocol_version, 5);
    assert_int_equal(mqttproto_decode(ping, 2, &good, &pkt), 2);

    static const struct {
        uint32_t version;
        uint8_t protocol;
    } bad[] = {{0, 5}, {2, 5}, {0xFFFFFFFFu, 5}, {1, 2}, {1, 0}, {1, 6}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mqttproto_codec_options o = good;
        o.version = bad[i].version;
        o.protocol_version = bad[i].protocol;
        assert_int_equal(mqttproto_decode(ping, 2, &o, &pkt), MQTTPROTO_ERR_INVALID_ARGUMENT);
        assert_int_equal(mqttproto_frame_size(ping, 2, &o, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
        pkt.type = MQTTPROTO_PACKET_PINGREQ;
        assert_int_equal(mqttproto_encoded_size(&pkt, &o), MQTTPROTO_ERR_INVALID_ARGUMENT);
        assert_int_equal(mqttproto_encode(&pkt, &o, out, sizeof out),
                         MQTTPROTO_ERR_INVALID_ARGUMENT);
    }
}

static void test_null_arguments(void **state)
{
    (void)state;
    static const uint8_t ping[] = {0xC0, 0x00};
    mqttproto_packet pkt;
    uint8_t out[8];
    assert_int_equal(mqttproto_decode(NULL, 2, NULL, &pkt), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_decode(ping, 2, NULL, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_decode(NULL, 0, NULL, &pkt), 0);
    assert_int_equal(mqttproto_frame_size(NULL, 2, NULL, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_frame_size(NULL, 0, NULL, NULL), 0);
    assert_int_equal(mqttproto_frame_size(ping, 2, NULL, NULL), 2);
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_PINGREQ;
    assert_int_equal(mqttproto_encode(NULL, NULL, out, sizeof out), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_encode(&pkt, NULL, NULL, 8), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(mqttproto_encode(&pkt, NULL, NULL, 0), MQTTPROTO_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqttproto_encode(&pkt, NULL, out, 1), MQTTPROTO_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(mqttproto_encoded_size(NULL, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    mqttproto_codec_options_default(NULL); /* must not crash */
    static const int bad_types[] = {0, 16, -1, 255};
    for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
        pkt.type = (mqttproto_packet_type)bad_types[i];
        assert_int_equal(mqttproto_encoded_size(&pkt, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
        assert_int_equal(mqttproto_encode(&pkt, NULL, out, sizeof out),
                         MQTTPROTO_ERR_INVALID_ARGUMENT);
    }
}

/* ==== the encoder refuses the same content ==== */

static uint8_t enc_buf[70000];

static void expect_encode(int line, const mqttproto_packet *p, const mqttproto_codec_options *o,
                          ptrdiff_t want)
{
    ptrdiff_t r = mqttproto_encode(p, o, enc_buf, sizeof enc_buf);
    if (want == 1 ? r <= 0 : r != want) {
        fail_msg("line %d: encode gave %s (%td), expected %s", line, mqttproto_err_name((int)r), r,
                 want == 1 ? "success" : mqttproto_err_name((int)want));
    }
}
#define ENCODE_REJECT(p, err) expect_encode(__LINE__, &(p), NULL, err)
#define ENCODE_OK(p)          expect_encode(__LINE__, &(p), NULL, 1)

static char big[65536];

static mqttproto_str str_n(const char *s, size_t n)
{
    mqttproto_str v = {s, n};
    return v;
}

static mqttproto_packet base_publish(void)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_PUBLISH;
    p.publish.topic = mqttproto_str_from_cstr("a/b");
    p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.publish.packet_id = 7;
    p.publish.payload = mqttproto_bin_make("hi", 2);
    return p;
}

static void test_encode_publish_rejections(void **state)
{
    (void)state;
    static const mqttproto_user_property bad_name[] = {{{"\xC0\xAF", 2}, {"v", 1}}};
    static const mqttproto_user_property null_value[] = {{{"n", 1}, {"a\0", 2}}};
    mqttproto_packet p = base_publish();
    ENCODE_OK(p);
    p.publish.topic = mqttproto_str_from_cstr("a/+");
    ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-3.3.2-2] */
    p.publish.topic = mqttproto_str_from_cstr("#");
    ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    p.publish.topic = str_n("a\xED\xA0\x80", 4);
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-1.5.4-1] */
    p.publish.topic = str_n("a\0b", 3);
    ENCODE_REJECT(p, MQTTPROTO_ERR_UTF8_NULL_CHARACTER); /* [MQTT-1.5.4-2] */
    p.publish.topic = str_n(big, 65536);
    ENCODE_REJECT(p, MQTTPROTO_ERR_STRING_TOO_LONG); /* [MQTT-4.7.3-3] */
    p.publish.topic = str_n("", 0);
    ENCODE_REJECT(p, MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS); /* [MQTT-4.7.3-1] */

    p = base_publish();
    p.publish.packet_id = 0;
    ENCODE_REJECT(p, MQTTPROTO_ERR_ZERO_PACKET_ID); /* [MQTT-2.2.1-3] */
    p.publish.qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    ENCODE_REJECT(p, MQTTPROTO_ERR_ZERO_PACKET_ID);
    p = base_publish();
    p.publish.qos = MQTTPROTO_QOS_AT_MOST_ONCE;
    ENCODE_REJECT(p, MQTTPROTO_ERR_UNEXPECTED_PACKET_ID); /* [MQTT-2.2.1-2] */
    p.publish.packet_id = 0;
    p.publish.dup = true;
    ENCODE_REJECT(p, MQTTPROTO_ERR_DUP_ON_QOS0); /* [MQTT-3.3.1-2] */
    p = base_publish();
    p.publish.qos = (mqttproto_qos)3;
    ENCODE_REJECT(p, MQTTPROTO_ERR_BAD_QOS); /* [MQTT-3.3.1-4] */

    /* Properties set directly, past the builder's checks. */
    p = base_publish();
    p.publish.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS);
    ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_ALIAS_INVALID); /* [MQTT-3.3.2-8] */
    p.publish.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL);
    ENCODE_REJECT(p, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    p.publish.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_RESPONSE_TOPIC);
    p.publish.properties.response_topic = mqttproto_str_from_cstr("r/#");
    ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-3.3.2-14] */
    p.publish.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_CONTENT_TYPE);
    p.publish.properties.content_type = str_n("\xF4\x90\x80\x80", 4);
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-3.3.2-19] */
    p.publish.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR);
    p.publish.properties.payload_format_indicator = 2;
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    p.publish.properties.present = MQTTPROTO_PROP_BIT(4);
    ENCODE_REJECT(p, MQTTPROTO_ERR_UNKNOWN_PROPERTY);
    p.publish.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_USER_PROPERTY);
    p.publish.properties.user_properties = bad_name;
    p.publish.properties.user_property_count = 1;
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-1.5.7-1] */
    p.publish.properties.user_properties = null_value;
    ENCODE_REJECT(p, MQTTPROTO_ERR_UTF8_NULL_CHARACTER);

    /* Size limits. */
    p = base_publish(); /* 1 + 1 + 5 + 2 + 1 + 2 = 12 bytes */
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.maximum_packet_size = 12;
    expect_encode(__LINE__, &p, &o, 12);
    o.maximum_packet_size = 11;
    expect_encode(__LINE__, &p, &o, MQTTPROTO_ERR_PACKET_TOO_LARGE);
    assert_int_equal(mqttproto_encoded_size(&p, &o), MQTTPROTO_ERR_PACKET_TOO_LARGE);
    assert_int_equal(mqttproto_encode(&p, NULL, enc_buf, 11), MQTTPROTO_ERR_BUFFER_TOO_SMALL);
}

static mqttproto_packet base_connect(void)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_CONNECT;
    p.connect.protocol_version = 5;
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = mqttproto_str_from_cstr("client");
    p.connect.has_will = true;
    p.connect.will.topic = mqttproto_str_from_cstr("will/t");
    p.connect.will.payload = mqttproto_bin_make("bye", 3);
    p.connect.has_username = true;
    p.connect.username = mqttproto_str_from_cstr("user");
    p.connect.has_password = true;
    p.connect.password = mqttproto_bin_make("\xC0\xAF\x00", 3); /* binary: anything goes */
    return p;
}

static void test_encode_connect_rejections(void **state)
{
    (void)state;
    mqttproto_packet p = base_connect();
    ENCODE_OK(p);
    p.connect.client_id = str_n("\xC0\xAF", 2);
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-3.1.3-4] */
    p.connect.client_id = str_n("c\0", 2);
    ENCODE_REJECT(p, MQTTPROTO_ERR_UTF8_NULL_CHARACTER);
    p.connect.client_id = str_n(big, 65536);
    ENCODE_REJECT(p, MQTTPROTO_ERR_STRING_TOO_LONG);

    p = base_connect();
    p.connect.username = str_n("u\xED\xBF\xBF", 4);
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-3.1.3-12] */
    p.connect.username = str_n("\0", 1);
    ENCODE_REJECT(p, MQTTPROTO_ERR_UTF8_NULL_CHARACTER);
    p.connect.username = str_n(big, 65536);
    ENCODE_REJECT(p, MQTTPROTO_ERR_STRING_TOO_LONG);
    p = base_connect();
    p.connect.password = mqttproto_bin_make(big, 65536);
    ENCODE_REJECT(p, MQTTPROTO_ERR_STRING_TOO_LONG);
    p = base_connect();
    p.connect.will.payload = mqttproto_bin_make(big, 65536);
    ENCODE_REJECT(p, MQTTPROTO_ERR_STRING_TOO_LONG);

    p = base_connect();
    p.connect.will.topic = mqttproto_str_from_cstr("will/+");
    ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-3.1.3-11] */
    p.connect.will.topic = str_n("", 0);
    ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    p = base_connect();
    p.connect.will.qos = (mqttproto_qos)3;
    ENCODE_REJECT(p, MQTTPROTO_ERR_BAD_QOS); /* [MQTT-3.1.2-12] */
    p = base_connect();
    p.connect.will.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS);
    p.connect.will.properties.topic_alias = 1;
    ENCODE_REJECT(p, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    p = base_connect();
    p.connect.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_RECEIVE_MAXIMUM);
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    p.connect.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_WILL_DELAY_INTERVAL);
    ENCODE_REJECT(p, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    p = base_connect();
    p.connect.protocol_version = 6;
    ENCODE_REJECT(p, MQTTPROTO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
}

static void test_encode_connack_rejections(void **state)
{
    (void)state;
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_CONNACK;
    p.connack.session_present = true;
    ENCODE_OK(p);
    p.connack.reason_code = 0x80;
    ENCODE_REJECT(p, MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR); /* [MQTT-3.2.2-6] */
    p.connack.session_present = false;
    ENCODE_OK(p);
    p.connack.reason_code = 0;
    p.connack.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_MAXIMUM_QOS);
    p.connack.properties.maximum_qos = 2;
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    p.connack.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_TOPIC_ALIAS);
    ENCODE_REJECT(p, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
}

static void test_encode_reason_codes(void **state)
{
    (void)state;
    /* Every code in every packet that carries one, per section 2.4.
       [MQTT-3.2.2-8] [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1]
       [MQTT-3.7.2-1] [MQTT-3.9.3-2] [MQTT-3.11.3-2] [MQTT-3.14.2-1]
       [MQTT-3.15.2-1] */
    static const int types[] = {CONNACK, PUBACK,   PUBREC,     PUBREL, PUBCOMP,
                                SUBACK,  UNSUBACK, DISCONNECT, AUTH};
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        for (unsigned rc = 0; rc < 256; rc++) {
            uint8_t code = (uint8_t)rc;
            mqttproto_packet p;
            memset(&p, 0, sizeof p);
            p.type = (mqttproto_packet_type)types[t];
            switch (types[t]) {
            case CONNACK:
                p.connack.reason_code = code;
                break;
            case SUBACK:
            case UNSUBACK:
                p.suback.packet_id = 1;
                p.suback.reason_codes = &code;
                p.suback.reason_code_count = 1;
                break;
            case DISCONNECT:
            case AUTH:
                p.disconnect.reason_code = code;
                break;
            default:
                p.puback.packet_id = 1;
                p.puback.reason_code = code;
                break;
            }
            ptrdiff_t r = mqttproto_encode(&p, NULL, enc_buf, sizeof enc_buf);
            if (spec_rc_allowed(types[t], rc)) {
                if (r <= 0) {
                    fail_msg("type %d, code 0x%02X: %s", types[t], rc, mqttproto_err_name((int)r));
                }
                mqttproto_packet back;
                assert_int_equal(decode_bytes(enc_buf, (size_t)r, NULL, &back), r);
                assert_int_equal(decoded_reason_code(&back), rc);
            } else if (r != MQTTPROTO_ERR_INVALID_REASON_CODE) {
                fail_msg("type %d, code 0x%02X: %s", types[t], rc, mqttproto_err_name((int)r));
            }
        }
    }
}

static void test_encode_ack_rejections(void **state)
{
    (void)state;
    static const int types[] = {PUBACK, PUBREC, PUBREL, PUBCOMP};
    for (size_t t = 0; t < 4; t++) {
        mqttproto_packet p;
        memset(&p, 0, sizeof p);
        p.type = (mqttproto_packet_type)types[t];
        ENCODE_REJECT(p, MQTTPROTO_ERR_ZERO_PACKET_ID);
        p.puback.packet_id = 3;
        p.puback.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_CONTENT_TYPE);
        ENCODE_REJECT(p, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    }
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_SUBACK;
    p.suback.packet_id = 1;
    ENCODE_REJECT(p, MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST);
    p.type = MQTTPROTO_PACKET_UNSUBACK;
    ENCODE_REJECT(p, MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST);
    static const uint8_t codes[] = {0x00};
    p.suback.reason_codes = codes;
    p.suback.reason_code_count = 1;
    p.suback.packet_id = 0;
    ENCODE_REJECT(p, MQTTPROTO_ERR_ZERO_PACKET_ID);
}

static void test_encode_subscribe_rejections(void **state)
{
    (void)state;
    mqttproto_subscription subs[2] = {
        {mqttproto_str_from_cstr("a/+"), MQTTPROTO_QOS_AT_LEAST_ONCE, false, false,
         MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE},
        {mqttproto_str_from_cstr("b/#"), MQTTPROTO_QOS_AT_MOST_ONCE, true, true,
         MQTTPROTO_RETAIN_DO_NOT_SEND},
    };
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_SUBSCRIBE;
    p.subscribe.packet_id = 10;
    ENCODE_REJECT(p, MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST); /* [MQTT-3.8.3-2] */
    p.subscribe.subscriptions.items = subs;
    p.subscribe.subscriptions.count = 2;
    ENCODE_OK(p);
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        subs[1].topic_filter = mqttproto_str_from_cstr(bad_filters[i]);
        /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
        ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    }
    subs[1].topic_filter = str_n("b/\xC0\xAF", 4);
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-3.8.3-1] */
    subs[1].topic_filter = str_n(big, 65536);
    ENCODE_REJECT(p, MQTTPROTO_ERR_STRING_TOO_LONG);
    subs[1].topic_filter = mqttproto_str_from_cstr("$share/g/b");
    ENCODE_REJECT(p, MQTTPROTO_ERR_NO_LOCAL_ON_SHARED); /* [MQTT-3.8.3-4] */
    subs[1].no_local = false;
    ENCODE_OK(p);
    subs[1].retain_handling = (mqttproto_retain_handling)3;
    ENCODE_REJECT(p, MQTTPROTO_ERR_BAD_RETAIN_HANDLING);
    subs[1].retain_handling = MQTTPROTO_RETAIN_SEND_IF_NEW;
    subs[0].max_qos = (mqttproto_qos)3;
    ENCODE_REJECT(p, MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID);
    subs[0].max_qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    ENCODE_OK(p);

    static const uint32_t two_ids[] = {1, 2};
    p.subscribe.properties.present = MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER);
    p.subscribe.properties.subscription_identifiers = two_ids;
    p.subscribe.properties.subscription_identifier_count = 2;
    ENCODE_REJECT(p, MQTTPROTO_ERR_DUPLICATE_PROPERTY);
    p.subscribe.properties.subscription_identifiers = NULL;
    p.subscribe.properties.subscription_identifier_count = 1;
    p.subscribe.properties.subscription_identifier = 0;
    ENCODE_REJECT(p, MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    mqttproto_properties_init(&p.subscribe.properties);
    p.subscribe.packet_id = 0;
    ENCODE_REJECT(p, MQTTPROTO_ERR_ZERO_PACKET_ID);
}

static void test_encode_unsubscribe_rejections(void **state)
{
    (void)state;
    mqttproto_str filters[2] = {mqttproto_str_from_cstr("a"), mqttproto_str_from_cstr("b/+")};
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_UNSUBSCRIBE;
    p.unsubscribe.packet_id = 4;
    ENCODE_REJECT(p, MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST); /* [MQTT-3.10.3-2] */
    p.unsubscribe.topic_filters.items = filters;
    p.unsubscribe.topic_filters.count = 2;
    ENCODE_OK(p);
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        filters[1] = mqttproto_str_from_cstr(bad_filters[i]);
        ENCODE_REJECT(p, MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    }
    filters[1] = str_n("\0", 1);
    ENCODE_REJECT(p, MQTTPROTO_ERR_UTF8_NULL_CHARACTER); /* [MQTT-3.10.3-1] */
    filters[1] = mqttproto_str_from_cstr("b");
    p.unsubscribe.packet_id = 0;
    ENCODE_REJECT(p, MQTTPROTO_ERR_ZERO_PACKET_ID);
}

static void test_encode_property_length_zero(void **state)
{
    (void)state;
    /* A packet with no properties still carries a Property Length of 0
       [MQTT-2.2.2-1]. */
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_CONNACK;
    assert_int_equal(mqttproto_encode(&p, NULL, enc_buf, sizeof enc_buf), 5);
    assert_memory_equal(enc_buf, "\x20\x03\x00\x00\x00", 5);
    p = base_publish();
    assert_int_equal(mqttproto_encode(&p, NULL, enc_buf, sizeof enc_buf), 12);
    assert_memory_equal(enc_buf,
                        "\x32\x0A\x00\x03"
                        "a/b\x00\x07\x00"
                        "hi",
                        12);
    static const mqttproto_subscription sub = {
        {"t", 1}, MQTTPROTO_QOS_AT_MOST_ONCE, false, false, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE};
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_SUBSCRIBE;
    p.subscribe.packet_id = 1;
    p.subscribe.subscriptions.items = &sub;
    p.subscribe.subscriptions.count = 1;
    assert_int_equal(mqttproto_encode(&p, NULL, enc_buf, sizeof enc_buf), 9);
    assert_memory_equal(enc_buf, "\x82\x07\x00\x01\x00\x00\x01t\x00", 9);
}

/*
 * A zero-length view may have a NULL data pointer (common.h): an empty topic
 * with a Topic Alias is the normal way to publish on an established alias.
 * Last in the list, as an undefined-behaviour report ends the program.
 */
static void test_encode_empty_topic_with_alias(void **state)
{
    (void)state;
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = MQTTPROTO_PACKET_PUBLISH;
    p.publish.topic.data = NULL;
    p.publish.topic.len = 0;
    assert_int_equal(
        mqttproto_properties_set_int(&p.publish.properties, PUBLISH, MQTTPROTO_PROP_TOPIC_ALIAS, 5),
        0);
    assert_int_equal(mqttproto_encode(&p, NULL, enc_buf, sizeof enc_buf), 8);
    assert_memory_equal(enc_buf, "\x30\x06\x00\x00\x03\x23\x00\x05", 8);
}

int main(void)
{
    memset(big, 'a', sizeof big);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserved_packet_type),
        cmocka_unit_test(test_fixed_header_flags_every_type),
        cmocka_unit_test(test_wrong_flags_on_subscribe_pubrel_connect),
        cmocka_unit_test(test_publish_flags_every_value),
        cmocka_unit_test(test_remaining_length_malformed),
        cmocka_unit_test(test_remaining_length_non_minimal),
        cmocka_unit_test(test_incomplete_input_needs_more),
        cmocka_unit_test(test_packet_too_large_from_header),
        cmocka_unit_test(test_packet_too_large_boundary),
        cmocka_unit_test(test_truncated_fields),
        cmocka_unit_test(test_trailing_bytes),
        cmocka_unit_test(test_utf8_ill_formed_in_every_string),
        cmocka_unit_test(test_utf8_null_in_every_string),
        cmocka_unit_test(test_utf8_bom_kept),
        cmocka_unit_test(test_binary_fields_accept_any_bytes),
        cmocka_unit_test(test_connect_protocol_name),
        cmocka_unit_test(test_connect_protocol_version),
        cmocka_unit_test(test_connect_flags_every_value),
        cmocka_unit_test(test_connect_flagged_fields_present),
        cmocka_unit_test(test_connect_will_topic),
        cmocka_unit_test(test_connack_flags),
        cmocka_unit_test(test_connack_session_present_on_error),
        cmocka_unit_test(test_reason_codes_every_packet),
        cmocka_unit_test(test_empty_reason_code_list),
        cmocka_unit_test(test_zero_packet_id),
        cmocka_unit_test(test_publish_qos0_has_no_packet_id),
        cmocka_unit_test(test_publish_topic_wildcards),
        cmocka_unit_test(test_publish_empty_topic_without_alias),
        cmocka_unit_test(test_publish_topic_alias_zero),
        cmocka_unit_test(test_publish_response_topic_wildcards),
        cmocka_unit_test(test_publish_too_short_for_packet_id),
        cmocka_unit_test(test_publish_topic_length_past_end),
        cmocka_unit_test(test_subscribe_empty),
        cmocka_unit_test(test_unsubscribe_empty),
        cmocka_unit_test(test_subscribe_options_missing),
        cmocka_unit_test(test_subscribe_options_every_value),
        cmocka_unit_test(test_filters_invalid),
        cmocka_unit_test(test_subscribe_no_local_on_shared),
        cmocka_unit_test(test_property_ids_every_context),
        cmocka_unit_test(test_property_not_allowed_named_cases),
        cmocka_unit_test(test_property_duplicates),
        cmocka_unit_test(test_user_property_repeats_everywhere),
        cmocka_unit_test(test_subscription_identifier_repeat),
        cmocka_unit_test(test_property_invalid_values),
        cmocka_unit_test(test_property_truncated_in_block),
        cmocka_unit_test(test_property_length),
        cmocka_unit_test(test_max_user_properties),
        cmocka_unit_test(test_many_user_properties),
        cmocka_unit_test(test_invalid_options),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_encode_publish_rejections),
        cmocka_unit_test(test_encode_connect_rejections),
        cmocka_unit_test(test_encode_connack_rejections),
        cmocka_unit_test(test_encode_reason_codes),
        cmocka_unit_test(test_encode_ack_rejections),
        cmocka_unit_test(test_encode_subscribe_rejections),
        cmocka_unit_test(test_encode_unsubscribe_rejections),
        cmocka_unit_test(test_encode_property_length_zero),
        cmocka_unit_test(test_encode_empty_topic_with_alias),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (held != NULL) {
        tu_guard_free(held, held_len);
    }
    return failed;
}
