/*
 * Fuzz target for the decoder: arbitrary bytes decoded as a stream.
 *
 * Input format:
 *   byte 0       option bits (an empty input does nothing)
 *                  bit 0: maximum_packet_size is the next byte (0 keeps
 *                         MQTT's limit, as the options define 0)
 *                  bit 1: max_user_properties is 1 + (next byte & 7)
 *                  bits 7-5 = 100: the protocol version is 3 + (next byte
 *                         % 3): MQTT 3.1, 3.1.1 or 5 (the options'
 *                         protocol_version)
 *                  other bits: ignored
 *                The bytes come in the order of the bits: size, user
 *                property limit, version.
 *   rest         a stream of packets, decoded one after the other until
 *                the decoder needs more bytes or reports an error
 *
 * The stream is copied into a heap buffer of exactly its size so that
 * AddressSanitizer reports any read past it. For every decoded packet every
 * byte of every view is read (strings, binaries, property blocks, list
 * entries from the iterators, reason codes), and each view must lie inside
 * the packet's own bytes. Other checks: a positive return never exceeds the
 * bytes given and respects the configured limits; a prefix of a decoded
 * packet needs more bytes instead of failing; mqttproto_frame_size() agrees
 * with mqttproto_decode(); and every error is one a decoder may report, with
 * an error reason code of MQTT 5. With MQTT 3.1.1 or 3.1 options: no
 * property (except in an MQTT 5 CONNECT, which is read in its own form), no
 * AUTH, CONNACK return codes 0-5, UNSUBACK without reason codes. Any failure
 * aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqttproto/mqttproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile unsigned sink;

/* Never returns: the checks after a failed one may rely on it. */
static _Noreturn void fail(const char *what, ptrdiff_t value)
{
    fprintf(stderr, "fuzz_decode: %s (value %td, %s)\n", what, value,
            mqttproto_err_name(value < 0 ? (int)value : 0));
    abort();
}

static void check(bool ok, const char *what, ptrdiff_t value)
{
    if (!ok) {
        fail(what, value);
    }
}

/* The bytes of the packet being walked: every view must lie inside them. */
struct frame {
    const uint8_t *start;
    size_t len;
};

static void touch(const struct frame *f, const void *ptr, size_t len)
{
    if (len == 0) {
        return;
    }
    const uint8_t *p = ptr;
    /* fail() itself, not check(): the analyzer follows calls only so deep,
       and must see that a NULL view is never read. */
    if (p == NULL) {
        fail("non-empty view with a NULL pointer", (ptrdiff_t)len);
    }
    check(p >= f->start && (size_t)(p - f->start) <= f->len &&
              len <= f->len - (size_t)(p - f->start),
          "view outside the packet", (ptrdiff_t)len);
    unsigned sum = 0;
    for (size_t i = 0; i < len; i++) {
        sum += p[i];
    }
    sink += sum;
}

static void touch_str(const struct frame *f, mqttproto_str s)
{
    touch(f, s.data, s.len);
}

static void touch_bin(const struct frame *f, mqttproto_bin b)
{
    touch(f, b.data, b.len);
}

/* The protocol version of the packet being walked (a CONNECT's own). */
static uint8_t walk_version = MQTTPROTO_PROTOCOL_V5;

