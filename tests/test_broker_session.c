/*
 * Sessions at the broker: Clean Start, Session Present, the Session Expiry
 * Interval, messages re-sent on a resumed session, takeover by a second
 * connection, wills (on loss, DISCONNECT 0x04, delay, session end, retain),
 * and the limits on sessions, queues and retained messages.
 */
#include "broker_test.h"

/* [MQTT-3.1.2-4] [MQTT-3.2.2-2] [MQTT-3.1.4-4] */
SCENARIO(clean_start_discards)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "s", true, 300);
    assert_true(pump_subscribe(&p, 0, "c/#", QOS(1)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "c/1", "queued", QOS(1), false), 1);
    pump_run(&p);
    pump_connect_simple(&p, 0, "s", true, 300);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).subscriptions, 0);
    assert_int_equal(pump_publish(&p, 1, "c/1", "after", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 CONNECTED sp=0\n");
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=s clean=1 ka=60\n"
               "B0 SUBSCRIBE id=1 n=1\n"
               "B0 CONNECT id=s clean=1 ka=60\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-5] [MQTT-3.2.2-3] [MQTT-3.1.2-23] [MQTT-3.1.3-2] */
SCENARIO(session_resumed)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "s", true, 300);
    assert_true(pump_subscribe(&p, 0, "r/#", QOS(2)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 1);
    assert_int_equal(bt_stats(&p).connections, 0);
    bt_client(&p, 1, "pub", true, 0);
    /* QoS 0 is not kept for an offline session; QoS 1 and 2 are. */
    assert_int_equal(pump_publish(&p, 1, "r/0", "zero", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "r/1", "one", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "r/2", "two", QOS(2), false), 2);
    pump_run(&p);
    pump_connect_simple(&p, 0, "s", false, 300);
    pump_run(&p);
    /* The subscription came back with the session. */
    assert_int_equal(pump_publish(&p, 1, "r/3", "live", QOS(1), false), 3);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE r/1 q1 r0 d0 'one'\n"
               "C0 MESSAGE r/2 q2 r0 d0 'two'\n"
               "C0 MESSAGE r/3 q1 r0 d0 'live'\n");
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=s clean=1 ka=60\n"
               "B0 SUBSCRIBE id=1 n=1\n"
               "B0 CONNECT id=s clean=0 ka=60\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-6] [MQTT-3.2.2-3] */
SCENARIO(new_session_without_clean_start)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "fresh", false, 300);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\n");
    assert_int_equal(bt_stats(&p).sessions, 1);
    /* Raw: Session Present 0. */
    assert_true(raw_connect(&p, 1, "fresh2", false, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    pump_free(&p);
}

/* [MQTT-3.1.2-23] and its converse: an interval of 0 ends the session with
   the connection. */
SCENARIO(session_expiry_zero)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "z", true, 0);
    assert_true(pump_subscribe(&p, 0, "z/#", QOS(1)) > 0);
    pump_run(&p);
    /* [MQTT-4.1.0-1] kept as long as the connection is open */
    for (int k = 0; k < 10; k++) {
        pump_advance(&p, 30000);
        pump_run(&p);
    }
    assert_int_equal(bt_stats(&p).sessions, 1);
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_int_equal(bt_stats(&p).subscriptions, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), UINT64_MAX);
    pump_connect_simple(&p, 0, "z", false, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 SUBSCRIBE_ACK id=1 rc=01\nC0 CONNECTED sp=0\n");
    pump_free(&p);
}

/* [MQTT-4.1.0-2] */
SCENARIO(session_expiry_interval)
{
    struct pump p;
    /* Back just in time: resumed. */
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "n", true, 10);
    pump_drop(&p, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), p.now_ms + 10000);
    pump_advance(&p, 9999);
    assert_int_equal(bt_stats(&p).sessions, 1);
    pump_connect_simple(&p, 0, "n", false, 10);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 CONNECTED sp=1\n");
    /* While connected, no timer runs for it. */
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), UINT64_MAX);
    pump_free(&p);

    /* Too late: gone. */
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "n", true, 10);
    assert_true(pump_subscribe(&p, 0, "n/#", QOS(1)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_advance(&p, 9999);
    assert_int_equal(bt_stats(&p).sessions, 1);
    pump_advance(&p, 1);
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_int_equal(bt_stats(&p).subscriptions, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), UINT64_MAX);
    pump_connect_simple(&p, 0, "n", false, 10);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 SUBSCRIBE_ACK id=1 rc=01\nC0 CONNECTED sp=0\n");
    pump_free(&p);

    /* The broker's maximum lowers what the client asks for. */
    mqttproto_broker_settings s = bt_settings();
    s.max_session_expiry = 5;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "n", true, 1000);
    pump_drop(&p, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), p.now_ms + 5000);
    pump_advance(&p, 5000);
    assert_int_equal(bt_stats(&p).sessions, 0);
    pump_free(&p);
}

