/*
 * The broker client before and around CONNECT: the order of packets, the
 * CONNECT checks and their CONNACK reason codes, the application's answer,
 * Assigned Client Identifiers, the capabilities announced in CONNACK,
 * enhanced authentication, keep alive, PINGREQ and DISCONNECT.
 */
#include "broker_test.h"

/* The CONNACK of a default broker to a client that named the
   Authentication Method "M". */
#define CONNACK_M "20 12 00 00 0f 15 00 01 4d 21 00 40 22 00 10 27 00 10 00 00"

/* [MQTT-3.1.0-1] [MQTT-3.14.0-1] [MQTT-4.13.1-1] */
SCENARIO(first_packet_not_connect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, PINGREQ), ERR(UNEXPECTED_PACKET));
    /* Nothing is sent before a CONNACK: not even a DISCONNECT. */
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(mqttproto_broker_client_error(p.peers[0].conn), ERR(UNEXPECTED_PACKET));
    /* The error is sticky. */
    assert_int_equal(raw_hex(&p, 0, PINGREQ), ERR(UNEXPECTED_PACKET));

    /* A PUBLISH first: the same, and nothing is routed. */
    pump_open_raw(&p, 1);
    assert_int_equal(raw_hex(&p, 1, "30 06 00 01 74 00 68 69"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 1, "");
    assert_int_equal(bt_stats(&p).messages_routed, 0);
    EXPECT_LOG(&p, "B0", "");
    EXPECT_LOG(&p, "B1", "");
    pump_free(&p);
}

/* [MQTT-3.1.0-2] [MQTT-3.2.0-2] [MQTT-4.13.1-1] */
SCENARIO(second_connect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "twice", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    mqttproto_packet again = bt_connect_pkt("twice", true, 0, 0);
    assert_int_equal(raw_pkt(&p, 0, &again), ERR(UNEXPECTED_PACKET));
    /* A DISCONNECT 0x82, never a second CONNACK. */
    EXPECT_OUT(&p, 0, "e0 01 82");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(raw_hex(&p, 0, PINGREQ), ERR(UNEXPECTED_PACKET));
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=twice clean=1 ka=0\n");

    /* The second CONNECT pipelined behind the first waits for the answer,
       then ends the connection. */
    p.hold_decisions = true;
    pump_open_raw(&p, 1);
    mqttproto_packet c1 = bt_connect_pkt("pipe", true, 0, 0);
    assert_true(raw_pkt(&p, 1, &c1) > 0);
    assert_true(raw_pkt(&p, 1, &c1) > 0);
    EXPECT_OUT(&p, 1, "");
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[1].conn, 0, STR(""), NULL, p.now_ms),
        0);
    EXPECT_OUT(&p, 1, CONNACK_OK "e0 01 82");
    assert_int_equal(bt_state(&p, 1), BST(CLOSING));
    assert_int_equal(mqttproto_broker_client_error(p.peers[1].conn), ERR(UNEXPECTED_PACKET));
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=pipe clean=1 ka=0\n");
    pump_free(&p);
}

/* [MQTT-3.1.4-1] [MQTT-3.2.2-7] [MQTT-4.13.1-1] */
SCENARIO(malformed_connect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* Reserved bit 0 of the Connect Flags set. */
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, "10 0d 00 04 4d 51 54 54 05 03 00 00 00 00 00"),
                     ERR(BAD_CONNECT_FLAGS));
    EXPECT_OUT(&p, 0, "20 03 00 81 00");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    /* Will QoS 1 without the Will Flag. */
    pump_open_raw(&p, 1);
    assert_int_equal(raw_hex(&p, 1, "10 0d 00 04 4d 51 54 54 05 08 00 00 00 00 00"),
                     ERR(BAD_CONNECT_FLAGS));
    EXPECT_OUT(&p, 1, "20 03 00 81 00");
    /* A truncated client identifier. */
    pump_open_raw(&p, 2);
    assert_int_equal(raw_hex(&p, 2, "10 0d 00 04 4d 51 54 54 05 02 00 00 00 00 05"),
                     ERR(TRUNCATED));
    EXPECT_OUT(&p, 2, "20 03 00 81 00");
    /* A protocol name other than MQTT. */
    pump_open_raw(&p, 3);
    assert_int_equal(raw_hex(&p, 3, "10 0d 00 04 4d 51 54 58 05 02 00 00 00 00 00"),
                     ERR(BAD_PROTOCOL_NAME));
    EXPECT_OUT(&p, 3, "20 03 00 84 00");
    /* No CONNECT event reached the application. */
    for (int i = 0; i < 4; i++) {
        char who[4];
        snprintf(who, sizeof who, "B%d", i);
        EXPECT_LOG(&p, who, "");
        assert_int_equal(bt_state(&p, i), BST(CLOSING));
    }
    pump_free(&p);
}

static void expect_str(mqttproto_str got, const char *want)
{
    assert_int_equal(got.len, strlen(want));
    if (got.len > 0) {
        assert_memory_equal(got.data, want, got.len);
    }
}

/* Feed @p pkt to slot @p i without the pump draining the events. */
static void feed_undrained(struct pump *p, int i, const mqttproto_packet *pkt)
{
    uint8_t buf[512];
    ptrdiff_t n = mqttproto_encode(pkt, NULL, buf, sizeof buf);
    assert_true(n > 0);
    size_t off = 0, step = p->chunk == 0 ? (size_t)n : p->chunk;
    while (off < (size_t)n) {
        size_t k = (size_t)n - off < step ? (size_t)n - off : step;
        assert_int_equal(
            mqttproto_broker_client_feed_bytes(p->peers[i].conn, buf + off, k, p->now_ms),
            (ptrdiff_t)k);
        off += k;
    }
}

