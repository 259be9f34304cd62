/*
 * MQTT 3.1.1 (protocol level 4) and 3.1 (level 3, "MQIsdp") in the codec:
 * byte vectors of every packet in both directions, the 3.1.1 rules that
 * differ from MQTT 5 with the exact error of each rejection, and what the
 * encoder drops (properties, reason codes) because 3.1.1 has no field for it.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(s) ((mqttproto_str){(s), sizeof(s) - 1})
#define BIN(s) ((mqttproto_bin){(const uint8_t *)(s), sizeof(s) - 1})
#define E(x)   MQTTPROTO_ERR_##x
#define V311   MQTTPROTO_PROTOCOL_V311
#define V31    MQTTPROTO_PROTOCOL_V31
#define V5     MQTTPROTO_PROTOCOL_V5

static mqttproto_codec_options opts_of(uint8_t version)
{
    mqttproto_codec_options o;
    mqttproto_codec_options_default(&o);
    o.protocol_version = version;
    return o;
}

/* The bytes of the last decode, kept (behind a guard page) until the next. */
static uint8_t *held;
static size_t held_len;

static ptrdiff_t decode_hex(const char *hex, uint8_t version, mqttproto_packet *out)
{
    if (held != NULL) {
        tu_guard_free(held, held_len);
    }
    uint8_t *raw = tu_hex(hex, &held_len);
    held = tu_guard_copy(raw, held_len);
    free(raw);
    mqttproto_codec_options o = opts_of(version);
    return mqttproto_decode(held, held_len, &o, out);
}

/* Decode a body given in hex after a first byte; the length is computed. */
static ptrdiff_t decode_body(unsigned first, const char *body, uint8_t version,
                             mqttproto_packet *out)
{
    size_t n = 0;
    uint8_t *raw = tu_hex(body, &n);
    free(raw);
    assert_true(n < 128);
    char hex[1024];
    snprintf(hex, sizeof hex, "%02X %02X %s", first, (unsigned)n, body);
    return decode_hex(hex, version, out);
}

static void expect(int line, const char *what, ptrdiff_t got, ptrdiff_t want, int rc)
{
    if (got != want) {
        fail_msg("line %d, %s: got %s (%td), expected %s (%td)", line, what,
                 mqttproto_err_name((int)got), got, mqttproto_err_name((int)want), want);
    }
    if (want < 0 && mqttproto_err_reason_code((int)got) != rc) {
        fail_msg("line %d, %s: reason code 0x%02X, expected 0x%02X", line, what,
                 mqttproto_err_reason_code((int)got), (unsigned)rc);
    }
}

/* Decoding first byte + body with the options' version fails with err (reason code rc). */
#define REJECT(first, body, ver, err, rc)                                                          \
    expect(__LINE__, body, decode_body(first, body, ver, &pkt), E(err), rc)
static void expect_accept(int line, unsigned first, const char *body, uint8_t version,
                          mqttproto_packet *out)
{
    ptrdiff_t r = decode_body(first, body, version, out);
    expect(line, body, r, (ptrdiff_t)held_len, 0);
}
#define ACCEPT(first, body, ver) expect_accept(__LINE__, first, body, ver, &pkt)

/* Encode p with the options' version: the bytes must be hex, and the size agree. */
static void expect_bytes(int line, const mqttproto_packet *p, uint8_t version, const char *hex)
{
    size_t n = 0;
    uint8_t *want = tu_hex(hex, &n);
    uint8_t out[512];
    mqttproto_codec_options o = opts_of(version);
    ptrdiff_t w = mqttproto_encode(p, &o, out, sizeof out);
    if (w != (ptrdiff_t)n || memcmp(out, want, n) != 0) {
        fail_msg("line %d: encode gave %td (%s), expected %s", line, w,
                 mqttproto_err_name(w < 0 ? (int)w : 0), hex);
    }
    assert_int_equal(mqttproto_encoded_size(p, &o), (ptrdiff_t)n);
    /* One byte short is refused. */
    assert_int_equal(mqttproto_encode(p, &o, out, n - 1), E(BUFFER_TOO_SMALL));
    free(want);
}
#define BYTES(p, ver, hex) expect_bytes(__LINE__, &(p), ver, hex)

static void expect_encode_error(int line, const mqttproto_packet *p, uint8_t version, int err)
{
    uint8_t out[512];
    mqttproto_codec_options o = opts_of(version);
    ptrdiff_t w = mqttproto_encode(p, &o, out, sizeof out);
    if (w != err) {
        fail_msg("line %d: encode gave %s (%td), expected %s", line,
                 mqttproto_err_name(w < 0 ? (int)w : 0), w, mqttproto_err_name(err));
    }
}
#define ENCODE_REJECT(p, ver, err) expect_encode_error(__LINE__, &(p), ver, E(err))

/*
 * A vector in both directions: hex decodes whole with the version, and the
 * decoded packet encodes back to the same bytes.
 */
