/*
 * SUBSCRIBE and UNSUBSCRIBE at the broker: the SUBACK and UNSUBACK reason
 * codes (the application's, the limits', the features turned off), Retain
 * Handling and replaced subscriptions, the retained store (replace, delete,
 * expire), and shared subscriptions.
 */
#include "broker_test.h"

/* A retained QoS 1 message "kept" on "r/x", published by slot 1. */
static void retained_kept(struct pump *p)
{
    bt_client(p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(p, 1, "r/x", "kept", QOS(1), true), 1);
    pump_run(p);
}

/* [MQTT-3.3.1-9] [MQTT-3.3.1-10] [MQTT-3.3.1-11] [MQTT-3.8.4-3] [MQTT-3.8.4-4] */
SCENARIO(retain_handling)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    retained_kept(&p);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* 0: sent on subscribe, with RETAIN 1 (Retain As Published is 0). */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 01 00 00 03 72 2f 23 01"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 01 33 0c 00 03 72 2f 78 00 01 00 6b 65 70 74");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01"), 4);
    /* 0 again on the same filter: the subscription is replaced and the
       retained message sent again. */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 02 00 00 03 72 2f 23 01"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 02 00 01 33 0c 00 03 72 2f 78 00 02 00 6b 65 70 74");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 02"), 4);
    /* 1 on a filter that exists: not sent. */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 03 00 00 03 72 2f 23 11"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 03 00 01");
    /* 1 on a new filter: sent. */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 04 00 00 03 72 2f 2b 11"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 04 00 01 33 0c 00 03 72 2f 78 00 03 00 6b 65 70 74");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 03"), 4);
    /* 2: never sent. */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 05 00 00 03 72 2f 78 21"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 05 00 01");
    /* 0 at QoS 0 on "r/x": sent at the subscription's QoS. */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 06 00 00 03 72 2f 78 00"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 06 00 00 31 0a 00 03 72 2f 78 00 6b 65 70 74");
    assert_int_equal(bt_stats(&p).subscriptions, 3);
    /* A new message matches three subscriptions: one copy, RETAIN 0. */
    assert_int_equal(pump_publish(&p, 1, "r/x", "new", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "32 0b 00 03 72 2f 78 00 04 00 6e 65 77");
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=rawsub clean=1 ka=0\n"
               "B0 SUBSCRIBE id=1 n=1\n"
               "B0 SUBSCRIBE id=2 n=1\n"
               "B0 SUBSCRIBE id=3 n=1\n"
               "B0 SUBSCRIBE id=4 n=1\n"
               "B0 SUBSCRIBE id=5 n=1\n"
               "B0 SUBSCRIBE id=6 n=1\n");
    pump_free(&p);
}

/* [MQTT-3.8.4-3] */
SCENARIO(subscription_replaced)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 09 00 01 00 00 03 71 2f 23 02"), 11);
    assert_int_equal(raw_hex(&p, 0, "82 09 00 02 00 00 03 71 2f 23 00"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 02 90 04 00 02 00 00");
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "q/1", "z", QOS(2), false), 1);
    pump_run(&p);
    /* One copy, at the QoS of the new subscription. */
    EXPECT_OUT(&p, 0, "30 07 00 03 71 2f 31 00 7a");
    pump_free(&p);
}

