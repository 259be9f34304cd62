/*
 * Broker behaviour the scenario suites leave out: the CONNACK of a broker
 * whose capabilities are limited, many sessions at once (their map, their
 * timers, fan-out to all of them), shared groups beyond the first few,
 * overlapping subscriptions with identifiers, Retain As Published with and
 * without RETAIN, and the application's identity for a connection.
 */
#include "broker_test.h"

/* Everything raw slot @p i was sent, decoded: the first packet in @p pkt
   (its views point into a static copy), the count of packets returned. */
static int take_packets(struct pump *p, int i, mqttproto_packet *pkts, int max)
{
    static uint8_t copy[65536];
    const uint8_t *d;
    size_t n = mqttproto_broker_client_get_outbound_data(p->peers[i].conn, &d);
    assert_true(n <= sizeof copy);
    if (n > 0) {
        memcpy(copy, d, n);
    }
    mqttproto_broker_client_consume_outbound(p->peers[i].conn, n);
    int count = 0;
    for (size_t off = 0; off < n;) {
        assert_true(count < max);
        ptrdiff_t k = mqttproto_decode(copy + off, n - off, NULL, &pkts[count]);
        assert_true(k > 0);
        off += (size_t)k;
        count++;
    }
    return count;
}

static mqttproto_packet take_one(struct pump *p, int i, mqttproto_packet_type type)
{
    mqttproto_packet pkt[4];
    assert_int_equal(take_packets(p, i, pkt, 4), 1);
    assert_int_equal(pkt[0].type, type);
    return pkt[0];
}

/* A raw CONNECT with keep alive @p ka, Session Expiry @p expiry. */
static void connect_raw(struct pump *p, int i, const char *id, uint32_t expiry, uint16_t ka)
{
    assert_true(raw_connect(p, i, id, true, expiry, ka) > 0);
}

/* [MQTT-3.2.2-9] [MQTT-3.2.2-11] [MQTT-3.2.2-14] [MQTT-3.2.2-21] */
static void test_connack_of_a_limited_broker(void **state)
{
    (void)state;
    mqttproto_broker_settings s = bt_settings();
    s.receive_maximum = 65535; /* the protocol default: not sent */
    s.maximum_qos = 1;
    s.retain_available = false;
    s.topic_alias_maximum = 0;
    s.wildcard_subscription_available = false;
    s.subscription_identifier_available = false;
    s.shared_subscription_available = false;
    s.max_keep_alive = 30;
    s.max_session_expiry = 10;
    struct pump p;
    bt_init(&p, &s, 0);

    /* An empty client id, keep alive 0 (above any limit), expiry 100. */
    connect_raw(&p, 0, "", 100, 0);
    mqttproto_packet ack = take_one(&p, 0, MQTTPROTO_PACKET_CONNACK);
    const mqttproto_properties *pr = &ack.connack.properties;
    assert_int_equal(ack.connack.reason_code, 0);
    assert_false(mqttproto_properties_has(pr, PR(RECEIVE_MAXIMUM)));
    assert_false(mqttproto_properties_has(pr, PR(TOPIC_ALIAS_MAXIMUM)));
    assert_true(mqttproto_properties_has(pr, PR(MAXIMUM_QOS)));
    assert_int_equal(pr->maximum_qos, 1);
    assert_true(mqttproto_properties_has(pr, PR(RETAIN_AVAILABLE)));
    assert_int_equal(pr->retain_available, 0);
    assert_int_equal(pr->wildcard_subscription_available, 0);
    assert_int_equal(pr->subscription_identifier_available, 0);
    assert_int_equal(pr->shared_subscription_available, 0);
    assert_true(mqttproto_properties_has(pr, PR(SERVER_KEEP_ALIVE)));
    assert_int_equal(pr->server_keep_alive, 30);
    assert_true(mqttproto_properties_has(pr, PR(SESSION_EXPIRY_INTERVAL)));
    assert_int_equal(pr->session_expiry_interval, 10);
    assert_true(mqttproto_properties_has(pr, PR(ASSIGNED_CLIENT_IDENTIFIER)));
    mqttproto_str id = mqttproto_broker_client_client_id(p.peers[0].conn);
    assert_int_equal(pr->assigned_client_identifier.len, id.len);
    assert_memory_equal(pr->assigned_client_identifier.data, id.data, id.len);
    /* The keep alive in force is the server's: 1.5 times 30 s. */
    assert_true(mqttproto_broker_client_get_expiry(p.peers[0].conn) == p.now_ms + 45000);

    /* A keep alive under the limit is left alone; so is a short expiry. */
    connect_raw(&p, 1, "short", 5, 20);
    ack = take_one(&p, 1, MQTTPROTO_PACKET_CONNACK);
    assert_false(mqttproto_properties_has(&ack.connack.properties, PR(SERVER_KEEP_ALIVE)));
    assert_false(mqttproto_properties_has(&ack.connack.properties, PR(SESSION_EXPIRY_INTERVAL)));
    assert_false(mqttproto_properties_has(&ack.connack.properties, PR(ASSIGNED_CLIENT_IDENTIFIER)));
    /* A keep alive above it is lowered. */
    connect_raw(&p, 2, "long", 0, 31);
    ack = take_one(&p, 2, MQTTPROTO_PACKET_CONNACK);
    assert_int_equal(ack.connack.properties.server_keep_alive, 30);

    /* What it announced it enforces: QoS 2 is 0x9B, RETAIN 0x9A. */
    assert_int_equal(raw_hex(&p, 1, "34 06 00 01 74 00 01 00"), ERR(QOS_NOT_SUPPORTED));
    EXPECT_OUT(&p, 1, "e0 01 9b");
    assert_int_equal(raw_hex(&p, 2, "31 04 00 01 74 00"), ERR(RETAIN_NOT_SUPPORTED));
    EXPECT_OUT(&p, 2, "e0 01 9a");
    pump_free(&p);
}

