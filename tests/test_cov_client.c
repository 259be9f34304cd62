/*
 * Client behaviour the scripted-server suite leaves out: a CONNECT carrying
 * every option, the AUTH calls allowed in each state, the Session Expiry
 * rules of DISCONNECT, manual acknowledgement mistakes, and filters given
 * twice in one call.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define E(x)   MQTTPROTO_ERR_##x
#define PR(x)  MQTTPROTO_PROP_##x
#define PK(x)  MQTTPROTO_PACKET_##x
#define STR(s) mqttproto_str_from_cstr(s)
#define BIN(s) mqttproto_bin_make((s), strlen(s))

static ptrdiff_t feed(mqttproto_client *c, const char *hex)
{
    size_t n;
    uint8_t *b = tu_hex(hex, &n);
    uint8_t *g = tu_guard_copy(b, n);
    ptrdiff_t r = mqttproto_client_feed_bytes(c, g, n, 2000);
    tu_guard_free(g, n);
    free(b);
    return r;
}

/* The outbound bytes as lower-case hex without spaces, consumed. */
static const char *out_hex(mqttproto_client *c)
{
    static char text[8192];
    const uint8_t *d;
    size_t n = mqttproto_client_get_outbound_data(c, &d);
    assert_true(2 * n < sizeof text);
    for (size_t i = 0; i < n; i++) {
        snprintf(text + 2 * i, 3, "%02x", d[i]);
    }
    text[2 * n] = '\0';
    mqttproto_client_consume_outbound(c, n);
    return text;
}

/* The one packet waiting to go out, decoded into @p pkt (views into a
   static copy). */
static void out_packet(mqttproto_client *c, mqttproto_packet *pkt)
{
    static uint8_t copy[8192];
    const uint8_t *d;
    size_t n = mqttproto_client_get_outbound_data(c, &d);
    assert_true(n > 0 && n <= sizeof copy);
    memcpy(copy, d, n);
    mqttproto_client_consume_outbound(c, n);
    assert_int_equal(mqttproto_decode(copy, n, NULL, pkt), (ptrdiff_t)n);
}

static int next_type(mqttproto_client *c, mqttproto_client_event *ev)
{
    int r = mqttproto_client_next_event(c, ev);
    return r == 1 ? (int)ev->type : 0;
}

static mqttproto_client *connected(const mqttproto_client_settings *s,
                                   const mqttproto_connect_options *o, const char *connack)
{
    mqttproto_client *c;
    assert_int_equal(mqttproto_client_create(s, &c), 0);
    assert_int_equal(mqttproto_client_connect(c, o, 1000), 0);
    (void)out_hex(c);
    assert_true(feed(c, connack) > 0);
    mqttproto_client_event ev;
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_CONNECTED);
    return c;
}