/* [MQTT-3.3.1-5] [MQTT-3.3.1-6] [MQTT-3.3.1-7] [MQTT-3.3.1-8] */
SCENARIO(retained_store_replace_delete)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "old", true, 0);
    assert_true(bt_sub(&p, 0, "k/#", 0, false, true, 0, NO_SUBID) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "k/1", "a", QOS(0), true), 0);
    assert_int_equal(pump_publish(&p, 1, "k/1", "b", QOS(0), true), 0);
    /* RETAIN 0 leaves the retained message alone. */
    assert_int_equal(pump_publish(&p, 1, "k/1", "c", QOS(0), false), 0);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_messages, 1);
    bt_client(&p, 2, "new", true, 0);
    assert_true(pump_subscribe(&p, 2, "k/#", QOS(0)) > 0);
    pump_run(&p);
    /* An empty retained message is delivered, and deletes the stored one. */
    assert_int_equal(pump_publish(&p, 1, "k/1", "", QOS(0), true), 0);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_messages, 0);
    bt_client(&p, 3, "late", true, 0);
    assert_true(pump_subscribe(&p, 3, "k/#", QOS(0)) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=00\n"
               "C0 MESSAGE k/1 q0 r1 d0 'a'\n"
               "C0 MESSAGE k/1 q0 r1 d0 'b'\n"
               "C0 MESSAGE k/1 q0 r0 d0 'c'\n"
               "C0 MESSAGE k/1 q0 r1 d0 ''\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=00\n"
               "C2 MESSAGE k/1 q0 r1 d0 'b'\n"
               "C2 MESSAGE k/1 q0 r0 d0 ''\n");
    EXPECT_LOG(&p, "C3", "C3 CONNECTED sp=0\nC3 SUBSCRIBE_ACK id=1 rc=00\n");
    pump_free(&p);
}

/* [MQTT-3.3.2-5] [MQTT-3.3.2-6] for retained messages */
SCENARIO(retained_expiry)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(bt_pub_exp(&p, 1, "x/1", "soon", 1, true, 5), 1);
    assert_int_equal(bt_pub_exp(&p, 1, "x/2", "ever", 1, true, 0), 2);
    pump_run(&p);
    pump_advance(&p, 2000);
    bt_client(&p, 0, "early", true, 0);
    assert_true(pump_subscribe(&p, 0, "x/#", QOS(1)) > 0);
    pump_run(&p);
    pump_advance(&p, 3000);
    bt_client(&p, 2, "late", true, 0);
    assert_true(pump_subscribe(&p, 2, "x/#", QOS(1)) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE x/1 q1 r1 d0 'soon' exp=3\n"
               "C0 MESSAGE x/2 q1 r1 d0 'ever'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 MESSAGE x/2 q1 r1 d0 'ever'\n");
    pump_free(&p);
}

/* [MQTT-3.3.4-3] for a retained message sent on subscribe */
SCENARIO(retained_with_subscription_identifier)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    retained_kept(&p);
    bt_client(&p, 0, "sub", true, 0);
    assert_true(bt_sub(&p, 0, "r/+", 2, false, false, 0, 12) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE r/x q1 r1 d0 'kept' sid=12\n");
    pump_free(&p);
}

/* [MQTT-3.10.4-1] [MQTT-3.10.4-2] [MQTT-3.10.4-4] [MQTT-3.10.4-5] [MQTT-3.10.4-6]
   [MQTT-3.11.3-1] [MQTT-2.2.1-6] */
SCENARIO(unsubscribe_codes)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 09 00 01 00 00 03 61 2f 2b 00"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 00");
    /* UNSUBSCRIBE id 2: "a/#" (never subscribed: filters are compared byte
       for byte), "a/+", "zz". */
    assert_int_equal(raw_hex(&p, 0, "a2 11 00 02 00 00 03 61 2f 23 00 03 61 2f 2b 00 02 7a 7a"),
                     19);
    EXPECT_OUT(&p, 0, "b0 06 00 02 00 11 00 11");
    assert_int_equal(bt_stats(&p).subscriptions, 0);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "a/b", "after", QOS(1), false), 1);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "");
    /* Again: an UNSUBACK all the same. */
    assert_int_equal(raw_hex(&p, 0, "a2 08 ab cd 00 00 03 61 2f 2b"), 10);
    EXPECT_OUT(&p, 0, "b0 04 ab cd 00 11");
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=rawsub clean=1 ka=0\n"
               "B0 SUBSCRIBE id=1 n=1\n"
               "B0 UNSUBSCRIBE id=2 rc=11,00,11\n"
               "B0 UNSUBSCRIBE id=43981 rc=11\n");

    /* Through a client state machine. */
    bt_client(&p, 2, "c", true, 0);
    assert_true(pump_subscribe(&p, 2, "u/#", QOS(1)) > 0);
    pump_run(&p);
    mqttproto_str f = STR("u/#");
    assert_int_equal(mqttproto_client_unsubscribe(p.peers[2].client, &f, 1, NULL), 2);
    pump_run(&p);
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 UNSUBSCRIBE_ACK id=2 rc=00\n");
    EXPECT_LOG(&p, "B2",
               "B2 CONNECT id=c clean=1 ka=60\n"
               "B2 SUBSCRIBE id=1 n=1\n"
               "B2 UNSUBSCRIBE id=2 rc=00\n");
    pump_free(&p);
}