/* The identity the application gives: acknowledge_connect's user name
   replaces the CONNECT's. */
static void test_connect_identity_from_application(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("who", true, 0, 0);
    c.connect.has_username = true;
    c.connect.username = STR("claimed");
    assert_true(raw_pkt(&p, 0, &c) > 0);
    mqttproto_broker_client *bc = p.peers[0].conn;
    assert_int_equal(mqttproto_broker_client_username(bc).len, 7);
    assert_int_equal(
        mqttproto_broker_client_acknowledge_connect(bc, 0, STR("cert-CN"), NULL, p.now_ms), 0);
    mqttproto_str u = mqttproto_broker_client_username(bc);
    assert_int_equal(u.len, 7);
    assert_memory_equal(u.data, "cert-CN", 7);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* Answered once only. */
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(bc, 0, STR(""), NULL, p.now_ms),
                     ERR(BAD_STATE));
    pump_free(&p);
}

enum { MANY = 40 };

/* Offline sessions expire one by one in the order of their deadlines
   (given in an order that is not theirs), whatever the number of them; a
   resumed one leaves the timers. */
static void test_many_sessions_expire_in_deadline_order(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    char id[16];
    uint32_t expiry[MANY];
    for (int i = 0; i < MANY; i++) {
        expiry[i] = (uint32_t)((i * 17) % MANY + 1); /* 1..40 s, shuffled */
        snprintf(id, sizeof id, "s%d", i);
        connect_raw(&p, i % PUMP_MAX_PEERS, id, expiry[i], 0);
        pump_drop(&p, i % PUMP_MAX_PEERS);
    }
    assert_int_equal(bt_stats(&p).sessions, MANY);
    assert_int_equal(bt_stats(&p).connections, 0);
    uint64_t t0 = p.now_ms;
    assert_true(mqttproto_broker_get_expiry(p.broker) == t0 + 1000);

    /* The session of expiry 20 s comes back before its time: it leaves the
       timers while connected, and its expiry starts again when it goes. */
    int back = -1;
    for (int i = 0; i < MANY; i++) {
        if (expiry[i] == 20) {
            back = i;
        }
    }
    snprintf(id, sizeof id, "s%d", back);
    assert_true(raw_connect(&p, 0, id, false, 20, 0) > 0);
    (void)take_one(&p, 0, MQTTPROTO_PACKET_CONNACK);

    for (uint32_t sec = 1; sec <= MANY; sec++) {
        pump_advance(&p, 1000);
        uint64_t left = bt_stats(&p).sessions;
        /* every session of expiry <= sec is gone, but the connected one */
        uint64_t want = MANY - sec + (sec >= 20 ? 1 : 0);
        assert_int_equal(left, want);
    }
    /* The one still connected: no timer until it goes. */
    assert_true(mqttproto_broker_get_expiry(p.broker) == UINT64_MAX);
    pump_drop(&p, 0);
    assert_true(mqttproto_broker_get_expiry(p.broker) == p.now_ms + 20000);
    pump_advance(&p, 20000);
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_true(mqttproto_broker_get_expiry(p.broker) == UINT64_MAX);
    pump_free(&p);
}

