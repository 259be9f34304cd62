/*
 * Outbound delivery from the broker to subscribers: the session's own
 * packet identifiers, the client's Receive Maximum and Maximum Packet Size,
 * Subscription Identifiers, the remaining Message Expiry Interval, and the
 * subscription options (maximum QoS, No Local, Retain As Published),
 * overlapping subscriptions and the '$' topic rule.
 */
#include "broker_test.h"

/* [MQTT-2.2.1-4] */
SCENARIO(own_packet_identifiers)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* SUBSCRIBE id 1 "t" QoS 1. */
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 01"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 01");
    /* Two publishers, each with its packet identifier 1. */
    bt_client(&p, 1, "pub1", true, 0);
    bt_client(&p, 2, "pub2", true, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "a", QOS(1), false), 1);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 2, "t", "b", QOS(1), false), 1);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 01 00 61 32 07 00 01 74 00 02 00 62");
    /* An acknowledged identifier is not reused at once. */
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01"), 4);
    assert_int_equal(pump_publish(&p, 1, "t", "c", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 03 00 63");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\nC1 PUBLISH_COMPLETED id=1 rc=00\n"
               "C1 PUBLISH_COMPLETED id=2 rc=00\n");
    EXPECT_LOG(&p, "C2", "C2 CONNECTED sp=0\nC2 PUBLISH_COMPLETED id=1 rc=00\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-26] [MQTT-3.3.2-11] */
SCENARIO(no_outbound_topic_alias)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("aliases", true, 0, 0);
    assert_int_equal(mqttproto_properties_set_int(&c.connect.properties, PK(CONNECT),
                                                  PR(TOPIC_ALIAS_MAXIMUM), 2),
                     0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 00"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 00");
    bt_client(&p, 1, "pub", true, 0);
    for (int k = 0; k < 3; k++) {
        char payload[2] = {(char)('a' + k), '\0'};
        assert_int_equal(pump_publish(&p, 1, "t", payload, QOS(0), false), 0);
        pump_run(&p);
    }
    /* The whole topic each time, never a Topic Alias. */
    EXPECT_OUT(&p, 0, "30 05 00 01 74 00 61 30 05 00 01 74 00 62 30 05 00 01 74 00 63");
    pump_free(&p);
}

/* [MQTT-3.3.4-9] [MQTT-4.9.0-1] [MQTT-4.9.0-2] [MQTT-3.3.4-10] [MQTT-4.9.0-3] */
SCENARIO(client_receive_maximum)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("slow", true, 0, 0);
    assert_int_equal(
        mqttproto_properties_set_int(&c.connect.properties, PK(CONNECT), PR(RECEIVE_MAXIMUM), 2),
        0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* SUBSCRIBE id 1 "t" QoS 2. */
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 02");
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "a", QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "t", "b", QOS(2), false), 2);
    assert_int_equal(pump_publish(&p, 1, "t", "c", QOS(1), false), 3);
    assert_int_equal(pump_publish(&p, 1, "t", "d", QOS(0), false), 0);
    pump_run(&p);
    /* Two in flight, no more. */
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 01 00 61 34 07 00 01 74 00 02 00 62");
    /* Other packets are still answered. */
    assert_int_equal(raw_hex(&p, 0, PINGREQ), 2);
    EXPECT_OUT(&p, 0, PINGRESP);
    /* A PUBREC does not free the place: the PUBCOMP does. */
    assert_int_equal(raw_hex(&p, 0, "50 02 00 02"), 4);
    EXPECT_OUT(&p, 0, "62 02 00 02");
    assert_int_equal(raw_hex(&p, 0, "70 02 00 02"), 4);
    /* The QoS 0 message waited behind it, in order; it needs no place. */
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 03 00 63 30 05 00 01 74 00 64");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01"), 4);
    assert_int_equal(raw_hex(&p, 0, "40 02 00 03"), 4);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    pump_free(&p);
}