static void expect_vector(int line, const char *hex, uint8_t version, mqttproto_packet *out)
{
    ptrdiff_t n = decode_hex(hex, version, out);
    if (n != (ptrdiff_t)held_len) {
        fail_msg("line %d: decode of %s gave %s (%td)", line, hex,
                 mqttproto_err_name(n < 0 ? (int)n : 0), n);
    }
    expect_bytes(line, out, version, hex);
}
#define VECTOR(hex, ver) expect_vector(__LINE__, hex, ver, &pkt)

static void expect_str(mqttproto_str s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.data, want, s.len);
}

static mqttproto_packet new_packet(mqttproto_packet_type type)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = type;
    return p;
}

static int teardown(void **state)
{
    (void)state;
    if (held != NULL) {
        tu_guard_free(held, held_len);
        held = NULL;
    }
    return 0;
}

/* ==== options ==== */

static void test_options_accept_levels_3_4_5(void **state)
{
    (void)state;
    static const uint8_t ping[] = {0xC0, 0x00};
    mqttproto_packet pkt;
    for (uint8_t v = 3; v <= 5; v++) {
        mqttproto_codec_options o = opts_of(v);
        assert_int_equal(mqttproto_decode(ping, 2, &o, &pkt), 2);
        assert_int_equal(mqttproto_frame_size(ping, 2, &o, NULL), 2);
    }
    static const uint8_t bad[] = {0, 1, 2, 6, 0x84, 0xFF};
    for (size_t i = 0; i < sizeof bad; i++) {
        mqttproto_codec_options o = opts_of(bad[i]);
        assert_int_equal(mqttproto_decode(ping, 2, &o, &pkt), E(INVALID_ARGUMENT));
    }
}

/* ==== CONNECT ==== */

static void test_connect_v311_minimal(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Decoded with the default (MQTT 5) options: the level comes from the CONNECT. */
    const char *hex = "10 0D 0004 4D515454 04 02 003C 0001 63";
    assert_int_equal(decode_hex(hex, V5, &pkt), 15);
    assert_int_equal(pkt.type, MQTTPROTO_PACKET_CONNECT);
    assert_int_equal(pkt.connect.protocol_version, V311);
    assert_true(pkt.connect.clean_start);
    assert_int_equal(pkt.connect.keep_alive, 60);
    expect_str(pkt.connect.client_id, "c");
    assert_false(pkt.connect.has_will);
    assert_false(pkt.connect.has_username);
    assert_false(pkt.connect.has_password);
    assert_int_equal(pkt.connect.properties.present, 0);
    /* And with the 3.1.1 options, in both directions. */
    VECTOR(hex, V311);
    assert_int_equal(pkt.connect.protocol_version, V311);
    /* The CONNECT's own level decides the form, whatever the options say. */
    BYTES(pkt, V5, hex);
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = STR("c");
    BYTES(p, V311, hex); /* protocol_version 0: the options' */
    p.connect.protocol_version = V311;
    BYTES(p, V5, hex);
    /* Properties have nowhere to go in 3.1.1: dropped. */
    mqttproto_properties_init(&p.connect.properties);
    assert_int_equal(mqttproto_properties_set_int(&p.connect.properties, MQTTPROTO_PACKET_CONNECT,
                                                  MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 30),
                     0);
    BYTES(p, V5, hex);
    /* An empty client id with Clean Session 1 is allowed [MQTT-3.1.3-6] (3.1.1). */
    VECTOR("10 0C 0004 4D515454 04 02 003C 0000", V311);
    assert_int_equal(pkt.connect.client_id.len, 0);
}

static void test_connect_v311_full(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* User name, password, will retain, will QoS 1, will, clean session. */
    const char *hex = "10 1E 0004 4D515454 04 EE 003C 0001 63 0003 772F74 0003 627965"
                      " 0001 75 0002 7077";
    VECTOR(hex, V311);
    const mqttproto_connect *c = &pkt.connect;
    assert_int_equal(c->protocol_version, V311);
    assert_true(c->has_will);
    expect_str(c->will.topic, "w/t");
    assert_int_equal(c->will.payload.len, 3);
    assert_memory_equal(c->will.payload.data, "bye", 3);
    assert_int_equal(c->will.qos, 1);
    assert_true(c->will.retain);
    assert_int_equal(c->will.properties.present, 0);
    assert_true(c->has_username);
    expect_str(c->username, "u");
    assert_true(c->has_password);
    assert_int_equal(c->password.len, 2);
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.protocol_version = V311;
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = STR("c");
    p.connect.has_will = true;
    p.connect.will.topic = STR("w/t");
    p.connect.will.payload = BIN("bye");
    p.connect.will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.connect.will.retain = true;
    mqttproto_properties_init(&p.connect.will.properties);
    assert_int_equal(mqttproto_properties_set_int(&p.connect.will.properties,
                                                  MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  MQTTPROTO_PROP_WILL_DELAY_INTERVAL, 5),
                     0);
    p.connect.has_username = true;
    p.connect.username = STR("u");
    p.connect.has_password = true;
    p.connect.password = BIN("pw");
    BYTES(p, V5, hex); /* will properties dropped */
}