SCENARIO(session_expiry_never)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "forever", true, 0xFFFFFFFFu);
    pump_drop(&p, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), UINT64_MAX);
    pump_advance(&p, 50ull * 24 * 3600 * 1000);
    assert_int_equal(bt_stats(&p).sessions, 1);
    pump_connect_simple(&p, 0, "forever", false, 0xFFFFFFFFu);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 CONNECTED sp=1\n");
    pump_free(&p);
}

/* [MQTT-4.4.0-1] [MQTT-3.3.1-1] [MQTT-3.3.1-3] [MQTT-4.3.3-6] [MQTT-4.3.2-3]
   [MQTT-4.3.3-3] [MQTT-4.3.3-5] */
SCENARIO(in_flight_resent_on_resume)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "rs", true, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 02");
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "a", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "t", "b", QOS(2), false), 2);
    assert_int_equal(pump_publish(&p, 1, "t", "c", QOS(2), false), 3);
    pump_run(&p);
    EXPECT_OUT(&p, 0,
               "32 07 00 01 74 00 01 00 61 34 07 00 01 74 00 02 00 62 34 07 00 01 74 00 03 00 63");
    assert_int_equal(raw_hex(&p, 0, "50 02 00 02"), 4);
    EXPECT_OUT(&p, 0, "62 02 00 02");
    pump_drop(&p, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "d", QOS(1), false), 4);
    pump_run(&p);
    /* Resumed: the PUBLISH not acknowledged again with DUP and its
       identifier, the PUBREL again (never the PUBLISH), then the new one. */
    assert_true(raw_connect(&p, 0, "rs", false, 300, 0) > 0);
    EXPECT_OUT(&p, 0,
               CONNACK_OK_SP "3a 07 00 01 74 00 01 00 61 62 02 00 02 3c 07 00 01 74 00 03 00 63"
                             " 32 07 00 01 74 00 04 00 64");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01 70 02 00 02 50 02 00 03"), 12);
    EXPECT_OUT(&p, 0, "62 02 00 03");
    assert_int_equal(raw_hex(&p, 0, "70 02 00 03 40 02 00 04"), 8);
    EXPECT_OUT(&p, 0, "");
    /* Everything acknowledged: nothing is sent again. */
    pump_drop(&p, 0);
    assert_true(raw_connect(&p, 0, "rs", false, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK_SP);
    pump_free(&p);
}

