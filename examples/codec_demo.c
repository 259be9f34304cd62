/*
 * A tour of the libmqttproto codec: build a CONNECT and a PUBLISH, encode
 * them, then decode a byte stream as a client would receive it from a
 * server and print every packet in it.
 */
#include <mqttproto/mqttproto.h>

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* Exit with a message when a libmqttproto call returns an error. */
static void check(ptrdiff_t r, const char *what)
{
    if (r < 0) {
        fprintf(stderr, "codec_demo: %s failed: %s (%s)\n", what, mqttproto_strerror((int)r),
                mqttproto_err_name((int)r));
        exit(1);
    }
}

static void print_hex(const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        printf("%s%02x", i % 16 == 0 ? "    " : " ", data[i]);
        if (i % 16 == 15 || i + 1 == len) {
            putchar('\n');
        }
    }
}

/* Strings from the wire are not NUL-terminated and may hold any character. */
static void print_str(mqttproto_str s)
{
    putchar('"');
    for (size_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.data[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x80 && isprint(c)) {
            putchar(c);
        } else {
            printf("\\x%02x", c);
        }
    }
    putchar('"');
}

static void print_bin(mqttproto_bin b)
{
    printf("%zu bytes [", b.len);
    for (size_t i = 0; i < b.len; i++) {
        printf(i == 0 ? "%02x" : " %02x", b.data[i]);
    }
    putchar(']');
}

static void print_properties(const mqttproto_properties *p, const char *indent)
{
    if (p->present == 0 && p->user_property_count == 0) {
        printf("%sproperties: none\n", indent);
        return;
    }
    printf("%sproperties:\n", indent);
    for (int id = 1; id < 64; id++) {
        if (!mqttproto_properties_has(p, id) || id == MQTTPROTO_PROP_USER_PROPERTY ||
            id == MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER) {
            continue;
        }
        printf("%s  %s: ", indent, mqttproto_property_name(id));
        switch ((mqttproto_property_id)id) {
        case MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR:
            printf("%u", p->payload_format_indicator);
            break;
        case MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL:
            printf("%" PRIu32 " s", p->message_expiry_interval);
            break;
        case MQTTPROTO_PROP_CONTENT_TYPE:
            print_str(p->content_type);
            break;
        case MQTTPROTO_PROP_RESPONSE_TOPIC:
            print_str(p->response_topic);
            break;
        case MQTTPROTO_PROP_CORRELATION_DATA:
            print_bin(p->correlation_data);
            break;
        case MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL:
            printf("%" PRIu32 " s", p->session_expiry_interval);
            break;
        case MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER:
            print_str(p->assigned_client_identifier);
            break;
        case MQTTPROTO_PROP_SERVER_KEEP_ALIVE:
            printf("%u s", p->server_keep_alive);
            break;
        case MQTTPROTO_PROP_AUTHENTICATION_METHOD:
            print_str(p->authentication_method);
            break;
        case MQTTPROTO_PROP_AUTHENTICATION_DATA:
            print_bin(p->authentication_data);
            break;
        case MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION:
            printf("%u", p->request_problem_information);
            break;
        case MQTTPROTO_PROP_WILL_DELAY_INTERVAL:
            printf("%" PRIu32 " s", p->will_delay_interval);
            break;
        case MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION:
            printf("%u", p->request_response_information);
            break;
        case MQTTPROTO_PROP_RESPONSE_INFORMATION:
            print_str(p->response_information);
            break;
        case MQTTPROTO_PROP_SERVER_REFERENCE:
            print_str(p->server_reference);
            break;
        case MQTTPROTO_PROP_REASON_STRING:
            print_str(p->reason_string);
            break;
        case MQTTPROTO_PROP_RECEIVE_MAXIMUM:
            printf("%u", p->receive_maximum);
            break;
        case MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM:
            printf("%u", p->topic_alias_maximum);
            break;
        case MQTTPROTO_PROP_TOPIC_ALIAS:
            printf("%u", p->topic_alias);
            break;
        case MQTTPROTO_PROP_MAXIMUM_QOS:
            printf("%u", p->maximum_qos);
            break;
        case MQTTPROTO_PROP_RETAIN_AVAILABLE:
            printf("%u", p->retain_available);
            break;
        case MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE:
            printf("%" PRIu32 " bytes", p->maximum_packet_size);
            break;
        case MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE:
            printf("%u", p->wildcard_subscription_available);
            break;
        case MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE:
            printf("%u", p->subscription_identifier_available);
            break;
        case MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE:
            printf("%u", p->shared_subscription_available);
            break;
        case MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER:
        case MQTTPROTO_PROP_USER_PROPERTY:
            break;
        }
        putchar('\n');
    }
    size_t cursor = 0;
    uint32_t sub_id;
    while (mqttproto_subscription_identifiers_next(p, &cursor, &sub_id)) {
        printf("%s  SUBSCRIPTION_IDENTIFIER: %" PRIu32 "\n", indent, sub_id);
    }
    cursor = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(p, &cursor, &up)) {
        printf("%s  USER_PROPERTY: ", indent);
        print_str(up.name);
        printf(" = ");
        print_str(up.value);
        putchar('\n');
    }
}

