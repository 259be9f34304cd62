/*
 * Writes the seed corpora of the codec fuzz targets.
 *
 * Usage: make_seeds <corpus directory>   (normally fuzz/corpus)
 * Writes <dir>/fuzz_roundtrip/<name>.bin (the bytes of one packet) and
 * <dir>/fuzz_decode/<name>.bin (an option byte, see fuzz_decode.c, then a
 * stream of packets).
 *
 * Valid seeds are built with the library's encoder: at least one of every
 * packet type, with every property the type allows. Invalid seeds are
 * written out byte by byte, one per rejection rule, plus a few valid inputs
 * the encoder would write in a shorter form. Every seed is checked before
 * it is written (valid ones decode back to the packet that was built,
 * invalid ones fail with the expected error), so a seed never teaches the
 * fuzzer a wrong expectation; the exit status is 1 when any check fails.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mqttproto/mqttproto.h"
#include "packet_equal.h"

#define MAX_SEED  2048
#define MAX_VALID 64

static const char *root;
static int failures;

struct encoded {
    const char *name;
    uint8_t bytes[MAX_SEED];
    size_t len;
};

/* Every valid packet written, for the stream seeds. */
static struct encoded valid[MAX_VALID];
static size_t valid_count;

static void problem(const char *name, const char *what, long value)
{
    fprintf(stderr, "make_seeds: %s: %s (%ld, %s)\n", name, what, value,
            mqttproto_err_name(value < 0 ? (int)value : 0));
    failures++;
}

static void must(int r, const char *what)
{
    if (r != 0) {
        fprintf(stderr, "make_seeds: building %s failed: %s\n", what, mqttproto_err_name(r));
        exit(1);
    }
}