/* [MQTT-3.1.2-4] [MQTT-3.1.3-9] Every CONNECT option reaches the wire. */
static void test_connect_carries_every_option(void **state)
{
    (void)state;
    static const mqttproto_user_property ups[2] = {{{"a", 1}, {"1", 1}}, {{"b", 1}, {"2", 1}}};
    mqttproto_will will;
    memset(&will, 0, sizeof will);
    will.topic = STR("w/t");
    will.payload = BIN("bye");
    will.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    will.retain = true;
    mqttproto_properties_init(&will.properties);
    assert_int_equal(mqttproto_properties_set_int(&will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  PR(WILL_DELAY_INTERVAL), 7),
                     0);
    assert_int_equal(mqttproto_properties_set_str(&will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  PR(CONTENT_TYPE), STR("text/plain")),
                     0);
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("every");
    o.clean_start = false;
    o.keep_alive = 30;
    o.session_expiry_interval = 600;
    o.receive_maximum = 10;
    o.maximum_packet_size = 4096;
    o.topic_alias_maximum = 3;
    o.request_response_information = true;
    o.request_problem_information = false;
    o.user_properties = ups;
    o.user_property_count = 2;
    o.has_username = true;
    o.username = STR("user");
    o.has_password = true;
    o.password = BIN("secret");
    o.will = &will;
    o.authentication_method = STR("SCRAM");
    o.authentication_data = BIN("first");
    mqttproto_client *c;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    mqttproto_packet pkt;
    out_packet(c, &pkt);
    const mqttproto_connect *cn = &pkt.connect;
    const mqttproto_properties *p = &cn->properties;
    assert_false(cn->clean_start);
    assert_int_equal(cn->keep_alive, 30);
    assert_int_equal(p->session_expiry_interval, 600);
    assert_int_equal(p->receive_maximum, 10);
    assert_int_equal(p->maximum_packet_size, 4096);
    assert_int_equal(p->topic_alias_maximum, 3);
    assert_true(mqttproto_properties_has(p, PR(REQUEST_RESPONSE_INFORMATION)));
    assert_int_equal(p->request_response_information, 1);
    assert_true(mqttproto_properties_has(p, PR(REQUEST_PROBLEM_INFORMATION)));
    assert_int_equal(p->request_problem_information, 0);
    assert_int_equal(p->user_property_count, 2);
    assert_int_equal(p->authentication_method.len, 5);
    assert_int_equal(p->authentication_data.len, 5);
    assert_true(cn->has_username && cn->has_password && cn->has_will);
    assert_int_equal(cn->will.qos, 1);
    assert_true(cn->will.retain);
    assert_int_equal(cn->will.properties.will_delay_interval, 7);
    assert_int_equal(cn->will.properties.content_type.len, 10);
    mqttproto_str id = mqttproto_client_client_id(c);
    assert_int_equal(id.len, 5);
    mqttproto_client_destroy(c);

    /* Authentication Data needs a method; a will topic must be a topic name. */
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    mqttproto_connect_options_default(&o);
    o.authentication_data = BIN("orphan");
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    mqttproto_connect_options_default(&o);
    will.topic = STR("w/#");
    o.will = &will;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(TOPIC_NAME_INVALID));
    assert_int_equal(mqttproto_client_get_state(c), MQTTPROTO_CLIENT_DISCONNECTED);
    assert_int_equal(mqttproto_client_get_outbound_data(c, NULL), 0);
    mqttproto_client_destroy(c);
}

/* [MQTT-4.12.0-3] [MQTT-4.12.1-1] Which AUTH the client may send when. */
static void test_auth_calls_in_each_state(void **state)
{
    (void)state;
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("a");
    o.keep_alive = 0;
    o.authentication_method = STR("M");
    mqttproto_client *c;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    (void)out_hex(c);
    /* CONNECTING: only a continuation; the method is the client's. */
    assert_int_equal(mqttproto_client_auth(c, 0x19, mqttproto_bin_make(NULL, 0), NULL),
                     E(BAD_STATE));
    assert_int_equal(mqttproto_client_auth(c, 0x00, mqttproto_bin_make(NULL, 0), NULL),
                     E(INVALID_ARGUMENT));
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(
        mqttproto_properties_set_str(&props, PK(AUTH), PR(AUTHENTICATION_METHOD), STR("other")), 0);
    assert_int_equal(mqttproto_client_auth(c, 0x18, mqttproto_bin_make(NULL, 0), &props),
                     E(INVALID_ARGUMENT));
    mqttproto_properties_init(&props);
    assert_int_equal(mqttproto_properties_set_str(&props, PK(AUTH), PR(REASON_STRING), STR("more")),
                     0);
    assert_true(feed(c, "f0 06 18 04 15 00 01 4d") > 0);
    mqttproto_client_event ev;
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_AUTH);
    assert_int_equal(mqttproto_client_auth(c, 0x18, BIN("d1"), &props), 0);
    mqttproto_packet pkt;
    out_packet(c, &pkt);
    assert_int_equal(pkt.auth.reason_code, 0x18);
    assert_int_equal(pkt.auth.properties.authentication_method.len, 1);
    assert_int_equal(pkt.auth.properties.authentication_data.len, 2);
    assert_int_equal(pkt.auth.properties.reason_string.len, 4);
    /* CONNECTED: re-authentication, once at a time. */
    assert_true(feed(c, "20 07 00 00 04 15 00 01 4d") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_CONNECTED);
    assert_int_equal(mqttproto_client_auth(c, 0x18, mqttproto_bin_make(NULL, 0), NULL),
                     E(BAD_STATE));
    assert_int_equal(mqttproto_client_auth(c, 0x19, BIN("again"), NULL), 0);
    out_packet(c, &pkt);
    assert_int_equal(pkt.auth.reason_code, 0x19);
    assert_int_equal(mqttproto_client_auth(c, 0x19, mqttproto_bin_make(NULL, 0), NULL),
                     E(BAD_STATE));
    assert_true(feed(c, "f0 06 18 04 15 00 01 4d") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_AUTH);
    assert_int_equal(ev.reason_code, 0x18);
    assert_int_equal(mqttproto_client_auth(c, 0x18, mqttproto_bin_make(NULL, 0), NULL), 0);
    assert_string_equal(out_hex(c), "f00618041500014d");
    assert_true(feed(c, "f0 06 00 04 15 00 01 4d") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_AUTH);
    assert_int_equal(ev.reason_code, 0x00);
    /* Done: a new re-authentication may start. */
    assert_int_equal(mqttproto_client_auth(c, 0x18, mqttproto_bin_make(NULL, 0), NULL),
                     E(BAD_STATE));
    assert_int_equal(mqttproto_client_auth(c, 0x19, mqttproto_bin_make(NULL, 0), NULL), 0);
    mqttproto_client_destroy(c);
}

