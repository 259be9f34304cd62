/*
 * The broker state machines driven by real client state machines through
 * the in-memory pump: every behaviour is a scenario whose log of events on
 * every side is checked line by line.
 */
#include "pump.h"

#include <stdio.h>
#include <string.h>

#define QOS(n) ((mqttproto_qos)(n))

static void connect_pair(struct pump *p)
{
    pump_add_client(p, 0, NULL);
    pump_add_client(p, 1, NULL);
    pump_connect_simple(p, 0, "sub", true, 0);
    pump_connect_simple(p, 1, "pub", true, 0);
    pump_run(p);
    assert_true(pump_log_has(p, "B0 CONNECT id=sub clean=1 ka=60"));
    assert_true(pump_log_has(p, "C0 CONNECTED sp=0"));
    assert_true(pump_log_has(p, "C1 CONNECTED sp=0"));
}

static void test_publish_qos012(void **state)
{
    (void)state;
    struct pump p;
    pump_init(&p, NULL);
    connect_pair(&p);
    assert_true(pump_subscribe(&p, 0, "a/+", QOS(2)) > 0);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C0 SUBSCRIBE_ACK id=1 rc=02"));
    for (int q = 0; q < 3; q++) {
        char payload[8];
        snprintf(payload, sizeof payload, "m%d", q);
        assert_true(pump_publish(&p, 1, "a/b", payload, QOS(q), false) >= 0);
    }
    pump_run(&p);
    assert_true(pump_log_has(&p, "C0 MESSAGE a/b q0 r0 d0 'm0'"));
    assert_true(pump_log_has(&p, "C0 MESSAGE a/b q1 r0 d0 'm1'"));
    assert_true(pump_log_has(&p, "C0 MESSAGE a/b q2 r0 d0 'm2'"));
    assert_true(pump_log_has(&p, "C1 PUBLISH_COMPLETED id=1 rc=00"));
    assert_true(pump_log_has(&p, "C1 PUBLISH_COMPLETED id=2 rc=00"));
    pump_free(&p);
}

static void test_retained_and_will(void **state)
{
    (void)state;
    struct pump p;
    pump_init(&p, NULL);
    connect_pair(&p);
    assert_true(pump_publish(&p, 1, "r/t", "kept", QOS(1), true) > 0);
    pump_run(&p);
    assert_true(pump_subscribe(&p, 0, "r/#", QOS(1)) > 0);
    pump_run(&p);
    /* [MQTT-3.3.1-9] */
    assert_true(pump_log_has(&p, "C0 MESSAGE r/t q1 r1 d0 'kept'"));
    pump_free(&p);
}

static void test_session_resume(void **state)
{
    (void)state;
    struct pump p;
    pump_init(&p, NULL);
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
    pump_log_clear(&p);
    pump_connect_simple(&p, 0, "sub", false, 300);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C0 CONNECTED sp=1"));
    assert_true(pump_log_has(&p, "C0 MESSAGE q/1 q1 r0 d0 'while-away'"));
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_qos012),
        cmocka_unit_test(test_retained_and_will),
        cmocka_unit_test(test_session_resume),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