static void test_connect_v31(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    const char *hex = "10 0F 0006 4D5149736470 03 02 003C 0001 63";
    assert_int_equal(decode_hex(hex, V5, &pkt), 17);
    assert_int_equal(pkt.connect.protocol_version, V31);
    expect_str(pkt.connect.client_id, "c");
    VECTOR(hex, V31);
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = STR("c");
    BYTES(p, V31, hex);
    p.connect.protocol_version = V31;
    BYTES(p, V311, hex);
    /* With a will, user name and password, Clean Session 0. */
    VECTOR("10 21 0006 4D5149736470 03 CC 0000 0002 6964 0001 74 0000 0004 75736572 0004 70617373",
           V31);
    assert_false(pkt.connect.clean_start);
    assert_int_equal(pkt.connect.will.qos, 1);
    assert_false(pkt.connect.will.retain);
    assert_int_equal(pkt.connect.will.payload.len, 0);
    /* 1 to 23 bytes of client id (MQTT 3.1 section 3.1). */
    ACCEPT(0x10, "0006 4D5149736470 03 02 003C 0017 3132333435363738393031323334353637383930313233",
           V5);
    REJECT(0x10,
           "0006 4D5149736470 03 02 003C 0018 313233343536373839303132333435363738393031323334", V5,
           CLIENT_IDENTIFIER_INVALID, 0x85);
    REJECT(0x10, "0006 4D5149736470 03 02 003C 0000", V5, CLIENT_IDENTIFIER_INVALID, 0x85);
    p.connect.client_id = STR("");
    ENCODE_REJECT(p, V5, CLIENT_IDENTIFIER_INVALID);
    p.connect.client_id = STR("123456789012345678901234");
    ENCODE_REJECT(p, V5, CLIENT_IDENTIFIER_INVALID);
    p.connect.client_id = STR("12345678901234567890123");
    BYTES(p, V5,
          "10 25 0006 4D5149736470 03 02 003C 0017 3132333435363738393031323334353637383930313233");
}

static void test_connect_name_and_level(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* "MQIsdp" goes with level 3, "MQTT" with 4 and 5 [MQTT-3.1.2-2] (3.1.1). */
    REJECT(0x10, "0006 4D5149736470 04 02 003C 0001 63", V5, UNSUPPORTED_PROTOCOL_VERSION, 0x84);
    REJECT(0x10, "0006 4D5149736470 05 02 003C 00 0001 63", V5, UNSUPPORTED_PROTOCOL_VERSION, 0x84);
    REJECT(0x10, "0004 4D515454 03 02 003C 0001 63", V311, UNSUPPORTED_PROTOCOL_VERSION, 0x84);
    REJECT(0x10, "0004 4D515454 06 02 003C 0001 63", V311, UNSUPPORTED_PROTOCOL_VERSION, 0x84);
    /* [MQTT-3.1.2-1] (3.1.1) */
    REJECT(0x10, "0006 4D5149736471 03 02 003C 0001 63", V311, BAD_PROTOCOL_NAME, 0x84);
    REJECT(0x10, "0006 6D5149736470 03 02 003C 0001 63", V311, BAD_PROTOCOL_NAME, 0x84);
    REJECT(0x10, "0004 4D515454", V311, TRUNCATED, 0x81);
    /* An MQTT 5 CONNECT decoded with 3.1.1 options is still MQTT 5. */
    ACCEPT(0x10, "0004 4D515454 05 02 003C 05 110000001E 0001 63", V311);
    assert_int_equal(pkt.connect.protocol_version, V5);
    assert_true(
        mqttproto_properties_has(&pkt.connect.properties, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL));
    /* A 3.1.1 CONNECT has no property block: the MQTT 5 shape with level 4
       reads the block's 00 as the client id's length. */
    REJECT(0x10, "0004 4D515454 04 02 003C 00 0001 63", V5, TRAILING_BYTES, 0x81);
    /* Encoding another level. */
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.client_id = STR("c");
    p.connect.clean_start = true;
    p.connect.protocol_version = 2;
    ENCODE_REJECT(p, V311, UNSUPPORTED_PROTOCOL_VERSION);
}