static void print_reason_code(uint8_t rc)
{
    printf("0x%02x %s", rc, mqttproto_reason_code_name(rc));
}

static void print_ack(const mqttproto_ack *a)
{
    printf("  packet id: %u\n  reason code: ", a->packet_id);
    print_reason_code(a->reason_code);
    putchar('\n');
    print_properties(&a->properties, "  ");
}

static void print_suback(const mqttproto_suback *s)
{
    printf("  packet id: %u\n  reason codes:\n", s->packet_id);
    for (size_t i = 0; i < s->reason_code_count; i++) {
        printf("    [%zu] ", i);
        print_reason_code(s->reason_codes[i]);
        putchar('\n');
    }
    print_properties(&s->properties, "  ");
}

static void print_packet(const mqttproto_packet *pkt)
{
    switch (pkt->type) {
    case MQTTPROTO_PACKET_CONNECT: {
        const mqttproto_connect *c = &pkt->connect;
        printf("  protocol version: %u\n  clean start: %s\n  keep alive: %u s\n  client id: ",
               c->protocol_version, c->clean_start ? "yes" : "no", c->keep_alive);
        print_str(c->client_id);
        putchar('\n');
        if (c->has_will) {
            printf("  will topic: ");
            print_str(c->will.topic);
            printf("\n  will payload: ");
            print_bin(c->will.payload);
            printf("\n  will QoS: %d, retain: %s\n", (int)c->will.qos,
                   c->will.retain ? "yes" : "no");
            print_properties(&c->will.properties, "  will ");
        }
        if (c->has_username) {
            printf("  username: ");
            print_str(c->username);
            putchar('\n');
        }
        if (c->has_password) {
            printf("  password: %zu bytes\n", c->password.len);
        }
        print_properties(&c->properties, "  ");
        break;
    }
    case MQTTPROTO_PACKET_CONNACK:
        printf("  session present: %s\n  reason code: ",
               pkt->connack.session_present ? "yes" : "no");
        print_reason_code(pkt->connack.reason_code);
        putchar('\n');
        print_properties(&pkt->connack.properties, "  ");
        break;
    case MQTTPROTO_PACKET_PUBLISH: {
        const mqttproto_publish *p = &pkt->publish;
        printf("  topic: ");
        print_str(p->topic);
        printf("\n  QoS: %d (%s), retain: %s, dup: %s\n", (int)p->qos,
               mqttproto_qos_name((int)p->qos), p->retain ? "yes" : "no", p->dup ? "yes" : "no");
        if (p->qos != MQTTPROTO_QOS_AT_MOST_ONCE) {
            printf("  packet id: %u\n", p->packet_id);
        }
        printf("  payload: ");
        print_str((mqttproto_str){(const char *)p->payload.data, p->payload.len});
        putchar('\n');
        print_properties(&p->properties, "  ");
        break;
    }
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        print_ack(&pkt->puback);
        break;
    case MQTTPROTO_PACKET_SUBSCRIBE: {
        printf("  packet id: %u\n  subscriptions:\n", pkt->subscribe.packet_id);
        size_t cursor = 0;
        mqttproto_subscription sub;
        while (mqttproto_subscriptions_next(&pkt->subscribe.subscriptions, &cursor, &sub)) {
            printf("    ");
            print_str(sub.topic_filter);
            printf(" max QoS %d, no local %s, retain as published %s, retain handling %s\n",
                   (int)sub.max_qos, sub.no_local ? "yes" : "no",
                   sub.retain_as_published ? "yes" : "no",
                   mqttproto_retain_handling_name((int)sub.retain_handling));
        }
        print_properties(&pkt->subscribe.properties, "  ");
        break;
    }
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        print_suback(&pkt->suback);
        break;
    case MQTTPROTO_PACKET_UNSUBSCRIBE: {
        printf("  packet id: %u\n  topic filters:\n", pkt->unsubscribe.packet_id);
        size_t cursor = 0;
        mqttproto_str filter;
        while (mqttproto_topic_filters_next(&pkt->unsubscribe.topic_filters, &cursor, &filter)) {
            printf("    ");
            print_str(filter);
            putchar('\n');
        }
        print_properties(&pkt->unsubscribe.properties, "  ");
        break;
    }
    case MQTTPROTO_PACKET_PINGREQ:
    case MQTTPROTO_PACKET_PINGRESP:
        break;
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        printf("  reason code: ");
        print_reason_code(pkt->disconnect.reason_code);
        putchar('\n');
        print_properties(&pkt->disconnect.properties, "  ");
        break;
    }
}

