/*
 * Inbound PUBLISH at the broker: the QoS 1 and 2 flows with exactly-once
 * delivery, Topic Aliases, our Receive Maximum, the capabilities a PUBLISH
 * must respect, authorization by the application, the topic level limit,
 * and what is forwarded unchanged to subscribers.
 */
#include "broker_test.h"

/* A subscriber in slot 1 on @p filter at QoS 2. */
static void subscriber(struct pump *p, const char *filter)
{
    bt_client(p, 1, "sub", true, 0);
    assert_true(pump_subscribe(p, 1, filter, QOS(2)) > 0);
    pump_run(p);
}

/* [MQTT-3.3.4-1] [MQTT-2.2.1-5] [MQTT-4.3.2-4] [MQTT-4.3.3-8] [MQTT-4.3.3-11] */
SCENARIO(qos_flows_raw)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "pub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* QoS 0: no answer. */
    assert_int_equal(raw_hex(&p, 0, "30 05 00 01 74 00 30"), 7);
    EXPECT_OUT(&p, 0, "");
    /* QoS 1 id 0x1234: PUBACK with that id. */
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 12 34 00 31"), 9);
    EXPECT_OUT(&p, 0, "40 02 12 34");
    /* QoS 2 id 0xabcd: PUBREC, then PUBREL -> PUBCOMP. */
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 ab cd 00 32"), 9);
    EXPECT_OUT(&p, 0, "50 02 ab cd");
    assert_int_equal(raw_hex(&p, 0, "62 02 ab cd"), 4);
    EXPECT_OUT(&p, 0, "70 02 ab cd");
    pump_run(&p);
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=pub clean=1 ka=0\n"
               "B0 PUBLISH t q0 r0 '0'\n"
               "B0 PUBLISH t q1 r0 '1'\n"
               "B0 PUBLISH t q2 r0 '2'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t q0 r0 d0 '0'\n"
               "C1 MESSAGE t q1 r0 d0 '1'\n"
               "C1 MESSAGE t q2 r0 d0 '2'\n");
    pump_free(&p);
}

/* [MQTT-4.3.3-10] [MQTT-4.3.3-12] */
SCENARIO(qos2_exactly_once)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "pub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    /* The same PUBLISH again before PUBREL, with DUP and without: PUBREC
       again, never routed twice. */
    assert_int_equal(raw_hex(&p, 0, "3c 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    pump_run(&p);
    assert_int_equal(pump_log_count(&p, "C1 MESSAGE t q2 r0 d0 'x'"), 1);
    assert_int_equal(bt_stats(&p).messages_routed, 1);
    assert_int_equal(raw_hex(&p, 0, "62 02 00 05"), 4);
    EXPECT_OUT(&p, 0, "70 02 00 05");
    /* A second PUBREL: the identifier is no longer known. */
    assert_int_equal(raw_hex(&p, 0, "62 02 00 05"), 4);
    EXPECT_OUT(&p, 0, "70 03 00 05 92");
    /* After PUBCOMP the identifier starts a new message. */
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    pump_run(&p);
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=pub clean=1 ka=0\n"
               "B0 PUBLISH t q2 r0 'x'\n"
               "B0 PUBLISH t q2 r0 'x'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t q2 r0 d0 'x'\n"
               "C1 MESSAGE t q2 r0 d0 'x'\n");
    assert_int_equal(bt_stats(&p).messages_routed, 2);
    pump_free(&p);
}