static void test_connect_flags_v311(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Reserved flag [MQTT-3.1.2-3] (3.1.1). */
    REJECT(0x10, "0004 4D515454 04 03 003C 0001 63", V311, BAD_CONNECT_FLAGS, 0x81);
    /* Will QoS / Will Retain without the Will Flag [MQTT-3.1.2-13] [MQTT-3.1.2-15] (3.1.1). */
    REJECT(0x10, "0004 4D515454 04 0A 003C 0001 63", V311, BAD_CONNECT_FLAGS, 0x81);
    REJECT(0x10, "0004 4D515454 04 12 003C 0001 63", V311, BAD_CONNECT_FLAGS, 0x81);
    REJECT(0x10, "0004 4D515454 04 22 003C 0001 63", V311, BAD_CONNECT_FLAGS, 0x81);
    /* Will QoS 3 [MQTT-3.1.2-14] (3.1.1). */
    REJECT(0x10, "0004 4D515454 04 1E 003C 0001 63 0001 74 0000", V311, BAD_QOS, 0x81);
    /* Password without user name [MQTT-3.1.2-22] (3.1.1); allowed in MQTT 5. */
    REJECT(0x10, "0004 4D515454 04 42 003C 0001 63 0001 70", V311, BAD_CONNECT_FLAGS, 0x81);
    REJECT(0x10, "0006 4D5149736470 03 42 003C 0001 63 0001 70", V31, BAD_CONNECT_FLAGS, 0x81);
    ACCEPT(0x10, "0004 4D515454 05 42 003C 00 0001 63 0001 70", V5);
    /* Empty client id needs Clean Session 1 [MQTT-3.1.3-7] [MQTT-3.1.3-8] (3.1.1). */
    REJECT(0x10, "0004 4D515454 04 00 003C 0000", V311, CLIENT_IDENTIFIER_INVALID, 0x85);
    ACCEPT(0x10, "0004 4D515454 04 00 003C 0001 63", V311);
    assert_false(pkt.connect.clean_start);
    /* A field whose flag is 0 [MQTT-3.1.2-18] [MQTT-3.1.2-20] (3.1.1). */
    REJECT(0x10, "0004 4D515454 04 02 003C 0001 63 0001 75", V311, TRAILING_BYTES, 0x81);
    /* Will topic: a valid topic name. */
    REJECT(0x10, "0004 4D515454 04 06 003C 0001 63 0001 23 0000", V311, TOPIC_NAME_INVALID, 0x82);
    /* The same rules when encoding. */
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.protocol_version = V311;
    p.connect.client_id = STR("c");
    p.connect.has_password = true;
    p.connect.password = BIN("p");
    ENCODE_REJECT(p, V5, BAD_CONNECT_FLAGS);
    p.connect.protocol_version = V5;
    BYTES(p, V5, "10 11 0004 4D515454 05 40 0000 00 0001 63 0001 70");
    p = new_packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.protocol_version = V311;
    ENCODE_REJECT(p, V5, CLIENT_IDENTIFIER_INVALID);
    p.connect.clean_start = true;
    BYTES(p, V5, "10 0C 0004 4D515454 04 02 0000 0000");
    p.connect.has_will = true;
    p.connect.will.topic = STR("t");
    p.connect.will.qos = (mqttproto_qos)3;
    ENCODE_REJECT(p, V5, BAD_QOS);
}

/* ==== CONNACK ==== */

static void test_connack(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    VECTOR("20 02 00 00", V311);
    assert_false(pkt.connack.session_present);
    assert_int_equal(pkt.connack.reason_code, MQTTPROTO_CONNACK_ACCEPTED);
    assert_int_equal(pkt.connack.properties.present, 0);
    VECTOR("20 02 01 00", V311);
    assert_true(pkt.connack.session_present);
    for (unsigned rc = 1; rc <= 5; rc++) {
        char hex[16];
        snprintf(hex, sizeof hex, "20 02 00 %02X", rc);
        VECTOR(hex, V311);
        assert_int_equal(pkt.connack.reason_code, rc);
        VECTOR(hex, V31);
    }
    /* Return codes 6-255 are reserved (3.1.1 section 3.2.2.3). */
    REJECT(0x20, "00 06", V311, INVALID_REASON_CODE, 0x82);
    REJECT(0x20, "00 80", V311, INVALID_REASON_CODE, 0x82);
    REJECT(0x20, "00 FF", V311, INVALID_REASON_CODE, 0x82);
    /* Session Present with a non-zero return code [MQTT-3.2.2-4] (3.1.1). */
    REJECT(0x20, "01 01", V311, SESSION_PRESENT_ON_ERROR, 0x82);
    /* Bits 7-1 reserved (3.1.1 section 3.2.2.1). */
    REJECT(0x20, "02 00", V311, BAD_CONNACK_FLAGS, 0x81);
    /* No property block: the MQTT 5 shape has a byte too many. */
    REJECT(0x20, "00 00 00", V311, TRAILING_BYTES, 0x81);
    REJECT(0x20, "00", V311, TRUNCATED, 0x81);
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_CONNACK);
    p.connack.session_present = true;
    mqttproto_properties_init(&p.connack.properties);
    assert_int_equal(mqttproto_properties_set_int(&p.connack.properties, MQTTPROTO_PACKET_CONNACK,
                                                  MQTTPROTO_PROP_RECEIVE_MAXIMUM, 10),
                     0);
    BYTES(p, V311, "20 02 01 00"); /* properties dropped */
    p.connack.reason_code = MQTTPROTO_CONNACK_NOT_AUTHORIZED;
    ENCODE_REJECT(p, V311, SESSION_PRESENT_ON_ERROR);
    p.connack.session_present = false;
    BYTES(p, V311, "20 02 00 05");
    p.connack.reason_code = 6;
    ENCODE_REJECT(p, V311, INVALID_REASON_CODE);
    p.connack.reason_code = MQTTPROTO_RC_NOT_AUTHORIZED; /* 0x87: MQTT 5 only */
    ENCODE_REJECT(p, V311, INVALID_REASON_CODE);
}

