/*
 * Helpers shared by the broker scenario tests (tests/test_broker*.c): the
 * log of one side, raw misbehaving clients fed hex or encoded packets (in
 * the pump's chunk size), and the option structs the scenarios need.
 *
 * Every scenario is written once as a function of the chunk size and run
 * twice by SCENARIO(): with bytes moved whole and byte by byte. The log of
 * each side is compared exactly, line by line.
 */
#ifndef MQTTPROTO_TEST_BROKER_TEST_H
#define MQTTPROTO_TEST_BROKER_TEST_H

#include "pump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QOS(n)   ((mqttproto_qos)(n))
#define PR(x)    MQTTPROTO_PROP_##x
#define PK(x)    MQTTPROTO_PACKET_##x
#define ERR(x)   MQTTPROTO_ERR_##x
#define BST(x)   MQTTPROTO_BROKER_CLIENT_##x
#define STR(s)   mqttproto_str_from_cstr(s)
#define BIN(s)   mqttproto_bin_make((s), strlen(s))
#define NO_SUBID 0u

/* The CONNACK of a default broker: Receive Maximum 64, Topic Alias Maximum
   16, Maximum Packet Size 1 MiB (properties go out in identifier order). */
#define CONNACK_OK    "20 0e 00 00 0b 21 00 40 22 00 10 27 00 10 00 00"
#define CONNACK_OK_SP "20 0e 01 00 0b 21 00 40 22 00 10 27 00 10 00 00"
#define PINGREQ       "c0 00"
#define PINGRESP      "d0 00"

/* A scenario run whole (chunk 0) and byte by byte (chunk 1). */
#define SCENARIO(name)                                                                             \
    static void name(size_t chunk);                                                                \
    static void test_##name(void **state)                                                          \
    {                                                                                              \
        (void)state;                                                                               \
        name(0);                                                                                   \
        name(1);                                                                                   \
    }                                                                                              \
    static void name(size_t chunk)

#define RUN(name) cmocka_unit_test(test_##name)

static inline void bt_init(struct pump *p, const mqttproto_broker_settings *s, size_t chunk)
{
    pump_init(p, s);
    p->chunk = chunk;
}

static inline mqttproto_broker_settings bt_settings(void)
{
    mqttproto_broker_settings s;
    mqttproto_broker_settings_default(&s);
    return s;
}

/* The lines of the log that start with "<who> " (who: "B0", "C1", ...),
   each ending in a newline; free() the result. */
static inline char *bt_lines(const struct pump *p, const char *who)
{
    size_t wl = strlen(who);
    char *out = malloc(p->log_len + 1);
    assert_non_null(out);
    size_t n = 0;
    const char *s = p->log;
    while (*s != '\0') {
        const char *eol = strchr(s, '\n');
        size_t len = eol != NULL ? (size_t)(eol - s) + 1 : strlen(s);
        if (len > wl && memcmp(s, who, wl) == 0 && s[wl] == ' ') {
            memcpy(out + n, s, len);
            n += len;
        }
        s += len;
    }
    out[n] = '\0';
    return out;
}

/* The lines of side @p who are exactly @p expected ("" for none). */
#define EXPECT_LOG(p, who, expected)                                                               \
    do {                                                                                           \
        char *got_ = bt_lines((p), (who));                                                         \
        assert_string_equal(got_, (expected));                                                     \
        free(got_);                                                                                \
    } while (0)

/* Hex without spaces, lower case. */
static inline void bt_squeeze(const char *in, char *out, size_t cap)
{
    size_t n = 0;
    for (; *in != '\0' && n + 1 < cap; in++) {
        if (*in != ' ') {
            out[n++] = *in >= 'A' && *in <= 'F' ? (char)(*in - 'A' + 'a') : *in;
        }
    }
    out[n] = '\0';
}

/* The broker side of slot @p i sent exactly @p hex (spaces ignored); the
   bytes are consumed. */
#define EXPECT_OUT(p, i, hex)                                                                      \
    do {                                                                                           \
        static char got_[16384], want_[16384];                                                     \
        pump_take_out_hex((p), (i), got_, sizeof got_);                                            \
        bt_squeeze((hex), want_, sizeof want_);                                                    \
        assert_string_equal(got_, want_);                                                          \
    } while (0)

/* Feed bytes to the broker side of raw slot @p i in the pump's chunk size.
   Returns the first error, or the number of bytes taken (all of them). */
