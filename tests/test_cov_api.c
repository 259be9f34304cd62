/*
 * The argument contracts of the public API: every function given a NULL
 * object, a NULL output or an out-of-range value does what its header says
 * (an error, a documented default, or nothing), and never faults. Also the
 * settings and options each create() and connect() refuse, and an
 * allocator that lacks a function.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define E(x)   MQTTPROTO_ERR_##x
#define STR(s) mqttproto_str_from_cstr(s)

static void test_client_null_object(void **state)
{
    (void)state;
    mqttproto_client_settings_default(NULL);
    mqttproto_connect_options_default(NULL);
    assert_int_equal(mqttproto_client_create(NULL, NULL), E(INVALID_ARGUMENT));
    mqttproto_client_destroy(NULL);
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    assert_int_equal(mqttproto_client_connect(NULL, &o, 0), E(INVALID_ARGUMENT));
    uint8_t b[4] = {0};
    assert_int_equal(mqttproto_client_feed_bytes(NULL, b, 1, 0), E(INVALID_ARGUMENT));
    mqttproto_client_event ev;
    assert_int_equal(mqttproto_client_next_event(NULL, &ev), E(INVALID_ARGUMENT));
    const uint8_t *data = b;
    assert_int_equal(mqttproto_client_get_outbound_data(NULL, &data), 0);
    assert_null(data);
    assert_int_equal(mqttproto_client_get_outbound_data(NULL, NULL), 0);
    mqttproto_client_consume_outbound(NULL, 5);
    assert_int_equal(mqttproto_client_copy_outbound(NULL, b, sizeof b), 0);
    assert_int_equal(mqttproto_client_get_state(NULL), MQTTPROTO_CLIENT_DISCONNECTED);
    assert_int_equal(mqttproto_client_error(NULL), 0);
    mqttproto_str id = mqttproto_client_client_id(NULL);
    assert_int_equal(id.len, 0);
    mqttproto_client_server_info si = mqttproto_client_server(NULL);
    assert_int_equal(si.maximum_qos, 2);
    assert_true(si.retain_available);
    assert_int_equal(si.receive_maximum, 65535);
    assert_int_equal(si.maximum_packet_size, MQTTPROTO_MAX_PACKET_SIZE);
    assert_int_equal(si.topic_alias_maximum, 0);
    assert_true(mqttproto_client_get_expiry(NULL) == UINT64_MAX);
    assert_int_equal(mqttproto_client_handle_expiry(NULL, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_connection_lost(NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_publish(NULL, STR("t"), mqttproto_bin_make("x", 1),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL),
                     E(INVALID_ARGUMENT));
    mqttproto_subscription s;
    memset(&s, 0, sizeof s);
    s.topic_filter = STR("t");
    assert_int_equal(mqttproto_client_subscribe(NULL, &s, 1, NULL), E(INVALID_ARGUMENT));
    mqttproto_str f = STR("t");
    assert_int_equal(mqttproto_client_unsubscribe(NULL, &f, 1, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_acknowledge(NULL, 1, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_auth(NULL, 0x18, mqttproto_bin_make(NULL, 0), NULL),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_disconnect(NULL, 0, NULL), E(INVALID_ARGUMENT));
}

static void test_client_bad_arguments(void **state)
{
    (void)state;
    mqttproto_client_settings s;
    mqttproto_client_settings_default(&s);
    mqttproto_client *c = (mqttproto_client *)&s; /* must be overwritten */
    s.version = 99;
    assert_int_equal(mqttproto_client_create(&s, &c), E(INVALID_ARGUMENT));
    assert_null(c);
    mqttproto_client_settings_default(&s);
    s.receive_maximum = 0;
    assert_int_equal(mqttproto_client_create(&s, &c), E(INVALID_ARGUMENT));
    mqttproto_client_settings_default(&s);
    s.maximum_packet_size = 15;
    assert_int_equal(mqttproto_client_create(&s, &c), E(INVALID_ARGUMENT));
    s.maximum_packet_size = 16;
    assert_int_equal(mqttproto_client_create(&s, &c), 0);

    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    assert_int_equal(mqttproto_client_connect(c, NULL, 0), E(INVALID_ARGUMENT));
    o.version = 2;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    mqttproto_connect_options_default(&o);
    o.topic_alias_maximum = -2;
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    mqttproto_connect_options_default(&o);
    o.maximum_packet_size = 17; /* above the settings' 16 */
    assert_int_equal(mqttproto_client_connect(c, &o, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_get_state(c), MQTTPROTO_CLIENT_DISCONNECTED);

    /* Disconnected: input is refused, outbound is empty. */
    uint8_t b[4] = {0xd0, 0};
    assert_int_equal(mqttproto_client_feed_bytes(c, NULL, 1, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_feed_bytes(c, b, 2, 0), E(BAD_STATE));
    assert_int_equal(mqttproto_client_next_event(c, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_copy_outbound(c, NULL, 4), 0);
    assert_int_equal(mqttproto_client_copy_outbound(c, b, sizeof b), 0);
    assert_true(mqttproto_client_get_expiry(c) == UINT64_MAX);
    assert_int_equal(mqttproto_client_handle_expiry(c, 5), 0);
    /* QoS 3, or a NULL view with a length. */
    assert_int_equal(mqttproto_client_publish(c, STR("t"), mqttproto_bin_make("x", 1),
                                              (mqttproto_qos)3, false, NULL),
                     E(INVALID_ARGUMENT));
    mqttproto_str bad_topic = {NULL, 3};
    assert_int_equal(mqttproto_client_publish(c, bad_topic, mqttproto_bin_make("x", 1),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_publish(c, STR("t"), mqttproto_bin_make(NULL, 2),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL),
                     E(INVALID_ARGUMENT));
    /* Nothing to subscribe, and no connection. */
    mqttproto_subscription sub;
    memset(&sub, 0, sizeof sub);
    sub.topic_filter = STR("t");
    assert_int_equal(mqttproto_client_subscribe(c, NULL, 1, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 0, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_subscribe(c, &sub, 1, NULL), E(BAD_STATE));
    mqttproto_str f = STR("t");
    assert_int_equal(mqttproto_client_unsubscribe(c, NULL, 1, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_unsubscribe(c, &f, 0, NULL), E(INVALID_ARGUMENT));
    /* Not manual-ack; no authentication method; not connected. */
    assert_int_equal(mqttproto_client_acknowledge(c, 1, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_client_auth(c, 0x19, mqttproto_bin_make(NULL, 0), NULL),
                     E(BAD_STATE));
    assert_int_equal(mqttproto_client_disconnect(c, 0, NULL), E(BAD_STATE));
    assert_int_equal(mqttproto_client_connection_lost(c), 0);
    mqttproto_client_destroy(c);
}

static void test_broker_null_object(void **state)
{
    (void)state;
    mqttproto_broker_settings_default(NULL);
    assert_int_equal(mqttproto_broker_create(NULL, NULL), E(INVALID_ARGUMENT));
    mqttproto_broker_destroy(NULL);
    mqttproto_broker_stats st = mqttproto_broker_get_stats(NULL);
    assert_int_equal(st.sessions + st.connections + st.messages_routed, 0);
    assert_true(mqttproto_broker_get_expiry(NULL) == UINT64_MAX);
    assert_int_equal(mqttproto_broker_handle_expiry(NULL, 0), E(INVALID_ARGUMENT));
    mqttproto_broker_client *w = NULL;
    assert_int_equal(mqttproto_broker_next_writable(NULL, &w), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_publish(NULL, STR("t"), mqttproto_bin_make("x", 1),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL, 0),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_create(NULL, 0, &w), E(INVALID_ARGUMENT));
    mqttproto_broker_client_destroy(NULL, 0);
    uint8_t b[4] = {0};
    assert_int_equal(mqttproto_broker_client_feed_bytes(NULL, b, 1, 0), E(INVALID_ARGUMENT));
    mqttproto_broker_event ev;
    assert_int_equal(mqttproto_broker_client_next_event(NULL, &ev), E(INVALID_ARGUMENT));
    const uint8_t *data = b;
    assert_int_equal(mqttproto_broker_client_get_outbound_data(NULL, &data), 0);
    assert_null(data);
    assert_int_equal(mqttproto_broker_client_get_outbound_data(NULL, NULL), 0);
    mqttproto_broker_client_consume_outbound(NULL, 3);
    assert_int_equal(mqttproto_broker_client_copy_outbound(NULL, b, sizeof b), 0);
    assert_int_equal(mqttproto_broker_client_get_state(NULL), MQTTPROTO_BROKER_CLIENT_CLOSING);
    assert_int_equal(mqttproto_broker_client_error(NULL), 0);
    assert_int_equal(mqttproto_broker_client_client_id(NULL).len, 0);
    assert_int_equal(mqttproto_broker_client_username(NULL).len, 0);
    mqttproto_broker_client_set_user_data(NULL, b);
    assert_null(mqttproto_broker_client_get_user_data(NULL));
    assert_true(mqttproto_broker_client_get_expiry(NULL) == UINT64_MAX);
    assert_int_equal(mqttproto_broker_client_handle_expiry(NULL, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(NULL, 0, STR(""), NULL, 0),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_auth(NULL, 0x18, mqttproto_bin_make(NULL, 0), NULL),
                     E(INVALID_ARGUMENT));
    uint8_t rc = 0;
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(NULL, 1, &rc, 1),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_authorize_publish(NULL, 1, 0, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_disconnect(NULL, 0, NULL), E(INVALID_ARGUMENT));
}

static void test_broker_bad_arguments(void **state)
{
    (void)state;
    mqttproto_broker_settings s;
    mqttproto_broker *b = (mqttproto_broker *)&s; /* must be overwritten */
    mqttproto_broker_settings_default(&s);
    s.version = 7;
    assert_int_equal(mqttproto_broker_create(&s, &b), E(INVALID_ARGUMENT));
    assert_null(b);
    mqttproto_broker_settings_default(&s);
    s.receive_maximum = 0;
    assert_int_equal(mqttproto_broker_create(&s, &b), E(INVALID_ARGUMENT));
    mqttproto_broker_settings_default(&s);
    s.maximum_qos = 3;
    assert_int_equal(mqttproto_broker_create(&s, &b), E(INVALID_ARGUMENT));
    mqttproto_broker_settings_default(&s);
    s.maximum_packet_size = 15;
    assert_int_equal(mqttproto_broker_create(&s, &b), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_create(NULL, &b), 0);

    mqttproto_broker_client *c = NULL;
    assert_int_equal(mqttproto_broker_client_create(b, 0, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_next_writable(b, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_publish(b, STR("t"), mqttproto_bin_make("x", 1),
                                              (mqttproto_qos)3, false, NULL, 0),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_publish(b, STR("a/+"), mqttproto_bin_make("x", 1),
                                              MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL, 0),
                     E(TOPIC_NAME_INVALID));
    assert_int_equal(mqttproto_broker_client_create(b, 0, &c), 0);
    assert_int_equal(mqttproto_broker_next_writable(b, &c), 0);
    assert_null(c);
    assert_int_equal(mqttproto_broker_client_create(b, 0, &c), 0);
    uint8_t buf[8];
    assert_int_equal(mqttproto_broker_client_feed_bytes(c, NULL, 1, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_next_event(c, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_copy_outbound(c, NULL, 8), 0);
    assert_int_equal(mqttproto_broker_client_copy_outbound(c, buf, sizeof buf), 0);
    /* Waiting for CONNECT: no decision can be made yet. */
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(c, 0, STR(""), NULL, 0),
                     E(BAD_STATE));
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(c, 0x01, STR(""), NULL, 0),
                     E(INVALID_ARGUMENT)); /* not a CONNACK reason code */
    uint8_t rc = 0;
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(c, 1, NULL, 1),
                     E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(c, 1, &rc, 1),
                     E(UNKNOWN_PACKET_ID));
    assert_int_equal(mqttproto_broker_client_authorize_publish(c, 1, 0x10, 0), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_disconnect(c, 0x01, NULL), E(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_disconnect(c, 0x8B, NULL), E(BAD_STATE));
    assert_int_equal(mqttproto_broker_client_auth(c, 0x18, mqttproto_bin_make(NULL, 0), NULL),
                     E(BAD_STATE));
    mqttproto_broker_client_set_user_data(c, buf);
    assert_ptr_equal(mqttproto_broker_client_get_user_data(c), buf);
    /* The CONNECT timeout: CLOSING, nothing sent, BAD_STATE from then on. */
    assert_int_equal(mqttproto_broker_client_handle_expiry(c, 5), 0);
    assert_int_equal(mqttproto_broker_client_handle_expiry(c, 10000), E(BAD_STATE));
    assert_int_equal(mqttproto_broker_client_get_state(c), MQTTPROTO_BROKER_CLIENT_CLOSING);
    assert_true(mqttproto_broker_client_get_expiry(c) == UINT64_MAX);
    assert_int_equal(mqttproto_broker_client_feed_bytes(c, buf, 1, 0), E(BAD_STATE));
    mqttproto_broker_destroy(b); /* and the two clients with it */
}

static void test_names_out_of_range(void **state)
{
    (void)state;
    /* The library's version is the one its header was built with. */
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", MQTTPROTO_VERSION_MAJOR, MQTTPROTO_VERSION_MINOR,
             MQTTPROTO_VERSION_PATCH);
    assert_string_equal(mqttproto_version_string(), MQTTPROTO_VERSION_STRING);
    assert_string_equal(mqttproto_version_string(), want);
    assert_string_equal(mqttproto_broker_client_state_name(-1), "UNKNOWN");
    assert_string_equal(mqttproto_broker_client_state_name(4), "UNKNOWN");
    assert_string_equal(mqttproto_broker_client_state_name(3), "CLOSING");
    assert_string_equal(mqttproto_broker_event_type_name(0), "UNKNOWN");
    assert_string_equal(mqttproto_broker_event_type_name(8), "UNKNOWN");
    assert_string_equal(mqttproto_broker_event_type_name(1), "CONNECT");
    assert_string_equal(mqttproto_broker_event_type_name(7), "TAKEN_OVER");
    assert_string_equal(mqttproto_client_state_name(-1), "UNKNOWN");
    assert_string_equal(mqttproto_client_event_type_name(11), "UNKNOWN");
}

/* An allocator that lacks one of its functions is not used: the C
   library's is, as for a NULL mem. */
static long partial_calls;

static void *partial_malloc(size_t n, void *ud)
{
    (void)ud;
    partial_calls++;
    return malloc(n);
}

static void *partial_realloc(void *p, size_t n, void *ud)
{
    (void)ud;
    partial_calls++;
    return realloc(p, n);
}

static void test_incomplete_allocator_not_used(void **state)
{
    (void)state;
    const mqttproto_mem no_free = {partial_malloc, partial_realloc, NULL, NULL};
    const mqttproto_mem no_realloc = {partial_malloc, NULL, NULL, NULL};
    const mqttproto_mem *mems[] = {&no_free, &no_realloc};
    for (size_t i = 0; i < 2; i++) {
        mqttproto_client_settings cs;
        mqttproto_client_settings_default(&cs);
        cs.mem = mems[i];
        mqttproto_client *c;
        assert_int_equal(mqttproto_client_create(&cs, &c), 0);
        mqttproto_connect_options o;
        mqttproto_connect_options_default(&o);
        assert_int_equal(mqttproto_client_connect(c, &o, 0), 0);
        mqttproto_client_destroy(c);
        mqttproto_broker_settings bs;
        mqttproto_broker_settings_default(&bs);
        bs.mem = mems[i];
        mqttproto_broker *b;
        assert_int_equal(mqttproto_broker_create(&bs, &b), 0);
        mqttproto_broker_destroy(b);
    }
    assert_int_equal(partial_calls, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_client_null_object),
        cmocka_unit_test(test_client_bad_arguments),
        cmocka_unit_test(test_broker_null_object),
        cmocka_unit_test(test_broker_bad_arguments),
        cmocka_unit_test(test_names_out_of_range),
        cmocka_unit_test(test_incomplete_allocator_not_used),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