/* ==== PUBLISH ==== */

static void test_publish(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    VECTOR("30 07 0003 612F62 6869", V311);
    expect_str(pkt.publish.topic, "a/b");
    assert_int_equal(pkt.publish.qos, 0);
    assert_int_equal(pkt.publish.packet_id, 0);
    assert_int_equal(pkt.publish.payload.len, 2);
    assert_memory_equal(pkt.publish.payload.data, "hi", 2);
    assert_int_equal(pkt.publish.properties.present, 0);
    /* QoS 1: the payload starts right after the packet identifier. */
    VECTOR("32 09 0003 612F62 0007 0068", V311);
    assert_int_equal(pkt.publish.packet_id, 7);
    assert_int_equal(pkt.publish.payload.len, 2);
    assert_int_equal(pkt.publish.payload.data[0], 0x00);
    /* QoS 2, DUP, RETAIN, empty payload. */
    VECTOR("3D 07 0003 612F62 FFFF", V311);
    assert_int_equal(pkt.publish.qos, 2);
    assert_true(pkt.publish.dup);
    assert_true(pkt.publish.retain);
    assert_int_equal(pkt.publish.payload.len, 0);
    VECTOR("3D 07 0003 612F62 FFFF", V31);
    /* The same bytes in MQTT 5 read the first payload byte as a property length. */
    ACCEPT(0x32, "0003 612F62 0007 0068", V5);
    assert_int_equal(pkt.publish.payload.len, 1);
    /* [MQTT-4.7.3-1] (3.1.1): no Topic Alias, so never an empty topic. */
    REJECT(0x30, "0000 6869", V311, TOPIC_NAME_INVALID, 0x82);
    REJECT(0x30, "0003 612F23", V311, TOPIC_NAME_INVALID, 0x82); /* [MQTT-3.3.2-2] (3.1.1) */
    REJECT(0x32, "0003 612F62 0000", V311, ZERO_PACKET_ID, 0x82);
    REJECT(0x36, "0003 612F62 0001", V311, BAD_QOS, 0x81); /* [MQTT-3.3.1-4] (3.1.1) */
    REJECT(0x38, "0003 612F62", V311, DUP_ON_QOS0, 0x81);  /* [MQTT-3.3.1-2] (3.1.1) */
    REJECT(0x30, "0003 612F", V311, TRUNCATED, 0x81);
    /* Encoding drops the properties; the fast path and the generic path agree. */
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = STR("a/b");
    p.publish.payload = BIN("hi");
    BYTES(p, V311, "30 07 0003 612F62 6869");
    p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.publish.packet_id = 7;
    mqttproto_properties_init(&p.publish.properties);
    assert_int_equal(mqttproto_properties_set_int(&p.publish.properties, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 60),
                     0);
    BYTES(p, V311, "32 09 0003 612F62 0007 6869");
    BYTES(p, V5, "32 0F 0003 612F62 0007 05 020000003C 6869");
    p.publish.topic = STR("");
    assert_int_equal(mqttproto_properties_set_int(&p.publish.properties, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_TOPIC_ALIAS, 1),
                     0);
    ENCODE_REJECT(p, V311, TOPIC_NAME_INVALID);
    p.publish.topic = STR("a/+");
    ENCODE_REJECT(p, V311, TOPIC_NAME_INVALID);
}

/* ==== PUBACK, PUBREC, PUBREL, PUBCOMP ==== */

static void test_acks(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    static const struct {
        mqttproto_packet_type type;
        unsigned first;
    } acks[] = {{MQTTPROTO_PACKET_PUBACK, 0x40},
                {MQTTPROTO_PACKET_PUBREC, 0x50},
                {MQTTPROTO_PACKET_PUBREL, 0x62},
                {MQTTPROTO_PACKET_PUBCOMP, 0x70}};
    for (size_t i = 0; i < sizeof acks / sizeof acks[0]; i++) {
        char hex[32];
        snprintf(hex, sizeof hex, "%02X 02 1234", acks[i].first);
        VECTOR(hex, V311);
        assert_int_equal(pkt.type, acks[i].type);
        assert_int_equal(pkt.puback.packet_id, 0x1234);
        assert_int_equal(pkt.puback.reason_code, 0);
        assert_int_equal(pkt.puback.properties.present, 0);
        VECTOR(hex, V31);
        /* Exactly 2 bytes of Remaining Length. */
        REJECT(acks[i].first, "1234 00", V311, TRAILING_BYTES, 0x81);
        REJECT(acks[i].first, "1234 10 00", V311, TRAILING_BYTES, 0x81);
        REJECT(acks[i].first, "12", V311, TRUNCATED, 0x81);
        REJECT(acks[i].first, "0000", V311, ZERO_PACKET_ID, 0x82);
        REJECT(acks[i].first ^ 0x02u, "1234", V311, BAD_FIXED_HEADER_FLAGS, 0x81);
        /* A reason code and properties have no field in 3.1.1: dropped. */
        mqttproto_packet p = new_packet(acks[i].type);
        p.puback.packet_id = 0x1234;
        p.puback.reason_code = 0x10;
        mqttproto_properties_init(&p.puback.properties);
        assert_int_equal(mqttproto_properties_set_str(&p.puback.properties, (int)acks[i].type,
                                                      MQTTPROTO_PROP_REASON_STRING, STR("r")),
                         0);
        BYTES(p, V311, hex);
        p.puback.packet_id = 0;
        ENCODE_REJECT(p, V311, ZERO_PACKET_ID);
    }
}