/* [MQTT-3.10.4-3] */
SCENARIO(unsubscribe_completes_deliveries_under_way)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 02");
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "t", "a", QOS(2), false), 1);
    assert_int_equal(pump_publish(&p, 1, "t", "b", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "34 07 00 01 74 00 01 00 61 32 07 00 01 74 00 02 00 62");
    assert_int_equal(raw_hex(&p, 0, "a2 06 00 02 00 00 01 74"), 8);
    EXPECT_OUT(&p, 0, "b0 04 00 02 00 00");
    /* The flows started before go on to the end. */
    assert_int_equal(raw_hex(&p, 0, "50 02 00 01"), 4);
    EXPECT_OUT(&p, 0, "62 02 00 01");
    assert_int_equal(raw_hex(&p, 0, "70 02 00 01 40 02 00 02"), 8);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    pump_free(&p);
}

/* [MQTT-3.8.4-1] [MQTT-3.8.4-2] [MQTT-3.8.4-5] [MQTT-3.8.4-6] [MQTT-3.8.4-7]
   [MQTT-3.9.3-1] [MQTT-2.2.1-6] */
SCENARIO(suback_codes)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    p.deny_subscribe = "deny";
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* SUBSCRIBE id 7: "a" QoS 0, "deny" QoS 1, "b" QoS 2. */
    assert_int_equal(raw_hex(&p, 0, "82 12 00 07 00 00 01 61 00 00 04 64 65 6e 79 01 00 01 62 02"),
                     20);
    EXPECT_OUT(&p, 0, "90 06 00 07 00 00 87 02");
    assert_int_equal(bt_stats(&p).subscriptions, 2);
    /* Any failure code the application gives. */
    p.subscribe_rc = 0x80;
    bt_client(&p, 1, "c", true, 0);
    assert_true(pump_subscribe(&p, 1, "x", QOS(1)) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=0\nC1 SUBSCRIBE_ACK id=1 rc=80\n");
    assert_int_equal(bt_stats(&p).subscriptions, 2);

    /* The application's mistakes change nothing. */
    p.hold_decisions = true;
    assert_int_equal(raw_hex(&p, 0, "82 07 00 08 00 00 01 63 01"), 9);
    mqttproto_broker_client *bc = p.peers[0].conn;
    uint8_t two[2] = {0, 0}, bad = 0x05, ok = 0x01;
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(bc, 8, two, 2),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(bc, 8, &bad, 1),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(bc, 9, &ok, 1),
                     ERR(UNKNOWN_PACKET_ID));
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(mqttproto_broker_client_acknowledge_subscribe(bc, 8, &ok, 1), 0);
    EXPECT_OUT(&p, 0, "90 04 00 08 00 01");
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=rawsub clean=1 ka=0\n"
               "B0 SUBSCRIBE id=7 n=3\n"
               "B0 SUBSCRIBE id=8 n=1\n");
    pump_free(&p);
}

