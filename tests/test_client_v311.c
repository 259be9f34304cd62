/*
 * The client in MQTT 3.1.1 (and 3.1) mode against a scripted server: exact
 * bytes out, bytes in, events. Covers the CONNECT and CONNACK forms, the
 * return codes 1-5, QoS 0/1/2 both ways, subscriptions, Clean Session with
 * a resumed session, and the MQTT 5 calls and options that give
 * MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STR(s) ((mqttproto_str){(s), sizeof(s) - 1})
#define BIN(s) ((mqttproto_bin){(const uint8_t *)(s), sizeof(s) - 1})
#define E(x)   MQTTPROTO_ERR_##x
#define EV(x)  MQTTPROTO_CLIENT_EVENT_##x
#define ST(x)  MQTTPROTO_CLIENT_##x

static mqttproto_client *new_client(bool manual_ack)
{
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    s.manual_ack = manual_ack;
    mqttproto_client *c = NULL;
    assert_int_equal(mqttproto_client_create(&s, &c), 0);
    return c;
}

static mqttproto_connect_options v311_options(uint8_t version, bool clean)
{
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.protocol_version = version;
    o.client_id = STR("c");
    o.clean_start = clean;
    o.keep_alive = 60;
    return o;
}

/* The outbound bytes as "xx xx ...", consumed. */
static void expect_out(int line, mqttproto_client *c, const char *want)
{
    uint8_t buf[1024];
    size_t n = mqttproto_client_copy_outbound(c, buf, sizeof buf);
    char got[3 * sizeof buf + 1];
    got[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        snprintf(got + 3 * i, 4, i + 1 < n ? "%02x " : "%02x", buf[i]);
    }
    mqttproto_client_consume_outbound(c, n);
    if (strcmp(got, want) != 0) {
        fail_msg("line %d: outbound \"%s\", expected \"%s\"", line, got, want);
    }
}
#define OUT(c, hex) expect_out(__LINE__, c, hex)

static ptrdiff_t feed(mqttproto_client *c, const char *hex)
{
    size_t n = 0;
    uint8_t *b = tu_hex(hex, &n);
    ptrdiff_t r = mqttproto_client_feed_bytes(c, b, n, 0);
    free(b);
    return r;
}
#define FEED_OK(c, hex) assert_int_equal(feed(c, hex), (ptrdiff_t)strlen(hex) / 3 + 1)

static mqttproto_client_event next(mqttproto_client *c, mqttproto_client_event_type want)
{
    mqttproto_client_event ev;
    assert_int_equal(mqttproto_client_next_event(c, &ev), 1);
    assert_int_equal(ev.type, want);
    return ev;
}

static void no_event(mqttproto_client *c)
{
    mqttproto_client_event ev;
    assert_int_equal(mqttproto_client_next_event(c, &ev), 0);
}

/* A CONNECTED 3.1.1 client with id "c", Clean Session 1. */
static mqttproto_client *connected(bool manual_ack)
{
    mqttproto_client *c = new_client(manual_ack);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
    FEED_OK(c, "20 02 00 00");
    mqttproto_client_event ev = next(c, EV(CONNECTED));
    assert_false(ev.session_present);
    assert_int_equal(ev.properties->present, 0);
    assert_int_equal(mqttproto_client_get_state(c), ST(CONNECTED));
    return c;
}

static void test_connect(void **state)
{
    (void)state;
    mqttproto_client *c = connected(false);
    mqttproto_client_server_info si = mqttproto_client_server(c);
    assert_int_equal(si.maximum_qos, 2);
    assert_int_equal(si.topic_alias_maximum, 0);
    assert_int_equal(si.keep_alive, 60);
    assert_int_equal(mqttproto_client_disconnect(c, 0, NULL), 0);
    OUT(c, "e0 00");
    assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
    mqttproto_client_destroy(c);

    /* MQTT 3.1: "MQIsdp", level 3; a will and credentials. */
    c = new_client(false);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V31, true);
    mqttproto_will will;
    memset(&will, 0, sizeof will);
    will.topic = STR("w");
    will.payload = BIN("x");
    will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    mqttproto_properties_init(&will.properties);
    o.will = &will;
    o.has_username = true;
    o.username = STR("u");
    o.has_password = true;
    o.password = BIN("p");
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c,
        "10 1b 00 06 4d 51 49 73 64 70 03 ce 00 3c 00 01 63 00 01 77 00 01 78 00 01 75 00 01 70");
    FEED_OK(c, "20 02 00 00");
    next(c, EV(CONNECTED));
    mqttproto_client_destroy(c);
}

