/*
 * Every property in every packet type, through the encoder's one walk:
 * each one allowed in a context round-trips byte for byte; each one set
 * directly in the struct with a value out of its range is refused with the
 * error the decoder gives for those bytes; each one not allowed is refused
 * by both encoded_size() and encode(). Then the setters' own errors.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define E(x)   MQTTPROTO_ERR_##x
#define PR(x)  MQTTPROTO_PROP_##x
#define PK(x)  MQTTPROTO_PACKET_##x
#define STR(s) mqttproto_str_from_cstr(s)
#define WILL   MQTTPROTO_PROPERTY_CONTEXT_WILL

static const mqttproto_user_property good_up = {{"k", 1}, {"v", 1}};
static const mqttproto_user_property bad_up = {{"\xC0\xAF", 2}, {"v", 1}};
static const uint32_t good_id = 42;

/*
 * Set property @p id in @p p directly (no setter): a value in range when
 * @p bad is false, else one out of range, returning the error the encoder
 * must give, or 1 when the property has no such value.
 */
static int set_direct(mqttproto_properties *p, int id, bool bad)
{
    static const mqttproto_str bad_utf8 = {"\xC0\xAF", 2}, text = {"text", 4};
    static const mqttproto_bin nullb = {NULL, 3}, bytes = {(const uint8_t *)"\x00\xFF", 2};
    int err = 1;
    p->present |= MQTTPROTO_PROP_BIT(id);
    switch (id) {
    case PR(PAYLOAD_FORMAT_INDICATOR):
        p->payload_format_indicator = bad ? 2 : 1;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(MESSAGE_EXPIRY_INTERVAL):
        p->message_expiry_interval = 3600;
        break;
    case PR(CONTENT_TYPE):
        p->content_type = bad ? bad_utf8 : text;
        err = E(INVALID_UTF8);
        break;
    case PR(RESPONSE_TOPIC):
        p->response_topic = bad ? STR("a/#") : STR("a/b");
        err = E(TOPIC_NAME_INVALID);
        break;
    case PR(CORRELATION_DATA):
        p->correlation_data = bad ? nullb : bytes;
        err = E(INVALID_ARGUMENT);
        break;
    case PR(SUBSCRIPTION_IDENTIFIER):
        p->subscription_identifier = bad ? 0 : 42;
        p->subscription_identifiers = &good_id;
        p->subscription_identifier_count = 1;
        if (bad) {
            static const uint32_t zero = 0;
            p->subscription_identifiers = &zero;
        }
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(SESSION_EXPIRY_INTERVAL):
        p->session_expiry_interval = 60;
        break;
    case PR(ASSIGNED_CLIENT_IDENTIFIER):
        p->assigned_client_identifier = bad ? bad_utf8 : text;
        err = E(INVALID_UTF8);
        break;
    case PR(SERVER_KEEP_ALIVE):
        p->server_keep_alive = 30;
        break;
    case PR(AUTHENTICATION_METHOD):
        p->authentication_method = bad ? bad_utf8 : text;
        err = E(INVALID_UTF8);
        break;
    case PR(AUTHENTICATION_DATA):
        p->authentication_data = bad ? nullb : bytes;
        err = E(INVALID_ARGUMENT);
        break;
    case PR(REQUEST_PROBLEM_INFORMATION):
        p->request_problem_information = bad ? 2 : 0;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(WILL_DELAY_INTERVAL):
        p->will_delay_interval = 5;
        break;
    case PR(REQUEST_RESPONSE_INFORMATION):
        p->request_response_information = bad ? 7 : 1;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(RESPONSE_INFORMATION):
        p->response_information = bad ? bad_utf8 : text;
        err = E(INVALID_UTF8);
        break;
    case PR(SERVER_REFERENCE):
        p->server_reference = bad ? bad_utf8 : text;
        err = E(INVALID_UTF8);
        break;
    case PR(REASON_STRING):
        p->reason_string = bad ? bad_utf8 : text;
        err = E(INVALID_UTF8);
        break;
    case PR(RECEIVE_MAXIMUM):
        p->receive_maximum = bad ? 0 : 20;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(TOPIC_ALIAS_MAXIMUM):
        p->topic_alias_maximum = 10;
        break;
    case PR(TOPIC_ALIAS):
        p->topic_alias = bad ? 0 : 3;
        err = E(TOPIC_ALIAS_INVALID);
        break;
    case PR(MAXIMUM_QOS):
        p->maximum_qos = bad ? 2 : 1;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(RETAIN_AVAILABLE):
        p->retain_available = bad ? 3 : 0;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(USER_PROPERTY):
        p->user_properties = bad ? &bad_up : &good_up;
        p->user_property_count = 1;
        err = E(INVALID_UTF8);
        break;
    case PR(MAXIMUM_PACKET_SIZE):
        p->maximum_packet_size = bad ? 0 : 2048;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(WILDCARD_SUBSCRIPTION_AVAILABLE):
        p->wildcard_subscription_available = bad ? 2 : 1;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(SUBSCRIPTION_IDENTIFIER_AVAILABLE):
        p->subscription_identifier_available = bad ? 2 : 0;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    case PR(SHARED_SUBSCRIPTION_AVAILABLE):
        p->shared_subscription_available = bad ? 9 : 1;
        err = E(INVALID_PROPERTY_VALUE);
        break;
    default:
        fail_msg("no property 0x%02x", (unsigned)id);
    }
    return err;
}