/* 0x97 over max_subscriptions_per_session. */
SCENARIO(subscription_limit)
{
    mqttproto_broker_settings s = bt_settings();
    s.max_subscriptions_per_session = 2;
    struct pump p;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 0f 00 01 00 00 01 61 00 00 01 62 00 00 01 63 00"), 17);
    EXPECT_OUT(&p, 0, "90 06 00 01 00 00 00 97");
    /* Replacing a subscription needs no new place. */
    assert_int_equal(raw_hex(&p, 0, "82 07 00 02 00 00 01 61 01"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 02 00 01");
    /* An UNSUBSCRIBE makes room. */
    assert_int_equal(raw_hex(&p, 0, "a2 06 00 03 00 00 01 62"), 8);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 04 00 00 01 63 00"), 9);
    EXPECT_OUT(&p, 0, "b0 04 00 03 00 00 90 04 00 04 00 00");
    assert_int_equal(bt_stats(&p).subscriptions, 2);
    pump_free(&p);
}

/* Features announced as unavailable in CONNACK. */
SCENARIO(features_disabled)
{
    mqttproto_broker_settings s = bt_settings();
    s.wildcard_subscription_available = false;
    s.shared_subscription_available = false;
    s.subscription_identifier_available = false;
    struct pump p;
    bt_init(&p, &s, chunk);
    assert_true(raw_connect(&p, 0, "rawsub", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, "20 14 00 00 11 21 00 40 22 00 10 27 00 10 00 00 28 00 29 00 2a 00");
    /* "a/+", "a/#", "a/b", "$share/g/a", "$share/g/a/+", all QoS 0. */
    assert_int_equal(raw_hex(&p, 0,
                             "82 31 00 01 00 00 03 61 2f 2b 00 00 03 61 2f 23 00 00 03 61 2f 62 00"
                             " 00 0a 24 73 68 61 72 65 2f 67 2f 61 00"
                             " 00 0c 24 73 68 61 72 65 2f 67 2f 61 2f 2b 00"),
                     51);
    EXPECT_OUT(&p, 0, "90 08 00 01 00 a2 a2 00 9e 9e");
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    /* A Subscription Identifier: DISCONNECT 0xA1 (MQTT 5.0 section
       3.2.2.3.12). */
    assert_int_equal(raw_hex(&p, 0, "82 09 00 02 02 0b 05 00 01 74 00"),
                     ERR(SUBSCRIPTION_IDS_NOT_SUPPORTED));
    EXPECT_OUT(&p, 0, "e0 01 a1");
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=rawsub clean=1 ka=0\nB0 SUBSCRIBE id=1 n=5\n");
    pump_free(&p);
}

/* Filters the codec refuses: the connection ends. */
SCENARIO(invalid_subscriptions)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* [MQTT-3.8.3-4] No Local on "$share/g/t". */
    assert_true(raw_connect(&p, 0, "a", true, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 10 00 01 00 00 0a 24 73 68 61 72 65 2f 67 2f 74 04"),
                     ERR(NO_LOCAL_ON_SHARED));
    EXPECT_OUT(&p, 0, "e0 01 82");
    /* [MQTT-4.7.1-1] "a/#/b". */
    assert_true(raw_connect(&p, 1, "b", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 1, "82 0b 00 01 00 00 05 61 2f 23 2f 62 00"),
                     ERR(TOPIC_FILTER_INVALID));
    EXPECT_OUT(&p, 1, "e0 01 8f");
    /* No filter at all. */
    assert_true(raw_connect(&p, 2, "c", true, 0, 0) > 0);
    EXPECT_OUT(&p, 2, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 2, "82 03 00 01 00"), ERR(EMPTY_SUBSCRIPTION_LIST));
    EXPECT_OUT(&p, 2, "e0 01 82");
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=a clean=1 ka=0\n");
    assert_int_equal(bt_stats(&p).subscriptions, 0);
    pump_free(&p);
}

/* ---- shared subscriptions ---- */

/* [MQTT-3.10.4-1] for a shared subscription: the member leaves the group. */
SCENARIO(shared_unsubscribe)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 0, "m0", true, 0);
    assert_true(pump_subscribe(&p, 0, "$share/g/u", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 2, "m2", true, 0);
    assert_true(pump_subscribe(&p, 2, "$share/g/u", QOS(1)) > 0);
    pump_run(&p);
    mqttproto_str f = STR("$share/g/u");
    assert_int_equal(mqttproto_client_unsubscribe(p.peers[0].client, &f, 1, NULL), 2);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).subscriptions, 1);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "u", "a", QOS(1), false), 1);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "u", "b", QOS(1), false), 2);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 UNSUBSCRIBE_ACK id=2 rc=00\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=01\n"
               "C2 MESSAGE u q1 r0 d0 'a'\n"
               "C2 MESSAGE u q1 r0 d0 'b'\n");
    pump_free(&p);
}