static void walk_properties(const struct frame *f, const mqttproto_properties *p,
                            uint32_t max_user_properties)
{
    check(walk_version == MQTTPROTO_PROTOCOL_V5 ||
              (p->present == 0 && p->wire.len == 0 && p->user_property_count == 0 &&
               p->subscription_identifier_count == 0),
          "properties before MQTT 5", (ptrdiff_t)p->present);
    touch_bin(f, p->wire);
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
            touch_str(f, *strs[i].value);
        }
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_CORRELATION_DATA)) {
        touch_bin(f, p->correlation_data);
    }
    if (mqttproto_properties_has(p, MQTTPROTO_PROP_AUTHENTICATION_DATA)) {
        touch_bin(f, p->authentication_data);
    }

    size_t cursor = 0;
    size_t n = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        touch_str(f, up.name);
        touch_str(f, up.value);
        n++;
    }
    check(n == p->user_property_count, "user property iterator count", (ptrdiff_t)n);
    check((n != 0) == mqttproto_properties_has(p, MQTTPROTO_PROP_USER_PROPERTY),
          "user property present bit", (ptrdiff_t)n);
    check(max_user_properties == 0 || n <= max_user_properties, "user property limit",
          (ptrdiff_t)n);

    cursor = 0;
    n = 0;
    uint32_t id;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &id)) {
        check(id >= 1 && id <= MQTTPROTO_MAX_VARIABLE_INT, "subscription identifier range",
              (ptrdiff_t)id);
        check(n > 0 || id == p->subscription_identifier, "first subscription identifier",
              (ptrdiff_t)id);
        sink += id;
        n++;
    }
    check(n == p->subscription_identifier_count, "subscription identifier iterator count",
          (ptrdiff_t)n);
    check((n != 0) == mqttproto_properties_has(p, MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER),
          "subscription identifier present bit", (ptrdiff_t)n);
}

static void walk_subscribe(const struct frame *f, const mqttproto_subscribe *s)
{
    touch_bin(f, s->subscriptions.wire);
    size_t cursor = 0;
    size_t n = 0;
    mqttproto_subscription sub;
    while (mqttproto_subscriptions_next(&s->subscriptions, &cursor, &sub)) {
        touch_str(f, sub.topic_filter);
        check(mqttproto_topic_filter_validate(sub.topic_filter) == 0, "subscribed filter valid",
              (ptrdiff_t)n);
        check((unsigned)sub.max_qos <= 2 && (unsigned)sub.retain_handling <= 2,
              "subscription options", (ptrdiff_t)n);
        n++;
    }
    check(n == s->subscriptions.count && n > 0, "subscription iterator count", (ptrdiff_t)n);
}

static void walk_unsubscribe(const struct frame *f, const mqttproto_unsubscribe *u)
{
    touch_bin(f, u->topic_filters.wire);
    size_t cursor = 0;
    size_t n = 0;
    mqttproto_str filter;
    while (mqttproto_topic_filters_next(&u->topic_filters, &cursor, &filter)) {
        touch_str(f, filter);
        check(mqttproto_topic_filter_validate(filter) == 0, "unsubscribed filter valid",
              (ptrdiff_t)n);
        n++;
    }
    check(n == u->topic_filters.count && n > 0, "topic filter iterator count", (ptrdiff_t)n);
}