static void write_seed(const char *target, const char *name, const uint8_t *prefix,
                       size_t prefix_len, const uint8_t *data, size_t len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s.bin", root, target, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        fprintf(stderr, "make_seeds: cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
    if ((prefix_len > 0 && fwrite(prefix, 1, prefix_len, f) != prefix_len) ||
        (len > 0 && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        fprintf(stderr, "make_seeds: cannot write %s\n", path);
        exit(1);
    }
}

/* Default options: the option byte of fuzz_decode is 0. */
static void write_both(const char *name, const uint8_t *data, size_t len)
{
    static const uint8_t no_options = 0;
    write_seed("fuzz_roundtrip", name, NULL, 0, data, len);
    write_seed("fuzz_decode", name, &no_options, 1, data, len);
}

static void emit_valid(const char *name, const mqttproto_packet *pkt)
{
    if (valid_count == MAX_VALID) {
        fprintf(stderr, "make_seeds: too many valid seeds\n");
        exit(1);
    }
    struct encoded *e = &valid[valid_count];
    ptrdiff_t size = mqttproto_encoded_size(pkt, NULL);
    ptrdiff_t n = mqttproto_encode(pkt, NULL, e->bytes, sizeof e->bytes);
    if (size <= 0 || n != size) {
        problem(name, "encoding failed", (long)(n < 0 ? n : size));
        return;
    }
    mqttproto_packet back;
    ptrdiff_t d = mqttproto_decode(e->bytes, (size_t)n, NULL, &back);
    if (d != n) {
        problem(name, "the encoding does not decode", (long)d);
        return;
    }
    const char *diff = packet_difference(pkt, &back);
    if (diff != NULL) {
        problem(name, diff, 0);
        return;
    }
    e->name = name;
    e->len = (size_t)n;
    valid_count++;
    write_both(name, e->bytes, e->len);
}

static size_t parse_hex(const char *name, const char *hex, uint8_t *out, size_t cap)
{
    size_t n = 0;
    while (*hex != '\0') {
        if (*hex == ' ') {
            hex++;
            continue;
        }
        unsigned v;
        if (n == cap || sscanf(hex, "%2x", &v) != 1) {
            fprintf(stderr, "make_seeds: %s: bad hex\n", name);
            exit(1);
        }
        out[n++] = (uint8_t)v;
        hex += 2;
    }
    return n;
}

/*
 * A hand-written input and what decoding it with opts must return: an
 * error, 0 (incomplete), or its size when positive (a valid input in a
 * form the encoder would not write).
 */
static size_t checked_bytes(const char *name, const char *hex, const mqttproto_codec_options *opts,
                            ptrdiff_t expected, uint8_t *buf, size_t cap)
{
    size_t len = parse_hex(name, hex, buf, cap);
    mqttproto_packet pkt;
    ptrdiff_t r = mqttproto_decode(buf, len, opts, &pkt);
    ptrdiff_t want = expected > 0 ? (ptrdiff_t)len : expected;
    if (r != want) {
        problem(name, "unexpected decode result", (long)r);
    }
    return len;
}

static void emit_hex(const char *name, const char *hex, ptrdiff_t expected)
{
    uint8_t buf[MAX_SEED];
    size_t len = checked_bytes(name, hex, NULL, expected, buf, sizeof buf);
    write_both(name, buf, len);
}

static const struct encoded *find_valid(const char *name)
{
    for (size_t i = 0; i < valid_count; i++) {
        if (strcmp(valid[i].name, name) == 0) {
            return &valid[i];
        }
    }
    fprintf(stderr, "make_seeds: no valid seed named %s\n", name);
    exit(1);
}

/* A decode seed: option bytes, then the named valid packets, then tail. */
static void emit_stream(const char *name, const uint8_t *options, size_t options_len,
                        const char *const *names, const char *tail_hex, ptrdiff_t last_result)
{
    uint8_t buf[4 * MAX_SEED];
    size_t len = 0;
    for (size_t i = 0; names[i] != NULL; i++) {
        const struct encoded *e = find_valid(names[i]);
        if (len + e->len > sizeof buf) {
            fprintf(stderr, "make_seeds: %s: stream too long\n", name);
            exit(1);
        }
        memcpy(buf + len, e->bytes, e->len);
        len += e->len;
    }
    size_t stream_end = len;
    if (tail_hex != NULL) {
        len += parse_hex(name, tail_hex, buf + len, sizeof buf - len);
    }

    /* Mirror fuzz_decode's option byte. */
    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    size_t k = 1;
    if ((options[0] & 1u) != 0) {
        opts.maximum_packet_size = options[k++];
    }
    if ((options[0] & 2u) != 0) {
        opts.max_user_properties = 1u + (options[k++] & 7u);
    }
    if (k != options_len) {
        fprintf(stderr, "make_seeds: %s: option bytes do not match the option bits\n", name);
        exit(1);
    }

    size_t off = 0;
    ptrdiff_t r;
    mqttproto_packet pkt;
    while ((r = mqttproto_decode(buf + off, len - off, &opts, &pkt)) > 0) {
        off += (size_t)r;
    }
    if (r != last_result || (last_result < 0 && off > stream_end)) {
        problem(name, "the stream does not end as expected", (long)r);
    }
    write_seed("fuzz_decode", name, options, options_len, buf, len);
}

static mqttproto_packet packet(mqttproto_packet_type type)
{
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = type;
    return p;
}

static mqttproto_str s(const char *text)
{
    return mqttproto_str_from_cstr(text);
}

static mqttproto_bin b(const char *bytes, size_t len)
{
    return mqttproto_bin_make(bytes, len);
}

static const mqttproto_user_property two_user_properties[] = {
    {{"unit", 4}, {"celsius", 7}},
    {{"source", 6}, {"probe-7", 7}},
};
static const mqttproto_user_property one_user_property[] = {{{"trace", 5}, {"a1b2", 4}}};
static const mqttproto_user_property odd_user_properties[] = {
    {{"", 0}, {"", 0}},
    {{"dup", 3}, {"1", 1}},
    {{"dup", 3}, {"2", 1}},
    {{"caf\xc3\xa9", 5}, {"\xf0\x9f\x98\x80", 4}},
};

static void connect_seeds(void)
{
    mqttproto_packet p = packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.clean_start = true;
    p.connect.keep_alive = 60;
    p.connect.client_id = s("sensor-node-000123");
    emit_valid("connect_minimal", &p);

    p = packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.client_id = s("");
    emit_valid("connect_empty_client_id", &p);

    p = packet(MQTTPROTO_PACKET_CONNECT);
    mqttproto_connect *c = &p.connect;
    const int ctx = MQTTPROTO_PACKET_CONNECT;
    c->protocol_version = MQTTPROTO_PROTOCOL_V5;
    c->clean_start = false;
    c->keep_alive = 65535;
    c->client_id = s("c1");
    mqttproto_properties *pr = &c->properties;
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 3600),
         "session expiry");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_RECEIVE_MAXIMUM, 20), "receive max");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, 65536),
         "maximum packet size");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, 10),
         "topic alias maximum");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION, 1),
         "request response information");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION, 0),
         "request problem information");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_AUTHENTICATION_METHOD,
                                      s("SCRAM-SHA-1")),
         "authentication method");
    must(mqttproto_properties_set_bin(pr, ctx, MQTTPROTO_PROP_AUTHENTICATION_DATA,
                                      b("\x00\x01\xfe\xff", 4)),
         "authentication data");
    must(mqttproto_properties_set_user_properties(pr, ctx, two_user_properties, 2),
         "user properties");
    c->has_will = true;
    c->will.topic = s("clients/c1/status");
    c->will.payload = b("offline\x00", 8);
    c->will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    c->will.retain = true;
    const int w = MQTTPROTO_PROPERTY_CONTEXT_WILL;
    mqttproto_properties *wp = &c->will.properties;
    must(mqttproto_properties_set_int(wp, w, MQTTPROTO_PROP_WILL_DELAY_INTERVAL, 30), "will delay");
    must(mqttproto_properties_set_int(wp, w, MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, 1),
         "will payload format");
    must(mqttproto_properties_set_int(wp, w, MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 120),
         "will message expiry");
    must(mqttproto_properties_set_str(wp, w, MQTTPROTO_PROP_CONTENT_TYPE, s("text/plain")),
         "will content type");
    must(mqttproto_properties_set_str(wp, w, MQTTPROTO_PROP_RESPONSE_TOPIC, s("replies/c1")),
         "will response topic");
    must(mqttproto_properties_set_bin(wp, w, MQTTPROTO_PROP_CORRELATION_DATA, b("\x2a\x00", 2)),
         "will correlation data");
    must(mqttproto_properties_set_user_properties(wp, w, one_user_property, 1),
         "will user property");
    c->has_username = true;
    c->username = s("alice");
    c->has_password = true;
    c->password = b("\x00pw\xff", 4);
    emit_valid("connect_all_properties_will_credentials", &p);

    p = packet(MQTTPROTO_PACKET_CONNECT);
    p.connect.client_id = s("w");
    p.connect.has_will = true;
    p.connect.will.topic = s("$SYS/w");
    p.connect.will.qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    p.connect.has_password = true;
    p.connect.password = b("", 0);
    emit_valid("connect_will_qos2_password_only", &p);
}