/* ==== SUBSCRIBE, SUBACK ==== */

static void test_subscribe(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    const char *hex = "82 0C 0001 0003 612F62 01 0001 23 02";
    VECTOR(hex, V311);
    assert_int_equal(pkt.subscribe.packet_id, 1);
    assert_int_equal(pkt.subscribe.subscriptions.count, 2);
    assert_int_equal(pkt.subscribe.properties.present, 0);
    size_t cursor = 0;
    mqttproto_subscription s;
    assert_true(mqttproto_subscriptions_next(&pkt.subscribe.subscriptions, &cursor, &s));
    expect_str(s.topic_filter, "a/b");
    assert_int_equal(s.max_qos, 1);
    assert_true(mqttproto_subscriptions_next(&pkt.subscribe.subscriptions, &cursor, &s));
    expect_str(s.topic_filter, "#");
    assert_int_equal(s.max_qos, 2);
    assert_false(s.no_local);
    assert_false(mqttproto_subscriptions_next(&pkt.subscribe.subscriptions, &cursor, &s));
    VECTOR(hex, V31);
    /* Only the QoS bits; the upper 6 are reserved [MQTT-3-8.3-4] (3.1.1). */
    static const char *const reserved[] = {"0001 0001 74 04", "0001 0001 74 08", "0001 0001 74 10",
                                           "0001 0001 74 20", "0001 0001 74 40", "0001 0001 74 80"};
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++) {
        REJECT(0x82, reserved[i], V311, BAD_SUBSCRIPTION_OPTIONS, 0x81);
        if (i < 4) { /* No Local, Retain As Published, Retain Handling in MQTT 5 */
            char v5[32];
            snprintf(v5, sizeof v5, "0001 00 %s", reserved[i] + 5);
            ACCEPT(0x82, v5, V5);
        }
    }
    REJECT(0x82, "0001 0001 74 03", V311, SUBSCRIPTION_QOS_INVALID, 0x82);
    REJECT(0x82, "0001", V311, EMPTY_SUBSCRIPTION_LIST, 0x82); /* [MQTT-3.8.3-3] (3.1.1) */
    REJECT(0x82, "0000 0001 74 00", V311, ZERO_PACKET_ID, 0x82);
    REJECT(0x80, "0001 0001 74 00", V311, BAD_FIXED_HEADER_FLAGS, 0x81); /* [MQTT-3.8.1-1] */
    REJECT(0x82, "0001 0002 612B 00", V311, TOPIC_FILTER_INVALID, 0x8F);
    /* Encoding: only the QoS, and properties dropped. */
    mqttproto_subscription subs[2] = {{STR("a/b"), MQTTPROTO_QOS_AT_LEAST_ONCE, false, false, 0},
                                      {STR("#"), MQTTPROTO_QOS_EXACTLY_ONCE, false, false, 0}};
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_SUBSCRIBE);
    p.subscribe.packet_id = 1;
    p.subscribe.subscriptions.items = subs;
    p.subscribe.subscriptions.count = 2;
    mqttproto_properties_init(&p.subscribe.properties);
    assert_int_equal(mqttproto_properties_set_int(&p.subscribe.properties,
                                                  MQTTPROTO_PACKET_SUBSCRIBE,
                                                  MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 3),
                     0);
    BYTES(p, V311, hex);
    subs[1].no_local = true;
    ENCODE_REJECT(p, V311, BAD_SUBSCRIPTION_OPTIONS);
    subs[1].no_local = false;
    subs[1].retain_as_published = true;
    ENCODE_REJECT(p, V311, BAD_SUBSCRIPTION_OPTIONS);
    subs[1].retain_as_published = false;
    subs[1].retain_handling = MQTTPROTO_RETAIN_SEND_IF_NEW;
    ENCODE_REJECT(p, V311, BAD_SUBSCRIPTION_OPTIONS);
}