/* [MQTT-4.3.3-10] across a reconnect: the identifier is session state. */
SCENARIO(qos2_exactly_once_across_reconnect)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "pub", true, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    pump_drop(&p, 0);
    assert_true(raw_connect(&p, 0, "pub", false, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK_SP);
    assert_int_equal(raw_hex(&p, 0, "3c 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    assert_int_equal(raw_hex(&p, 0, "62 02 00 05"), 4);
    EXPECT_OUT(&p, 0, "70 02 00 05");
    /* A clean start forgets it: the same identifier is a new message. */
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 06 00 79"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 06");
    pump_drop(&p, 0);
    assert_true(raw_connect(&p, 0, "pub", true, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "3c 07 00 01 74 00 06 00 79"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 06");
    pump_run(&p);
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t q2 r0 d0 'x'\n"
               "C1 MESSAGE t q2 r0 d0 'y'\n"
               "C1 MESSAGE t q2 r0 d0 'y'\n");
    pump_free(&p);
}

/* [MQTT-4.3.3-10] while the application decides */
SCENARIO(qos2_duplicate_while_authorizing)
{
    mqttproto_broker_settings s = bt_settings();
    s.authorize_publish = true;
    struct pump p;
    bt_init(&p, &s, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "pub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    p.hold_decisions = true;
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 05 00 78"), 9);
    assert_int_equal(raw_hex(&p, 0, "3c 07 00 01 74 00 05 00 78"), 9);
    /* No PUBREC before the decision, and one event. */
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(mqttproto_broker_client_authorize_publish(p.peers[0].conn, 1, 0, p.now_ms), 0);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    assert_int_equal(raw_hex(&p, 0, "3c 07 00 01 74 00 05 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 05");
    assert_int_equal(raw_hex(&p, 0, "62 02 00 05"), 4);
    EXPECT_OUT(&p, 0, "70 02 00 05");
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=pub clean=1 ka=0\nB0 PUBLISH t q2 r0 'x'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t q2 r0 d0 'x'\n");
    pump_free(&p);
}

/* [MQTT-4.3.2-5] */
SCENARIO(qos1_identifier_reused_after_puback)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "pub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 03 00 61"), 9);
    EXPECT_OUT(&p, 0, "40 02 00 03");
    /* DUP set or not, a PUBLISH after the PUBACK is a new message. */
    assert_int_equal(raw_hex(&p, 0, "3a 07 00 01 74 00 03 00 61"), 9);
    EXPECT_OUT(&p, 0, "40 02 00 03");
    pump_run(&p);
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t q1 r0 d0 'a'\n"
               "C1 MESSAGE t q1 r0 d0 'a'\n");
    pump_free(&p);
}

/* Acknowledgements a client sends for identifiers the broker never used. */
SCENARIO(unknown_acknowledgements)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "a", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* PUBREL unknown: PUBCOMP 0x92, the connection goes on. */
    assert_int_equal(raw_hex(&p, 0, "62 02 00 09"), 4);
    EXPECT_OUT(&p, 0, "70 03 00 09 92");
    /* PUBREC unknown: PUBREL 0x92. */
    assert_int_equal(raw_hex(&p, 0, "50 02 00 0a"), 4);
    EXPECT_OUT(&p, 0, "62 03 00 0a 92");
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    /* PUBACK unknown: a protocol error. */
    assert_int_equal(raw_hex(&p, 0, "40 02 00 0b"), ERR(UNKNOWN_PACKET_ID));
    EXPECT_OUT(&p, 0, "e0 01 82");
    /* PUBCOMP unknown: the same. */
    assert_true(raw_connect(&p, 1, "b", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "70 02 00 0c"), ERR(UNKNOWN_PACKET_ID));
    EXPECT_OUT(&p, 1, "e0 01 82");
    pump_free(&p);
}

/* Packets only a server sends: a protocol error from a client. */
SCENARIO(client_sends_server_packets)
{
    static const char *const pkts[] = {
        "20 03 00 00 00",    /* CONNACK */
        "90 04 00 01 00 00", /* SUBACK */
        "b0 04 00 01 00 00", /* UNSUBACK */
        "d0 00",             /* PINGRESP */
    };
    struct pump p;
    bt_init(&p, NULL, chunk);
    static const char *const ids[] = {"w", "x", "y", "z"};
    for (int i = 0; i < 4; i++) {
        assert_true(raw_connect(&p, i, ids[i], true, 0, 0) > 0);
        EXPECT_OUT(&p, i, CONNACK_OK);
        assert_int_equal(raw_hex(&p, i, pkts[i]), ERR(UNEXPECTED_PACKET));
        EXPECT_OUT(&p, i, "e0 01 82");
        pump_drop(&p, i);
    }
    pump_free(&p);
}