/* [MQTT-3.1.2-24] [MQTT-3.1.2-25] */
SCENARIO(client_maximum_packet_size)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    mqttproto_client_settings cs;
    mqttproto_client_settings_default(&cs);
    cs.maximum_packet_size = 64;
    pump_add_client(&p, 0, &cs);
    pump_connect_simple(&p, 0, "small", true, 300);
    pump_run(&p);
    assert_true(pump_subscribe(&p, 0, "big/#", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    char payload[101];
    memset(payload, 'x', 100);
    payload[100] = '\0';
    assert_int_equal(pump_publish(&p, 1, "big/1", payload, QOS(1), false), 1);
    assert_int_equal(pump_publish(&p, 1, "big/2", "small", QOS(1), false), 2);
    assert_int_equal(pump_publish(&p, 1, "big/3", payload, QOS(0), false), 0);
    pump_run(&p);
    /* The large ones are dropped, as if delivered: nothing waits for them. */
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE big/2 q1 r0 d0 'small'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 PUBLISH_COMPLETED id=1 rc=00\n"
               "C1 PUBLISH_COMPLETED id=2 rc=00\n");
    assert_int_equal(bt_stats(&p).messages_dropped_size, 2);
    assert_int_equal(bt_stats(&p).messages_delivered, 3);
    /* Not tried again on a resumed session. */
    pump_drop(&p, 0);
    pump_connect_simple(&p, 0, "small", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE big/2 q1 r0 d0 'small'\n"
               "C0 CONNECTED sp=1\n");
    pump_free(&p);
}

/* [MQTT-3.3.4-3] [MQTT-3.3.4-4] [MQTT-3.3.4-5] */
SCENARIO(subscription_identifiers)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(bt_sub(&p, 0, "s/+", 1, false, false, 0, 7) > 0);
    assert_true(bt_sub(&p, 0, "s/#", 1, false, false, 0, 9) > 0);
    assert_true(bt_sub(&p, 0, "s/x", 1, false, false, 0, NO_SUBID) > 0);
    assert_true(bt_sub(&p, 0, "only/+", 1, false, false, 0, 268435455) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "s/x", "all", QOS(1), false), 1);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "s/y", "two", QOS(1), false), 2);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "only/z", "max", QOS(0), false), 0);
    pump_run(&p);
    /* A shared subscription is a separate copy with its own identifier. */
    assert_true(bt_sub(&p, 0, "$share/g/s/x", 1, false, false, 0, 11) > 0);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "s/x", "copies", QOS(1), false), 3);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 SUBSCRIBE_ACK id=2 rc=01\n"
               "C0 SUBSCRIBE_ACK id=3 rc=01\n"
               "C0 SUBSCRIBE_ACK id=4 rc=01\n"
               "C0 MESSAGE s/x q1 r0 d0 'all' sid=9,7\n"
               "C0 MESSAGE s/y q1 r0 d0 'two' sid=9,7\n"
               "C0 MESSAGE only/z q0 r0 d0 'max' sid=268435455\n"
               "C0 SUBSCRIBE_ACK id=5 rc=01\n"
               "C0 MESSAGE s/x q1 r0 d0 'copies' sid=9,7\n"
               "C0 MESSAGE s/x q1 r0 d0 'copies' sid=11\n");
    pump_free(&p);
}

/* [MQTT-3.3.2-6] [MQTT-3.3.2-5] */
SCENARIO(message_expiry)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 300);
    assert_true(pump_subscribe(&p, 0, "e/#", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    /* Sent at once: the whole interval remains. */
    assert_int_equal(bt_pub_exp(&p, 1, "e/1", "now", 1, false, 10), 1);
    pump_run(&p);
    pump_drop(&p, 0);
    assert_int_equal(bt_pub_exp(&p, 1, "e/2", "later", 1, false, 10), 2);
    assert_int_equal(bt_pub_exp(&p, 1, "e/3", "gone", 1, false, 2), 3);
    assert_int_equal(bt_pub_exp(&p, 1, "e/4", "plain", 1, false, 0), 4);
    assert_int_equal(bt_pub_exp(&p, 1, "e/5", "edge", 1, false, 4), 5);
    pump_run(&p);
    pump_advance(&p, 3500);
    pump_connect_simple(&p, 0, "sub", false, 300);
    pump_run(&p);
    /* 10 s less 3.5 s waiting: 6.5 s, sent as 7; 4 s less 3.5 s: 1. */
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE e/1 q1 r0 d0 'now' exp=10\n"
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE e/2 q1 r0 d0 'later' exp=7\n"
               "C0 MESSAGE e/4 q1 r0 d0 'plain'\n"
               "C0 MESSAGE e/5 q1 r0 d0 'edge' exp=1\n");
    assert_int_equal(bt_stats(&p).messages_expired, 1);
    pump_free(&p);
}