/* What the CONNECT event gives the application. */
SCENARIO(connect_event_fields)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("fields", false, 77, 33);
    c.connect.has_username = true;
    c.connect.username = STR("alice");
    c.connect.has_password = true;
    c.connect.password = BIN("secret");
    c.connect.has_will = true;
    c.connect.will.topic = STR("w/f");
    c.connect.will.payload = BIN("gone");
    c.connect.will.qos = QOS(1);
    c.connect.will.retain = true;
    mqttproto_properties_init(&c.connect.will.properties);
    assert_int_equal(mqttproto_properties_set_int(&c.connect.will.properties,
                                                  MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                  PR(WILL_DELAY_INTERVAL), 9),
                     0);
    assert_int_equal(mqttproto_properties_set_str(&c.connect.properties, PK(CONNECT),
                                                  PR(AUTHENTICATION_METHOD), STR("PLAIN")),
                     0);
    feed_undrained(&p, 0, &c);
    mqttproto_broker_client *bc = p.peers[0].conn;
    mqttproto_broker_event ev;
    assert_int_equal(mqttproto_broker_client_next_event(bc, &ev), 1);
    assert_int_equal(ev.type, MQTTPROTO_BROKER_EVENT_CONNECT);
    expect_str(ev.client_id, "fields");
    assert_false(ev.clean_start);
    assert_int_equal(ev.keep_alive, 33);
    assert_true(ev.has_username);
    expect_str(ev.username, "alice");
    assert_true(ev.has_password);
    assert_int_equal(ev.password.len, 6);
    assert_memory_equal(ev.password.data, "secret", 6);
    assert_true(ev.has_will);
    expect_str(ev.will->topic, "w/f");
    assert_int_equal(ev.will->qos, 1);
    assert_true(ev.will->retain);
    assert_int_equal(ev.will->properties.will_delay_interval, 9);
    assert_int_equal(ev.properties->session_expiry_interval, 77);
    expect_str(ev.properties->authentication_method, "PLAIN");
    assert_int_equal(mqttproto_broker_client_next_event(bc, &ev), 0);
    /* An empty name keeps the CONNECT's user name. */
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(bc, 0, STR(""), NULL, p.now_ms),
                     0);
    expect_str(mqttproto_broker_client_username(bc), "alice");
    expect_str(mqttproto_broker_client_client_id(bc), "fields");
    assert_int_equal(mqttproto_broker_client_get_state(bc), BST(CONNECTED));

    /* SUBSCRIBE, UNSUBSCRIBE and PUBLISH events. */
    mqttproto_subscription subs[2];
    memset(subs, 0, sizeof subs);
    subs[0].topic_filter = STR("a/+");
    subs[0].max_qos = QOS(1);
    subs[0].no_local = true;
    subs[1].topic_filter = STR("$share/g/b");
    subs[1].max_qos = QOS(2);
    subs[1].retain_handling = MQTTPROTO_RETAIN_DO_NOT_SEND;
    mqttproto_packet sp;
    memset(&sp, 0, sizeof sp);
    sp.type = MQTTPROTO_PACKET_SUBSCRIBE;
    sp.subscribe.packet_id = 5;
    mqttproto_properties_init(&sp.subscribe.properties);
    assert_int_equal(mqttproto_properties_set_int(&sp.subscribe.properties, PK(SUBSCRIBE),
                                                  PR(SUBSCRIPTION_IDENTIFIER), 42),
                     0);
    sp.subscribe.subscriptions.items = subs;
    sp.subscribe.subscriptions.count = 2;
    feed_undrained(&p, 0, &sp);
    assert_int_equal(mqttproto_broker_client_next_event(bc, &ev), 1);
    assert_int_equal(ev.type, MQTTPROTO_BROKER_EVENT_SUBSCRIBE);
    assert_int_equal(ev.packet_id, 5);
    assert_int_equal(ev.properties->subscription_identifier, 42);
    assert_int_equal(ev.subscriptions->count, 2);
    size_t cursor = 0;
    mqttproto_subscription got;
    assert_true(mqttproto_subscriptions_next(ev.subscriptions, &cursor, &got));
    expect_str(got.topic_filter, "a/+");
    assert_int_equal(got.max_qos, 1);
    assert_true(got.no_local);
    assert_true(mqttproto_subscriptions_next(ev.subscriptions, &cursor, &got));
    expect_str(got.topic_filter, "$share/g/b");
    assert_int_equal(got.retain_handling, MQTTPROTO_RETAIN_DO_NOT_SEND);
    assert_false(mqttproto_subscriptions_next(ev.subscriptions, &cursor, &got));
    uint8_t codes[2] = {1, 2};
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(bc, 5, codes, 2), 0);
    /* The CONNACK names the method "PLAIN". */
    EXPECT_OUT(&p, 0,
               "20 16 00 00 13 15 00 05 50 4c 41 49 4e 21 00 40 22 00 10 27 00 10 00 00"
               "90 05 00 05 00 01 02");

    mqttproto_str filters[2] = {STR("a/+"), STR("nope")};
    mqttproto_packet up;
    memset(&up, 0, sizeof up);
    up.type = MQTTPROTO_PACKET_UNSUBSCRIBE;
    up.unsubscribe.packet_id = 6;
    mqttproto_properties_init(&up.unsubscribe.properties);
    up.unsubscribe.topic_filters.items = filters;
    up.unsubscribe.topic_filters.count = 2;
    feed_undrained(&p, 0, &up);
    assert_int_equal(mqttproto_broker_client_next_event(bc, &ev), 1);
    assert_int_equal(ev.type, MQTTPROTO_BROKER_EVENT_UNSUBSCRIBE);
    assert_int_equal(ev.packet_id, 6);
    assert_int_equal(ev.reason_code_count, 2);
    assert_int_equal(ev.reason_codes[0], 0x00);
    assert_int_equal(ev.reason_codes[1], 0x11);
    cursor = 0;
    mqttproto_str f;
    assert_true(mqttproto_topic_filters_next(ev.topic_filters, &cursor, &f));
    expect_str(f, "a/+");
    assert_true(mqttproto_topic_filters_next(ev.topic_filters, &cursor, &f));
    expect_str(f, "nope");
    EXPECT_OUT(&p, 0, "b0 05 00 06 00 00 11");

    mqttproto_packet pp;
    memset(&pp, 0, sizeof pp);
    pp.type = MQTTPROTO_PACKET_PUBLISH;
    pp.publish.topic = STR("p/q");
    pp.publish.payload = BIN("body");
    pp.publish.qos = QOS(1);
    pp.publish.retain = true;
    pp.publish.packet_id = 9;
    mqttproto_properties_init(&pp.publish.properties);
    assert_int_equal(mqttproto_properties_set_str(&pp.publish.properties, PK(PUBLISH),
                                                  PR(CONTENT_TYPE), STR("text/plain")),
                     0);
    feed_undrained(&p, 0, &pp);
    assert_int_equal(mqttproto_broker_client_next_event(bc, &ev), 1);
    assert_int_equal(ev.type, MQTTPROTO_BROKER_EVENT_PUBLISH);
    assert_int_equal(ev.packet_id, 9);
    expect_str(ev.topic, "p/q");
    assert_int_equal(ev.payload.len, 4);
    assert_memory_equal(ev.payload.data, "body", 4);
    assert_int_equal(ev.qos, 1);
    assert_true(ev.retain);
    assert_int_equal(ev.ticket, 0);
    expect_str(ev.properties->content_type, "text/plain");
    assert_int_equal(mqttproto_broker_client_next_event(bc, &ev), 0);
    EXPECT_OUT(&p, 0, "40 02 00 09");
    assert_int_equal(bt_stats(&p).retained_messages, 1);
    pump_free(&p);
}