/* Encode pkt into buf, sizing it first as a caller with a dynamic buffer would. */
static size_t encode(const mqttproto_packet *pkt, uint8_t *buf, size_t cap)
{
    ptrdiff_t size = mqttproto_encoded_size(pkt, NULL);
    check(size, "mqttproto_encoded_size");
    if ((size_t)size > cap) {
        fprintf(stderr, "codec_demo: %td bytes do not fit the %zu-byte buffer\n", size, cap);
        exit(1);
    }
    ptrdiff_t n = mqttproto_encode(pkt, NULL, buf, cap);
    check(n, "mqttproto_encode");
    if (n != size) {
        fprintf(stderr, "codec_demo: encoded %td bytes, announced %td\n", n, size);
        exit(1);
    }
    return (size_t)n;
}

/*
 * What a client reads from its server after sending the CONNECT, a
 * SUBSCRIBE with two topic filters and the PUBLISH built below (a server
 * echoes a PUBLISH when the client subscribed to its topic). Written from
 * the packet layouts of MQTT 5.0 chapter 3.
 */
/* clang-format off */
static const uint8_t captured_stream[] = {
    /* CONNACK, remaining length 39: no session present, Success, 36 bytes of properties */
    0x20, 0x27, 0x00, 0x00, 0x24,
    0x21, 0x00, 0x14,                                 /* Receive Maximum 20 */
    0x24, 0x01,                                       /* Maximum QoS 1 */
    0x25, 0x01,                                       /* Retain Available 1 */
    0x27, 0x00, 0x10, 0x00, 0x00,                     /* Maximum Packet Size 1,048,576 */
    0x22, 0x00, 0x0a,                                 /* Topic Alias Maximum 10 */
    0x13, 0x00, 0x3c,                                 /* Server Keep Alive 60 */
    0x26, 0x00, 0x06, 'b', 'r', 'o', 'k', 'e', 'r',   /* User Property broker = example */
    0x00, 0x07, 'e', 'x', 'a', 'm', 'p', 'l', 'e',

    /* SUBACK, remaining length 5: packet id 2, no properties, QoS 1 granted, Not authorized */
    0x90, 0x05, 0x00, 0x02, 0x00, 0x01, 0x87,

    /* PUBLISH QoS 1, remaining length 55 */
    0x32, 0x37,
    0x00, 0x19, 's', 'e', 'n', 's', 'o', 'r', 's', '/', 'r', 'o', 'o', 'm', '1', '/',
    't', 'e', 'm', 'p', 'e', 'r', 'a', 't', 'u', 'r', 'e',
    0x00, 0x01,                                       /* packet id 1 */
    0x15,                                             /* 21 bytes of properties */
    0x02, 0x00, 0x00, 0x0e, 0x10,                     /* Message Expiry Interval 3600 */
    0x26, 0x00, 0x04, 'u', 'n', 'i', 't',             /* User Property unit = celsius */
    0x00, 0x07, 'c', 'e', 'l', 's', 'i', 'u', 's',
    '2', '1', '.', '5',                               /* payload */

    /* PUBACK, remaining length 3: packet id 1, No matching subscribers, no properties */
    0x40, 0x03, 0x00, 0x01, 0x10,

    /* PINGRESP */
    0xd0, 0x00,

    /* DISCONNECT, remaining length 16: Server shutting down, 14 bytes of properties */
    0xe0, 0x10, 0x8b, 0x0e,
    0x1f, 0x00, 0x0b, 'm', 'a', 'i', 'n', 't', 'e', 'n', 'a', 'n', 'c', 'e', /* Reason String */
};
/* clang-format on */