/* [MQTT-3.3.2-6] a quiet subscriber's connection: the remaining interval
   is reckoned at the broker's latest time, not at the last time that
   connection was fed. */
SCENARIO(message_expiry_quiet_subscriber)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "q/#", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    pump_advance(&p, 5000);
    assert_int_equal(bt_pub_exp(&p, 1, "q/1", "fresh", 1, false, 60), 1);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE q/1 q1 r0 d0 'fresh' exp=60\n");
    pump_free(&p);
}

/* [MQTT-3.3.4-2] */
SCENARIO(overlapping_subscriptions)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "o/+", QOS(0)) > 0);
    assert_true(pump_subscribe(&p, 0, "o/#", QOS(2)) > 0);
    assert_true(pump_subscribe(&p, 0, "o/x", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "o/x", "two", QOS(2), false), 1);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "o/x", "one", QOS(1), false), 2);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "o/y", "zero", QOS(0), false), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=00\n"
               "C0 SUBSCRIBE_ACK id=2 rc=02\n"
               "C0 SUBSCRIBE_ACK id=3 rc=01\n"
               "C0 MESSAGE o/x q2 r0 d0 'two'\n"
               "C0 MESSAGE o/x q1 r0 d0 'one'\n"
               "C0 MESSAGE o/y q0 r0 d0 'zero'\n");
    assert_int_equal(bt_stats(&p).messages_delivered, 3);
    pump_free(&p);
}

/* [MQTT-3.8.4-8] [MQTT-3.8.4-7] [MQTT-3.2.2-10] */
SCENARIO(qos_downgrade)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(pump_subscribe(&p, 0, "d/0", QOS(0)) > 0);
    assert_true(pump_subscribe(&p, 0, "d/1", QOS(1)) > 0);
    pump_run(&p);
    /* The application grants less than asked. */
    p.subscribe_rc = 0x01;
    assert_true(pump_subscribe(&p, 0, "d/g", QOS(2)) > 0);
    pump_run(&p);
    p.subscribe_rc = 0xFF;
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "d/0", "a", QOS(2), false), 1);
    assert_int_equal(pump_publish(&p, 1, "d/1", "b", QOS(2), false), 2);
    assert_int_equal(pump_publish(&p, 1, "d/1", "c", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "d/g", "d", QOS(2), false), 3);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=00\n"
               "C0 SUBSCRIBE_ACK id=2 rc=01\n"
               "C0 SUBSCRIBE_ACK id=3 rc=01\n"
               "C0 MESSAGE d/0 q0 r0 d0 'a'\n"
               "C0 MESSAGE d/1 q1 r0 d0 'b'\n"
               "C0 MESSAGE d/1 q0 r0 d0 'c'\n"
               "C0 MESSAGE d/g q1 r0 d0 'd'\n");
    pump_free(&p);

    /* A broker limited to QoS 1 still accepts a request for QoS 2. */
    mqttproto_broker_settings s = bt_settings();
    s.maximum_qos = 1;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "raw", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 10 00 00 0d 21 00 40 22 00 10 24 01 27 00 10 00 00");
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 01");
    pump_free(&p);
}