static void test_suback(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    VECTOR("90 06 0001 00 01 02 80", V311);
    assert_int_equal(pkt.suback.packet_id, 1);
    assert_int_equal(pkt.suback.reason_code_count, 4);
    assert_int_equal(pkt.suback.reason_codes[3], 0x80);
    assert_int_equal(pkt.suback.properties.present, 0);
    VECTOR("90 03 0001 80", V31);
    /* 0x00, 0x01, 0x02 and 0x80 only [MQTT-3.9.3-2] (3.1.1). */
    static const unsigned bad[] = {0x03, 0x11, 0x81, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xFF};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[16];
        snprintf(body, sizeof body, "0001 %02X", bad[i]);
        REJECT(0x90, body, V311, INVALID_REASON_CODE, 0x82);
    }
    REJECT(0x90, "0001", V311, EMPTY_REASON_CODE_LIST, 0x82);
    /* With MQTT 5 options "0001 00 ..." is an empty property block first. */
    ACCEPT(0x90, "0001 00 01", V5);
    assert_int_equal(pkt.suback.reason_code_count, 1);
    ACCEPT(0x90, "0001 00 01", V311);
    assert_int_equal(pkt.suback.reason_code_count, 2);
    static const uint8_t codes[] = {0x00, 0x01, 0x02, 0x80};
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_SUBACK);
    p.suback.packet_id = 1;
    p.suback.reason_codes = codes;
    p.suback.reason_code_count = 4;
    mqttproto_properties_init(&p.suback.properties);
    assert_int_equal(mqttproto_properties_set_str(&p.suback.properties, MQTTPROTO_PACKET_SUBACK,
                                                  MQTTPROTO_PROP_REASON_STRING, STR("r")),
                     0);
    BYTES(p, V311, "90 06 0001 00 01 02 80");
    static const uint8_t v5_only[] = {0x00, 0x87};
    p.suback.reason_codes = v5_only;
    p.suback.reason_code_count = 2;
    ENCODE_REJECT(p, V311, INVALID_REASON_CODE);
    p.suback.reason_code_count = 0;
    ENCODE_REJECT(p, V311, EMPTY_REASON_CODE_LIST);
}

/* ==== UNSUBSCRIBE, UNSUBACK ==== */

static void test_unsubscribe(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    const char *hex = "A2 0A 0002 0003 612F62 0001 23";
    VECTOR(hex, V311);
    assert_int_equal(pkt.unsubscribe.packet_id, 2);
    assert_int_equal(pkt.unsubscribe.topic_filters.count, 2);
    size_t cursor = 0;
    mqttproto_str f;
    assert_true(mqttproto_topic_filters_next(&pkt.unsubscribe.topic_filters, &cursor, &f));
    expect_str(f, "a/b");
    assert_true(mqttproto_topic_filters_next(&pkt.unsubscribe.topic_filters, &cursor, &f));
    expect_str(f, "#");
    VECTOR(hex, V31);
    REJECT(0xA2, "0002", V311, EMPTY_SUBSCRIPTION_LIST, 0x82);        /* [MQTT-3.10.3-2] (3.1.1) */
    REJECT(0xA0, "0002 0001 23", V311, BAD_FIXED_HEADER_FLAGS, 0x81); /* [MQTT-3.10.1-1] */
    REJECT(0xA2, "0000 0001 23", V311, ZERO_PACKET_ID, 0x82);
    static const mqttproto_str filters[] = {{"a/b", 3}, {"#", 1}};
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_UNSUBSCRIBE);
    p.unsubscribe.packet_id = 2;
    p.unsubscribe.topic_filters.items = filters;
    p.unsubscribe.topic_filters.count = 2;
    BYTES(p, V311, hex);
}

static void test_unsuback(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    VECTOR("B0 02 0003", V311);
    assert_int_equal(pkt.unsuback.packet_id, 3);
    assert_int_equal(pkt.unsuback.reason_code_count, 0);
    assert_null(pkt.unsuback.reason_codes);
    VECTOR("B0 02 0003", V31);
    /* Only the packet identifier: no reason codes in 3.1.1. */
    REJECT(0xB0, "0003 00", V311, TRAILING_BYTES, 0x81);
    REJECT(0xB0, "0003 00 00", V311, TRAILING_BYTES, 0x81);
    REJECT(0xB0, "00", V311, TRUNCATED, 0x81);
    REJECT(0xB0, "0000", V311, ZERO_PACKET_ID, 0x82);
    static const uint8_t codes[] = {0x11, 0x00};
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_UNSUBACK);
    p.unsuback.packet_id = 3;
    p.unsuback.reason_codes = codes;
    p.unsuback.reason_code_count = 2;
    BYTES(p, V311, "B0 02 0003"); /* reason codes dropped */
    p.unsuback.reason_code_count = 0;
    BYTES(p, V311, "B0 02 0003");
    p.unsuback.packet_id = 0;
    ENCODE_REJECT(p, V311, ZERO_PACKET_ID);
}

/* ==== PINGREQ, PINGRESP, DISCONNECT, AUTH ==== */

static void test_ping_disconnect(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    VECTOR("C0 00", V311);
    assert_int_equal(pkt.type, MQTTPROTO_PACKET_PINGREQ);
    VECTOR("D0 00", V311);
    assert_int_equal(pkt.type, MQTTPROTO_PACKET_PINGRESP);
    REJECT(0xC0, "00", V311, TRAILING_BYTES, 0x81);
    VECTOR("E0 00", V311);
    assert_int_equal(pkt.type, MQTTPROTO_PACKET_DISCONNECT);
    assert_int_equal(pkt.disconnect.reason_code, 0);
    VECTOR("E0 00", V31);
    /* Remaining Length 0: no reason code, no properties. */
    REJECT(0xE0, "00", V311, TRAILING_BYTES, 0x81);
    REJECT(0xE0, "04", V311, TRAILING_BYTES, 0x81);
    REJECT(0xE0, "00 00", V311, TRAILING_BYTES, 0x81);
    REJECT(0xE1, "", V311, BAD_FIXED_HEADER_FLAGS, 0x81); /* [MQTT-3.14.1-1] (3.1.1) */
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_DISCONNECT);
    p.disconnect.reason_code = MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE;
    BYTES(p, V311, "E0 00"); /* the reason code is dropped */
    BYTES(p, V5, "E0 01 04");
}