/* [MQTT-3.1.2-2] */
SCENARIO(unsupported_protocol_version)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* A CONNECT of protocol level 6, client id "test" (3.1.1 and 3.1 are
       served: tests/test_broker_v311.c). */
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, "10 10 00 04 4d 51 54 54 06 02 00 3c 00 04 74 65 73 74"),
                     ERR(UNSUPPORTED_PROTOCOL_VERSION));
    EXPECT_OUT(&p, 0, "20 03 00 84 00");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    EXPECT_LOG(&p, "B0", "");
    pump_free(&p);
}

static mqttproto_will simple_will(const char *topic, const char *payload, int qos, bool retain)
{
    mqttproto_will w;
    memset(&w, 0, sizeof w);
    w.topic = STR(topic);
    w.payload = BIN(payload);
    w.qos = QOS(qos);
    w.retain = retain;
    mqttproto_properties_init(&w.properties);
    return w;
}

/* [MQTT-3.2.2-12] */
SCENARIO(will_qos_not_supported)
{
    mqttproto_broker_settings s = bt_settings();
    s.maximum_qos = 1;
    struct pump p;
    bt_init(&p, &s, chunk);
    pump_add_client(&p, 0, NULL);
    mqttproto_will w = simple_will("w/t", "gone", 2, false);
    mqttproto_connect_options o = bt_opts("wq", true, 0);
    o.will = &w;
    pump_connect(&p, 0, &o);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 ERROR MQTTPROTO_ERR_QOS_NOT_SUPPORTED\n");
    EXPECT_LOG(&p, "C0", "C0 CONNECT_REFUSED rc=9b\n");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(bt_stats(&p).sessions, 0);
    pump_free(&p);

    /* The same as raw bytes: will QoS 2, will topic "w", payload "x". */
    bt_init(&p, &s, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(
        raw_hex(&p, 0, "10 14 00 04 4d 51 54 54 05 14 00 00 00 00 00 00 00 01 77 00 01 78"),
        ERR(QOS_NOT_SUPPORTED));
    EXPECT_OUT(&p, 0, "20 03 00 9b 00");
    pump_free(&p);
}

/* [MQTT-3.2.2-13] */
SCENARIO(will_retain_not_supported)
{
    mqttproto_broker_settings s = bt_settings();
    s.retain_available = false;
    struct pump p;
    bt_init(&p, &s, chunk);
    pump_open_raw(&p, 0);
    /* Will Flag, Will QoS 0, Will Retain. */
    assert_int_equal(
        raw_hex(&p, 0, "10 14 00 04 4d 51 54 54 05 24 00 00 00 00 00 00 00 01 77 00 01 78"),
        ERR(RETAIN_NOT_SUPPORTED));
    EXPECT_OUT(&p, 0, "20 03 00 9a 00");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    EXPECT_LOG(&p, "B0", "");

    pump_add_client(&p, 1, NULL);
    mqttproto_will w = simple_will("w/t", "gone", 0, true);
    mqttproto_connect_options o = bt_opts("wr", true, 0);
    o.will = &w;
    pump_connect(&p, 1, &o);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", "C1 CONNECT_REFUSED rc=9a\n");
    pump_free(&p);
}

SCENARIO(connect_timeout)
{
    mqttproto_broker_settings s = bt_settings();
    s.connect_timeout_ms = 5000;
    struct pump p;
    bt_init(&p, &s, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), p.now_ms + 5000);
    /* Part of a CONNECT does not stop the clock. */
    assert_int_equal(raw_hex(&p, 0, "10 0d 00 04"), 4);
    pump_advance(&p, 4999);
    assert_int_equal(bt_state(&p, 0), BST(AWAIT_CONNECT));
    pump_advance(&p, 1);
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), UINT64_MAX);
    assert_int_equal(raw_hex(&p, 0, "4d 51 54 54"), ERR(BAD_STATE));

    /* A CONNECT the application never answers is closed the same way. */
    p.hold_decisions = true;
    assert_true(raw_connect(&p, 1, "slow", true, 0, 0) > 0);
    assert_int_equal(bt_state(&p, 1), BST(AUTHENTICATING));
    pump_advance(&p, 5000);
    assert_int_equal(bt_state(&p, 1), BST(CLOSING));
    EXPECT_OUT(&p, 1, "");
    EXPECT_LOG(&p, "B0", "B0 EXPIRY MQTTPROTO_ERR_BAD_STATE\n");
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=slow clean=1 ka=0\nB1 EXPIRY MQTTPROTO_ERR_BAD_STATE\n");
    /* Once accepted, the CONNECT timeout no longer applies. */
    pump_open_raw(&p, 2);
    p.hold_decisions = false;
    mqttproto_packet c2 = bt_connect_pkt("quick", true, 0, 0);
    assert_true(raw_pkt(&p, 2, &c2) > 0);
    pump_advance(&p, 60000);
    assert_int_equal(bt_state(&p, 2), BST(CONNECTED));
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[2].conn), UINT64_MAX);
    pump_free(&p);
}