/* [MQTT-4.8.2-3] */
SCENARIO(shared_round_robin)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    bt_client(&p, 1, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 1, "s/r", "retained", QOS(1), true), 1);
    pump_run(&p);
    bt_client(&p, 0, "m0", true, 300);
    assert_true(pump_subscribe(&p, 0, "$share/g/s/#", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 2, "m2", true, 0);
    assert_true(pump_subscribe(&p, 2, "$share/g/s/#", QOS(0)) > 0);
    pump_run(&p);
    bt_client(&p, 3, "h", true, 0);
    assert_true(pump_subscribe(&p, 3, "$share/h/s/+", QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 4, "plain", true, 0);
    assert_true(pump_subscribe(&p, 4, "s/#", QOS(1)) > 0);
    pump_run(&p);
    for (int k = 1; k <= 4; k++) {
        char payload[8];
        snprintf(payload, sizeof payload, "m%d", k);
        assert_true(pump_publish(&p, 1, "s/1", payload, QOS(1), false) > 0);
        pump_run(&p);
    }
    /* A member that is offline is passed over while another is online. */
    pump_drop(&p, 0);
    assert_true(pump_publish(&p, 1, "s/1", "m5", QOS(1), false) > 0);
    pump_run(&p);
    assert_true(pump_publish(&p, 1, "s/1", "m6", QOS(1), false) > 0);
    pump_run(&p);
    /* Retained messages are not sent for a shared subscription. */
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE s/1 q1 r0 d0 'm1'\n"
               "C0 MESSAGE s/1 q1 r0 d0 'm3'\n");
    /* Each member with its own granted QoS. */
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=00\n"
               "C2 MESSAGE s/1 q0 r0 d0 'm2'\n"
               "C2 MESSAGE s/1 q0 r0 d0 'm4'\n"
               "C2 MESSAGE s/1 q0 r0 d0 'm5'\n"
               "C2 MESSAGE s/1 q0 r0 d0 'm6'\n");
    /* Every group has its copy. */
    EXPECT_LOG(&p, "C3",
               "C3 CONNECTED sp=0\n"
               "C3 SUBSCRIBE_ACK id=1 rc=01\n"
               "C3 MESSAGE s/1 q1 r0 d0 'm1'\n"
               "C3 MESSAGE s/1 q1 r0 d0 'm2'\n"
               "C3 MESSAGE s/1 q1 r0 d0 'm3'\n"
               "C3 MESSAGE s/1 q1 r0 d0 'm4'\n"
               "C3 MESSAGE s/1 q1 r0 d0 'm5'\n"
               "C3 MESSAGE s/1 q1 r0 d0 'm6'\n");
    EXPECT_LOG(&p, "C4",
               "C4 CONNECTED sp=0\n"
               "C4 SUBSCRIBE_ACK id=1 rc=01\n"
               "C4 MESSAGE s/r q1 r1 d0 'retained'\n"
               "C4 MESSAGE s/1 q1 r0 d0 'm1'\n"
               "C4 MESSAGE s/1 q1 r0 d0 'm2'\n"
               "C4 MESSAGE s/1 q1 r0 d0 'm3'\n"
               "C4 MESSAGE s/1 q1 r0 d0 'm4'\n"
               "C4 MESSAGE s/1 q1 r0 d0 'm5'\n"
               "C4 MESSAGE s/1 q1 r0 d0 'm6'\n");
    /* The offline member, back, finds nothing queued. */
    pump_connect_simple(&p, 0, "m0", false, 300);
    pump_run(&p);
    assert_int_equal(pump_log_count(&p, "C0 CONNECTED sp=1"), 1);
    assert_int_equal(pump_log_count(&p, "C0 MESSAGE s/1 q1 r0 d0 'm5'"), 0);
    pump_free(&p);
}

/* Two members of "$share/g/j": slot 0 acknowledges by hand (so that its
   messages stay in flight), slot 2 at once. */