static void connack_seeds(void)
{
    mqttproto_packet p = packet(MQTTPROTO_PACKET_CONNACK);
    emit_valid("connack_minimal", &p);

    p = packet(MQTTPROTO_PACKET_CONNACK);
    p.connack.reason_code = MQTTPROTO_RC_NOT_AUTHORIZED;
    must(mqttproto_properties_set_str(&p.connack.properties, MQTTPROTO_PACKET_CONNACK,
                                      MQTTPROTO_PROP_REASON_STRING, s("bad credentials")),
         "reason string");
    emit_valid("connack_refused_reason_string", &p);

    p = packet(MQTTPROTO_PACKET_CONNACK);
    p.connack.session_present = true;
    mqttproto_properties *pr = &p.connack.properties;
    const int ctx = MQTTPROTO_PACKET_CONNACK;
    static const struct {
        int id;
        uint32_t value;
    } ints[] = {
        {MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 7200},
        {MQTTPROTO_PROP_RECEIVE_MAXIMUM, 100},
        {MQTTPROTO_PROP_MAXIMUM_QOS, 1},
        {MQTTPROTO_PROP_RETAIN_AVAILABLE, 1},
        {MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE, 1048576},
        {MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM, 16},
        {MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE, 1},
        {MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE, 0},
        {MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE, 1},
        {MQTTPROTO_PROP_SERVER_KEEP_ALIVE, 30},
    };
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        must(mqttproto_properties_set_int(pr, ctx, ints[i].id, ints[i].value),
             mqttproto_property_name(ints[i].id));
    }
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER,
                                      s("auto-1234")),
         "assigned client identifier");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_REASON_STRING, s("welcome")),
         "reason string");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_RESPONSE_INFORMATION, s("resp/")),
         "response information");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_SERVER_REFERENCE,
                                      s("other.example:1883")),
         "server reference");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_AUTHENTICATION_METHOD,
                                      s("SCRAM-SHA-1")),
         "authentication method");
    must(mqttproto_properties_set_bin(pr, ctx, MQTTPROTO_PROP_AUTHENTICATION_DATA,
                                      b("\x01\x02\x03", 3)),
         "authentication data");
    must(mqttproto_properties_set_user_properties(pr, ctx, odd_user_properties, 4),
         "user properties");
    emit_valid("connack_session_present_all_properties", &p);
}

static void publish_seeds(void)
{
    mqttproto_packet p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("sensors/room1/temperature");
    p.publish.payload = b("21.5", 4);
    emit_valid("publish_qos0", &p);

    static const uint32_t sub_ids[] = {1, 300, 268435455};
    p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("sensors/room1/temperature");
    p.publish.payload = b("{\"t\":21.5}", 10);
    p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.publish.packet_id = 0x1234;
    mqttproto_properties *pr = &p.publish.properties;
    const int ctx = MQTTPROTO_PACKET_PUBLISH;
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR, 1), "pfi");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 3600),
         "message expiry");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_CONTENT_TYPE, s("application/json")),
         "content type");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_RESPONSE_TOPIC, s("replies/x")),
         "response topic");
    must(mqttproto_properties_set_bin(pr, ctx, MQTTPROTO_PROP_CORRELATION_DATA, b("id-7", 4)),
         "correlation data");
    must(mqttproto_properties_set_subscription_identifiers(pr, ctx, sub_ids, 3),
         "subscription identifiers");
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_TOPIC_ALIAS, 5), "topic alias");
    must(mqttproto_properties_set_user_properties(pr, ctx, two_user_properties, 2),
         "user properties");
    emit_valid("publish_qos1_all_properties", &p);

    p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("sensors/room1/temperature");
    p.publish.payload = b("21.5", 4);
    p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.publish.packet_id = 0x1234;
    must(mqttproto_properties_set_int(&p.publish.properties, ctx,
                                      MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 3600),
         "message expiry");
    must(mqttproto_properties_set_user_properties(&p.publish.properties, ctx, two_user_properties,
                                                  2),
         "user properties");
    emit_valid("publish_qos1_expiry_two_user_properties", &p);

    p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("a");
    p.publish.qos = MQTTPROTO_QOS_EXACTLY_ONCE;
    p.publish.dup = true;
    p.publish.retain = true;
    p.publish.packet_id = 65535;
    emit_valid("publish_qos2_dup_retain_empty_payload", &p);

    p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("");
    p.publish.payload = b("x", 1);
    must(mqttproto_properties_set_int(&p.publish.properties, ctx, MQTTPROTO_PROP_TOPIC_ALIAS, 7),
         "topic alias");
    emit_valid("publish_topic_alias_empty_topic", &p);

    p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("caf\xc3\xa9/\xef\xbb\xbf/\xf0\x9f\x98\x80/ /");
    p.publish.payload = b("\x00\xff\x80", 3);
    p.publish.retain = true;
    emit_valid("publish_utf8_topic_binary_payload", &p);

    static char big[300];
    memset(big, 'p', sizeof big);
    p = packet(MQTTPROTO_PACKET_PUBLISH);
    p.publish.topic = s("$SYS/big");
    p.publish.payload = b(big, sizeof big);
    p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p.publish.packet_id = 1;
    emit_valid("publish_two_byte_remaining_length", &p);
}