/* [MQTT-3.1.4-3] */
SCENARIO(takeover)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    mqttproto_client_settings cs;
    mqttproto_client_settings_default(&cs);
    cs.manual_ack = true;
    pump_add_client(&p, 0, &cs);
    pump_connect_simple(&p, 0, "dev", true, 300);
    pump_run(&p);
    assert_true(pump_subscribe(&p, 0, "t", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "a", QOS(1), false), 1);
    pump_run(&p);
    /* A second connection with the same Client Identifier (raw: a new
       client state machine has no session to resume). */
    assert_true(raw_connect(&p, 2, "dev", false, 300, 0) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE t q1 r0 d0 'a'\n"
               "C0 DISCONNECTED rc=8e\n");
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=dev clean=1 ka=60\n"
               "B0 SUBSCRIBE id=1 n=1\n"
               "B0 TAKEN_OVER\n");
    /* The message in flight moved to the new connection, once, with DUP. */
    EXPECT_OUT(&p, 2, CONNACK_OK_SP "3a 07 00 01 74 00 01 00 61");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(mqttproto_broker_client_error(p.peers[0].conn), ERR(SESSION_TAKEN_OVER));
    /* The old connection's late bytes are refused. */
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01"), ERR(SESSION_TAKEN_OVER));
    /* Closing it does not touch the session. */
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 2);
    assert_int_equal(raw_hex(&p, 2, "40 02 00 01"), 4);
    assert_int_equal(pump_publish(&p, 1, "t", "b", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_OUT(&p, 2, "32 07 00 01 74 00 02 00 62");
    EXPECT_LOG(&p, "B2", "B2 CONNECT id=dev clean=0 ka=0\n");
    /* A takeover with Clean Start discards the session. */
    bt_client(&p, 3, "dev", true, 300);
    EXPECT_OUT(&p, 2, "e0 01 8e");
    EXPECT_LOG(&p, "B2", "B2 CONNECT id=dev clean=0 ka=0\nB2 TAKEN_OVER\n");
    EXPECT_LOG(&p, "C3", "C3 CONNECTED sp=0\n");
    assert_int_equal(bt_stats(&p).subscriptions, 0);
    pump_free(&p);
}

/* ---- wills ---- */

struct will_buf {
    mqttproto_will will;
    mqttproto_connect_options o;
};

/* Connect slot @p i with a will on @p topic, payload "bye". */
static void connect_with_will(struct pump *p, int i, struct will_buf *wb, const char *id,
                              uint32_t expiry, const char *topic, int qos, bool retain,
                              uint32_t delay)
{
    memset(&wb->will, 0, sizeof wb->will);
    wb->will.topic = STR(topic);
    wb->will.payload = BIN("bye");
    wb->will.qos = QOS(qos);
    wb->will.retain = retain;
    mqttproto_properties_init(&wb->will.properties);
    if (delay != 0) {
        assert_int_equal(mqttproto_properties_set_int(&wb->will.properties,
                                                      MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                      PR(WILL_DELAY_INTERVAL), delay),
                         0);
    }
    wb->o = bt_opts(id, true, expiry);
    wb->o.will = &wb->will;
    if (p->peers[i].client == NULL) {
        pump_add_client(p, i, NULL);
    }
    pump_connect(p, i, &wb->o);
    pump_run(p);
}

/* A watcher in slot 1 on "w/#" at QoS 1 with Retain As Published. */
static void watcher(struct pump *p)
{
    bt_client(p, 1, "watcher", true, 0);
    assert_true(bt_sub(p, 1, "w/#", 1, false, true, 0, NO_SUBID) > 0);
    pump_run(p);
}

#define WATCHER_START "C1 CONNECTED sp=0\nC1 SUBSCRIBE_ACK id=1 rc=01\n"

/* [MQTT-3.1.2-7] [MQTT-3.1.2-14] */
SCENARIO(will_on_connection_loss)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 0, "w/0", 1, false, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START);
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/0 q1 r0 d0 'bye'\n");
    assert_int_equal(bt_stats(&p).retained_messages, 0);
    pump_free(&p);
}

SCENARIO(will_on_disconnect_with_will)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 0, "w/0", 0, false, 0);
    assert_int_equal(mqttproto_client_disconnect(p.peers[0].client, 0x04, NULL), 0);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=w0 clean=1 ka=60\nB0 DISCONNECTED rc=04\n");
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/0 q0 r0 d0 'bye'\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-10] [MQTT-3.14.4-3] */
SCENARIO(no_will_on_normal_disconnect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 300, "w/0", 1, true, 0);
    assert_int_equal(mqttproto_client_disconnect(p.peers[0].client, 0x00, NULL), 0);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_advance(&p, 1000);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=w0 clean=1 ka=60\nB0 DISCONNECTED rc=00\n");
    EXPECT_LOG(&p, "C1", WATCHER_START);
    assert_int_equal(bt_stats(&p).retained_messages, 0);
    pump_free(&p);
}

/* A client that breaks the protocol loses its connection: the will goes. */
SCENARIO(will_on_protocol_error)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    /* Will "w/e" "x" QoS 0. */
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0,
                             "10 16 00 04 4d 51 54 54 05 06 00 00 00 00 00 00 00 03 77 2f 65 00 01"
                             " 78"),
                     24);
    /* The CONNACK with Assigned Client Identifier "auto-1". */
    EXPECT_OUT(&p, 0, "20 17 00 00 14 12 00 06 61 75 74 6f 2d 31 21 00 40 22 00 10 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "20 03 00 00 00"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 0, "e0 01 82");
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/e q0 r0 d0 'x'\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-8] */
SCENARIO(will_delay)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 100, "w/0", 1, false, 5);
    pump_drop(&p, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), p.now_ms + 5000);
    pump_advance(&p, 4999);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START);
    pump_advance(&p, 1);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/0 q1 r0 d0 'bye'\n");
    /* The will went; the session stays until its own expiry. */
    assert_int_equal(bt_stats(&p).sessions, 2);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), p.now_ms + 95000);
    pump_free(&p);
}