static void test_connack_return_codes(void **state)
{
    (void)state;
    for (unsigned rc = 1; rc <= 5; rc++) {
        mqttproto_client *c = new_client(false);
        mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
        assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
        OUT(c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
        char hex[16];
        snprintf(hex, sizeof hex, "20 02 00 %02x", rc);
        FEED_OK(c, hex);
        mqttproto_client_event ev = next(c, EV(CONNECT_REFUSED));
        assert_int_equal(ev.reason_code, rc); /* the 3.1.1 return code as it came */
        assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
        OUT(c, "");
        mqttproto_client_destroy(c);
    }
    /* A return code 3.1.1 reserves, or an MQTT 5 CONNACK: malformed. */
    mqttproto_client *c = new_client(false);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
    assert_int_equal(feed(c, "20 02 00 86"), E(INVALID_REASON_CODE));
    assert_int_equal(mqttproto_client_get_state(c), ST(FAILED));
    OUT(c, "");
    mqttproto_client_destroy(c);
    c = new_client(false);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
    assert_int_equal(feed(c, "20 03 00 00 00"), E(TRAILING_BYTES));
    mqttproto_client_destroy(c);
}

static void test_v5_only_options(void **state)
{
    (void)state;
    mqttproto_client *c = new_client(false);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    o.session_expiry_interval = 30;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    o.request_problem_information = false;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    o.request_response_information = true;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    o.authentication_method = STR("m");
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    o.topic_alias_maximum = 5;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    o.receive_maximum = 10;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    static const mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    o.user_properties = &up;
    o.user_property_count = 1;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    mqttproto_will will;
    memset(&will, 0, sizeof will);
    will.topic = STR("w");
    mqttproto_properties_init(&will.properties);
    assert_int_equal(mqttproto_properties_set_int(&will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  MQTTPROTO_PROP_WILL_DELAY_INTERVAL, 5),
                     0);
    o.will = &will;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(NOT_IN_PROTOCOL_VERSION));
    /* Levels that do not exist. */
    o = v311_options(6, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    o = v311_options(2, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    /* An empty client id needs Clean Session 1 [MQTT-3.1.3-7] (3.1.1). */
    o = v311_options(MQTTPROTO_PROTOCOL_V311, false);
    o.client_id = STR("");
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(CLIENT_IDENTIFIER_INVALID));
    OUT(c, "");
    assert_int_equal(mqttproto_client_get_state(c), ST(DISCONNECTED));
    mqttproto_client_destroy(c);
}

static void test_v5_only_calls(void **state)
{
    (void)state;
    mqttproto_client *c = connected(true);
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(mqttproto_properties_set_int(&props, MQTTPROTO_PACKET_PUBLISH,
                                                  MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 5),
                     0);
    assert_int_equal(mqttproto_client_publish(c, STR("a"), BIN("x"), 0, false, &props),
                     E(NOT_IN_PROTOCOL_VERSION));
    mqttproto_properties empty;
    mqttproto_properties_init(&empty);
    assert_int_equal(mqttproto_client_publish(c, STR("a"), BIN("x"), 0, false, &empty), 0);
    OUT(c, "30 04 00 01 61 78");
    mqttproto_subscription sub = {STR("a"), MQTTPROTO_QOS_AT_LEAST_ONCE, true, false, 0};
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 1, NULL), E(NOT_IN_PROTOCOL_VERSION));
    sub.no_local = false;
    sub.retain_as_published = true;
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 1, NULL), E(NOT_IN_PROTOCOL_VERSION));
    sub.retain_as_published = false;
    sub.retain_handling = MQTTPROTO_RETAIN_DO_NOT_SEND;
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 1, NULL), E(NOT_IN_PROTOCOL_VERSION));
    sub.retain_handling = MQTTPROTO_RETAIN_SEND_ON_SUBSCRIBE;
    mqttproto_properties sp;
    mqttproto_properties_init(&sp);
    assert_int_equal(mqttproto_properties_set_int(&sp, MQTTPROTO_PACKET_SUBSCRIBE,
                                                  MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER, 1),
                     0);
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 1, &sp), E(NOT_IN_PROTOCOL_VERSION));
    assert_int_equal(mqttproto_client_auth(c, MQTTPROTO_RC_REAUTHENTICATE, BIN(""), NULL),
                     E(NOT_IN_PROTOCOL_VERSION));
    assert_int_equal(
        mqttproto_client_disconnect(c, MQTTPROTO_RC_DISCONNECT_WITH_WILL_MESSAGE, NULL),
        E(NOT_IN_PROTOCOL_VERSION));
    /* Manual acknowledgement: only success has a 3.1.1 form. */
    FEED_OK(c, "32 06 00 01 61 00 07 78");
    mqttproto_client_event ev = next(c, EV(MESSAGE));
    assert_int_equal(ev.packet_id, 7);
    assert_int_equal(mqttproto_client_acknowledge(c, 7, MQTTPROTO_RC_NOT_AUTHORIZED),
                     E(NOT_IN_PROTOCOL_VERSION));
    assert_int_equal(mqttproto_client_acknowledge(c, 7, 0), 0);
    OUT(c, "40 02 00 07");
    OUT(c, "");
    assert_int_equal(mqttproto_client_get_state(c), ST(CONNECTED));
    mqttproto_client_destroy(c);
}