/* Section 3.14.2.2.2: a DISCONNECT may change the Session Expiry Interval,
   but not from 0; the session is kept only when it is above 0. */
static void test_disconnect_session_expiry_rules(void **state)
{
    (void)state;
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("d");
    o.keep_alive = 0;
    mqttproto_client *c = connected(NULL, &o, "20 03 00 00 00");
    mqttproto_properties p;
    mqttproto_properties_init(&p);
    assert_int_equal(
        mqttproto_properties_set_int(&p, PK(DISCONNECT), PR(SESSION_EXPIRY_INTERVAL), 10), 0);
    assert_int_equal(mqttproto_client_disconnect(c, 0, &p), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_get_state(c), MQTTPROTO_CLIENT_CONNECTED);
    assert_string_equal(out_hex(c), "");
    mqttproto_client_destroy(c);

    /* Connected with 600 s, disconnecting with 0: the session is gone, so
       a Session Present 1 on the next connection is a protocol error. */
    o.session_expiry_interval = 600;
    c = connected(NULL, &o, "20 03 00 00 00");
    mqttproto_properties_init(&p);
    assert_int_equal(
        mqttproto_properties_set_int(&p, PK(DISCONNECT), PR(SESSION_EXPIRY_INTERVAL), 0), 0);
    assert_int_equal(mqttproto_client_disconnect(c, 0x04, &p), 0);
    assert_string_equal(out_hex(c), "e00704051100000000");
    assert_int_equal(mqttproto_client_get_state(c), MQTTPROTO_CLIENT_DISCONNECTED);
    assert_int_equal(mqttproto_client_disconnect(c, 0, NULL), E(BAD_STATE));
    o.clean_start = false;
    assert_int_equal(mqttproto_client_connect(c, &o, 3000), 0);
    (void)out_hex(c);
    assert_int_equal(feed(c, "20 03 01 00 00"), E(SESSION_PRESENT_INVALID));
    mqttproto_client_destroy(c);

    /* Disconnecting with a longer expiry keeps the session. */
    o.clean_start = true;
    c = connected(NULL, &o, "20 03 00 00 00");
    mqttproto_properties_init(&p);
    assert_int_equal(
        mqttproto_properties_set_int(&p, PK(DISCONNECT), PR(SESSION_EXPIRY_INTERVAL), 900), 0);
    assert_int_equal(mqttproto_client_disconnect(c, 0, &p), 0);
    (void)out_hex(c);
    o.clean_start = false;
    assert_int_equal(mqttproto_client_connect(c, &o, 3000), 0);
    (void)out_hex(c);
    assert_true(feed(c, "20 03 01 00 00") > 0);
    mqttproto_client_event ev;
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_CONNECTED);
    assert_true(ev.session_present);
    mqttproto_client_destroy(c);
}