static void ack_seeds(void)
{
    static const struct {
        mqttproto_packet_type type;
        const char *name;
        uint8_t reason;
    } acks[] = {
        {MQTTPROTO_PACKET_PUBACK, "puback", MQTTPROTO_RC_NO_MATCHING_SUBSCRIBERS},
        {MQTTPROTO_PACKET_PUBREC, "pubrec", MQTTPROTO_RC_QUOTA_EXCEEDED},
        {MQTTPROTO_PACKET_PUBREL, "pubrel", MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND},
        {MQTTPROTO_PACKET_PUBCOMP, "pubcomp", MQTTPROTO_RC_PACKET_IDENTIFIER_NOT_FOUND},
    };
    static char names[4][3][40];
    for (size_t i = 0; i < 4; i++) {
        snprintf(names[i][0], sizeof names[i][0], "%s_success_short", acks[i].name);
        snprintf(names[i][1], sizeof names[i][1], "%s_reason_only", acks[i].name);
        snprintf(names[i][2], sizeof names[i][2], "%s_reason_properties", acks[i].name);

        mqttproto_packet p = packet(acks[i].type);
        p.puback.packet_id = 0x1234;
        emit_valid(names[i][0], &p);

        p.puback.reason_code = acks[i].reason;
        p.puback.packet_id = 1;
        emit_valid(names[i][1], &p);

        p.puback.packet_id = 65535;
        must(mqttproto_properties_set_str(&p.puback.properties, (int)acks[i].type,
                                          MQTTPROTO_PROP_REASON_STRING, s("because")),
             "reason string");
        must(mqttproto_properties_set_user_properties(&p.puback.properties, (int)acks[i].type,
                                                      one_user_property, 1),
             "user property");
        emit_valid(names[i][2], &p);
    }
}