/* [MQTT-3.3.2-12] [MQTT-3.3.2-7] */
SCENARIO(inbound_topic_aliases)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    subscriber(&p, "t/#");
    assert_true(raw_connect(&p, 0, "alias", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* "t/a" with alias 1, then alias 1 alone. */
    assert_int_equal(raw_hex(&p, 0, "30 0a 00 03 74 2f 61 03 23 00 01 78"), 12);
    assert_int_equal(raw_hex(&p, 0, "30 07 00 00 03 23 00 01 79"), 9);
    /* The highest alias advertised, 16. */
    assert_int_equal(raw_hex(&p, 0, "30 0a 00 03 74 2f 62 03 23 00 10 7a"), 12);
    assert_int_equal(raw_hex(&p, 0, "30 07 00 00 03 23 00 10 77"), 9);
    /* Alias 1 mapped again, to "t/c". */
    assert_int_equal(raw_hex(&p, 0, "30 0a 00 03 74 2f 63 03 23 00 01 76"), 12);
    assert_int_equal(raw_hex(&p, 0, "30 07 00 00 03 23 00 01 75"), 9);
    /* QoS 1 by alias. */
    assert_int_equal(raw_hex(&p, 0, "32 09 00 00 00 07 03 23 00 01 73"), 11);
    EXPECT_OUT(&p, 0, "40 02 00 07");
    pump_run(&p);
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=alias clean=1 ka=0\n"
               "B0 PUBLISH t/a q0 r0 'x'\n"
               "B0 PUBLISH t/a q0 r0 'y'\n"
               "B0 PUBLISH t/b q0 r0 'z'\n"
               "B0 PUBLISH t/b q0 r0 'w'\n"
               "B0 PUBLISH t/c q0 r0 'v'\n"
               "B0 PUBLISH t/c q0 r0 'u'\n"
               "B0 PUBLISH t/c q1 r0 's'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t/a q0 r0 d0 'x'\n"
               "C1 MESSAGE t/a q0 r0 d0 'y'\n"
               "C1 MESSAGE t/b q0 r0 d0 'z'\n"
               "C1 MESSAGE t/b q0 r0 d0 'w'\n"
               "C1 MESSAGE t/c q0 r0 d0 'v'\n"
               "C1 MESSAGE t/c q0 r0 d0 'u'\n"
               "C1 MESSAGE t/c q1 r0 d0 's'\n");
    /* A new connection starts with no alias. */
    pump_drop(&p, 0);
    assert_true(raw_connect(&p, 0, "alias", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "30 07 00 00 03 23 00 01 79"), ERR(TOPIC_ALIAS_UNKNOWN));
    EXPECT_OUT(&p, 0, "e0 01 82");
    pump_free(&p);
}