/* [MQTT-3.1.4-2] [MQTT-3.2.2-7] [MQTT-4.13.2-1] */
SCENARIO(refused_connect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.connect_rc = 0x86; /* Bad User Name or Password */
    pump_add_client(&p, 0, NULL);
    pump_connect_simple(&p, 0, "bad", true, 300);
    pump_run(&p);
    p.connect_rc = 0x87; /* Not authorized */
    pump_add_client(&p, 1, NULL);
    pump_connect_simple(&p, 1, "nope", false, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=bad clean=1 ka=60\n");
    EXPECT_LOG(&p, "C0", "C0 CONNECT_REFUSED rc=86\n");
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=nope clean=0 ka=60\n");
    EXPECT_LOG(&p, "C1", "C1 CONNECT_REFUSED rc=87\n");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(bt_state(&p, 1), BST(CLOSING));
    /* No session was created. */
    assert_int_equal(bt_stats(&p).sessions, 0);
    pump_free(&p);
}

/* [MQTT-3.1.4-6] */
SCENARIO(refused_connect_processes_nothing_after)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 1, "watcher", true, 0);
    assert_true(pump_subscribe(&p, 1, "#", QOS(1)) > 0);
    pump_run(&p);
    pump_log_clear(&p);

    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("rogue", true, 0, 0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    /* SUBSCRIBE id 1 "#" QoS 0, PUBLISH QoS 1 "t" id 2 "hi", PINGREQ. */
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 23 00"), 9);
    assert_int_equal(raw_hex(&p, 0, "32 08 00 01 74 00 02 00 68 69"), 10);
    assert_int_equal(raw_hex(&p, 0, PINGREQ), 2);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0x87, STR(""), NULL, p.now_ms),
        0);
    pump_run(&p);
    /* Only the CONNACK: no SUBACK, PUBACK or PINGRESP. */
    EXPECT_OUT(&p, 0, "20 03 00 87 00");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(raw_hex(&p, 0, PINGREQ), ERR(BAD_STATE));
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=rogue clean=1 ka=0\n");
    EXPECT_LOG(&p, "C1", "");
    assert_int_equal(bt_stats(&p).messages_routed, 0);
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    pump_free(&p);
}

/* [MQTT-3.2.0-1] [MQTT-3.1.4-5] */
SCENARIO(pipelined_after_connect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("eager", true, 0, 0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 23 01"), 9);
    assert_int_equal(raw_hex(&p, 0, PINGREQ), 2);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=eager clean=1 ka=0\n");
    EXPECT_OUT(&p, 0, "");
    p.hold_decisions = false;
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0, STR(""), NULL, p.now_ms),
        0);
    pump_run(&p);
    /* The CONNACK first, then the answers in order. */
    EXPECT_OUT(&p, 0, CONNACK_OK PINGRESP "90 04 00 01 00 01");
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=eager clean=1 ka=0\nB0 SUBSCRIBE id=1 n=1\n");
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    pump_free(&p);
}

/* [MQTT-3.2.2-16] [MQTT-3.1.3-6] [MQTT-3.1.3-7] */
SCENARIO(assigned_client_identifier)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* A session named like the first identifier the broker would pick. */
    bt_client(&p, 2, "auto-1", true, 300);
    pump_add_client(&p, 0, NULL);
    pump_connect_simple(&p, 0, "", true, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id= clean=1 ka=60\n");
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\n");
    mqttproto_str id = mqttproto_client_client_id(p.peers[0].client);
    assert_int_equal(id.len, 6);
    assert_memory_equal(id.data, "auto-2", 6);
    id = mqttproto_broker_client_client_id(p.peers[0].conn);
    assert_int_equal(id.len, 6);
    assert_memory_equal(id.data, "auto-2", 6);
    /* The session is kept under the assigned identifier. */
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 2);
    pump_connect_simple(&p, 0, "auto-2", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 CONNECTED sp=1\n");

    /* Raw: the CONNACK carries Assigned Client Identifier "auto-3". */
    assert_true(raw_connect(&p, 1, "", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, "20 17 00 00 14 12 00 06 61 75 74 6f 2d 33 21 00 40 22 00 10 27 00 10 00 00");
    pump_free(&p);
}

/* [MQTT-3.1.3-5] [MQTT-3.1.4-5] [MQTT-3.2.2-2] [MQTT-3.1.3-8] */
SCENARIO(client_identifiers)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "0123456789abcdefghijABC", true, 0);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=0123456789abcdefghijABC clean=1 ka=60\n");
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\n");
    /* The application refuses an identifier with 0x85. */
    p.connect_rc = 0x85;
    assert_true(raw_connect(&p, 1, "not allowed", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, "20 03 00 85 00");
    assert_int_equal(bt_state(&p, 1), BST(CLOSING));
    pump_free(&p);
}