/* A valid packet of type @p ctx (a CONNECT with a will for WILL) whose
   property block (the will's for WILL) is @p props. */
static mqttproto_packet packet_for(int ctx, const mqttproto_properties *props)
{
    static const mqttproto_subscription sub = {
        {"a", 1}, MQTTPROTO_QOS_AT_MOST_ONCE, false, false, MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE};
    static const mqttproto_str filter = {"a", 1};
    static const uint8_t code = 0;
    mqttproto_packet p;
    memset(&p, 0, sizeof p);
    p.type = (mqttproto_packet_type)(ctx == WILL ? PK(CONNECT) : ctx);
    switch (ctx) {
    case PK(CONNECT):
        p.connect.protocol_version = 5;
        p.connect.client_id = STR("c");
        p.connect.properties = *props;
        break;
    case WILL:
        p.connect.protocol_version = 5;
        p.connect.client_id = STR("c");
        mqttproto_properties_init(&p.connect.properties);
        p.connect.has_will = true;
        p.connect.will.topic = STR("w");
        p.connect.will.properties = *props;
        break;
    case PK(CONNACK):
        p.connack.properties = *props;
        break;
    case PK(PUBLISH):
        p.publish.topic = STR("t");
        p.publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
        p.publish.packet_id = 1;
        p.publish.properties = *props;
        break;
    case PK(PUBACK):
    case PK(PUBREC):
    case PK(PUBREL):
    case PK(PUBCOMP):
        p.puback.packet_id = 1;
        p.puback.properties = *props;
        break;
    case PK(SUBSCRIBE):
        p.subscribe.packet_id = 1;
        p.subscribe.subscriptions.items = &sub;
        p.subscribe.subscriptions.count = 1;
        p.subscribe.properties = *props;
        break;
    case PK(UNSUBSCRIBE):
        p.unsubscribe.packet_id = 1;
        p.unsubscribe.topic_filters.items = &filter;
        p.unsubscribe.topic_filters.count = 1;
        p.unsubscribe.properties = *props;
        break;
    case PK(SUBACK):
    case PK(UNSUBACK):
        p.suback.packet_id = 1;
        p.suback.reason_codes = &code;
        p.suback.reason_code_count = 1;
        p.suback.properties = *props;
        break;
    case PK(DISCONNECT):
        p.disconnect.properties = *props;
        break;
    case PK(AUTH):
        p.auth.reason_code = 0x18;
        p.auth.properties = *props;
        break;
    default:
        fail_msg("no properties in packet type %d", ctx);
    }
    return p;
}

static const int contexts[] = {
    PK(CONNECT),     WILL,         PK(CONNACK),    PK(PUBLISH),   PK(PUBACK),
    PK(PUBREC),      PK(PUBREL),   PK(PUBCOMP),    PK(SUBSCRIBE), PK(SUBACK),
    PK(UNSUBSCRIBE), PK(UNSUBACK), PK(DISCONNECT), PK(AUTH),
};