/* [MQTT-3.3.2-12] */
SCENARIO(invalid_topic_aliases)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* Alias 0: 0x94. */
    assert_true(raw_connect(&p, 0, "a", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "30 0a 00 03 74 2f 61 03 23 00 00 78"),
                     ERR(TOPIC_ALIAS_INVALID));
    EXPECT_OUT(&p, 0, "e0 01 94");
    /* Alias 17, above the maximum of 16: 0x94. */
    assert_true(raw_connect(&p, 1, "b", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "30 0a 00 03 74 2f 61 03 23 00 11 78"),
                     ERR(TOPIC_ALIAS_OUT_OF_RANGE));
    EXPECT_OUT(&p, 1, "e0 01 94");
    /* Alias 2 never mapped: 0x82. */
    assert_true(raw_connect(&p, 2, "c", true, 0, 0) > 0);
    EXPECT_OUT(&p, 2, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 2, "30 07 00 00 03 23 00 02 79"), ERR(TOPIC_ALIAS_UNKNOWN));
    EXPECT_OUT(&p, 2, "e0 01 82");
    assert_int_equal(bt_stats(&p).messages_routed, 0);
    pump_free(&p);

    /* Topic Alias Maximum 0: not announced, and every alias is refused. */
    mqttproto_broker_settings s = bt_settings();
    s.topic_alias_maximum = 0;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "d", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 0b 00 00 08 21 00 40 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "30 0a 00 03 74 2f 61 03 23 00 01 78"),
                     ERR(TOPIC_ALIAS_OUT_OF_RANGE));
    EXPECT_OUT(&p, 0, "e0 01 94");
    pump_free(&p);
}

SCENARIO(receive_maximum_exceeded)
{
    mqttproto_broker_settings s = bt_settings();
    s.receive_maximum = 2;
    s.authorize_publish = true;
    struct pump p;
    bt_init(&p, &s, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "fast", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 0e 00 00 0b 21 00 02 22 00 10 27 00 10 00 00");
    p.hold_decisions = true;
    /* Two messages wait for the application: the window is full. */
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 01 00 61"), 9);
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 02 00 62"), 9);
    /* QoS 0 does not count; a repeat of a waiting message neither. */
    assert_int_equal(raw_hex(&p, 0, "30 05 00 01 74 00 63"), 7);
    assert_int_equal(raw_hex(&p, 0, "3a 07 00 01 74 00 01 00 61"), 9);
    EXPECT_OUT(&p, 0, "");
    /* The first decision frees a place. */
    mqttproto_broker_client *bc = p.peers[0].conn;
    assert_int_equal(mqttproto_broker_client_authorize_publish(bc, 1, 0, p.now_ms), 0);
    EXPECT_OUT(&p, 0, "40 02 00 01");
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 03 00 64"), 9);
    /* [MQTT-3.3.4-9] from the other side: one more is 0x93. */
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 04 00 65"), ERR(RECEIVE_MAXIMUM_EXCEEDED));
    EXPECT_OUT(&p, 0, "e0 01 93");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    /* Decisions after the end are refused. */
    assert_int_equal(mqttproto_broker_client_authorize_publish(bc, 2, 0, p.now_ms), ERR(BAD_STATE));
    pump_run(&p);
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=fast clean=1 ka=0\n"
               "B0 PUBLISH t q1 r0 'a'\n"
               "B0 PUBLISH t q2 r0 'b'\n"
               "B0 PUBLISH t q0 r0 'c'\n"
               "B0 PUBLISH t q1 r0 'd'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 SUBSCRIBE_ACK id=1 rc=02\n"
               "C1 MESSAGE t q1 r0 d0 'a'\n");
    pump_free(&p);

    /* Without authorization: a QoS 2 message counts until its PUBREL. */
    s.authorize_publish = false;
    s.receive_maximum = 1;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "q2", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 0e 00 00 0b 21 00 01 22 00 10 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 01 00 61"), 9);
    assert_int_equal(raw_hex(&p, 0, "62 02 00 01"), 4);
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 02 00 62"), 9);
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 03 00 63"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 01 70 02 00 01 40 02 00 02 50 02 00 03");
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 04 00 64"), ERR(RECEIVE_MAXIMUM_EXCEEDED));
    EXPECT_OUT(&p, 0, "e0 01 93");
    pump_free(&p);
}