static void walk_packet(const struct frame *f, const mqttproto_packet *pkt, uint32_t max_up,
                        uint8_t version)
{
    walk_version = version;
    bool v3 = version != MQTTPROTO_PROTOCOL_V5;
    switch (pkt->type) {
    case MQTTPROTO_PACKET_CONNECT: {
        const mqttproto_connect *c = &pkt->connect;
        check(c->protocol_version >= 3 && c->protocol_version <= 5, "connect protocol level",
              c->protocol_version);
        walk_version = c->protocol_version; /* read in its own form */
        touch_str(f, c->client_id);
        if (c->has_will) {
            touch_str(f, c->will.topic);
            touch_bin(f, c->will.payload);
            check(mqttproto_topic_name_validate(c->will.topic) == 0, "will topic valid", 0);
            check((unsigned)c->will.qos <= 2, "will qos", (ptrdiff_t)c->will.qos);
            walk_properties(f, &c->will.properties, max_up);
        }
        if (c->has_username) {
            touch_str(f, c->username);
        }
        if (c->has_password) {
            touch_bin(f, c->password);
        }
        walk_properties(f, &c->properties, max_up);
        break;
    }
    case MQTTPROTO_PACKET_CONNACK:
        check(!v3 || pkt->connack.reason_code <= 5, "3.1.1 connack return code",
              pkt->connack.reason_code);
        walk_properties(f, &pkt->connack.properties, max_up);
        break;
    case MQTTPROTO_PACKET_PUBLISH: {
        const mqttproto_publish *p = &pkt->publish;
        touch_str(f, p->topic);
        touch_bin(f, p->payload);
        check((unsigned)p->qos <= 2, "publish qos", (ptrdiff_t)p->qos);
        check((p->qos == MQTTPROTO_QOS_AT_MOST_ONCE) == (p->packet_id == 0), "publish packet id",
              p->packet_id);
        check(p->topic.len == 0 || mqttproto_topic_name_validate(p->topic) == 0,
              "publish topic valid", 0);
        walk_properties(f, &p->properties, max_up);
        break;
    }
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        check(pkt->puback.packet_id != 0, "ack packet id", 0);
        check(mqttproto_reason_code_allowed(pkt->puback.reason_code, (int)pkt->type),
              "ack reason code", pkt->puback.reason_code);
        walk_properties(f, &pkt->puback.properties, max_up);
        break;
    case MQTTPROTO_PACKET_SUBSCRIBE:
        walk_properties(f, &pkt->subscribe.properties, max_up);
        walk_subscribe(f, &pkt->subscribe);
        break;
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK: {
        const mqttproto_suback *s = &pkt->suback;
        walk_properties(f, &s->properties, max_up);
        if (v3 && pkt->type == MQTTPROTO_PACKET_UNSUBACK) {
            check(s->reason_code_count == 0, "3.1.1 unsuback reason codes", 0);
            break;
        }
        check(s->reason_code_count > 0, "suback reason code count", 0);
        touch(f, s->reason_codes, s->reason_code_count);
        for (size_t i = 0; i < s->reason_code_count; i++) {
            check(mqttproto_reason_code_allowed(s->reason_codes[i], (int)pkt->type),
                  "suback reason code", s->reason_codes[i]);
        }
        break;
    }
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        walk_properties(f, &pkt->unsubscribe.properties, max_up);
        walk_unsubscribe(f, &pkt->unsubscribe);
        break;
    case MQTTPROTO_PACKET_PINGREQ:
    case MQTTPROTO_PACKET_PINGRESP:
        break;
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        check(!v3 || pkt->type != MQTTPROTO_PACKET_AUTH, "AUTH before MQTT 5", 0);
        check(mqttproto_reason_code_allowed(pkt->disconnect.reason_code, (int)pkt->type),
              "reason code", pkt->disconnect.reason_code);
        walk_properties(f, &pkt->disconnect.properties, max_up);
        break;
    default:
        fail("decoded an unknown packet type", (ptrdiff_t)pkt->type);
    }
}

