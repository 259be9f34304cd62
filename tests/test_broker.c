/*
 * The broker state machines driven by real client state machines through
 * the in-memory pump: the basic flows end to end, every side's log checked
 * line by line, whole and byte by byte. The other behaviours have their own
 * files: test_broker_connect.c, test_broker_publish.c,
 * test_broker_deliver.c, test_broker_subscribe.c, test_broker_session.c.
 */
#include "broker_test.h"

static void connect_pair(struct pump *p)
{
    pump_add_client(p, 0, NULL);
    pump_add_client(p, 1, NULL);
    pump_connect_simple(p, 0, "sub", true, 0);
    pump_connect_simple(p, 1, "pub", true, 0);
    pump_run(p);
    EXPECT_LOG(p, "B0", "B0 CONNECT id=sub clean=1 ka=60\n");
    EXPECT_LOG(p, "B1", "B1 CONNECT id=pub clean=1 ka=60\n");
    EXPECT_LOG(p, "C0", "C0 CONNECTED sp=0\n");
    EXPECT_LOG(p, "C1", "C1 CONNECTED sp=0\n");
}

/* [MQTT-3.3.4-1] [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.2-2] [MQTT-4.3.3-1]
   [MQTT-4.3.3-2] [MQTT-4.3.3-4] [MQTT-3.3.2-3] */
SCENARIO(publish_qos012)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    connect_pair(&p);
    assert_true(pump_subscribe(&p, 0, "a/+", QOS(2)) > 0);
    pump_run(&p);
    for (int q = 0; q < 3; q++) {
        char payload[8];
        snprintf(payload, sizeof payload, "m%d", q);
        assert_true(pump_publish(&p, 1, "a/b", payload, QOS(q), false) >= 0);
        pump_run(&p);
    }
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=sub clean=1 ka=60\nB0 SUBSCRIBE id=1 n=1\n");
    EXPECT_LOG(&p, "B1",
               "B1 CONNECT id=pub clean=1 ka=60\n"
               "B1 PUBLISH a/b q0 r0 'm0'\n"
               "B1 PUBLISH a/b q1 r0 'm1'\n"
               "B1 PUBLISH a/b q2 r0 'm2'\n");
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=02\n"
               "C0 MESSAGE a/b q0 r0 d0 'm0'\n"
               "C0 MESSAGE a/b q1 r0 d0 'm1'\n"
               "C0 MESSAGE a/b q2 r0 d0 'm2'\n");
    EXPECT_LOG(&p, "C1",
               "C1 CONNECTED sp=0\n"
               "C1 PUBLISH_COMPLETED id=1 rc=00\n"
               "C1 PUBLISH_COMPLETED id=2 rc=00\n");
    mqttproto_broker_stats st = bt_stats(&p);
    assert_int_equal(st.messages_routed, 3);
    assert_int_equal(st.messages_delivered, 3);
    assert_int_equal(st.connections, 2);
    assert_int_equal(st.sessions, 2);
    assert_int_equal(st.subscriptions, 1);
    pump_free(&p);
}

/* [MQTT-3.3.1-9] */
SCENARIO(retained_on_subscribe)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    connect_pair(&p);
    assert_int_equal(pump_publish(&p, 1, "r/t", "kept", QOS(1), true), 1);
    pump_run(&p);
    assert_int_equal(bt_stats(&p).retained_messages, 1);
    assert_true(pump_subscribe(&p, 0, "r/#", QOS(1)) > 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 MESSAGE r/t q1 r1 d0 'kept'\n");
    pump_free(&p);
}

/* [MQTT-3.1.2-5] [MQTT-3.2.2-3] */
SCENARIO(session_resume)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_add_client(&p, 0, NULL);
    pump_add_client(&p, 1, NULL);
    pump_connect_simple(&p, 0, "sub", true, 300);
    pump_connect_simple(&p, 1, "pub", true, 0);
    pump_run(&p);
    assert_true(pump_subscribe(&p, 0, "q/#", QOS(1)) > 0);
    pump_run(&p);
    pump_drop(&p, 0);
    assert_true(pump_publish(&p, 1, "q/1", "while-away", QOS(1), false) > 0);
    pump_run(&p);
    pump_connect_simple(&p, 0, "sub", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=0\n"
               "C0 SUBSCRIBE_ACK id=1 rc=01\n"
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE q/1 q1 r0 d0 'while-away'\n");
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=0\nC1 PUBLISH_COMPLETED id=1 rc=00\n");
    pump_free(&p);
}

/* Fan-out: one message to many subscribers, all from one shared copy. */
SCENARIO(fan_out)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    for (int i = 0; i < 8; i++) {
        char id[8];
        snprintf(id, sizeof id, "s%d", i);
        bt_client(&p, i, id, true, 0);
        assert_true(pump_subscribe(&p, i, "f/#", QOS(i % 3)) > 0);
        pump_run(&p);
    }
    bt_client(&p, 8, "pub", true, 0);
    assert_int_equal(pump_publish(&p, 8, "f/x", "all", QOS(2), false), 1);
    pump_run(&p);
    for (int i = 0; i < 8; i++) {
        char who[4], want[128];
        snprintf(who, sizeof who, "C%d", i);
        snprintf(want, sizeof want,
                 "C%d CONNECTED sp=0\nC%d SUBSCRIBE_ACK id=1 rc=%02x\nC%d MESSAGE f/x q%d r0 d0 "
                 "'all'\n",
                 i, i, i % 3, i, i % 3);
        EXPECT_LOG(&p, who, want);
    }
    EXPECT_LOG(&p, "C8", "C8 CONNECTED sp=0\nC8 PUBLISH_COMPLETED id=1 rc=00\n");
    assert_int_equal(bt_stats(&p).messages_delivered, 8);
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(publish_qos012),
        RUN(retained_on_subscribe),
        RUN(session_resume),
        RUN(fan_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