/* [MQTT-3.2.2-9] [MQTT-3.2.2-22] */
SCENARIO(connack_capabilities)
{
    mqttproto_broker_settings s = bt_settings();
    s.receive_maximum = 10;
    s.maximum_qos = 1;
    s.retain_available = false;
    s.maximum_packet_size = 2048;
    s.topic_alias_maximum = 5;
    s.wildcard_subscription_available = false;
    s.subscription_identifier_available = false;
    s.shared_subscription_available = false;
    s.max_keep_alive = 30;
    s.max_session_expiry = 100;
    struct pump p;
    bt_init(&p, &s, chunk);
    pump_add_client(&p, 0, NULL);
    pump_connect_simple(&p, 0, "caps", true, 1000);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\n");
    mqttproto_client_server_info si = mqttproto_client_server(p.peers[0].client);
    assert_int_equal(si.receive_maximum, 10);
    assert_int_equal(si.maximum_qos, 1);
    assert_false(si.retain_available);
    assert_int_equal(si.maximum_packet_size, 2048);
    assert_int_equal(si.topic_alias_maximum, 5);
    assert_false(si.wildcard_subscription_available);
    assert_false(si.subscription_identifier_available);
    assert_false(si.shared_subscription_available);
    assert_int_equal(si.keep_alive, 30); /* lowered from 60 */
    /* The broker holds the client to 1.5 x 30 s. */
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), p.now_ms + 45000);

    /* Raw: the whole CONNACK. Session Expiry lowered to 100, Receive
       Maximum 10, Maximum QoS 1, Retain Available 0, Maximum Packet Size
       2048, Topic Alias Maximum 5, Wildcard/Subscription Identifier/Shared
       Subscription Available 0, Server Keep Alive 30. */
    assert_true(raw_connect(&p, 1, "raw", true, 1000, 0) > 0);
    EXPECT_OUT(&p, 1,
               "20 20 00 00 1d 11 00 00 00 64 13 00 1e 21 00 0a 22 00 05 24 01 25 00 27 00 00 08"
               " 00 28 00 29 00 2a 00");
    pump_free(&p);

    /* Defaults: the keep alive the client asked for is the one in force. */
    bt_init(&p, NULL, chunk);
    pump_add_client(&p, 0, NULL);
    mqttproto_connect_options o = bt_opts("ka", true, 0);
    o.keep_alive = 20;
    pump_connect(&p, 0, &o);
    pump_run(&p);
    si = mqttproto_client_server(p.peers[0].client);
    assert_int_equal(si.keep_alive, 20);
    assert_int_equal(si.maximum_qos, 2);
    assert_true(si.retain_available);
    assert_int_equal(si.receive_maximum, 64);
    assert_int_equal(si.topic_alias_maximum, 16);
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), p.now_ms + 30000);
    pump_free(&p);
}

/* [MQTT-3.2.2-19] [MQTT-3.2.2-20] */
SCENARIO(connack_fits_client_maximum_packet_size)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    mqttproto_client_settings cs;
    mqttproto_client_settings_default(&cs);
    cs.maximum_packet_size = 64;
    pump_add_client(&p, 0, &cs);
    pump_connect_simple(&p, 0, "small", true, 0);
    pump_run(&p);
    char reason[101];
    memset(reason, 'r', 100);
    reason[100] = '\0';
    mqttproto_user_property up = {STR("k"), STR("a long user property value to overflow")};
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(
        mqttproto_properties_set_str(&props, PK(CONNACK), PR(REASON_STRING), STR(reason)), 0);
    assert_int_equal(mqttproto_properties_set_user_properties(&props, PK(CONNACK), &up, 1), 0);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0, STR(""), &props, p.now_ms),
        0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\n");
    /* A refusal is trimmed the same way. */
    pump_add_client(&p, 1, &cs);
    pump_connect_simple(&p, 1, "small2", true, 0);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(p.peers[1].conn, 0x87, STR(""),
                                                                 &props, p.now_ms),
                     0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", "C1 CONNECT_REFUSED rc=87\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-28] */
SCENARIO(response_information_only_when_requested)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(
        mqttproto_properties_set_str(&props, PK(CONNACK), PR(RESPONSE_INFORMATION), STR("r/")), 0);
    /* Not requested: left out. */
    assert_true(raw_connect(&p, 0, "a", true, 0, 0) > 0);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0, STR(""), &props, p.now_ms),
        0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* Requested (Request Response Information 1): sent. */
    pump_open_raw(&p, 1);
    mqttproto_packet c = bt_connect_pkt("b", true, 0, 0);
    assert_int_equal(mqttproto_properties_set_int(&c.connect.properties, PK(CONNECT),
                                                  PR(REQUEST_RESPONSE_INFORMATION), 1),
                     0);
    assert_true(raw_pkt(&p, 1, &c) > 0);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[1].conn, 0, STR(""), &props, p.now_ms),
        0);
    EXPECT_OUT(&p, 1, "20 13 00 00 10 1a 00 02 72 2f 21 00 40 22 00 10 27 00 10 00 00");
    pump_free(&p);
}

/* ---- enhanced authentication ---- */

static void auth_opts(mqttproto_connect_options *o, const char *id, const char *method)
{
    *o = bt_opts(id, true, 0);
    o->authentication_method = STR(method);
    o->authentication_data = BIN("client-first");
}

/* [MQTT-4.12.0-2] [MQTT-4.12.0-5] */
SCENARIO(auth_exchange)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    pump_add_client(&p, 0, NULL);
    mqttproto_connect_options o;
    auth_opts(&o, "scram", "SCRAM-SHA-1");
    pump_connect(&p, 0, &o);
    pump_run(&p);
    mqttproto_broker_client *bc = p.peers[0].conn;
    assert_int_equal(bt_state(&p, 0), BST(AUTHENTICATING));
    /* The server asks for more: AUTH 0x18 with the client's method. */
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x18, BIN("server-first"), NULL), 0);
    pump_run(&p);
    assert_int_equal(mqttproto_client_auth(p.peers[0].client, 0x18, BIN("client-final"), NULL), 0);
    pump_run(&p);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(bc, 0, STR("scram-user"), NULL, p.now_ms), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=scram clean=1 ka=60\nB0 AUTH rc=18\n");
    EXPECT_LOG(&p, "C0", "C0 AUTH rc=18\nC0 CONNECTED sp=0\n");
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    mqttproto_str u = mqttproto_broker_client_username(bc);
    assert_int_equal(u.len, 10);
    assert_memory_equal(u.data, "scram-user", 10);
    /* A connect ends with CONNACK, not AUTH 0x00. */
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, BIN(""), NULL), ERR(BAD_STATE));
    pump_free(&p);

    /* Raw: the AUTH and the CONNACK carry the method "M". */
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("r", true, 0, 0);
    assert_int_equal(mqttproto_properties_set_str(&c.connect.properties, PK(CONNECT),
                                                  PR(AUTHENTICATION_METHOD), STR("M")),
                     0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    bc = p.peers[0].conn;
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x18, BIN("s"), NULL), 0);
    EXPECT_OUT(&p, 0, "f0 0a 18 08 15 00 01 4d 16 00 01 73");
    /* AUTH 0x18, method "M", data "c". */
    assert_int_equal(raw_hex(&p, 0, "f0 0a 18 08 15 00 01 4d 16 00 01 63"), 12);
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(bc, 0, STR(""), NULL, p.now_ms),
                     0);
    EXPECT_OUT(&p, 0, CONNACK_M);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=r clean=1 ka=0\nB0 AUTH rc=18\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-29] */