static void test_every_property_in_every_context(void **state)
{
    (void)state;
    uint8_t a[512], b[512];
    for (size_t c = 0; c < sizeof contexts / sizeof contexts[0]; c++) {
        int ctx = contexts[c];
        for (int id = 1; id <= 0x2A; id++) {
            if (mqttproto_property_info_get(id) == NULL) {
                continue;
            }
            mqttproto_properties props;
            mqttproto_properties_init(&props);
            (void)set_direct(&props, id, false);
            mqttproto_packet pkt = packet_for(ctx, &props);
            ptrdiff_t size = mqttproto_encoded_size(&pkt, NULL);
            ptrdiff_t n = mqttproto_encode(&pkt, NULL, a, sizeof a);
            if (!mqttproto_property_allowed(id, ctx)) {
                if (size != E(PROPERTY_NOT_ALLOWED) || n != E(PROPERTY_NOT_ALLOWED)) {
                    fail_msg("0x%02x in context %d: %td, %td", (unsigned)id, ctx, size, n);
                }
                continue;
            }
            if (n <= 0 || n != size) {
                fail_msg("0x%02x in context %d: size %td, encode %td (%s)", (unsigned)id, ctx, size,
                         n, mqttproto_err_name((int)n));
            }
            /* Decoded, it is there; encoded again, the same bytes. */
            uint8_t *g = tu_guard_copy(a, (size_t)n);
            mqttproto_packet back;
            assert_int_equal(mqttproto_decode(g, (size_t)n, NULL, &back), n);
            const mqttproto_properties *bp =
                ctx == WILL ? &back.connect.will.properties : &back.connect.properties;
            switch (ctx) {
            case WILL:
            case PK(CONNECT):
                break;
            case PK(CONNACK):
                bp = &back.connack.properties;
                break;
            case PK(PUBLISH):
                bp = &back.publish.properties;
                break;
            case PK(SUBSCRIBE):
                bp = &back.subscribe.properties;
                break;
            case PK(UNSUBSCRIBE):
                bp = &back.unsubscribe.properties;
                break;
            case PK(SUBACK):
            case PK(UNSUBACK):
                bp = &back.suback.properties;
                break;
            case PK(DISCONNECT):
            case PK(AUTH):
                bp = &back.disconnect.properties;
                break;
            default:
                bp = &back.puback.properties;
                break;
            }
            assert_true(mqttproto_properties_has(bp, id));
            assert_int_equal(mqttproto_encode(&back, NULL, b, sizeof b), n);
            assert_memory_equal(a, b, (size_t)n);
            tu_guard_free(g, (size_t)n);

            /* Out of range: refused by encode() with the decoder's error;
               encoded_size() checks only the shape. */
            mqttproto_properties_init(&props);
            int err = set_direct(&props, id, true);
            if (err == 1) {
                continue;
            }
            pkt = packet_for(ctx, &props);
            n = mqttproto_encode(&pkt, NULL, a, sizeof a);
            if (n != err) {
                fail_msg("bad 0x%02x in context %d: %td (%s), want %s", (unsigned)id, ctx, n,
                         mqttproto_err_name((int)n), mqttproto_err_name(err));
            }
            assert_true(mqttproto_encoded_size(&pkt, NULL) > 0);
        }
    }
}

