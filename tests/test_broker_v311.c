/*
 * The broker serving MQTT 3.1.1 and 3.1 clients next to MQTT 5 ones: the
 * connection's version comes from its CONNECT; 3.1.1 packet forms out;
 * refusals with the 3.1.1 CONNACK return codes (or no CONNACK when none
 * applies); messages crossing versions (a v5 publisher's properties dropped
 * for a 3.1.1 subscriber); Clean Session as Clean Start and Session Expiry.
 */
#include "broker_test.h"

/* CONNECT 3.1.1, Clean Session 1, keep alive 0, client id "a". */
#define V311_CONNECT_A "10 0d 00 04 4d 51 54 54 04 02 00 00 00 01 61"
/* CONNECT 3.1.1, Clean Session 0, client id "a". */
#define V311_CONNECT_A_KEEP "10 0d 00 04 4d 51 54 54 04 00 00 00 00 01 61"
/* CONNECT 3.1, Clean Session 1, client id "b". */
#define V31_CONNECT_B "10 0f 00 06 4d 51 49 73 64 70 03 02 00 00 00 01 62"

/* [MQTT-3.1.2-2] (3.1.1) levels 4 and 3 are served; the CONNACK has no properties. */
SCENARIO(v311_connect_and_flows)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    assert_int_equal(bt_state(&p, 0), BST(CONNECTED));
    /* QoS 1 and 2 in: acknowledgements with the packet identifier only. */
    assert_int_equal(raw_hex(&p, 0, "32 06 00 01 74 12 34 31"), 8);
    EXPECT_OUT(&p, 0, "40 02 12 34");
    assert_int_equal(raw_hex(&p, 0, "34 06 00 01 74 ab cd 32"), 8);
    EXPECT_OUT(&p, 0, "50 02 ab cd");
    assert_int_equal(raw_hex(&p, 0, "62 02 ab cd"), 4);
    EXPECT_OUT(&p, 0, "70 02 ab cd");
    /* SUBSCRIBE with the QoS-only options byte; SUBACK with return codes. */
    assert_int_equal(raw_hex(&p, 0, "82 06 00 05 00 01 74 02"), 8);
    EXPECT_OUT(&p, 0, "90 03 00 05 02");
    /* UNSUBACK: the packet identifier only. */
    assert_int_equal(raw_hex(&p, 0, "a2 05 00 06 00 01 74"), 7);
    EXPECT_OUT(&p, 0, "b0 02 00 06");
    assert_int_equal(raw_hex(&p, 0, PINGREQ), 2);
    EXPECT_OUT(&p, 0, PINGRESP);
    assert_int_equal(raw_hex(&p, 0, "e0 00"), 2);
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    pump_run(&p);
    EXPECT_LOG(&p, "B0",
               "B0 CONNECT id=a clean=1 ka=0\n"
               "B0 PUBLISH t q1 r0 '1'\n"
               "B0 PUBLISH t q2 r0 '2'\n"
               "B0 SUBSCRIBE id=5 n=1\n"
               "B0 UNSUBSCRIBE id=6 rc=00\n"
               "B0 DISCONNECTED rc=00\n");
    /* MQTT 3.1. */
    pump_open_raw(&p, 2);
    assert_int_equal(raw_hex(&p, 2, V31_CONNECT_B), 17);
    EXPECT_OUT(&p, 2, "20 02 00 00");
    pump_free(&p);
}

/* A 3.1.1 packet that breaks a rule closes the connection without DISCONNECT. */
SCENARIO(v311_protocol_error_closes)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    /* An MQTT 5 PUBACK form: malformed in 3.1.1. */
    assert_int_equal(raw_hex(&p, 0, "40 03 00 01 00"), ERR(TRAILING_BYTES));
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    /* AUTH is a reserved packet type in 3.1.1. */
    pump_open_raw(&p, 1);
    assert_int_equal(raw_hex(&p, 1, "10 0d 00 04 4d 51 54 54 04 02 00 00 00 01 62"), 15);
    EXPECT_OUT(&p, 1, "20 02 00 00");
    assert_int_equal(raw_hex(&p, 1, "f0 00"), ERR(RESERVED_PACKET_TYPE));
    EXPECT_OUT(&p, 1, "");
    pump_free(&p);
}

/* Refused CONNECTs get the 3.1.1 return codes [MQTT-3.2.2-5] (3.1.1). */
SCENARIO(v311_refusals)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* Empty client id with Clean Session 0: 2 [MQTT-3.1.3-8] (3.1.1). */
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, "10 0c 00 04 4d 51 54 54 04 00 00 00 00 00"),
                     ERR(CLIENT_IDENTIFIER_INVALID));
    EXPECT_OUT(&p, 0, "20 02 00 02");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    /* A 3.1 client id over 23 bytes: 2. */
    pump_open_raw(&p, 1);
    assert_int_equal(
        raw_hex(&p, 1,
                "10 26 00 06 4d 51 49 73 64 70 03 02 00 00 00 18"
                " 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61 61"),
        ERR(CLIENT_IDENTIFIER_INVALID));
    EXPECT_OUT(&p, 1, "20 02 00 02");
    /* Malformed CONNECT flags: no return code applies, no CONNACK [MQTT-3.2.2-6] (3.1.1). */
    pump_open_raw(&p, 2);
    assert_int_equal(raw_hex(&p, 2, "10 0d 00 04 4d 51 54 54 04 03 00 00 00 01 61"),
                     ERR(BAD_CONNECT_FLAGS));
    EXPECT_OUT(&p, 2, "");
    assert_int_equal(bt_state(&p, 2), BST(CLOSING));
    /* The application's refusals, mapped: 0x87 -> 5, 0x86 -> 4, 0x88 -> 3, 0x85 -> 2. */
    static const struct {
        uint8_t rc;
        const char *out;
    } map[] = {{0x87, "20 02 00 05"}, {0x86, "20 02 00 04"}, {0x88, "20 02 00 03"},
               {0x85, "20 02 00 02"}, {0x8A, "20 02 00 05"}, {0x80, ""}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        p.connect_rc = map[i].rc;
        pump_open_raw(&p, 3);
        assert_int_equal(raw_hex(&p, 3, V311_CONNECT_A), 15);
        EXPECT_OUT(&p, 3, map[i].out);
        assert_int_equal(bt_state(&p, 3), BST(CLOSING));
        pump_drop(&p, 3);
    }
    pump_free(&p);
}