static void test_publish_flows(void **state)
{
    (void)state;
    mqttproto_client *c = connected(false);
    /* QoS 1 out. */
    assert_int_equal(mqttproto_client_publish(c, STR("a"), BIN("x"), 1, false, NULL), 1);
    OUT(c, "32 06 00 01 61 00 01 78");
    FEED_OK(c, "40 02 00 01");
    mqttproto_client_event ev = next(c, EV(PUBLISH_COMPLETED));
    assert_int_equal(ev.packet_id, 1);
    assert_int_equal(ev.reason_code, 0);
    /* QoS 2 out, retained. */
    assert_int_equal(mqttproto_client_publish(c, STR("a"), BIN("y"), 2, true, NULL), 2);
    OUT(c, "35 06 00 01 61 00 02 79");
    FEED_OK(c, "50 02 00 02");
    OUT(c, "62 02 00 02");
    FEED_OK(c, "70 02 00 02");
    ev = next(c, EV(PUBLISH_COMPLETED));
    assert_int_equal(ev.packet_id, 2);
    /* QoS 0, 1 and 2 in. */
    FEED_OK(c, "30 04 00 01 61 7a");
    ev = next(c, EV(MESSAGE));
    assert_int_equal(ev.qos, 0);
    assert_int_equal(ev.payload.len, 1);
    assert_int_equal(ev.payload.data[0], 'z');
    assert_int_equal(ev.properties->present, 0);
    FEED_OK(c, "32 06 00 01 61 00 07 78");
    ev = next(c, EV(MESSAGE));
    assert_int_equal(ev.packet_id, 7);
    OUT(c, "40 02 00 07");
    FEED_OK(c, "34 06 00 01 61 00 08 78");
    ev = next(c, EV(MESSAGE));
    assert_int_equal(ev.qos, 2);
    OUT(c, "50 02 00 08");
    FEED_OK(c, "62 02 00 08");
    OUT(c, "70 02 00 08");
    no_event(c);
    /* An MQTT 5 ack form is malformed in 3.1.1; no DISCONNECT follows
       (a 3.1.1 DISCONNECT would discard the will): the connection closes. */
    assert_int_equal(mqttproto_client_publish(c, STR("a"), BIN("x"), 1, false, NULL), 3);
    OUT(c, "32 06 00 01 61 00 03 78");
    assert_int_equal(feed(c, "40 03 00 03 00"), E(TRAILING_BYTES));
    assert_int_equal(mqttproto_client_get_state(c), ST(FAILED));
    OUT(c, "");
    mqttproto_client_destroy(c);
}

static void test_subscribe(void **state)
{
    (void)state;
    mqttproto_client *c = connected(false);
    mqttproto_subscription subs[2] = {{STR("a/b"), MQTTPROTO_QOS_AT_LEAST_ONCE, false, false, 0},
                                      {STR("#"), MQTTPROTO_QOS_EXACTLY_ONCE, false, false, 0}};
    assert_int_equal(mqttproto_client_subscribe(c, subs, 2, NULL), 1);
    OUT(c, "82 0c 00 01 00 03 61 2f 62 01 00 01 23 02");
    FEED_OK(c, "90 04 00 01 01 80");
    mqttproto_client_event ev = next(c, EV(SUBSCRIBE_ACK));
    assert_int_equal(ev.reason_code_count, 2);
    assert_int_equal(ev.reason_codes[0], 0x01);
    assert_int_equal(ev.reason_codes[1], 0x80);
    static const mqttproto_str filters[] = {{"a/b", 3}};
    assert_int_equal(mqttproto_client_unsubscribe(c, filters, 1, NULL), 2);
    OUT(c, "a2 07 00 02 00 03 61 2f 62");
    FEED_OK(c, "b0 02 00 02");
    ev = next(c, EV(UNSUBSCRIBE_ACK));
    assert_int_equal(ev.packet_id, 2);
    assert_int_equal(ev.reason_code_count, 0); /* 3.1.1 has none */
    /* A SUBACK return code 3.1.1 does not have. */
    assert_int_equal(mqttproto_client_subscribe(c, subs, 1, NULL), 3);
    OUT(c, "82 08 00 03 00 03 61 2f 62 01");
    assert_int_equal(feed(c, "90 03 00 03 87"), E(INVALID_REASON_CODE));
    OUT(c, "");
    mqttproto_client_destroy(c);
}