static void test_setter_errors(void **state)
{
    (void)state;
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    const int pub = PK(PUBLISH), con = PK(CONNECT);
    /* NULL, a wrong setter for the type, an unknown id, a wrong context. */
    assert_int_equal(mqttproto_properties_set_int(NULL, pub, PR(MESSAGE_EXPIRY_INTERVAL), 1),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(CONTENT_TYPE), 1),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_properties_set_str(&p, pub, PR(MESSAGE_EXPIRY_INTERVAL), STR("x")),
                     E(INVALID_ARGUMENT));
    assert_int_equal(
        mqttproto_properties_set_bin(&p, pub, PR(CONTENT_TYPE), mqttproto_bin_make("x", 1)),
        E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, 0x05, 1), E(UNKNOWN_PROPERTY));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, 0, 1), E(UNKNOWN_PROPERTY));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, 64, 1), E(UNKNOWN_PROPERTY));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(SESSION_EXPIRY_INTERVAL), 1),
                     E(PROPERTY_NOT_ALLOWED));
    assert_int_equal(mqttproto_properties_set_int(&p, 0, PR(SESSION_EXPIRY_INTERVAL), 1),
                     E(PROPERTY_NOT_ALLOWED));
    assert_int_equal(mqttproto_properties_set_int(&p, 99, PR(SESSION_EXPIRY_INTERVAL), 1),
                     E(PROPERTY_NOT_ALLOWED));
    /* Values out of their wire field or range. */
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(PAYLOAD_FORMAT_INDICATOR), 256),
                     E(INVALID_PROPERTY_VALUE));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(TOPIC_ALIAS), 65536),
                     E(INVALID_PROPERTY_VALUE));
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(TOPIC_ALIAS), 0),
                     E(TOPIC_ALIAS_INVALID));
    assert_int_equal(mqttproto_properties_set_int(&p, con, PR(RECEIVE_MAXIMUM), 0),
                     E(INVALID_PROPERTY_VALUE));
    assert_int_equal(
        mqttproto_properties_set_int(&p, PK(SUBSCRIBE), PR(SUBSCRIPTION_IDENTIFIER), 268435456),
        E(INVALID_PROPERTY_VALUE));
    assert_int_equal(p.present, 0);
    /* Twice. */
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(MESSAGE_EXPIRY_INTERVAL), 1), 0);
    assert_int_equal(mqttproto_properties_set_int(&p, pub, PR(MESSAGE_EXPIRY_INTERVAL), 2),
                     E(DUPLICATE_PROPERTY));
    assert_int_equal(p.message_expiry_interval, 1);
    /* Strings and binary data. */
    static char big[65536];
    memset(big, 'x', sizeof big);
    mqttproto_str long_str = {big, sizeof big};
    mqttproto_str null_str = {NULL, 2};
    assert_int_equal(mqttproto_properties_set_str(&p, pub, PR(CONTENT_TYPE), long_str),
                     E(STRING_TOO_LONG));
    assert_int_equal(mqttproto_properties_set_str(&p, pub, PR(CONTENT_TYPE), null_str),
                     E(INVALID_ARGUMENT));
    assert_int_equal(
        mqttproto_properties_set_str(&p, pub, PR(CONTENT_TYPE), (mqttproto_str){"a\0b", 3}),
        E(UTF8_NULL_CHARACTER));
    assert_int_equal(mqttproto_properties_set_str(&p, pub, PR(RESPONSE_TOPIC), STR("+")),
                     E(TOPIC_NAME_INVALID));
    assert_int_equal(
        mqttproto_properties_set_bin(&p, pub, PR(CORRELATION_DATA), mqttproto_bin_make(NULL, 1)),
        E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_properties_set_bin(&p, pub, PR(CORRELATION_DATA),
                                                  mqttproto_bin_make(big, sizeof big)),
                     E(STRING_TOO_LONG));
    /* User Properties. */
    mqttproto_user_property items[2] = {good_up, good_up};
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, NULL, 1),
                     E(INVALID_ARGUMENT));
    items[1].name = null_str;
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, items, 2),
                     E(INVALID_ARGUMENT));
    items[1].name = STR("n");
    items[1].value = null_str;
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, items, 2),
                     E(INVALID_ARGUMENT));
    items[1].value = long_str;
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, items, 2),
                     E(STRING_TOO_LONG));
    items[1] = bad_up;
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, items, 2), E(INVALID_UTF8));
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, items, 1), 0);
    assert_int_equal(mqttproto_properties_set_user_properties(&p, pub, items, 1),
                     E(DUPLICATE_PROPERTY));
    /* Subscription Identifiers: several only in a PUBLISH. */
    static const uint32_t ids[3] = {1, 0, 268435456};
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, PK(SUBSCRIBE), ids, 1),
                     E(PROPERTY_NOT_ALLOWED));
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, pub, NULL, 1),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, pub, ids, 2),
                     E(INVALID_PROPERTY_VALUE));
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, pub, ids + 2, 1),
                     E(INVALID_PROPERTY_VALUE));
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, pub, ids, 1), 0);
    assert_int_equal(mqttproto_properties_set_subscription_identifiers(&p, pub, ids, 1),
                     E(DUPLICATE_PROPERTY));
    /* What the setters built encodes. */
    mqttproto_packet pkt = packet_for(pub, &p);
    uint8_t out[128];
    assert_true(mqttproto_encode(&pkt, NULL, out, sizeof out) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_property_in_every_context),
        cmocka_unit_test(test_setter_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