/* Messages cross versions; a v5 publisher's properties are dropped for a 3.1.1 subscriber. */
SCENARIO(mixed_versions)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    /* A raw 3.1.1 subscriber in slot 0 on "t" at QoS 1. */
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    assert_int_equal(raw_hex(&p, 0, "82 06 00 01 00 01 74 01"), 8);
    EXPECT_OUT(&p, 0, "90 03 00 01 01");
    /* An MQTT 5 subscriber (our client) in slot 1. */
    bt_client(&p, 1, "v5sub", true, 0);
    assert_true(pump_subscribe(&p, 1, "t", QOS(2)) > 0);
    pump_run(&p);
    /* An MQTT 5 publisher with Message Expiry and a User Property. */
    bt_client(&p, 2, "v5pub", true, 0);
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(
        mqttproto_properties_set_int(&props, PK(PUBLISH), PR(MESSAGE_EXPIRY_INTERVAL), 60), 0);
    static const mqttproto_user_property up = {{"k", 1}, {"v", 1}};
    assert_int_equal(mqttproto_properties_set_user_properties(&props, PK(PUBLISH), &up, 1), 0);
    assert_true(
        mqttproto_client_publish(p.peers[2].client, STR("t"), BIN("m"), QOS(1), false, &props) > 0);
    pump_run(&p);
    /* The 3.1.1 subscriber: topic, packet id, payload; no property block. */
    EXPECT_OUT(&p, 0, "32 06 00 01 74 00 01 6d");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01"), 4);
    /* A 3.1.1 publisher reaches the MQTT 5 subscriber with its flags. */
    assert_int_equal(raw_hex(&p, 0, "35 06 00 01 74 00 09 72"), 8);
    /* Routed on arrival: its own subscription too (3.1.1 has no No Local). */
    EXPECT_OUT(&p, 0, "50 02 00 09 32 06 00 01 74 00 02 72");
    assert_int_equal(raw_hex(&p, 0, "62 02 00 09"), 4);
    EXPECT_OUT(&p, 0, "70 02 00 09");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 02"), 4);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C1 MESSAGE t q2 r0 d0 'r'"));
    assert_true(pump_log_has(&p, "C1 MESSAGE t q1 r0 d0 'm' exp=60"));
    /* An MQTT 3.1.1 client of ours, through the broker. */
    pump_add_client(&p, 3, NULL);
    mqttproto_connect_options o = bt_opts("ours311", true, 0);
    o.protocol_version = MQTTPROTO_PROTOCOL_V311;
    pump_connect(&p, 3, &o);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C3 CONNECTED sp=0"));
    assert_true(pump_subscribe(&p, 3, "t", QOS(2)) > 0);
    pump_run(&p);
    assert_true(
        mqttproto_client_publish(p.peers[2].client, STR("t"), BIN("z"), QOS(2), false, &props) > 0);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C3 MESSAGE t q2 r0 d0 'z'"));
    pump_free(&p);
}

/* Clean Session 0: the session outlives the connection (Session Expiry 0xFFFFFFFF). */
SCENARIO(v311_clean_session)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A_KEEP), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    assert_int_equal(raw_hex(&p, 0, "82 06 00 01 00 01 74 01"), 8);
    EXPECT_OUT(&p, 0, "90 03 00 01 01");
    pump_drop(&p, 0);
    /* A message while away is kept for the session. */
    bt_client(&p, 1, "pub", true, 0);
    assert_true(pump_publish(&p, 1, "t", "q", QOS(1), false) > 0);
    pump_run(&p);
    pump_advance(&p, 3600u * 1000u);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A_KEEP), 15);
    EXPECT_OUT(&p, 0, "20 02 01 00 32 06 00 01 74 00 01 71");
    /* Clean Session 1 ends it: Session Present 0 [MQTT-3.2.2-1] (3.1.1). */
    pump_drop(&p, 0);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    pump_drop(&p, 0);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A_KEEP), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    pump_free(&p);
}

/* A taken-over 3.1.1 connection is closed without a DISCONNECT. */
SCENARIO(v311_takeover)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    pump_open_raw(&p, 0);
    assert_int_equal(raw_hex(&p, 0, V311_CONNECT_A), 15);
    EXPECT_OUT(&p, 0, "20 02 00 00");
    pump_open_raw(&p, 1);
    assert_int_equal(raw_hex(&p, 1, V311_CONNECT_A), 15);
    EXPECT_OUT(&p, 1, "20 02 00 00");
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(bt_state(&p, 0), BST(CLOSING));
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(v311_connect_and_flows), RUN(v311_protocol_error_closes), RUN(v311_refusals),
        RUN(mixed_versions),         RUN(v311_clean_session),         RUN(v311_takeover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