/* [MQTT-3.2.2-11] from the server's side */
SCENARIO(qos_above_maximum)
{
    mqttproto_broker_settings s = bt_settings();
    s.maximum_qos = 1;
    struct pump p;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "q", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 10 00 00 0d 21 00 40 22 00 10 24 01 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 01 00 61"), 9);
    EXPECT_OUT(&p, 0, "40 02 00 01");
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 02 00 62"), ERR(QOS_NOT_SUPPORTED));
    EXPECT_OUT(&p, 0, "e0 01 9b");
    pump_free(&p);

    s.maximum_qos = 0;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "q", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 10 00 00 0d 21 00 40 22 00 10 24 00 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "32 07 00 01 74 00 01 00 61"), ERR(QOS_NOT_SUPPORTED));
    EXPECT_OUT(&p, 0, "e0 01 9b");
    pump_free(&p);
}

/* [MQTT-3.2.2-14] from the server's side */
SCENARIO(retain_unavailable)
{
    mqttproto_broker_settings s = bt_settings();
    s.retain_available = false;
    struct pump p;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "r", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 10 00 00 0d 21 00 40 22 00 10 25 00 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "30 05 00 01 74 00 61"), 7);
    assert_int_equal(raw_hex(&p, 0, "31 05 00 01 74 00 62"), ERR(RETAIN_NOT_SUPPORTED));
    EXPECT_OUT(&p, 0, "e0 01 9a");
    assert_int_equal(bt_stats(&p).retained_messages, 0);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=r clean=1 ka=0\nB0 PUBLISH t q0 r0 'a'\n");
    pump_free(&p);
}

/* [MQTT-3.3.4-6] */
SCENARIO(subscription_identifier_from_client)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    subscriber(&p, "t");
    assert_true(raw_connect(&p, 0, "s", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* PUBLISH "t" with Subscription Identifier 1. */
    assert_int_equal(raw_hex(&p, 0, "30 07 00 01 74 02 0b 01 78"),
                     ERR(SUBSCRIPTION_ID_FROM_CLIENT));
    EXPECT_OUT(&p, 0, "e0 01 82");
    pump_run(&p);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=s clean=1 ka=0\n");
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=0\nC1 SUBSCRIBE_ACK id=1 rc=02\n");
    pump_free(&p);
}

/* [MQTT-4.3.3-9] */
SCENARIO(authorize_publish_refused)
{
    mqttproto_broker_settings s = bt_settings();
    s.authorize_publish = true;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "#", QOS(2)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    p.deny_publish_to = "secret";
    assert_int_equal(pump_publish(&p, 1, "secret", "a", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "secret", "b", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "secret", "c", QOS(2), false), 2);
    assert_int_equal(pump_publish(&p, 1, "open", "d", QOS(1), false), 3);
    /* Refused and retained: not stored either. */
    assert_int_equal(pump_publish(&p, 1, "secret", "e", QOS(0), true), 0);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_messages, 0);
    EXPECT_LOG(&p, "B1",
               "B1 CONNECT id=pub clean=1 ka=60\n"
               "B1 PUBLISH secret q0 r0 'a'\n"
               "B1 PUBLISH secret q1 r0 'b'\n"
               "B1 PUBLISH secret q2 r0 'c'\n"
               "B1 PUBLISH open q1 r0 'd'\n"
               "B1 PUBLISH secret q0 r1 'e'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 PUBLISH_FAILED id=1 rc=87 err=0\n"
               "C1 PUBLISH_FAILED id=2 rc=87 err=0\n"
               "C1 PUBLISH_COMPLETED id=3 rc=00\n");
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE open q1 r0 d0 'd'\n");
    assert_int_equal(bt_stats(&p).messages_routed, 1);

    /* Raw: PUBREC 0x87, after which the identifier is a new message. */
    assert_true(raw_connect(&p, 2, "raw", true, 0, 0) > 0);
    EXPECT_OUT(&p, 2, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 2, "34 0c 00 06 73 65 63 72 65 74 00 07 00 78"), 14);
    EXPECT_OUT(&p, 2, "50 03 00 07 87");
    assert_int_equal(raw_hex(&p, 2, "34 07 00 01 74 00 07 00 79"), 9);
    EXPECT_OUT(&p, 2, "50 02 00 07");
    assert_int_equal(raw_hex(&p, 2, "62 02 00 07"), 4);
    EXPECT_OUT(&p, 2, "70 02 00 07");
    /* The application's mistakes change nothing. */
    mqttproto_broker_client *bc = p.peers[2].conn;
    assert_int_equal(mqttproto_broker_client_authorize_publish(bc, 999, 0, p.now_ms),
                     ERR(UNKNOWN_PACKET_ID));
    assert_int_equal(mqttproto_broker_client_authorize_publish(bc, 1, 0x10, p.now_ms),
                     ERR(INVALID_ARGUMENT));
    pump_run(&p);
    EXPECT_LOG(&p, "B2",
               "B2 CONNECT id=raw clean=1 ka=0\n"
               "B2 PUBLISH secret q2 r0 'x'\n"
               "B2 PUBLISH t q2 r0 'y'\n");
    assert_int_equal(pump_log_count(&p, "C0 MESSAGE t q2 r0 d0 'y'"), 1);
    pump_free(&p);
}