/* [MQTT-3.8.3-3] */
SCENARIO(no_local)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "self", true, 0);
    assert_true(bt_sub(&p, 0, "n/#", 1, true, false, 0, NO_SUBID) > 0);
    pump_run(&p);
    bt_client(&p, 2, "other", true, 0);
    assert_true(bt_sub(&p, 2, "n/#", 1, true, false, 0, NO_SUBID) > 0);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 0, "n/1", "mine", QOS(1), false), 2);
    pump_run(&p);
    /* Another subscription of the same session without No Local matches. */
    assert_true(bt_sub(&p, 0, "n/+", 0, false, false, 0, NO_SUBID) > 0);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 0, "n/2", "again", QOS(1), false), 4);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 PUBLISH_COMPLETED id=2 rc=00\n"
               "C0 SUBSCRIBE_ACK id=3 rc=00\n"
               "C0 PUBLISH_COMPLETED id=4 rc=00\n"
               "C0 MESSAGE n/2 q0 r0 d0 'again'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 MESSAGE n/1 q1 r0 d0 'mine'\n"
               "C2 MESSAGE n/2 q1 r0 d0 'again'\n");
    pump_free(&p);
}

/* [MQTT-3.3.1-12] [MQTT-3.3.1-13] */
SCENARIO(retain_as_published)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "rap1", true, 0);
    assert_true(bt_sub(&p, 0, "r/#", 1, false, true, 2, NO_SUBID) > 0);
    bt_client(&p, 2, "rap0", true, 0);
    assert_true(bt_sub(&p, 2, "r/#", 1, false, false, 2, NO_SUBID) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "r/1", "kept", QOS(1), true), 1);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "r/2", "plain", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE r/1 q1 r1 d0 'kept'\n"
               "C0 MESSAGE r/2 q1 r0 d0 'plain'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 MESSAGE r/1 q1 r0 d0 'kept'\n"
               "C2 MESSAGE r/2 q1 r0 d0 'plain'\n");
    pump_free(&p);
}

/* [MQTT-4.7.2-1] [MQTT-4.7.3-4] */
SCENARIO(dollar_topics_and_exact_matching)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "wild", true, 0);
    assert_true(pump_subscribe(&p, 0, "#", QOS(0)) > 0);
    assert_true(pump_subscribe(&p, 0, "+/x", QOS(0)) > 0);
    pump_run(&p);
    bt_client(&p, 2, "sys", true, 0);
    assert_true(pump_subscribe(&p, 2, "$SYS/#", QOS(0)) > 0);
    assert_true(pump_subscribe(&p, 2, "a/b", QOS(0)) > 0);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_publish(p.broker, STR("$SYS/x"), BIN("sys"), QOS(0), false,
                                              NULL, p.now_ms),
                     1);
    bt_client(&p, 1, "pub", true, 0);
    /* No normalisation: none of these is "a/b". */
    assert_int_equal(pump_publish(&p, 1, "a//b", "1", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "A/b", "2", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "a/b/", "3", QOS(0), false), 0);
    assert_int_equal(pump_publish(&p, 1, "a/b", "4", QOS(0), false), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=00\n"
               "C0 SUBSCRIBE_ACK id=2 rc=00\n"
               "C0 MESSAGE a//b q0 r0 d0 '1'\n"
               "C0 MESSAGE A/b q0 r0 d0 '2'\n"
               "C0 MESSAGE a/b/ q0 r0 d0 '3'\n"
               "C0 MESSAGE a/b q0 r0 d0 '4'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=00\n"
               "C2 SUBSCRIBE_ACK id=2 rc=00\n"
               "C2 MESSAGE $SYS/x q0 r0 d0 'sys'\n"
               "C2 MESSAGE a/b q0 r0 d0 '4'\n");
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(own_packet_identifiers),
        RUN(no_outbound_topic_alias),
        RUN(client_receive_maximum),
        RUN(client_maximum_packet_size),
        RUN(subscription_identifiers),
        RUN(message_expiry),
        RUN(message_expiry_quiet_subscriber),
        RUN(overlapping_subscriptions),
        RUN(qos_downgrade),
        RUN(no_local),
        RUN(retain_as_published),
        RUN(dollar_topics_and_exact_matching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