int main(void)
{
    uint8_t connect_buf[128];
    uint8_t publish_buf[128];

    printf("libmqttproto %s codec demonstration\n\n", mqttproto_version_string());

    /* CONNECT: clean start, keep alive 60 s, session kept for an hour. */
    mqttproto_packet connect;
    memset(&connect, 0, sizeof connect);
    connect.type = MQTTPROTO_PACKET_CONNECT;
    connect.connect.protocol_version = MQTTPROTO_PROTOCOL_V5;
    connect.connect.clean_start = true;
    connect.connect.keep_alive = 60;
    connect.connect.client_id = mqttproto_str_from_cstr("demo-client");
    mqttproto_properties_init(&connect.connect.properties);
    check(mqttproto_properties_set_int(&connect.connect.properties, MQTTPROTO_PACKET_CONNECT,
                                       MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, 3600),
          "mqttproto_properties_set_int(SESSION_EXPIRY_INTERVAL)");
    size_t connect_len = encode(&connect, connect_buf, sizeof connect_buf);
    printf("Encoded CONNECT, %zu bytes:\n", connect_len);
    print_hex(connect_buf, connect_len);

    /* PUBLISH QoS 1 with a unit and an expiry. */
    static const mqttproto_user_property unit = {{"unit", 4}, {"celsius", 7}};
    mqttproto_packet publish;
    memset(&publish, 0, sizeof publish);
    publish.type = MQTTPROTO_PACKET_PUBLISH;
    publish.publish.topic = mqttproto_str_from_cstr("sensors/room1/temperature");
    publish.publish.payload = mqttproto_bin_make("21.5", 4);
    publish.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    publish.publish.packet_id = 1;
    mqttproto_properties_init(&publish.publish.properties);
    check(mqttproto_properties_set_user_properties(&publish.publish.properties,
                                                   MQTTPROTO_PACKET_PUBLISH, &unit, 1),
          "mqttproto_properties_set_user_properties");
    check(mqttproto_properties_set_int(&publish.publish.properties, MQTTPROTO_PACKET_PUBLISH,
                                       MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 3600),
          "mqttproto_properties_set_int(MESSAGE_EXPIRY_INTERVAL)");
    size_t publish_len = encode(&publish, publish_buf, sizeof publish_buf);
    printf("\nEncoded PUBLISH, %zu bytes:\n", publish_len);
    print_hex(publish_buf, publish_len);

    /* The decoder can tell where each packet ends before it has all of it. */
    mqttproto_packet_type type;
    ptrdiff_t frame = mqttproto_frame_size(publish_buf, 2, NULL, &type);
    check(frame, "mqttproto_frame_size");
    printf("\nmqttproto_frame_size on the first 2 bytes: a %s of %td bytes\n",
           mqttproto_packet_type_name((int)type), frame);

    /* Decode the captured stream packet by packet. */
    mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    opts.maximum_packet_size = 1024; /* what this client would announce in CONNECT */

    printf("\nDecoding a captured stream of %zu bytes:\n", sizeof captured_stream);
    size_t offset = 0;
    while (offset < sizeof captured_stream) {
        mqttproto_packet pkt;
        ptrdiff_t n = mqttproto_decode(captured_stream + offset, sizeof captured_stream - offset,
                                       &opts, &pkt);
        check(n, "mqttproto_decode");
        if (n == 0) {
            fprintf(stderr, "codec_demo: the stream ends inside a packet at offset %zu\n", offset);
            return 1;
        }
        printf("\n[offset %zu] %s, %td bytes\n", offset, mqttproto_packet_type_name((int)pkt.type),
               n);
        print_packet(&pkt);
        if (pkt.type == MQTTPROTO_PACKET_PUBLISH) {
            bool same = (size_t)n == publish_len &&
                        memcmp(captured_stream + offset, publish_buf, publish_len) == 0;
            printf("  (%s the PUBLISH encoded above)\n", same ? "byte for byte" : "differs from");
            if (!same) {
                return 1;
            }
        }
        offset += (size_t)n;
    }
    printf("\nDecoded the whole stream: %zu bytes.\n", offset);
    return 0;
}