static void test_auth_reserved(void **state)
{
    (void)state;
    mqttproto_packet pkt;
    /* Packet type 15 is reserved in 3.1.1 (section 2.2.1): malformed. */
    REJECT(0xF0, "", V311, RESERVED_PACKET_TYPE, 0x81);
    REJECT(0xF0, "00 00", V311, RESERVED_PACKET_TYPE, 0x81);
    REJECT(0xF0, "", V31, RESERVED_PACKET_TYPE, 0x81);
    ACCEPT(0xF0, "", V5);
    static const uint8_t auth[] = {0xF0, 0x00};
    mqttproto_codec_options o = opts_of(V311);
    assert_int_equal(mqttproto_frame_size(auth, 2, &o, NULL), E(RESERVED_PACKET_TYPE));
    assert_int_equal(mqttproto_frame_size(auth, 1, &o, NULL), E(RESERVED_PACKET_TYPE));
    mqttproto_packet p = new_packet(MQTTPROTO_PACKET_AUTH);
    ENCODE_REJECT(p, V311, NOT_IN_PROTOCOL_VERSION);
    assert_int_equal(mqttproto_encoded_size(&p, &o), E(NOT_IN_PROTOCOL_VERSION));
    BYTES(p, V5, "F0 00");
}

/* Every packet of a 3.1.1 session, decoded as a stream with the 3.1.1 options. */
static void test_stream(void **state)
{
    (void)state;
    size_t n = 0;
    uint8_t *raw = tu_hex("10 0D 0004 4D515454 04 02 003C 0001 63"
                          " 20 02 00 00 82 06 0001 0001 74 01 90 03 0001 01"
                          " 32 06 0001 74 0001 78 40 02 0001 34 06 0001 74 0002 79"
                          " 50 02 0002 62 02 0002 70 02 0002 A2 05 0003 0001 74 B0 02 0003"
                          " C0 00 D0 00 E0 00",
                          &n);
    static const mqttproto_packet_type want[] = {
        MQTTPROTO_PACKET_CONNECT, MQTTPROTO_PACKET_CONNACK,     MQTTPROTO_PACKET_SUBSCRIBE,
        MQTTPROTO_PACKET_SUBACK,  MQTTPROTO_PACKET_PUBLISH,     MQTTPROTO_PACKET_PUBACK,
        MQTTPROTO_PACKET_PUBLISH, MQTTPROTO_PACKET_PUBREC,      MQTTPROTO_PACKET_PUBREL,
        MQTTPROTO_PACKET_PUBCOMP, MQTTPROTO_PACKET_UNSUBSCRIBE, MQTTPROTO_PACKET_UNSUBACK,
        MQTTPROTO_PACKET_PINGREQ, MQTTPROTO_PACKET_PINGRESP,    MQTTPROTO_PACKET_DISCONNECT};
    mqttproto_codec_options o = opts_of(V311);
    size_t off = 0;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        mqttproto_packet pkt;
        ptrdiff_t r = mqttproto_decode(raw + off, n - off, &o, &pkt);
        assert_true(r > 0);
        assert_int_equal(pkt.type, want[i]);
        assert_int_equal(mqttproto_frame_size(raw + off, n - off, &o, NULL), r);
        uint8_t out[64];
        assert_int_equal(mqttproto_encode(&pkt, &o, out, sizeof out), r);
        assert_memory_equal(out, raw + off, (size_t)r);
        off += (size_t)r;
    }
    assert_int_equal(off, n);
    free(raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_options_accept_levels_3_4_5, teardown),
        cmocka_unit_test_teardown(test_connect_v311_minimal, teardown),
        cmocka_unit_test_teardown(test_connect_v311_full, teardown),
        cmocka_unit_test_teardown(test_connect_v31, teardown),
        cmocka_unit_test_teardown(test_connect_name_and_level, teardown),
        cmocka_unit_test_teardown(test_connect_flags_v311, teardown),
        cmocka_unit_test_teardown(test_connack, teardown),
        cmocka_unit_test_teardown(test_publish, teardown),
        cmocka_unit_test_teardown(test_acks, teardown),
        cmocka_unit_test_teardown(test_subscribe, teardown),
        cmocka_unit_test_teardown(test_suback, teardown),
        cmocka_unit_test_teardown(test_unsubscribe, teardown),
        cmocka_unit_test_teardown(test_unsuback, teardown),
        cmocka_unit_test_teardown(test_ping_disconnect, teardown),
        cmocka_unit_test_teardown(test_auth_reserved, teardown),
        cmocka_unit_test_teardown(test_stream, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