static inline ptrdiff_t bt_feed(struct pump *p, int i, const uint8_t *data, size_t len)
{
    if (p->chunk == 0) {
        return pump_feed_raw(p, i, data, len);
    }
    size_t off = 0;
    while (off < len) {
        size_t k = len - off < p->chunk ? len - off : p->chunk;
        ptrdiff_t r = pump_feed_raw(p, i, data + off, k);
        if (r < 0) {
            return r;
        }
        assert_true(r > 0);
        off += (size_t)r;
    }
    return (ptrdiff_t)len;
}

static inline ptrdiff_t raw_hex(struct pump *p, int i, const char *hex)
{
    size_t n;
    uint8_t *b = tu_hex(hex, &n);
    ptrdiff_t r = bt_feed(p, i, b, n);
    free(b);
    return r;
}

/* Encode @p pkt and feed it to raw slot @p i. */
static inline ptrdiff_t raw_pkt(struct pump *p, int i, const mqttproto_packet *pkt)
{
    ptrdiff_t size = mqttproto_encoded_size(pkt, NULL);
    assert_true(size > 0);
    uint8_t *b = malloc((size_t)size);
    assert_non_null(b);
    assert_int_equal(mqttproto_encode(pkt, NULL, b, (size_t)size), size);
    ptrdiff_t r = bt_feed(p, i, b, (size_t)size);
    free(b);
    return r;
}

/* A CONNECT packet (keep alive @p ka, session expiry @p expiry when not 0). */
static inline mqttproto_packet bt_connect_pkt(const char *id, bool clean, uint32_t expiry,
                                              uint16_t ka)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_CONNECT;
    pkt.connect.protocol_version = 5;
    pkt.connect.clean_start = clean;
    pkt.connect.keep_alive = ka;
    pkt.connect.client_id = STR(id);
    mqttproto_properties_init(&pkt.connect.properties);
    if (expiry != 0) {
        assert_int_equal(mqttproto_properties_set_int(&pkt.connect.properties, PK(CONNECT),
                                                      PR(SESSION_EXPIRY_INTERVAL), expiry),
                         0);
    }
    return pkt;
}

/* Open raw slot @p i and send a CONNECT; returns feed_bytes' result. */
static inline ptrdiff_t raw_connect(struct pump *p, int i, const char *id, bool clean,
                                    uint32_t expiry, uint16_t ka)
{
    pump_open_raw(p, i);
    mqttproto_packet pkt = bt_connect_pkt(id, clean, expiry, ka);
    return raw_pkt(p, i, &pkt);
}

/* Connect options with the common fields. */
static inline mqttproto_connect_options bt_opts(const char *id, bool clean, uint32_t expiry)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR(id);
    o.clean_start = clean;
    o.session_expiry_interval = expiry;
    return o;
}

/* Add client slot @p i (default settings) and connect it; pump until quiet. */
static inline void bt_client(struct pump *p, int i, const char *id, bool clean, uint32_t expiry)
{
    if (p->peers[i].client == NULL) {
        pump_add_client(p, i, NULL);
    }
    pump_connect_simple(p, i, id, clean, expiry);
    pump_run(p);
}

/* Subscribe slot @p i with every option; returns the packet identifier. */
static inline int32_t bt_sub(struct pump *p, int i, const char *filter, int qos, bool no_local,
                             bool rap, int rh, uint32_t subid)
{
    mqttproto_subscription s;
    memset(&s, 0, sizeof s);
    s.topic_filter = STR(filter);
    s.max_qos = QOS(qos);
    s.no_local = no_local;
    s.retain_as_published = rap;
    s.retain_handling = (mqttproto_retain_handling)rh;
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if (subid != 0) {
        assert_int_equal(
            mqttproto_properties_set_int(&props, PK(SUBSCRIBE), PR(SUBSCRIPTION_IDENTIFIER), subid),
            0);
    }
    return mqttproto_client_subscribe(p->peers[i].client, &s, 1, &props);
}

/* Publish from slot @p i with a Message Expiry Interval (0: none). */
static inline int32_t bt_pub_exp(struct pump *p, int i, const char *topic, const char *payload,
                                 int qos, bool retain, uint32_t expiry)
{
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    if (expiry != 0) {
        assert_int_equal(
            mqttproto_properties_set_int(&props, PK(PUBLISH), PR(MESSAGE_EXPIRY_INTERVAL), expiry),
            0);
    }
    return mqttproto_client_publish(p->peers[i].client, STR(topic), BIN(payload), QOS(qos), retain,
                                    &props);
}

static inline mqttproto_broker_stats bt_stats(const struct pump *p)
{
    return mqttproto_broker_get_stats(p->broker);
}

static inline mqttproto_broker_client_state bt_state(const struct pump *p, int i)
{
    return mqttproto_broker_client_get_state(p->peers[i].conn);
}

#endif /* MQTTPROTO_TEST_BROKER_TEST_H */