SCENARIO(auth_without_problem_information)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    mqttproto_user_property up = {STR("k"), STR("v")};
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(mqttproto_properties_set_str(&props, PK(AUTH), PR(REASON_STRING), STR("why")),
                     0);
    assert_int_equal(mqttproto_properties_set_user_properties(&props, PK(AUTH), &up, 1), 0);
    for (int i = 0; i < 2; i++) {
        pump_open_raw(&p, i);
        mqttproto_packet c = bt_connect_pkt(i == 0 ? "quiet" : "chatty", true, 0, 0);
        assert_int_equal(mqttproto_properties_set_str(&c.connect.properties, PK(CONNECT),
                                                      PR(AUTHENTICATION_METHOD), STR("M")),
                         0);
        if (i == 0) {
            assert_int_equal(mqttproto_properties_set_int(&c.connect.properties, PK(CONNECT),
                                                          PR(REQUEST_PROBLEM_INFORMATION), 0),
                             0);
        }
        assert_true(raw_pkt(&p, i, &c) > 0);
        assert_int_equal(mqttproto_broker_client_auth(p.peers[i].conn, 0x18, BIN("s"), &props), 0);
    }
    /* Request Problem Information 0: the AUTH leaves both out. */
    EXPECT_OUT(&p, 0, "f0 0a 18 08 15 00 01 4d 16 00 01 73");
    EXPECT_OUT(&p, 1, "f0 17 18 15 15 00 01 4d 16 00 01 73 1f 00 03 77 68 79 26 00 01 6b 00 01 76");
    pump_free(&p);
}

/* [MQTT-4.12.0-5] */
SCENARIO(reauthentication)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_add_client(&p, 0, NULL);
    mqttproto_connect_options o;
    auth_opts(&o, "re", "TOKEN");
    pump_connect(&p, 0, &o);
    pump_run(&p);
    mqttproto_broker_client *bc = p.peers[0].conn;
    assert_int_equal(mqttproto_client_auth(p.peers[0].client, 0x19, BIN("token-2"), NULL), 0);
    pump_run(&p);
    /* One more round, then success. */
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x18, BIN("challenge"), NULL), 0);
    pump_run(&p);
    assert_int_equal(mqttproto_client_auth(p.peers[0].client, 0x18, BIN("answer"), NULL), 0);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, BIN(""), NULL), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=re clean=1 ka=60\nB0 AUTH rc=19\nB0 AUTH rc=18\n");
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 AUTH rc=18\nC0 AUTH rc=00\n");
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    /* Not re-authenticating any more. */
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, BIN(""), NULL), ERR(BAD_STATE));
    pump_free(&p);
}

/* [MQTT-4.12.0-5] */
SCENARIO(auth_wrong_method)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    /* During the connect: CONNACK 0x82. */
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("m", true, 0, 0);
    assert_int_equal(mqttproto_properties_set_str(&c.connect.properties, PK(CONNECT),
                                                  PR(AUTHENTICATION_METHOD), STR("M")),
                     0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    /* AUTH 0x18 with method "N". */
    assert_int_equal(raw_hex(&p, 0, "f0 06 18 04 15 00 01 4e"), ERR(AUTH_METHOD_MISMATCH));
    EXPECT_OUT(&p, 0, "20 03 00 82 00");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));

    /* Re-authentication with another method: DISCONNECT 0x82. */
    p.hold_decisions = false;
    pump_open_raw(&p, 1);
    assert_true(raw_pkt(&p, 1, &c) > 0);
    EXPECT_OUT(&p, 1, CONNACK_M);
    assert_int_equal(raw_hex(&p, 1, "f0 06 19 04 15 00 01 4e"), ERR(AUTH_METHOD_MISMATCH));
    EXPECT_OUT(&p, 1, "e0 01 82");
    /* Re-authentication without a method: the same. */
    pump_open_raw(&p, 2);
    assert_true(raw_pkt(&p, 2, &c) > 0);
    EXPECT_OUT(&p, 2, CONNACK_M);
    assert_int_equal(raw_hex(&p, 2, "f0 02 19 00"), ERR(AUTH_METHOD_MISMATCH));
    EXPECT_OUT(&p, 2, "e0 01 82");
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=m clean=1 ka=0\n");
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=m clean=1 ka=0\n");
    pump_free(&p);
}