/* A will delay shorter than the session expiry is the session's first
   deadline: the will goes out at it, the session at its own. */
static void test_will_delay_before_session_expiry(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    bt_client(&p, 0, "watch", true, 0);
    assert_true(pump_subscribe(&p, 0, "will/#", QOS(0)) > 0);
    pump_run(&p);
    for (int i = 0; i < 3; i++) {
        char id[8], topic[16];
        snprintf(id, sizeof id, "w%d", i);
        snprintf(topic, sizeof topic, "will/%d", i);
        pump_open_raw(&p, 1 + i);
        mqttproto_packet c = bt_connect_pkt(id, true, 30, 0);
        c.connect.has_will = true;
        c.connect.will.topic = STR(topic);
        c.connect.will.payload = BIN("gone");
        mqttproto_properties_init(&c.connect.will.properties);
        assert_int_equal(mqttproto_properties_set_int(&c.connect.will.properties,
                                                      MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                      PR(WILL_DELAY_INTERVAL), (uint32_t)(3 - i)),
                         0);
        assert_true(raw_pkt(&p, 1 + i, &c) > 0);
        (void)take_one(&p, 1 + i, MQTTPROTO_PACKET_CONNACK);
    }
    for (int i = 0; i < 3; i++) {
        pump_drop(&p, 1 + i);
    }
    pump_log_clear(&p);
    assert_true(mqttproto_broker_get_expiry(p.broker) == p.now_ms + 1000);
    pump_advance(&p, 1000);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 MESSAGE will/2 q0 r0 d0 'gone'\n");
    pump_advance(&p, 1000);
    pump_advance(&p, 1000);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 MESSAGE will/2 q0 r0 d0 'gone'\n"
               "C0 MESSAGE will/1 q0 r0 d0 'gone'\n"
               "C0 MESSAGE will/0 q0 r0 d0 'gone'\n");
    assert_int_equal(bt_stats(&p).sessions, 4);
    assert_true(mqttproto_broker_get_expiry(p.broker) == p.now_ms + 27000);
    pump_advance(&p, 27000);
    assert_int_equal(bt_stats(&p).sessions, 1);
    pump_free(&p);
}

/* One message to 40 sessions and to one member of each of 12 shared
   groups: every target gets exactly one copy. */
static void test_fan_out_to_many_sessions_and_groups(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    char id[16], filter[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "f%d", i);
        connect_raw(&p, 0, id, 600, 0);
        (void)take_one(&p, 0, MQTTPROTO_PACKET_CONNACK);
        if (i < 12) {
            snprintf(filter, sizeof filter, "$share/g%d/fan/#", i);
        } else {
            snprintf(filter, sizeof filter, "fan/+");
        }
        mqttproto_subscription sub;
        memset(&sub, 0, sizeof sub);
        sub.topic_filter = STR(filter);
        sub.max_qos = QOS(1);
        mqttproto_packet sp;
        memset(&sp, 0, sizeof sp);
        sp.type = MQTTPROTO_PACKET_SUBSCRIBE;
        sp.subscribe.packet_id = 1;
        mqttproto_properties_init(&sp.subscribe.properties);
        sp.subscribe.subscriptions.items = &sub;
        sp.subscribe.subscriptions.count = 1;
        assert_true(raw_pkt(&p, 0, &sp) > 0);
        (void)take_one(&p, 0, MQTTPROTO_PACKET_SUBACK);
        pump_drop(&p, 0);
    }
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("fan/out"), BIN("x"), QOS(1), false, NULL, p.now_ms),
        MANY);
    assert_int_equal(bt_stats(&p).messages_delivered, MANY);
    /* Each session has its copy, once. */
    for (int i = 0; i < MANY; i++) {
        snprintf(id, sizeof id, "f%d", i);
        assert_true(raw_connect(&p, 0, id, false, 600, 0) > 0);
        mqttproto_packet pk[4];
        assert_int_equal(take_packets(&p, 0, pk, 4), 2);
        assert_int_equal(pk[1].type, MQTTPROTO_PACKET_PUBLISH);
        assert_int_equal(pk[1].publish.payload.len, 1);
        pump_drop(&p, 0);
    }
    pump_free(&p);
}