/* [MQTT-3.1.3-9] */
SCENARIO(will_delay_cancelled_by_reconnect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 100, "w/0", 1, false, 5);
    pump_drop(&p, 0);
    pump_advance(&p, 3000);
    pump_connect_simple(&p, 0, "w0", false, 100);
    pump_run(&p);
    pump_advance(&p, 10000);
    pump_run(&p);
    /* Closed again: the new connection had no will. */
    pump_drop(&p, 0);
    pump_advance(&p, 10000);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 CONNECTED sp=1\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-8]: the session ends before the will delay. */
SCENARIO(will_when_session_ends_first)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 3, "w/0", 1, false, 10);
    pump_drop(&p, 0);
    assert_int_equal(mqttproto_broker_get_expiry(p.broker), p.now_ms + 3000);
    pump_advance(&p, 2999);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START);
    pump_advance(&p, 1);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/0 q1 r0 d0 'bye'\n");
    assert_int_equal(bt_stats(&p).sessions, 1);
    /* A session that ends with its connection: the will goes at once. */
    connect_with_will(&p, 0, &wb, "w00", 0, "w/00", 1, false, 10);
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1",
               WATCHER_START "C1 MESSAGE w/0 q1 r0 d0 'bye'\nC1 MESSAGE w/00 q1 r0 d0 'bye'\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-15] */
SCENARIO(will_retain)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    connect_with_will(&p, 0, &wb, "w0", 0, "w/r", 1, true, 0);
    pump_drop(&p, 0);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_messages, 1);
    bt_client(&p, 2, "late", true, 0);
    assert_true(pump_subscribe(&p, 2, "w/#", QOS(1)) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/r q1 r1 d0 'bye'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 MESSAGE w/r q1 r1 d0 'bye'\n");
    pump_free(&p);
}

/* [MQTT-3.1.3-10] */
SCENARIO(will_properties_forwarded)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 1, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "82 09 00 01 00 00 03 77 2f 23 00"), 11);
    EXPECT_OUT(&p, 1, "90 04 00 01 00 00");
    mqttproto_will w;
    memset(&w, 0, sizeof w);
    w.topic = STR("w/p");
    w.payload = BIN("x");
    mqttproto_properties_init(&w.properties);
    mqttproto_user_property ups[2] = {{STR("b"), STR("2")}, {STR("a"), STR("1")}};
    const int ctx = MQTTPROTO_PROPERTY_CONTEXT_WILL;
    assert_int_equal(mqttproto_properties_set_int(&w.properties, ctx, PR(WILL_DELAY_INTERVAL), 0),
                     0);
    assert_int_equal(mqttproto_properties_set_str(&w.properties, ctx, PR(CONTENT_TYPE), STR("t")),
                     0);
    assert_int_equal(mqttproto_properties_set_user_properties(&w.properties, ctx, ups, 2), 0);
    mqttproto_connect_options o = bt_opts("wp", true, 0);
    o.will = &w;
    pump_add_client(&p, 0, NULL);
    pump_connect(&p, 0, &o);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_run(&p);
    /* Content Type and the User Properties in order; no Will Delay. */
    EXPECT_OUT(&p, 1,
               "30 19 00 03 77 2f 70 12 03 00 01 74 26 00 01 62 00 01 32 26 00 01 61 00 01 31 78");
    pump_free(&p);
}

/* [MQTT-3.1.4-3] with wills: the old connection's will follows the rules
   of a closed connection. */