/* AUTH out of turn: a protocol error, 0x82. */
SCENARIO(auth_protocol_errors)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    mqttproto_packet c = bt_connect_pkt("m", true, 0, 0);
    assert_int_equal(mqttproto_properties_set_str(&c.connect.properties, PK(CONNECT),
                                                  PR(AUTHENTICATION_METHOD), STR("M")),
                     0);
    /* 0x19 before CONNACK: CONNACK 0x82. */
    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    assert_int_equal(raw_hex(&p, 0, "f0 06 19 04 15 00 01 4d"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 0, "20 03 00 82 00");
    p.hold_decisions = false;
    /* 0x18 with no exchange under way. */
    pump_open_raw(&p, 1);
    assert_true(raw_pkt(&p, 1, &c) > 0);
    EXPECT_OUT(&p, 1, CONNACK_M);
    assert_int_equal(mqttproto_broker_client_auth(p.peers[1].conn, 0x18, BIN(""), NULL),
                     ERR(BAD_STATE));
    assert_int_equal(raw_hex(&p, 1, "f0 06 18 04 15 00 01 4d"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 1, "e0 01 82");
    /* A second 0x19 while one is under way. */
    pump_open_raw(&p, 2);
    assert_true(raw_pkt(&p, 2, &c) > 0);
    EXPECT_OUT(&p, 2, CONNACK_M);
    assert_int_equal(raw_hex(&p, 2, "f0 06 19 04 15 00 01 4d"), 8);
    assert_int_equal(raw_hex(&p, 2, "f0 06 19 04 15 00 01 4d"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 2, "e0 01 82");
    /* Only 0x18 and 0x19 are for the server; 0x00 is not. */
    pump_open_raw(&p, 3);
    assert_true(raw_pkt(&p, 3, &c) > 0);
    EXPECT_OUT(&p, 3, CONNACK_M);
    assert_int_equal(raw_hex(&p, 3, "f0 06 00 04 15 00 01 4d"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 3, "e0 01 82");
    EXPECT_LOG(&p, "B2", "B2 CONNECT id=m clean=1 ka=0\nB2 AUTH rc=19\n");
    pump_free(&p);
}

/* A DISCONNECT while the application decides on the CONNECT. */
SCENARIO(disconnect_before_connack)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0,
                             "10 16 00 04 4d 51 54 54 05 06 00 00 00 00 01 64 00 00 02 77 2f 00"
                             " 01 78"),
                     24);
    assert_int_equal(raw_hex(&p, 0, "e0 00"), 2);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=d clean=1 ka=0\nB0 DISCONNECTED rc=00\n");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0, STR(""), NULL, p.now_ms),
        ERR(BAD_STATE));
    EXPECT_OUT(&p, 0, "");
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_int_equal(bt_stats(&p).messages_routed, 0);
    pump_free(&p);
}

/* [MQTT-4.12.0-6] */
SCENARIO(auth_without_method)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    assert_true(raw_connect(&p, 0, "plain", true, 0, 0) > 0);
    /* The server sends no AUTH to a client that named no method. */
    assert_int_equal(mqttproto_broker_client_auth(p.peers[0].conn, 0x18, BIN("x"), NULL),
                     ERR(BAD_STATE));
    /* An AUTH from it before CONNACK: CONNACK 0x82. */
    assert_int_equal(raw_hex(&p, 0, "f0 06 18 04 15 00 01 4d"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 0, "20 03 00 82 00");

    /* After CONNACK (which names no method): DISCONNECT 0x82. */
    p.hold_decisions = false;
    assert_true(raw_connect(&p, 1, "plain2", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "f0 06 19 04 15 00 01 4d"), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 1, "e0 01 82");
    pump_free(&p);
}

/* [MQTT-4.12.0-1] [MQTT-4.12.0-4] */
SCENARIO(auth_refused)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    /* A method the application does not support: CONNACK 0x8C. */
    pump_add_client(&p, 0, NULL);
    mqttproto_connect_options o;
    auth_opts(&o, "k", "KERBEROS");
    pump_connect(&p, 0, &o);
    pump_run(&p);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0x8C, STR(""), NULL, p.now_ms),
        0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECT_REFUSED rc=8c\n");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    /* A refusal after one step of the exchange. */
    pump_add_client(&p, 1, NULL);
    auth_opts(&o, "s", "SCRAM-SHA-1");
    pump_connect(&p, 1, &o);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_client_auth(p.peers[1].conn, 0x18, BIN("nonce"), NULL), 0);
    pump_run(&p);
    assert_int_equal(mqttproto_client_auth(p.peers[1].client, 0x18, BIN("wrong"), NULL), 0);
    pump_run(&p);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[1].conn, 0x87, STR(""), NULL, p.now_ms),
        0);
    pump_run(&p);
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=s clean=1 ka=60\nB1 AUTH rc=18\n");
    EXPECT_LOG(&p, "C1", "C1 AUTH rc=18\nC1 CONNECT_REFUSED rc=87\n");
    assert_int_equal(bt_state(&p, 1), BST(CLOSING));
    assert_int_equal(bt_stats(&p).sessions, 0);
    pump_free(&p);
}

/* ---- keep alive, PINGREQ, DISCONNECT ---- */

/* [MQTT-3.1.2-22] */
SCENARIO(keep_alive_timeout)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 1, "watcher", true, 0);
    assert_true(pump_subscribe(&p, 1, "will/#", QOS(0)) > 0);
    pump_run(&p);
    /* Keep alive 10 s, will "will/ka" "lost" QoS 0. */
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0,
                             "10 1f 00 04 4d 51 54 54 05 06 00 0a 00 00 02 6b 61 00 00 07 77 69 6c"
                             " 6c 2f 6b 61 00 04 6c 6f 73 74"),
                     33);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), p.now_ms + 15000);
    /* Any packet restarts the clock. */
    pump_advance(&p, 14000);
    assert_int_equal(raw_hex(&p, 0, PINGREQ), 2);
    EXPECT_OUT(&p, 0, PINGRESP);
    pump_advance(&p, 14999);
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    pump_advance(&p, 1);
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    EXPECT_OUT(&p, 0, "e0 01 8d");
    assert_int_equal(raw_hex(&p, 0, PINGREQ), ERR(KEEP_ALIVE_TIMEOUT));
    /* The connection is closed: the will goes. */
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=ka clean=1 ka=10\nB0 EXPIRY MQTTPROTO_ERR_KEEP_ALIVE_TIMEOUT\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\nC1 SUBSCRIBE_ACK id=1 rc=00\n"
               "C1 MESSAGE will/ka q0 r0 d0 'lost'\n");
    pump_free(&p);
}