/* The error reason codes of MQTT 5.0 section 2.4 (0x80 and above). */
static bool is_error_reason_code(uint8_t rc)
{
    static const uint8_t codes[] = {0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
                                    0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91,
                                    0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A,
                                    0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
    return memchr(codes, rc, sizeof codes) != NULL;
}

static void check_error(ptrdiff_t r, const mqttproto_codec_options *opts)
{
    check(r >= -1000, "error code out of range", r);
    int err = (int)r;
    check(strcmp(mqttproto_err_name(err), "MQTTPROTO_ERR_UNKNOWN") != 0, "unknown error code", r);
    uint8_t rc = mqttproto_err_reason_code(err);
    check(is_error_reason_code(rc), "error maps to no MQTT 5 error reason code", r);
    /* Errors about the caller or the encoder's input never come from bytes. */
    check(err != MQTTPROTO_ERR_INVALID_ARGUMENT && err != MQTTPROTO_ERR_NO_MEMORY &&
              err != MQTTPROTO_ERR_BUFFER_TOO_SMALL && err != MQTTPROTO_ERR_UNEXPECTED_PACKET_ID &&
              err != MQTTPROTO_ERR_STRING_TOO_LONG && err != MQTTPROTO_ERR_VALUE_TOO_LARGE,
          "decoder returned a caller or encoder error", r);
    check(err != MQTTPROTO_ERR_TOO_MANY_PROPERTIES || opts->max_user_properties != 0,
          "user property limit reported without a limit", r);
    check(err != MQTTPROTO_ERR_PACKET_TOO_LARGE || opts->maximum_packet_size != 0,
          "packet too large reported without a limit", r);
}

/* Errors that only the fixed header can cause (BAD_QOS and the VBI errors can come from a body). */
static bool is_header_only_error(ptrdiff_t r)
{
    return r == MQTTPROTO_ERR_RESERVED_PACKET_TYPE || r == MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS ||
           r == MQTTPROTO_ERR_DUP_ON_QOS0 || r == MQTTPROTO_ERR_PACKET_TOO_LARGE;
}

static void check_frame_size(const uint8_t *p, size_t avail, const mqttproto_codec_options *opts,
                             ptrdiff_t r, const mqttproto_packet *pkt)
{
    mqttproto_packet_type type = (mqttproto_packet_type)0;
    ptrdiff_t fs = mqttproto_frame_size(p, avail, opts, &type);
    if (r > 0) {
        check(fs == r, "frame size differs from the decoded size", fs);
        check(type == pkt->type, "frame type differs from the decoded type", (ptrdiff_t)type);
    } else if (r == 0) {
        check(fs == 0 || (fs > 0 && (size_t)fs > avail), "frame size of an incomplete packet", fs);
    } else if (fs < 0) {
        check(fs == r, "frame size and decode report different header errors", fs);
    } else {
        /* A body error needs the whole body. */
        check(fs > 0 && (size_t)fs <= avail, "decode error before the packet was complete", fs);
        check(!is_header_only_error(r), "frame size missed a fixed header error", fs);
    }
}

/* A decoded packet cut by one byte must ask for more, from its own buffer. */
static void check_prefix(const uint8_t *p, size_t n, const mqttproto_codec_options *opts)
{
    size_t k = n - 1;
    uint8_t *copy = malloc(k > 0 ? k : 1);
    if (copy == NULL) {
        abort();
    }
    if (k > 0) {
        memcpy(copy, p, k);
    }
    mqttproto_packet pkt;
    ptrdiff_t r = mqttproto_decode(copy, k, opts, &pkt);
    free(copy);
    check(r == 0, "a prefix of a valid packet did not ask for more bytes", r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    size_t pos = 1;
    uint8_t bits = data[0];
    if ((bits & 1u) != 0 && pos < size) {
        opts.maximum_packet_size = data[pos++];
    }
    if ((bits & 2u) != 0 && pos < size) {
        opts.max_user_properties = 1u + (data[pos++] & 7u);
    }
    if ((bits & 0xE0u) == 0x80u && pos < size) {
        opts.protocol_version = (uint8_t)(3u + data[pos++] % 3u);
    }
    uint32_t limit =
        opts.maximum_packet_size == 0 ? MQTTPROTO_MAX_PACKET_SIZE : opts.maximum_packet_size;

    size_t len = size - pos;
    uint8_t *buf = malloc(len > 0 ? len : 1);
    if (buf == NULL) {
        abort();
    }
    if (len > 0) {
        memcpy(buf, data + pos, len);
    }

    size_t off = 0;
    for (;;) {
        mqttproto_packet pkt;
        const uint8_t *p = buf + off;
        size_t avail = len - off;
        ptrdiff_t r = mqttproto_decode(p, avail, &opts, &pkt);
        check_frame_size(p, avail, &opts, r, &pkt);
        if (r < 0) {
            check_error(r, &opts);
            break;
        }
        if (r == 0) {
            break;
        }
        check((size_t)r <= avail, "decoded size exceeds the input", r);
        check(r >= 2, "decoded size below a fixed header", r);
        check((uint64_t)r <= limit, "decoded size exceeds maximum_packet_size", r);
        struct frame f = {p, (size_t)r};
        walk_packet(&f, &pkt, opts.max_user_properties, opts.protocol_version);
        check_prefix(p, (size_t)r, &opts);
        off += (size_t)r;
    }
    free(buf);
    return 0;
}