/* Manual acknowledgement: only a waiting message, only once, only with a
   code the packet can carry; a QoS 2 refusal frees the identifier. */
static void test_manual_ack_mistakes(void **state)
{
    (void)state;
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    s.manual_ack = true;
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("m");
    o.keep_alive = 0;
    mqttproto_client *c = connected(&s, &o, "20 03 00 00 00");
    assert_true(feed(c, "32 07 00 01 74 00 03 00 61") > 0);
    mqttproto_client_event ev;
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_MESSAGE);
    assert_string_equal(out_hex(c), "");
    assert_int_equal(mqttproto_client_acknowledge(c, 4, 0), E(UNKNOWN_PACKET_ID));
    assert_int_equal(mqttproto_client_acknowledge(c, 3, 0x18), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_acknowledge(c, 3, 0x10), 0);
    assert_string_equal(out_hex(c), "4003000310");
    assert_int_equal(mqttproto_client_acknowledge(c, 3, 0), E(UNKNOWN_PACKET_ID));
    /* QoS 2 refused with 0x80: the same identifier is a new message. */
    assert_true(feed(c, "34 07 00 01 74 00 05 00 62") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_MESSAGE);
    assert_int_equal(mqttproto_client_acknowledge(c, 5, 0x80), 0);
    assert_string_equal(out_hex(c), "5003000580");
    assert_true(feed(c, "34 07 00 01 74 00 05 00 63") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_MESSAGE);
    assert_int_equal(ev.payload.data[0], 'c');
    assert_int_equal(mqttproto_client_acknowledge(c, 5, 0), 0);
    assert_string_equal(out_hex(c), "50020005");
    /* A PUBREL for it: PUBCOMP; the message is not acknowledged twice. */
    assert_true(feed(c, "62 02 00 05") > 0);
    assert_string_equal(out_hex(c), "70020005");
    assert_int_equal(mqttproto_client_acknowledge(c, 5, 0), E(UNKNOWN_PACKET_ID));
    /* A PUBREL for an identifier not waiting: PUBCOMP 0x92. */
    assert_true(feed(c, "62 02 00 09") > 0);
    assert_string_equal(out_hex(c), "7003000992");
    mqttproto_client_destroy(c);
}

/* A filter given twice in one call counts twice. */
static void test_filters_twice_in_one_call(void **state)
{
    (void)state;
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("f");
    o.keep_alive = 0;
    mqttproto_client *c = connected(NULL, &o, "20 03 00 00 00");
    mqttproto_subscription subs[3];
    memset(subs, 0, sizeof subs);
    subs[0].topic_filter = STR("a");
    subs[1].topic_filter = STR("a");
    subs[2].topic_filter = STR("b");
    assert_int_equal(mqttproto_client_subscribe(c, subs, 3, NULL), 1);
    mqttproto_packet pkt;
    out_packet(c, &pkt);
    assert_int_equal(pkt.subscribe.subscriptions.count, 2);
    assert_true(feed(c, "90 05 00 01 00 00 00") > 0);
    mqttproto_client_event ev;
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_SUBSCRIBE_ACK);
    assert_int_equal(ev.reason_code_count, 2);
    /* "b" once: twice in one call is one too many. */
    mqttproto_str twice[2] = {STR("b"), STR("b")};
    assert_int_equal(mqttproto_client_unsubscribe(c, twice, 2, NULL), E(NOT_SUBSCRIBED));
    assert_string_equal(out_hex(c), "");
    /* "a" twice: both references go, and so does the filter. */
    mqttproto_str aa[2] = {STR("a"), STR("a")};
    assert_int_equal(mqttproto_client_unsubscribe(c, aa, 2, NULL), 2);
    out_packet(c, &pkt);
    assert_int_equal(pkt.unsubscribe.topic_filters.count, 1);
    mqttproto_client_destroy(c);
}