SCENARIO(topic_level_limit)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_topic_levels = 3;
    struct pump p;
    bt_init(&p, &s, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "#", QOS(2)) > 0);
    pump_run(&p);
    /* A filter over the limit: 0x8F. */
    assert_true(pump_subscribe(&p, 0, "a/b/c/d", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    /* A topic over the limit: 0x90 in the acknowledgement, QoS 0 dropped. */
    assert_int_equal(pump_publish(&p, 1, "a/b/c/d", "x", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "a/b/c/d", "y", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "a/b/c/d", "z", QOS(2), false), 2);
    assert_int_equal(pump_publish(&p, 1, "a/b/c", "ok", QOS(1), false), 3);
    pump_run(&p);
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 PUBLISH_FAILED id=1 rc=90 err=0\n"
               "C1 PUBLISH_FAILED id=2 rc=90 err=0\n"
               "C1 PUBLISH_COMPLETED id=3 rc=00\n");
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 SUBSCRIBE_ACK id=2 rc=8f\n"
               "C0 MESSAGE a/b/c q1 r0 d0 'ok'\n");
    assert_int_equal(bt_stats(&p).messages_routed, 1);
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    pump_free(&p);
}

/* [MQTT-3.3.2-4] [MQTT-3.3.2-15] [MQTT-3.3.2-16] [MQTT-3.3.2-17] [MQTT-3.3.2-18]
   [MQTT-3.3.2-20] [MQTT-3.1.2-27] [MQTT-3.3.2-3] */
SCENARIO(properties_forwarded_unchanged)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* SUBSCRIBE id 1 "p/#" QoS 0. */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 01 00 00 03 70 2f 23 00"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 00");
    bt_client(&p, 1, "pub", true, 0);
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    mqttproto_user_property ups[2] = {{STR("b"), STR("2")}, {STR("a"), STR("1")}};
    assert_int_equal(
        mqttproto_properties_set_int(&props, PK(PUBLISH), PR(PAYLOAD_FORMAT_INDICATOR), 1), 0);
    assert_int_equal(
        mqttproto_properties_set_str(&props, PK(PUBLISH), PR(CONTENT_TYPE), STR("text")), 0);
    assert_int_equal(
        mqttproto_properties_set_str(&props, PK(PUBLISH), PR(RESPONSE_TOPIC), STR("r/1")), 0);
    assert_int_equal(
        mqttproto_properties_set_bin(&props, PK(PUBLISH), PR(CORRELATION_DATA), BIN("cd")), 0);
    assert_int_equal(mqttproto_properties_set_user_properties(&props, PK(PUBLISH), ups, 2), 0);
    assert_int_equal(
        mqttproto_client_publish(p.peers[1].client, STR("p/1"), BIN("hi"), QOS(0), false, &props),
        0);
    pump_run(&p);
    /* The publisher's Topic Alias (if any) is not forwarded: the topic is
       sent whole, with no alias, to a client that announced none. */
    assert_int_equal(pump_publish(&p, 1, "p/1", "yo", QOS(0), false), 0);
    pump_run(&p);
    EXPECT_OUT(&p, 0,
               "30 2a 00 03 70 2f 31 22 01 01 03 00 04 74 65 78 74 08 00 03 72 2f 31 09 00 02 63"
               " 64 26 00 01 62 00 01 32 26 00 01 61 00 01 31 68 69"
               "30 08 00 03 70 2f 31 00 79 6f");
    pump_free(&p);
}