SCENARIO(will_on_takeover)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    watcher(&p);
    struct will_buf wb;
    /* No delay: published at the takeover. */
    connect_with_will(&p, 0, &wb, "a", 300, "w/a", 1, false, 0);
    assert_true(raw_connect(&p, 2, "a", false, 300, 0) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/a q1 r0 d0 'bye'\n");
    /* A delay, and the new connection resumes the session: no will. */
    connect_with_will(&p, 3, &wb, "b", 300, "w/b", 1, false, 5);
    assert_true(raw_connect(&p, 4, "b", false, 300, 0) > 0);
    pump_run(&p);
    pump_advance(&p, 10000);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", WATCHER_START "C1 MESSAGE w/a q1 r0 d0 'bye'\n");
    /* A delay, and the new connection starts clean: the session ends and
       the will goes. */
    connect_with_will(&p, 5, &wb, "c", 300, "w/c", 1, false, 5);
    bt_client(&p, 6, "c", true, 300);
    EXPECT_LOG(&p, "C1",
               WATCHER_START "C1 MESSAGE w/a q1 r0 d0 'bye'\nC1 MESSAGE w/c q1 r0 d0 'bye'\n");
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 DISCONNECTED rc=8e\n");
    EXPECT_LOG(&p, "C3", "C3 CONNECTED sp=0\nC3 DISCONNECTED rc=8e\n");
    EXPECT_LOG(&p, "C5", "C5 CONNECTED sp=0\nC5 DISCONNECTED rc=8e\n");
    pump_free(&p);
}

/* ---- limits ---- */

SCENARIO(session_limit)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_sessions = 2;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "one", true, 0);
    bt_client(&p, 1, "two", true, 300);
    bt_client(&p, 2, "three", true, 0);
    EXPECT_LOG(&p, "C2", "C2 CONNECT_REFUSED rc=97\n");
    EXPECT_LOG(&p, "B2", "B2 CONNECT id=three clean=1 ka=60\n");
    assert_int_equal(bt_state(&p, 2), BST(CLOSING));
    /* An existing session is resumed without a new place. */
    pump_drop(&p, 1);
    bt_client(&p, 1, "two", false, 300);
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=0\nC1 CONNECTED sp=1\n");
    /* A session that ends frees its place. */
    pump_drop(&p, 0);
    pump_drop(&p, 2);
    bt_client(&p, 2, "three", true, 0);
    EXPECT_LOG(&p, "C2", "C2 CONNECT_REFUSED rc=97\nC2 CONNECTED sp=0\n");
    assert_int_equal(bt_stats(&p).sessions, 2);
    pump_free(&p);
}

SCENARIO(queued_message_limit)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_queued_messages = 2;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "slow", true, 300);
    assert_true(pump_subscribe(&p, 0, "q/#", QOS(1)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "q/1", "a", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "q/2", "b", QOS(1), false), 2);
    assert_int_equal(pump_publish(&p, 1, "q/3", "c", QOS(1), false), 3);
    pump_run(&p);
    /* The message went nowhere (its only session's queue was full): the
       publisher is told with 0x97 Quota exceeded. */
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 PUBLISH_COMPLETED id=1 rc=00\n"
               "C1 PUBLISH_COMPLETED id=2 rc=00\n"
               "C1 PUBLISH_FAILED id=3 rc=97 err=0\n");
    /* Retained, it is kept, so it is accepted. */
    assert_int_equal(pump_publish(&p, 1, "q/4", "d", QOS(1), true), 4);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C1 PUBLISH_COMPLETED id=4 rc=00"));
    /* With one session to take it, it is accepted too. */
    bt_client(&p, 2, "fast", true, 0);
    assert_true(pump_subscribe(&p, 2, "q/#", QOS(1)) > 0);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "q/5", "e", QOS(1), false), 5);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C1 PUBLISH_COMPLETED id=5 rc=00"));
    assert_int_equal(bt_stats(&p).messages_dropped_queue, 3);
    /* q/1 and q/2 to "slow", the retained q/4 and q/5 to "fast". */
    assert_int_equal(bt_stats(&p).messages_delivered, 4);
    pump_connect_simple(&p, 0, "slow", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE q/1 q1 r0 d0 'a'\n"
               "C0 MESSAGE q/2 q1 r0 d0 'b'\n");
    pump_free(&p);
}

/* With authorize_publish the refusal is the same once the application
   allows the message; the QoS 2 identifier is not kept. */