/*
 * Messages queued before the CONNACK meet the limits it announces
 * (docs/client.md): QoS lowered to Maximum QoS 0 (sent, and complete at
 * once), RETAIN refused without Retain Available [MQTT-3.2.2-14], a message
 * over the Maximum Packet Size never sent [MQTT-3.2.2-15]; each ends with
 * its event.
 */
static void test_queued_messages_meet_the_connack(void **state)
{
    (void)state;
    mqttproto_client *c;
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    static char big[100];
    memset(big, 'b', sizeof big);
    assert_int_equal(
        mqttproto_client_publish(c, STR("t"), BIN("a"), MQTTPROTO_QOS_AT_LEAST_ONCE, false, NULL),
        1);
    assert_int_equal(
        mqttproto_client_publish(c, STR("t"), BIN("r"), MQTTPROTO_QOS_AT_MOST_ONCE, true, NULL), 0);
    assert_int_equal(mqttproto_client_publish(c, STR("t"), mqttproto_bin_make(big, sizeof big),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL),
                     0);
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = STR("q");
    o.keep_alive = 0;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    (void)out_hex(c);
    assert_true(feed(c, "20 0c 00 00 09 24 00 25 00 27 00 00 00 32") > 0);
    mqttproto_client_event ev;
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_CONNECTED);
    mqttproto_client_server_info si = mqttproto_client_server(c);
    assert_int_equal(si.maximum_qos, 0);
    assert_false(si.retain_available);
    assert_int_equal(si.maximum_packet_size, 50);
    /* Only the first goes out, at QoS 0. */
    assert_string_equal(out_hex(c), "30050001740061");
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED);
    assert_int_equal(ev.packet_id, 1);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED);
    assert_int_equal(ev.error, E(RETAIN_NOT_SUPPORTED));
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_PUBLISH_FAILED);
    assert_int_equal(ev.error, E(PACKET_TOO_LARGE));
    assert_int_equal(next_type(c, &ev), 0);
    /* Now that the limits are known, publish() applies them itself. */
    assert_int_equal(
        mqttproto_client_publish(c, STR("t"), BIN("r"), MQTTPROTO_QOS_AT_MOST_ONCE, true, NULL),
        E(RETAIN_NOT_SUPPORTED));
    assert_int_equal(mqttproto_client_publish(c, STR("t"), mqttproto_bin_make(big, sizeof big),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL),
                     E(PACKET_TOO_LARGE));
    assert_int_equal(
        mqttproto_client_publish(c, STR("t"), BIN("z"), MQTTPROTO_QOS_EXACTLY_ONCE, false, NULL),
        0);
    assert_string_equal(out_hex(c), "3005000174007a");
    mqttproto_client_destroy(c);

    /* A QoS 2 message sent at Maximum QoS 1 stays at QoS 1 when re-sent,
       whatever the next CONNACK allows. */
    assert_int_equal(mqttproto_client_create(NULL, &c), 0);
    o.clean_start = false;
    o.session_expiry_interval = 100;
    assert_int_equal(
        mqttproto_client_publish(c, STR("t"), BIN("x"), MQTTPROTO_QOS_EXACTLY_ONCE, false, NULL),
        1);
    assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
    (void)out_hex(c);
    assert_true(feed(c, "20 05 00 00 02 24 01") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_CONNECTED);
    assert_string_equal(out_hex(c), "32070001740001"
                                    "0078");
    assert_int_equal(mqttproto_client_connection_lost(c), 0);
    assert_int_equal(mqttproto_client_connect(c, &o, 10), 0);
    (void)out_hex(c);
    assert_true(feed(c, "20 03 01 00 00") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_CONNECTED);
    assert_string_equal(out_hex(c), "3a070001740001"
                                    "0078");
    assert_true(feed(c, "40 02 00 01") > 0);
    assert_int_equal(next_type(c, &ev), MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED);
    mqttproto_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connect_carries_every_option),
        cmocka_unit_test(test_auth_calls_in_each_state),
        cmocka_unit_test(test_disconnect_session_expiry_rules),
        cmocka_unit_test(test_manual_ack_mistakes),
        cmocka_unit_test(test_filters_twice_in_one_call),
        cmocka_unit_test(test_queued_messages_meet_the_connack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