static void test_session_resume(void **state)
{
    (void)state;
    mqttproto_client *c = new_client(false);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V311, false);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    /* Clean Session 0, and no Session Expiry: nowhere to put one. */
    OUT(c, "10 0d 00 04 4d 51 54 54 04 00 00 3c 00 01 63");
    FEED_OK(c, "20 02 00 00");
    next(c, EV(CONNECTED));
    assert_int_equal(mqttproto_client_publish(c, STR("a"), BIN("x"), 1, false, NULL), 1);
    OUT(c, "32 06 00 01 61 00 01 78");
    assert_int_equal(mqttproto_client_connection_lost(c), 0);
    /* Clean Session 0 keeps the session: the message is sent again with DUP. */
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c, "10 0d 00 04 4d 51 54 54 04 00 00 3c 00 01 63");
    FEED_OK(c, "20 02 01 00");
    mqttproto_client_event ev = next(c, EV(CONNECTED));
    assert_true(ev.session_present);
    OUT(c, "3a 06 00 01 61 00 01 78");
    FEED_OK(c, "40 02 00 01");
    next(c, EV(PUBLISH_COMPLETED));
    assert_int_equal(mqttproto_client_connection_lost(c), 0);
    /* Clean Session 1: a present session is a protocol error, and only
       closes the connection. */
    o.clean_start = true;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
    assert_int_equal(feed(c, "20 02 01 00"), E(SESSION_PRESENT_INVALID));
    OUT(c, "");
    assert_int_equal(mqttproto_client_get_state(c), ST(FAILED));
    mqttproto_client_destroy(c);
}

static void test_reserved_auth_from_server(void **state)
{
    (void)state;
    mqttproto_client *c = connected(false);
    assert_int_equal(feed(c, "f0 00"), E(RESERVED_PACKET_TYPE));
    assert_int_equal(mqttproto_client_get_state(c), ST(FAILED));
    OUT(c, "");
    mqttproto_client_destroy(c);
    /* A DISCONNECT from a server is not 3.1.1 either, but is read as one. */
    c = connected(false);
    FEED_OK(c, "e0 00");
    next(c, EV(DISCONNECTED));
    mqttproto_client_destroy(c);
}

static void test_back_to_v5(void **state)
{
    (void)state;
    mqttproto_client *c = connected(false);
    assert_int_equal(mqttproto_client_connection_lost(c), 0);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V5, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    OUT(c, "10 19 00 04 4d 51 54 54 05 02 00 3c 0b 21 00 40 22 00 10 27 00 10 00 00 00 01 63");
    mqttproto_client_destroy(c);
}

/* An event from an MQTT 5 connection, read after a 3.1.1 connect(), keeps its form. */
static void test_event_across_versions(void **state)
{
    (void)state;
    mqttproto_client *c = new_client(false);
    mqttproto_connect_options o = v311_options(MQTTPROTO_PROTOCOL_V5, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    const uint8_t *data = NULL;
    mqttproto_client_consume_outbound(c, mqttproto_client_get_outbound_data(c, &data));
    FEED_OK(c, "20 03 00 00 00");
    next(c, EV(CONNECTED));
    FEED_OK(c, "30 05 00 01 61 00 78"); /* MQTT 5: an empty property block */
    assert_int_equal(mqttproto_client_connection_lost(c), 0);
    o = v311_options(MQTTPROTO_PROTOCOL_V311, true);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    mqttproto_client_event ev = next(c, EV(MESSAGE));
    assert_int_equal(ev.topic.len, 1);
    assert_int_equal(ev.payload.len, 1);
    assert_int_equal(ev.payload.data[0], 'x');
    OUT(c, "10 0d 00 04 4d 51 54 54 04 02 00 3c 00 01 63");
    mqttproto_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect),         cmocka_unit_test(test_connack_return_codes),
        cmocka_unit_test(test_v5_only_options), cmocka_unit_test(test_v5_only_calls),
        cmocka_unit_test(test_publish_flows),   cmocka_unit_test(test_subscribe),
        cmocka_unit_test(test_session_resume),  cmocka_unit_test(test_reserved_auth_from_server),
        cmocka_unit_test(test_back_to_v5),      cmocka_unit_test(test_event_across_versions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