/*
 * [MQTT-3.3.4-3] [MQTT-3.3.4-4] One session with ten overlapping
 * subscriptions, each with its own identifier: the one copy it gets carries
 * all ten (docs/broker.md: "Subscription Identifiers (of every matching
 * subscription of the session)").
 */
static void test_every_subscription_identifier_sent(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    static const char *const filters[] = {"o/v", "o/+",   "+/v", "+/+",   "#",
                                          "o/#", "o/v/#", "+/#", "+/v/#", "o/+/#"};
    bt_client(&p, 0, "overlap", true, 0);
    for (uint32_t i = 0; i < 10; i++) {
        assert_true(bt_sub(&p, 0, filters[i], 1, false, false, 0, i + 1) > 0);
        pump_run(&p);
    }
    assert_int_equal(bt_stats(&p).subscriptions, 10);
    pump_log_clear(&p);
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("o/v"), BIN("m"), QOS(1), false, NULL, p.now_ms), 1);
    pump_run(&p);
    /* One copy; its identifiers in any order (their order is not
       significant), each once. */
    char *got = bt_lines(&p, "C0");
    assert_int_equal(strncmp(got, "C0 MESSAGE o/v q1 r0 d0 'm' sid=", 32), 0);
    assert_true(strchr(got, '\n') == got + strlen(got) - 1);
    bool seen[11] = {false};
    int n = 0;
    for (char *t = strtok(got + 32, ",\n"); t != NULL; t = strtok(NULL, ",\n")) {
        int v = atoi(t);
        assert_true(v >= 1 && v <= 10 && !seen[v]);
        seen[v] = true;
        n++;
    }
    free(got);
    assert_int_equal(n, 10);
    pump_free(&p);
}

/* [MQTT-3.3.1-12] [MQTT-3.3.1-13] RETAIN on delivery: kept only with Retain
   As Published and only if it was set; never on a plain message. */
static void test_retain_as_published_matrix(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    bt_client(&p, 0, "rap", true, 0);
    bt_client(&p, 1, "plain", true, 0);
    assert_true(bt_sub(&p, 0, "r/#", 0, false, true, 2, NO_SUBID) > 0);
    assert_true(bt_sub(&p, 1, "r/#", 0, false, false, 2, NO_SUBID) > 0);
    pump_run(&p);
    pump_log_clear(&p);
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("r/1"), BIN("k"), QOS(0), true, NULL, p.now_ms), 2);
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("r/2"), BIN("n"), QOS(0), false, NULL, p.now_ms), 2);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 MESSAGE r/1 q0 r1 d0 'k'\nC0 MESSAGE r/2 q0 r0 d0 'n'\n");
    EXPECT_LOG(&p, "C1", "C1 MESSAGE r/1 q0 r0 d0 'k'\nC1 MESSAGE r/2 q0 r0 d0 'n'\n");
    pump_free(&p);
}

/* [MQTT-4.12.0-2] [MQTT-4.12.1-1] The broker's side of enhanced
   authentication: what it may send when, the method always the client's. */