static void subscribe_seeds(void)
{
    static const mqttproto_subscription one[] = {
        {{"a/b", 3}, MQTTPROTO_QOS_AT_LEAST_ONCE, false, false, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE},
    };
    mqttproto_packet p = packet(MQTTPROTO_PACKET_SUBSCRIBE);
    p.subscribe.packet_id = 10;
    p.subscribe.subscriptions.items = one;
    p.subscribe.subscriptions.count = 1;
    emit_valid("subscribe_single", &p);

    static const mqttproto_subscription many[] = {
        {{"sensors/+/temperature", 21},
         MQTTPROTO_QOS_AT_MOST_ONCE,
         true,
         false,
         MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE},
        {{"sensors/#", 9}, MQTTPROTO_QOS_EXACTLY_ONCE, false, true, MQTTPROTO_RETAIN_SEND_IF_NEW},
        {{"$share/group/jobs/+", 19},
         MQTTPROTO_QOS_AT_LEAST_ONCE,
         false,
         false,
         MQTTPROTO_RETAIN_DO_NOT_SEND},
        {{"#", 1}, MQTTPROTO_QOS_AT_MOST_ONCE, false, false, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE},
        {{"+/+/x", 5}, MQTTPROTO_QOS_AT_LEAST_ONCE, true, true, MQTTPROTO_RETAIN_DO_NOT_SEND},
        {{"/", 1}, MQTTPROTO_QOS_AT_MOST_ONCE, false, false, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE},
    };
    p = packet(MQTTPROTO_PACKET_SUBSCRIBE);
    p.subscribe.packet_id = 0xbeef;
    p.subscribe.subscriptions.items = many;
    p.subscribe.subscriptions.count = sizeof many / sizeof many[0];
    must(mqttproto_properties_set_int(&p.subscribe.properties, MQTTPROTO_PACKET_SUBSCRIBE,
                                      MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 268435455),
         "subscription identifier");
    must(mqttproto_properties_set_user_properties(
             &p.subscribe.properties, MQTTPROTO_PACKET_SUBSCRIBE, two_user_properties, 2),
         "user properties");
    emit_valid("subscribe_many_options_properties", &p);

    static const uint8_t suback_codes[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                           0x8f, 0x91, 0x97, 0x9e, 0xa1, 0xa2};
    p = packet(MQTTPROTO_PACKET_SUBACK);
    p.suback.packet_id = 0xbeef;
    p.suback.reason_codes = suback_codes;
    p.suback.reason_code_count = sizeof suback_codes;
    must(mqttproto_properties_set_str(&p.suback.properties, MQTTPROTO_PACKET_SUBACK,
                                      MQTTPROTO_PROP_REASON_STRING, s("partly")),
         "reason string");
    must(mqttproto_properties_set_user_properties(&p.suback.properties, MQTTPROTO_PACKET_SUBACK,
                                                  one_user_property, 1),
         "user property");
    emit_valid("suback_all_reason_codes_properties", &p);

    p = packet(MQTTPROTO_PACKET_SUBACK);
    p.suback.packet_id = 10;
    p.suback.reason_codes = suback_codes + 1;
    p.suback.reason_code_count = 1;
    emit_valid("suback_single", &p);

    static const mqttproto_str filters[] = {{"a/+", 3}, {"$share/g/x/#", 12}, {"#", 1}};
    p = packet(MQTTPROTO_PACKET_UNSUBSCRIBE);
    p.unsubscribe.packet_id = 11;
    p.unsubscribe.topic_filters.items = filters;
    p.unsubscribe.topic_filters.count = 1;
    emit_valid("unsubscribe_single", &p);

    p.unsubscribe.topic_filters.count = 3;
    must(mqttproto_properties_set_user_properties(
             &p.unsubscribe.properties, MQTTPROTO_PACKET_UNSUBSCRIBE, odd_user_properties, 4),
         "user properties");
    emit_valid("unsubscribe_many_properties", &p);

    static const uint8_t unsuback_codes[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8f, 0x91};
    p = packet(MQTTPROTO_PACKET_UNSUBACK);
    p.unsuback.packet_id = 11;
    p.unsuback.reason_codes = unsuback_codes;
    p.unsuback.reason_code_count = sizeof unsuback_codes;
    must(mqttproto_properties_set_str(&p.unsuback.properties, MQTTPROTO_PACKET_UNSUBACK,
                                      MQTTPROTO_PROP_REASON_STRING, s("done")),
         "reason string");
    must(mqttproto_properties_set_user_properties(&p.unsuback.properties, MQTTPROTO_PACKET_UNSUBACK,
                                                  one_user_property, 1),
         "user property");
    emit_valid("unsuback_all_reason_codes_properties", &p);

    p = packet(MQTTPROTO_PACKET_UNSUBACK);
    p.unsuback.packet_id = 11;
    p.unsuback.reason_codes = unsuback_codes;
    p.unsuback.reason_code_count = 1;
    emit_valid("unsuback_single", &p);
}

static void reason_only_seeds(void)
{
    mqttproto_packet p = packet(MQTTPROTO_PACKET_PINGREQ);
    emit_valid("pingreq", &p);
    p = packet(MQTTPROTO_PACKET_PINGRESP);
    emit_valid("pingresp", &p);

    p = packet(MQTTPROTO_PACKET_DISCONNECT);
    emit_valid("disconnect_normal_short", &p);
    p.disconnect.reason_code = MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE;
    emit_valid("disconnect_reason_only", &p);

    p = packet(MQTTPROTO_PACKET_DISCONNECT);
    p.disconnect.reason_code = MQTTPROTO_RC_SESSION_TAKEN_OVER;
    mqttproto_properties *pr = &p.disconnect.properties;
    const int ctx = MQTTPROTO_PACKET_DISCONNECT;
    must(mqttproto_properties_set_int(pr, ctx, MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 0),
         "session expiry");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_REASON_STRING, s("taken over")),
         "reason string");
    must(mqttproto_properties_set_str(pr, ctx, MQTTPROTO_PROP_SERVER_REFERENCE, s("b:1883")),
         "server reference");
    must(mqttproto_properties_set_user_properties(pr, ctx, one_user_property, 1), "user property");
    emit_valid("disconnect_all_properties", &p);

    p = packet(MQTTPROTO_PACKET_AUTH);
    emit_valid("auth_success_short", &p);

    p = packet(MQTTPROTO_PACKET_AUTH);
    p.auth.reason_code = MQTTPROTO_RC_CONTINUE_AUTHENTICATION;
    pr = &p.auth.properties;
    must(mqttproto_properties_set_str(pr, MQTTPROTO_PACKET_AUTH,
                                      MQTTPROTO_PROP_AUTHENTICATION_METHOD, s("SCRAM-SHA-1")),
         "authentication method");
    must(mqttproto_properties_set_bin(pr, MQTTPROTO_PACKET_AUTH, MQTTPROTO_PROP_AUTHENTICATION_DATA,
                                      b("r=abc,s=xyz", 11)),
         "authentication data");
    must(mqttproto_properties_set_str(pr, MQTTPROTO_PACKET_AUTH, MQTTPROTO_PROP_REASON_STRING,
                                      s("next step")),
         "reason string");
    must(mqttproto_properties_set_user_properties(pr, MQTTPROTO_PACKET_AUTH, one_user_property, 1),
         "user property");
    emit_valid("auth_continue_all_properties", &p);

    p = packet(MQTTPROTO_PACKET_AUTH);
    p.auth.reason_code = MQTTPROTO_RC_REAUTHENTICATE;
    must(mqttproto_properties_set_str(&p.auth.properties, MQTTPROTO_PACKET_AUTH,
                                      MQTTPROTO_PROP_AUTHENTICATION_METHOD, s("TOKEN")),
         "authentication method");
    emit_valid("auth_reauthenticate", &p);
}