SCENARIO(queued_message_limit_authorized)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_queued_messages = 1;
    s.authorize_publish = true;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "slow", true, 300);
    assert_true(pump_subscribe(&p, 0, "t", QOS(2)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    assert_true(raw_connect(&p, 1, "pub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "34 07 00 01 74 00 01 00 61"), 9);
    EXPECT_OUT(&p, 1, "50 02 00 01");
    assert_int_equal(raw_hex(&p, 1, "34 07 00 01 74 00 02 00 62"), 9);
    EXPECT_OUT(&p, 1, "50 03 00 02 97");
    assert_int_equal(raw_hex(&p, 1, "62 02 00 02"), 4);
    EXPECT_OUT(&p, 1, "70 03 00 02 92");
    assert_int_equal(raw_hex(&p, 1, "62 02 00 01"), 4);
    EXPECT_OUT(&p, 1, "70 02 00 01");
    pump_free(&p);
}

/* The same limit for a connected client whose Receive Maximum is full:
   in flight and waiting count together. */
SCENARIO(queued_message_limit_online)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_queued_messages = 2;
    struct pump p;
    bt_init(&p, &s, chunk);
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("one-at-a-time", true, 0, 0);
    assert_int_equal(
        mqttproto_properties_set_int(&c.connect.properties, PK(CONNECT), PR(RECEIVE_MAXIMUM), 1),
        0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 01"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 01");
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "a", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "t", "b", QOS(1), false), 2);
    assert_int_equal(pump_publish(&p, 1, "t", "c", QOS(1), false), 3);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 01 00 61");
    assert_int_equal(bt_stats(&p).messages_dropped_queue, 1);
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01"), 4);
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 02 00 62");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 02"), 4);
    EXPECT_OUT(&p, 0, "");
    pump_free(&p);
}

SCENARIO(queued_bytes_limit)
{
    mqttproto_broker_settings s = bt_settings();
    /* Each message below is 18 bytes as stored: two fit. */
    s.max_queued_bytes = 40;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "slow", true, 300);
    assert_true(pump_subscribe(&p, 0, "q/#", QOS(1)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "q/1", "aaaaaaaaaa", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "q/2", "bbbbbbbbbb", QOS(1), false), 2);
    assert_int_equal(pump_publish(&p, 1, "q/3", "cccccccccc", QOS(1), false), 3);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).messages_dropped_queue, 1);
    pump_connect_simple(&p, 0, "slow", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE q/1 q1 r0 d0 'aaaaaaaaaa'\n"
               "C0 MESSAGE q/2 q1 r0 d0 'bbbbbbbbbb'\n");
    /* Once delivered, the place is free again. */
    assert_int_equal(pump_publish(&p, 1, "q/4", "dddddddddd", QOS(1), false), 4);
    pump_run(&p);
    assert_int_equal(pump_log_count(&p, "C0 MESSAGE q/4 q1 r0 d0 'dddddddddd'"), 1);
    assert_int_equal(bt_stats(&p).messages_dropped_queue, 1);
    pump_free(&p);
}

SCENARIO(retained_message_limit)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_retained_messages = 1;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "r/1", "one", QOS(0), true), 0);
    assert_int_equal(pump_publish(&p, 1, "r/2", "two", QOS(0), true), 0);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_messages, 1);
    assert_int_equal(bt_stats(&p).retained_dropped, 1);
    /* Replacing the stored topic is not a new one. */
    assert_int_equal(pump_publish(&p, 1, "r/1", "uno", QOS(0), true), 0);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_dropped, 1);
    /* Deleting it makes room. */
    assert_int_equal(pump_publish(&p, 1, "r/1", "", QOS(0), true), 0);
    assert_int_equal(pump_publish(&p, 1, "r/2", "dos", QOS(0), true), 0);
    pump_run(&p);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "r/#", QOS(0)) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=00\n"
               "C0 MESSAGE r/2 q0 r1 d0 'dos'\n");
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(clean_start_discards),
        RUN(session_resumed),
        RUN(new_session_without_clean_start),
        RUN(session_expiry_zero),
        RUN(session_expiry_interval),
        RUN(session_expiry_never),
        RUN(in_flight_resent_on_resume),
        RUN(takeover),
        RUN(will_on_connection_loss),
        RUN(will_on_disconnect_with_will),
        RUN(no_will_on_normal_disconnect),
        RUN(will_on_protocol_error),
        RUN(will_delay),
        RUN(will_delay_cancelled_by_reconnect),
        RUN(will_when_session_ends_first),
        RUN(will_retain),
        RUN(will_properties_forwarded),
        RUN(will_on_takeover),
        RUN(session_limit),
        RUN(queued_message_limit),
        RUN(queued_message_limit_authorized),
        RUN(queued_message_limit_online),
        RUN(queued_bytes_limit),
        RUN(retained_message_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