/* Keep alive 0: no timer. A client that keeps talking stays connected. */
SCENARIO(keep_alive_ping)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "zero", true, 0, 0) > 0);
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), UINT64_MAX);
    pump_advance(&p, 3600000);
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    /* A client state machine pings every keep alive and is never cut. */
    bt_client(&p, 1, "pinger", true, 0);
    for (int k = 0; k < 5; k++) {
        pump_advance(&p, 60000);
        pump_run(&p);
    }
    assert_int_equal(bt_state(&p, 1), BST(CONNECTED));
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=0\n");
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=pinger clean=1 ka=60\n");
    pump_free(&p);
}

/* [MQTT-3.12.4-1] */
SCENARIO(pingreq_pingresp)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "ping", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, PINGREQ PINGREQ PINGREQ), 6);
    EXPECT_OUT(&p, 0, PINGRESP PINGRESP PINGRESP);
    /* PINGRESP is for clients only. */
    assert_int_equal(raw_hex(&p, 0, PINGRESP), ERR(UNEXPECTED_PACKET));
    EXPECT_OUT(&p, 0, "e0 01 82");
    pump_free(&p);
}

/* Section 3.14.2.2.2: a Protocol Error. [MQTT-3.14.2-2] */
SCENARIO(disconnect_session_expiry_rules)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "zero", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* DISCONNECT 0x00 with Session Expiry Interval 10. */
    assert_int_equal(raw_hex(&p, 0, "e0 07 00 05 11 00 00 00 0a"), ERR(INVALID_PROPERTY_VALUE));
    EXPECT_OUT(&p, 0, "e0 01 82");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 0);

    /* A session that had an expiry may change it: 0 ends it at close. */
    assert_true(raw_connect(&p, 1, "some", true, 60, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "e0 07 00 05 11 00 00 00 00"), 9);
    EXPECT_OUT(&p, 1, "");
    pump_drop(&p, 1);
    assert_int_equal(bt_stats(&p).sessions, 0);
    EXPECT_LOG(&p, "B1", "B1 CONNECT id=some clean=1 ka=0\nB1 DISCONNECTED rc=00\n");

    /* The server never puts Session Expiry Interval in its DISCONNECT
       [MQTT-3.14.2-2], sends nothing after it [MQTT-3.14.4-1] and closes
       [MQTT-3.14.4-2]. */
    assert_true(raw_connect(&p, 2, "srv", true, 0, 0) > 0);
    EXPECT_OUT(&p, 2, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 2, "82 07 00 01 00 00 01 74 00"), 9);
    EXPECT_OUT(&p, 2, "90 04 00 01 00 00");
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    props.present |= MQTTPROTO_PROP_BIT(PR(SESSION_EXPIRY_INTERVAL));
    props.session_expiry_interval = 5;
    assert_int_equal(mqttproto_broker_client_disconnect(p.peers[2].conn, 0x8B, &props),
                     ERR(PROPERTY_NOT_ALLOWED));
    assert_int_equal(bt_state(&p, 2), BST(CONNECTED));
    assert_int_equal(mqttproto_broker_client_disconnect(p.peers[2].conn, 0x8B, NULL), 0);
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("t"), BIN("late"), QOS(0), false, NULL, p.now_ms),
        1);
    EXPECT_OUT(&p, 2, "e0 01 8b");
    assert_int_equal(bt_state(&p, 2), BST(CLOSING));
    assert_int_equal(raw_hex(&p, 2, PINGREQ), ERR(BAD_STATE));
    EXPECT_OUT(&p, 2, "");
    pump_free(&p);
}

/* [MQTT-3.14.0-1] */
SCENARIO(server_disconnect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.hold_decisions = true;
    pump_add_client(&p, 0, NULL);
    pump_connect_simple(&p, 0, "bye", true, 0);
    pump_run(&p);
    /* No DISCONNECT before a successful CONNACK. */
    assert_int_equal(mqttproto_broker_client_disconnect(p.peers[0].conn, 0x8B, NULL),
                     ERR(BAD_STATE));
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(p.peers[0].conn, 0, STR(""), NULL, p.now_ms),
        0);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_client_disconnect(p.peers[0].conn, 0x8B, NULL), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 DISCONNECTED rc=8b\n");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    pump_free(&p);
}

/* A client's normal DISCONNECT: the event, then CLOSING. */
SCENARIO(client_disconnect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "leaving", true, 0);
    assert_int_equal(mqttproto_client_disconnect(p.peers[0].client, 0x00, NULL), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=leaving clean=1 ka=60\nB0 DISCONNECTED rc=00\n");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    assert_int_equal(mqttproto_broker_client_get_expiry(p.peers[0].conn), UINT64_MAX);
    pump_drop(&p, 0);
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_int_equal(bt_stats(&p).connections, 0);
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(first_packet_not_connect),
        RUN(second_connect),
        RUN(malformed_connect),
        RUN(connect_event_fields),
        RUN(unsupported_protocol_version),
        RUN(will_qos_not_supported),
        RUN(will_retain_not_supported),
        RUN(connect_timeout),
        RUN(refused_connect),
        RUN(refused_connect_processes_nothing_after),
        RUN(pipelined_after_connect),
        RUN(assigned_client_identifier),
        RUN(client_identifiers),
        RUN(connack_capabilities),
        RUN(connack_fits_client_maximum_packet_size),
        RUN(response_information_only_when_requested),
        RUN(auth_exchange),
        RUN(auth_without_problem_information),
        RUN(reauthentication),
        RUN(auth_wrong_method),
        RUN(auth_protocol_errors),
        RUN(disconnect_before_connack),
        RUN(auth_without_method),
        RUN(auth_refused),
        RUN(keep_alive_timeout),
        RUN(keep_alive_ping),
        RUN(pingreq_pingresp),
        RUN(disconnect_session_expiry_rules),
        RUN(server_disconnect),
        RUN(client_disconnect),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