/* [MQTT-4.6.0-5] [MQTT-4.6.0-6] [MQTT-4.5.0-1] */
SCENARIO(ordered_topic)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "o/+", QOS(2)) > 0);
    bt_client(&p, 2, "sub2", true, 0);
    assert_true(pump_subscribe(&p, 2, "o/#", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    for (int k = 1; k <= 6; k++) {
        char payload[8];
        snprintf(payload, sizeof payload, "m%d", k);
        assert_true(pump_publish(&p, 1, "o/x", payload, QOS(k % 2 + 1), false) > 0);
    }
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE o/x q2 r0 d0 'm1'\n"
               "C0 MESSAGE o/x q1 r0 d0 'm2'\n"
               "C0 MESSAGE o/x q2 r0 d0 'm3'\n"
               "C0 MESSAGE o/x q1 r0 d0 'm4'\n"
               "C0 MESSAGE o/x q2 r0 d0 'm5'\n"
               "C0 MESSAGE o/x q1 r0 d0 'm6'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 MESSAGE o/x q1 r0 d0 'm1'\n"
               "C2 MESSAGE o/x q1 r0 d0 'm2'\n"
               "C2 MESSAGE o/x q1 r0 d0 'm3'\n"
               "C2 MESSAGE o/x q1 r0 d0 'm4'\n"
               "C2 MESSAGE o/x q1 r0 d0 'm5'\n"
               "C2 MESSAGE o/x q1 r0 d0 'm6'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 PUBLISH_COMPLETED id=2 rc=00\n"
               "C1 PUBLISH_COMPLETED id=4 rc=00\n"
               "C1 PUBLISH_COMPLETED id=6 rc=00\n"
               "C1 PUBLISH_COMPLETED id=1 rc=00\n"
               "C1 PUBLISH_COMPLETED id=3 rc=00\n"
               "C1 PUBLISH_COMPLETED id=5 rc=00\n");
    pump_free(&p);
}

/* The application publishes too. */
SCENARIO(application_publish)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "app/#", QOS(1)) > 0);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_publish(p.broker, STR("app/x"), BIN("hello"), QOS(1), false,
                                              NULL, p.now_ms),
                     1);
    assert_int_equal(mqttproto_broker_publish(p.broker, STR("other"), BIN("none"), QOS(1), false,
                                              NULL, p.now_ms),
                     0);
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("bad/+"), BIN("x"), QOS(0), false, NULL, p.now_ms),
        ERR(TOPIC_NAME_INVALID));
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE app/x q1 r0 d0 'hello'\n");
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(qos_flows_raw),
        RUN(qos2_exactly_once),
        RUN(qos2_exactly_once_across_reconnect),
        RUN(qos2_duplicate_while_authorizing),
        RUN(qos1_identifier_reused_after_puback),
        RUN(unknown_acknowledgements),
        RUN(client_sends_server_packets),
        RUN(inbound_topic_aliases),
        RUN(invalid_topic_aliases),
        RUN(receive_maximum_exceeded),
        RUN(qos_above_maximum),
        RUN(retain_unavailable),
        RUN(subscription_identifier_from_client),
        RUN(authorize_publish_refused),
        RUN(topic_level_limit),
        RUN(properties_forwarded_unchanged),
        RUN(ordered_topic),
        RUN(application_publish),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