static void test_broker_auth_calls(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    p.hold_decisions = true;
    pump_open_raw(&p, 0);
    mqttproto_packet c = bt_connect_pkt("au", true, 0, 0);
    assert_int_equal(mqttproto_properties_set_str(&c.connect.properties, PK(CONNECT),
                                                  PR(AUTHENTICATION_METHOD), STR("M")),
                     0);
    assert_true(raw_pkt(&p, 0, &c) > 0);
    mqttproto_broker_client *bc = p.peers[0].conn;
    mqttproto_bin none = mqttproto_bin_make(NULL, 0);
    /* A connect-time exchange ends with CONNACK, not AUTH 0x00. */
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, none, NULL), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x19, none, NULL), ERR(INVALID_ARGUMENT));
    mqttproto_properties props;
    mqttproto_properties_init(&props);
    assert_int_equal(mqttproto_properties_set_bin(&props, PK(AUTH), PR(AUTHENTICATION_DATA),
                                                  mqttproto_bin_make("d", 1)),
                     0);
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x18, none, &props), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x18, BIN("chal"), NULL), 0);
    EXPECT_OUT(&p, 0, "f0 0d 18 0b 15 00 01 4d 16 00 04 63 68 61 6c");
    assert_true(raw_hex(&p, 0, "f0 06 18 04 15 00 01 4d") > 0);
    EXPECT_LOG(&p, "B0", "B0 CONNECT id=au clean=1 ka=0\nB0 AUTH rc=18\n");
    assert_int_equal(mqttproto_broker_client_acknowledge_connect(bc, 0, STR(""), NULL, p.now_ms),
                     0);
    mqttproto_packet ack;
    const uint8_t *d;
    size_t n = mqttproto_broker_client_get_outbound_data(bc, &d);
    assert_int_equal(mqttproto_decode(d, n, NULL, &ack), (ptrdiff_t)n);
    assert_int_equal(ack.connack.properties.authentication_method.len, 1);
    mqttproto_broker_client_consume_outbound(bc, n);
    /* Connected: nothing until the client starts a re-authentication. */
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x18, none, NULL), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, none, NULL), ERR(BAD_STATE));
    assert_true(raw_hex(&p, 0, "f0 06 19 04 15 00 01 4d") > 0);
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, none, NULL), 0);
    EXPECT_OUT(&p, 0, "f0 06 00 04 15 00 01 4d");
    assert_int_equal(mqttproto_broker_client_auth(bc, 0x00, none, NULL), ERR(BAD_STATE));
    pump_free(&p);
}

/*
 * Section 4.8.2, docs/broker.md: "A QoS 1 message given to a shared
 * subscription member whose session ends goes to another member", for a
 * long filter too (here a 600-byte topic: "$share/g/" and 600 bytes).
 */
static void test_shared_long_filter_given_to_another_member(void **state)
{
    (void)state;
    static char topic[601];
    memset(topic, 'j', 600);
    char filter[700];
    snprintf(filter, sizeof filter, "$share/g/%s", topic);
    struct pump p;
    bt_init(&p, NULL, 0);
    mqttproto_client_settings cs;
    mqttproto_client_settings_default(&cs);
    cs.manual_ack = true; /* slot 0 keeps its message in flight */
    pump_add_client(&p, 0, &cs);
    pump_connect_simple(&p, 0, "m0", true, 0);
    pump_run(&p);
    assert_true(pump_subscribe(&p, 0, filter, QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 2, "m2", true, 0);
    assert_true(pump_subscribe(&p, 2, filter, QOS(1)) > 0);
    pump_run(&p);
    bt_client(&p, 1, "pub", true, 0);
    pump_log_clear(&p);
    assert_int_equal(pump_publish(&p, 1, topic, "one", QOS(1), false), 1);
    pump_run(&p);
    char line[700];
    snprintf(line, sizeof line, "C0 MESSAGE %s q1 r0 d0 'one'", topic);
    assert_int_equal(pump_log_count(&p, line), 1);
    pump_drop(&p, 0);
    pump_run(&p);
    snprintf(line, sizeof line, "C2 MESSAGE %s q1 r0 d0 'one'", topic);
    assert_int_equal(pump_log_count(&p, line), 1);
    pump_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_connack_of_a_limited_broker),
        cmocka_unit_test(test_connect_identity_from_application),
        cmocka_unit_test(test_broker_auth_calls),
        cmocka_unit_test(test_many_sessions_expire_in_deadline_order),
        cmocka_unit_test(test_will_delay_before_session_expiry),
        cmocka_unit_test(test_fan_out_to_many_sessions_and_groups),
        cmocka_unit_test(test_every_subscription_identifier_sent),
        cmocka_unit_test(test_shared_long_filter_given_to_another_member),
        cmocka_unit_test(test_retain_as_published_matrix),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