static void shared_pair(struct pump *p, uint32_t expiry0, uint16_t receive_max0)
{
    mqttproto_client_settings cs;
    mqttproto_client_settings_default(&cs);
    cs.manual_ack = true;
    if (receive_max0 != 0) {
        cs.receive_maximum = receive_max0;
    }
    pump_add_client(p, 0, &cs);
    pump_connect_simple(p, 0, "m0", true, expiry0);
    pump_run(p);
    assert_true(pump_subscribe(p, 0, "$share/g/j", QOS(2)) > 0);
    pump_run(p);
    bt_client(p, 2, "m2", true, 0);
    assert_true(pump_subscribe(p, 2, "$share/g/j", QOS(2)) > 0);
    pump_run(p);
    bt_client(p, 1, "pub", true, 0);
}

/* Section 4.8.2: a QoS 1 message in flight to a member whose session ends
   goes to another member. */
SCENARIO(shared_qos1_given_to_another_member)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    shared_pair(&p, 0, 0);
    assert_int_equal(pump_publish(&p, 1, "j", "one", QOS(1), false), 1);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE j q1 r0 d0 'one'\n");
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=02\n"
               "C2 MESSAGE j q1 r0 d0 'one'\n");
    assert_int_equal(bt_stats(&p).sessions, 2);
    pump_free(&p);
}

/* [MQTT-4.8.2-5] */
SCENARIO(shared_qos2_sent_stays_lost)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* Slot 0 takes one QoS 2 message at a time. */
    shared_pair(&p, 0, 1);
    /* m1 -> slot 0 (sent), m2 -> slot 2, m3 -> slot 0 (queued, not sent). */
    assert_int_equal(pump_publish(&p, 1, "j", "m1", QOS(2), false), 1);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "j", "m2", QOS(2), false), 2);
    pump_run(&p);
    assert_int_equal(pump_publish(&p, 1, "j", "m3", QOS(2), false), 3);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE j q2 r0 d0 'm1'\n");
    /* m3, never sent to slot 0, is given on; m1 is not. */
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\n"
               "C2 SUBSCRIBE_ACK id=1 rc=02\n"
               "C2 MESSAGE j q2 r0 d0 'm2'\n"
               "C2 MESSAGE j q2 r0 d0 'm3'\n");
    pump_free(&p);
}

/* [MQTT-4.8.2-6] */
SCENARIO(shared_refused_is_discarded)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    shared_pair(&p, 0, 0);
    assert_int_equal(pump_publish(&p, 1, "j", "no", QOS(1), false), 1);
    pump_run(&p);
    assert_int_equal(mqttproto_client_acknowledge(p.peers[0].client, 1, 0x80), 0);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C2", "C2 CONNECTED sp=0\nC2 SUBSCRIBE_ACK id=1 rc=02\n");
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=0\nC1 PUBLISH_COMPLETED id=1 rc=00\n");
    pump_free(&p);
}

/* [MQTT-4.8.2-4] */
SCENARIO(shared_qos2_completed_to_same_member)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    shared_pair(&p, 300, 0);
    assert_int_equal(pump_publish(&p, 1, "j", "two", QOS(2), false), 1);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_connect_simple(&p, 0, "m0", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE j q2 r0 d0 'two'\n"
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE j q2 r0 d1 'two'\n");
    EXPECT_LOG(&p, "C2", "C2 CONNECTED sp=0\nC2 SUBSCRIBE_ACK id=1 rc=02\n");
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(retain_handling),
        RUN(subscription_replaced),
        RUN(retained_store_replace_delete),
        RUN(retained_expiry),
        RUN(retained_with_subscription_identifier),
        RUN(unsubscribe_codes),
        RUN(unsubscribe_completes_deliveries_under_way),
        RUN(suback_codes),
        RUN(subscription_limit),
        RUN(features_disabled),
        RUN(invalid_subscriptions),
        RUN(shared_unsubscribe),
        RUN(shared_round_robin),
        RUN(shared_qos1_given_to_another_member),
        RUN(shared_qos2_sent_stays_lost),
        RUN(shared_refused_is_discarded),
        RUN(shared_qos2_completed_to_same_member),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