/* Valid inputs in a form the encoder does not write (it picks the shortest). */
static void non_canonical_seeds(void)
{
    emit_hex("puback_empty_property_block", "40 04 00 01 00 00", 1);
    emit_hex("pubrel_reason_zero_only", "62 03 00 01 00", 1);
    emit_hex("disconnect_empty_property_block", "e0 02 00 00", 1);
    emit_hex("auth_reason_zero_only", "f0 01 00", 1);
    emit_hex("publish_properties_out_of_order",
             "32 1b 00 03 61 2f 62 00 07 11 23 00 05 01 01 26 00 01 6b 00 01 76 02 00 00 00 3c "
             "68 69",
             1);
    emit_hex("publish_subscription_ids_around_user_property",
             "30 12 00 01 61 0e 0b 05 26 00 01 6b 00 01 76 0b 81 01 0b 07", 1);
    emit_hex("disconnect_empty_user_property", "e0 07 00 05 26 00 00 00 00", 1);
}

static void invalid_seeds(void)
{
    /* Fixed header [MQTT-2.1.3-1] [MQTT-1.5.5-1] [MQTT-3.3.1-2] [MQTT-3.3.1-4] */
    emit_hex("reserved_type_0", "00 00", MQTTPROTO_ERR_RESERVED_PACKET_TYPE);
    emit_hex("connack_bad_header_flags", "21 03 00 00 00", MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS);
    emit_hex("pubrel_bad_header_flags", "60 02 00 01", MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS);
    emit_hex("subscribe_bad_header_flags", "80 07 00 01 00 00 01 61 00",
             MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS);
    emit_hex("publish_qos3", "36 07 00 01 61 00 01 00 78", MQTTPROTO_ERR_BAD_QOS);
    emit_hex("publish_dup_qos0", "38 04 00 01 61 00", MQTTPROTO_ERR_DUP_ON_QOS0);
    emit_hex("vbi_five_bytes", "30 ff ff ff ff 01", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER);
    emit_hex("vbi_non_minimal", "30 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER);
    emit_hex("publish_incomplete_body", "30 0a 00 03 61 2f 62", 0);
    emit_hex("pingreq_trailing_byte", "c0 01 00", MQTTPROTO_ERR_TRAILING_BYTES);

    /* PUBLISH */
    emit_hex("publish_truncated_topic", "30 03 00 05 61", MQTTPROTO_ERR_TRUNCATED);
    emit_hex("publish_topic_overlong_utf8", "30 05 00 02 c0 af 00", MQTTPROTO_ERR_INVALID_UTF8);
    emit_hex("publish_topic_surrogate", "30 06 00 03 ed a0 80 00", MQTTPROTO_ERR_INVALID_UTF8);
    emit_hex("publish_topic_nul", "30 06 00 03 61 00 62 00", MQTTPROTO_ERR_UTF8_NULL_CHARACTER);
    emit_hex("publish_topic_wildcard", "30 06 00 03 61 2f 2b 00", MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    emit_hex("publish_unknown_property", "30 06 00 01 61 02 05 00", MQTTPROTO_ERR_UNKNOWN_PROPERTY);
    emit_hex("publish_property_not_allowed", "30 09 00 01 61 05 11 00 00 00 00",
             MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    emit_hex("publish_duplicate_property", "30 08 00 01 61 04 01 00 01 01",
             MQTTPROTO_ERR_DUPLICATE_PROPERTY);
    emit_hex("publish_payload_format_2", "30 06 00 01 61 02 01 02",
             MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    emit_hex("publish_topic_alias_0", "30 07 00 01 61 03 23 00 00",
             MQTTPROTO_ERR_TOPIC_ALIAS_INVALID);
    emit_hex("publish_empty_topic_without_alias", "30 03 00 00 00",
             MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS);
    emit_hex("publish_response_topic_wildcard", "30 08 00 01 61 04 08 00 01 23",
             MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    emit_hex("publish_qos1_packet_id_0", "32 06 00 01 61 00 00 00", MQTTPROTO_ERR_ZERO_PACKET_ID);
    emit_hex("publish_property_length_past_end", "30 05 00 01 61 09 01", MQTTPROTO_ERR_TRUNCATED);

    /* Acknowledgements, DISCONNECT, AUTH */
    emit_hex("puback_packet_id_0", "40 02 00 00", MQTTPROTO_ERR_ZERO_PACKET_ID);
    emit_hex("puback_bad_reason", "40 03 00 01 01", MQTTPROTO_ERR_INVALID_REASON_CODE);
    emit_hex("puback_trailing_after_properties", "40 05 00 01 00 00 ff",
             MQTTPROTO_ERR_TRAILING_BYTES);
    emit_hex("puback_property_block_past_end", "40 05 00 01 00 05 1f", MQTTPROTO_ERR_TRUNCATED);
    emit_hex("puback_reason_string_truncated", "40 07 00 01 00 03 1f 00 05",
             MQTTPROTO_ERR_TRUNCATED);
    emit_hex("disconnect_bad_reason", "e0 01 03", MQTTPROTO_ERR_INVALID_REASON_CODE);
    emit_hex("disconnect_user_property_bad_utf8", "e0 08 00 06 26 00 01 ff 00 00",
             MQTTPROTO_ERR_INVALID_UTF8);
    emit_hex("disconnect_two_byte_property_id", "e0 04 00 02 80 01",
             MQTTPROTO_ERR_UNKNOWN_PROPERTY);
    emit_hex("auth_bad_reason", "f0 01 01", MQTTPROTO_ERR_INVALID_REASON_CODE);
    emit_hex("auth_property_not_allowed", "f0 07 18 05 11 00 00 00 00",
             MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);

    /* CONNECT [MQTT-3.1.2-1] [MQTT-3.1.2-3] [MQTT-3.1.2-11..13] */
    emit_hex("connect_valid_base", "10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00", 1);
    emit_hex("connect_bad_protocol_name", "10 0d 00 04 4d 51 54 58 05 02 00 3c 00 00 00",
             MQTTPROTO_ERR_BAD_PROTOCOL_NAME);
    emit_hex("connect_protocol_version_4", "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 00 00",
             MQTTPROTO_ERR_UNSUPPORTED_PROTOCOL_VERSION);
    emit_hex("connect_reserved_flag", "10 0d 00 04 4d 51 54 54 05 03 00 3c 00 00 00",
             MQTTPROTO_ERR_BAD_CONNECT_FLAGS);
    emit_hex("connect_will_qos_without_will", "10 0d 00 04 4d 51 54 54 05 0a 00 3c 00 00 00",
             MQTTPROTO_ERR_BAD_CONNECT_FLAGS);
    emit_hex("connect_will_retain_without_will", "10 0d 00 04 4d 51 54 54 05 22 00 3c 00 00 00",
             MQTTPROTO_ERR_BAD_CONNECT_FLAGS);
    emit_hex("connect_will_qos3", "10 0d 00 04 4d 51 54 54 05 1e 00 3c 00 00 00",
             MQTTPROTO_ERR_BAD_QOS);
    emit_hex("connect_password_without_flag",
             "10 10 00 04 4d 51 54 54 05 02 00 3c 00 00 00 00 01 70", MQTTPROTO_ERR_TRAILING_BYTES);
    emit_hex("connect_username_flag_without_username",
             "10 0d 00 04 4d 51 54 54 05 82 00 3c 00 00 00", MQTTPROTO_ERR_TRUNCATED);
    emit_hex("connect_receive_maximum_0", "10 10 00 04 4d 51 54 54 05 02 00 3c 03 21 00 00 00 00",
             MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    emit_hex("connect_will_property_not_allowed",
             "10 18 00 04 4d 51 54 54 05 06 00 3c 00 00 00 05 11 00 00 00 00 00 01 61 00 00",
             MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED);
    emit_hex("connect_will_topic_empty",
             "10 12 00 04 4d 51 54 54 05 06 00 3c 00 00 00 00 00 00 00 00",
             MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    emit_hex("connect_client_id_bad_utf8", "10 0e 00 04 4d 51 54 54 05 02 00 3c 00 00 01 ff",
             MQTTPROTO_ERR_INVALID_UTF8);
    emit_hex("connect_truncated_protocol_name", "10 03 00 04 4d", MQTTPROTO_ERR_TRUNCATED);

    /* CONNACK [MQTT-3.2.2-1] [MQTT-3.2.2-6] [MQTT-3.2.2-8] */
    emit_hex("connack_bad_ack_flags", "20 03 02 00 00", MQTTPROTO_ERR_BAD_CONNACK_FLAGS);
    emit_hex("connack_session_present_on_error", "20 03 01 80 00",
             MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR);
    emit_hex("connack_bad_reason", "20 03 00 01 00", MQTTPROTO_ERR_INVALID_REASON_CODE);
    emit_hex("connack_without_properties", "20 02 00 00", MQTTPROTO_ERR_TRUNCATED);
    emit_hex("connack_maximum_qos_2", "20 05 00 00 02 24 02", MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);

    /* SUBSCRIBE, UNSUBSCRIBE, SUBACK, UNSUBACK */
    emit_hex("subscribe_reserved_option_bits", "82 07 00 01 00 00 01 61 c0",
             MQTTPROTO_ERR_BAD_SUBSCRIPTION_OPTIONS);
    emit_hex("subscribe_qos3", "82 07 00 01 00 00 01 61 03",
             MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID);
    emit_hex("subscribe_retain_handling_3", "82 07 00 01 00 00 01 61 30",
             MQTTPROTO_ERR_BAD_RETAIN_HANDLING);
    emit_hex("subscribe_empty", "82 03 00 01 00", MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST);
    emit_hex("subscribe_no_local_on_shared",
             "82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 61 04",
             MQTTPROTO_ERR_NO_LOCAL_ON_SHARED);
    emit_hex("subscribe_hash_not_last", "82 0b 00 01 00 00 05 61 2f 23 2f 62 00",
             MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    emit_hex("subscribe_missing_options", "82 06 00 01 00 00 01 61", MQTTPROTO_ERR_TRUNCATED);
    emit_hex("subscribe_two_subscription_ids", "82 0b 00 01 04 0b 01 0b 02 00 01 61 00",
             MQTTPROTO_ERR_DUPLICATE_PROPERTY);
    emit_hex("subscribe_subscription_id_0", "82 09 00 01 02 0b 00 00 01 61 00",
             MQTTPROTO_ERR_INVALID_PROPERTY_VALUE);
    emit_hex("subscribe_subscription_id_non_minimal", "82 0a 00 01 03 0b 81 00 00 01 61 00",
             MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER);
    emit_hex("unsubscribe_empty", "a2 03 00 01 00", MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST);
    emit_hex("unsubscribe_bad_filter", "a2 08 00 01 00 00 03 61 23 62",
             MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    emit_hex("suback_empty", "90 03 00 01 00", MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST);
    emit_hex("suback_bad_reason", "90 04 00 01 00 03", MQTTPROTO_ERR_INVALID_REASON_CODE);
    emit_hex("unsuback_bad_reason", "b0 04 00 01 00 01", MQTTPROTO_ERR_INVALID_REASON_CODE);
}

static void stream_seeds(void)
{
    static const char *const session[] = {
        "connect_all_properties_will_credentials",
        "connack_session_present_all_properties",
        "subscribe_many_options_properties",
        "suback_all_reason_codes_properties",
        "publish_qos1_all_properties",
        "puback_reason_properties",
        "publish_qos2_dup_retain_empty_payload",
        "pubrec_reason_properties",
        "pubrel_reason_properties",
        "pubcomp_reason_properties",
        "pingreq",
        "pingresp",
        "unsubscribe_many_properties",
        "unsuback_all_reason_codes_properties",
        "auth_continue_all_properties",
        "disconnect_all_properties",
        NULL,
    };
    static const uint8_t no_options[] = {0x00};
    emit_stream("stream_session", no_options, 1, session, NULL, 0);

    static const char *const few[] = {"connect_minimal", "publish_qos0", "pingreq", NULL};
    emit_stream("stream_then_bad_packet", no_options, 1, few, "40 03 00 01 01",
                MQTTPROTO_ERR_INVALID_REASON_CODE);
    emit_stream("stream_then_incomplete_packet", no_options, 1, few, "30 0a 00 03 61", 0);

    /* Option bits: bit 0 a maximum packet size byte, bit 1 a user property limit byte. */
    static const char *const big[] = {"publish_qos1_all_properties", NULL};
    static const uint8_t size_16[] = {0x01, 0x10};
    emit_stream("options_packet_too_large", size_16, 2, big, NULL, MQTTPROTO_ERR_PACKET_TOO_LARGE);
    static const char *const small[] = {"pingreq", "pingresp", "suback_single", "unsuback_single",
                                        NULL};
    emit_stream("options_small_packets_within_size", size_16, 2, small, NULL, 0);
    static const uint8_t size_0[] = {0x01, 0x00};
    emit_stream("options_size_0_means_no_limit", size_0, 2, big, NULL, 0);
    static const char *const two_props[] = {"pingresp", "publish_qos1_expiry_two_user_properties",
                                            NULL};
    static const uint8_t one_user_prop[] = {0x02, 0x00};
    emit_stream("options_too_many_user_properties", one_user_prop, 2, two_props, NULL,
                MQTTPROTO_ERR_TOO_MANY_PROPERTIES);
    static const uint8_t both[] = {0x03, 0xff, 0x07};
    static const char *const within[] = {"connack_session_present_all_properties",
                                         "publish_qos1_expiry_two_user_properties",
                                         "unsubscribe_many_properties", NULL};
    emit_stream("options_both_limits_met", both, 3, within, NULL, 0);
}

static void make_dir(const char *target)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", root, target);
    if (mkdir(path, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "make_seeds: cannot create %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <corpus directory>\n", argv[0]);
        return 2;
    }
    root = argv[1];
    make_dir("fuzz_decode");
    make_dir("fuzz_roundtrip");

    connect_seeds();
    connack_seeds();
    publish_seeds();
    ack_seeds();
    subscribe_seeds();
    reason_only_seeds();
    non_canonical_seeds();
    invalid_seeds();
    stream_seeds();

    if (failures != 0) {
        fprintf(stderr, "make_seeds: %d checks failed\n", failures);
        return 1;
    }
    printf("make_seeds: %zu packets encoded, seeds written under %s\n", valid_count, root);
    return 0;
}
