/*
 * Durable state: the records the broker gives its store, the output held
 * until the store confirms them, and a broker restored from them after a
 * crash (the old broker destroyed without closing its clients).
 */
#include "broker_test.h"
#include "store_model.h"

static struct store_model model;

static void store_init(struct pump *p, bool hold)
{
    model_init(&model);
    assert_int_equal(mqttproto_broker_set_store(p->broker, model_record, &model, hold), 0);
}

/* The broker dies and a new one is restored from the model at now. */
static void crash_restore(struct pump *p, bool hold)
{
    pump_crash(p, NULL);
    model.last_seq = 0; /* a new broker numbers its records from 1 */
    assert_int_equal(mqttproto_broker_set_store(p->broker, model_record, &model, hold), 0);
    model_restore(&model, p->broker, p->now_ms);
}

#define EXPECT_RECORDS(expected)                                                                   \
    do {                                                                                           \
        assert_string_equal(model.log, (expected));                                                \
        model_log_clear(&model);                                                                   \
    } while (0)

static mqttproto_connect_options will_opts(const char *id, uint32_t expiry, uint32_t delay,
                                           mqttproto_will *w)
{
    mqttproto_connect_options o = bt_opts(id, false, expiry);
    memset(w, 0, sizeof *w);
    w->topic = STR("will/t");
    w->payload = BIN("bye");
    w->qos = QOS(1);
    mqttproto_properties_init(&w->properties);
    if (delay != 0) {
        assert_int_equal(mqttproto_properties_set_int(&w->properties,
                                                      MQTTPROTO_PROPERTY_CONTEXT_WILL,
                                                      PR(WILL_DELAY_INTERVAL), delay),
                         0);
    }
    o.will = w;
    return o;
}

/* Every change of a durable session is recorded, in order; QoS 0 for an
   offline session and sessions with expiry 0 leave no record; after a
   crash the queued messages reach the resumed session. */
SCENARIO(records_and_restore_queued)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 0, "sub", false, 60);
    bt_sub(&p, 0, "t/#", 2, false, false, 0, 7);
    bt_client(&p, 1, "pub", true, 0);
    pump_run(&p);
    pump_drop(&p, 0);
    pump_publish(&p, 1, "t/a", "one", QOS(1), false);
    pump_publish(&p, 1, "t/b", "two", QOS(2), false);
    pump_publish(&p, 1, "t/c", "zero", QOS(0), false);
    pump_run(&p);
    EXPECT_RECORDS("SESSION_PUT sub exp=60 at=-\n"
                   "WILL_DELETE sub\n"
                   "SUBSCRIPTION_PUT sub t/# o=02 sid=7\n"
                   "SESSION_PUT sub exp=60 at=61000\n"
                   "MESSAGE_PUT m1 q1 r0 exp=-\n"
                   "DELIVERY_PUT sub d1 m1 q1 r0 s0 sids=1\n"
                   "MESSAGE_PUT m2 q2 r0 exp=-\n"
                   "DELIVERY_PUT sub d2 m2 q2 r0 s0 sids=1\n");

    crash_restore(&p, false);
    pump_log_clear(&p);
    pump_connect_simple(&p, 0, "sub", false, 60);
    pump_run(&p);
    pump_connect_simple(&p, 1, "pub", true, 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0",
               "C0 CONNECTED sp=1\n"
               "C0 MESSAGE t/a q1 r0 d0 'one' sid=7\n"
               "C0 MESSAGE t/b q2 r0 d0 'two' sid=7\n");
    EXPECT_RECORDS("SESSION_PUT sub exp=60 at=-\n"
                   "WILL_DELETE sub\n"
                   "DELIVERY_SENT sub d1 p1\n"
                   "DELIVERY_SENT sub d2 p2\n"
                   "DELIVERY_DELETE sub d1\n"
                   "MESSAGE_DELETE m1\n"
                   "DELIVERY_RELEASED sub d2 p2\n"
                   "DELIVERY_DELETE sub d2\n"
                   "MESSAGE_DELETE m2\n");
    assert_int_equal(model_count(model.deliveries), 0);
    assert_int_equal(model_count(model.messages), 0);
    /* The subscription came back too. */
    pump_publish(&p, 1, "t/d", "again", QOS(1), false);
    pump_run(&p);
    assert_true(pump_log_has(&p, "C0 MESSAGE t/d q1 r0 d0 'again' sid=7"));
    pump_free(&p);
}

/* [MQTT-4.4.0-1] a PUBLISH sent before the crash and not acknowledged is
   sent again with DUP and its identifier, a released one gets its PUBREL
   again. */
SCENARIO(inflight_resent_with_dup_after_restart)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    assert_true(raw_connect(&p, 0, "rs", true, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 02");
    bt_client(&p, 1, "pub", true, 0);
    pump_publish(&p, 1, "t", "a", QOS(1), false);
    pump_publish(&p, 1, "t", "b", QOS(2), false);
    pump_run(&p);
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 01 00 61 34 07 00 01 74 00 02 00 62");
    assert_int_equal(raw_hex(&p, 0, "50 02 00 02"), 4);
    EXPECT_OUT(&p, 0, "62 02 00 02");

    crash_restore(&p, false);
    assert_true(raw_connect(&p, 0, "rs", false, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK_SP "3a 07 00 01 74 00 01 00 61 62 02 00 02");
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01 70 02 00 02"), 8);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(model_count(model.deliveries), 0);
    assert_int_equal(model_count(model.messages), 0);
    pump_free(&p);
}

/* [MQTT-4.3.3-10] an inbound QoS 2 message acknowledged before the crash
   is not routed again when the client repeats it after the restart, and
   its PUBREL is answered as known. */
SCENARIO(inbound_qos2_identifier_survives)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 1, "watch", false, 300);
    bt_sub(&p, 1, "t", 2, false, false, 0, NO_SUBID);
    pump_run(&p);
    assert_true(raw_connect(&p, 0, "rp", true, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 74 00 07 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 07");
    assert_true(model_log_has(&model, "INBOUND_PUT rp p7"));

    crash_restore(&p, false);
    pump_log_clear(&p);
    pump_connect_simple(&p, 1, "watch", false, 300);
    pump_run(&p);
    assert_true(raw_connect(&p, 0, "rp", false, 300, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK_SP);
    assert_int_equal(raw_hex(&p, 0, "3c 07 00 01 74 00 07 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 07");
    assert_int_equal(raw_hex(&p, 0, "62 02 00 07"), 4);
    EXPECT_OUT(&p, 0, "70 02 00 07");
    pump_run(&p);
    /* The one copy was queued before the crash and comes once. */
    EXPECT_LOG(&p, "C1", "C1 CONNECTED sp=1\nC1 MESSAGE t q2 r0 d0 'x'\n");
    assert_true(model_log_has(&model, "INBOUND_DELETE rp p7"));
    assert_int_equal(model_count(model.inbound), 0);
    pump_free(&p);
}

/* Retained messages survive (one cleared before the crash stays cleared),
   as do the persistent subscriptions of offline sessions. */
SCENARIO(retained_messages_survive)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 1, "pub", true, 0);
    pump_publish(&p, 1, "r/1", "keep", QOS(1), true);
    pump_publish(&p, 1, "r/2", "gone", QOS(0), true);
    pump_publish(&p, 1, "r/2", "", QOS(0), true);
    pump_run(&p);
    EXPECT_RECORDS("MESSAGE_PUT m1 q1 r1 exp=-\n"
                   "RETAINED_PUT r/1 m1\n"
                   "MESSAGE_PUT m2 q0 r1 exp=-\n"
                   "RETAINED_PUT r/2 m2\n"
                   "RETAINED_DELETE r/2\n"
                   "MESSAGE_DELETE m2\n");
    crash_restore(&p, false);
    pump_log_clear(&p);
    bt_client(&p, 2, "late", true, 0);
    bt_sub(&p, 2, "r/#", 1, false, false, 0, NO_SUBID);
    pump_run(&p);
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=0\nC2 SUBSCRIBE_ACK id=1 rc=01\nC2 MESSAGE r/1 q1 r1 d0 'keep'\n");
    assert_int_equal(bt_stats(&p).retained_messages, 1);
    pump_free(&p);
}

/* [MQTT-4.1.0-2] the Session Expiry Interval keeps running across a
   restart: an offline session ends when it was due; one whose connection
   was open at the crash is timed from the restore. */
SCENARIO(session_expiry_continues_across_restart)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 0, "off", false, 10);
    bt_client(&p, 1, "on", false, 10);
    pump_drop(&p, 0); /* off: ends at 11000 */
    pump_advance(&p, 4000);
    crash_restore(&p, false); /* at 5000: "on" ends at 15000 */
    assert_true(model_log_has(&model, "SESSION_PUT on exp=10 at=15000"));
    assert_int_equal(bt_stats(&p).sessions, 2);
    pump_advance(&p, 5500);
    assert_int_equal(bt_stats(&p).sessions, 2);
    pump_advance(&p, 1000); /* 11500 */
    assert_int_equal(bt_stats(&p).sessions, 1);
    assert_true(model_log_has(&model, "SESSION_DELETE off"));
    pump_advance(&p, 4000); /* 15500 */
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_int_equal(model_count(model.sessions), 0);
    /* A session already past its time when restored ends at once. */
    bt_client(&p, 0, "late", false, 2);
    pump_drop(&p, 0);
    pump_advance(&p, 100);
    p.now_ms += 5000;
    crash_restore(&p, false);
    assert_int_equal(bt_stats(&p).sessions, 0);
    assert_true(model_log_has(&model, "SESSION_DELETE late"));
    pump_free(&p);
}

/* Wills: a pending one keeps its time across the restart; the will of a
   connection open at the crash is published its delay after the restore
   ([MQTT-3.1.2-8]: that connection closed without DISCONNECT). */
SCENARIO(wills_survive_restart)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 2, "watch", false, 300);
    bt_sub(&p, 2, "will/#", 1, false, false, 0, NO_SUBID);
    pump_run(&p);
    pump_drop(&p, 2);
    mqttproto_will w1, w2;
    pump_add_client(&p, 0, NULL);
    mqttproto_connect_options o = will_opts("pend", 300, 10, &w1);
    pump_connect(&p, 0, &o);
    pump_run(&p);
    pump_drop(&p, 0); /* its will is due at 11000 */
    pump_add_client(&p, 1, NULL);
    o = will_opts("open", 300, 5, &w2);
    pump_connect(&p, 1, &o);
    pump_run(&p);
    assert_true(model_log_has(&model, "WILL_PUT pend m1 delay=10 at=11000"));
    assert_true(model_log_has(&model, "WILL_PUT open m2 delay=5 at=-"));
    pump_advance(&p, 3000);
    crash_restore(&p, false); /* at 4000: "open"'s will is due at 9000 */
    assert_true(model_log_has(&model, "WILL_PUT open m2 delay=5 at=9000"));
    pump_advance(&p, 4500); /* 8500 */
    assert_int_equal(model_count(model.deliveries), 0);
    pump_advance(&p, 1000); /* 9500: "open"'s will */
    assert_int_equal(model_count(model.deliveries), 1);
    assert_true(model_log_has(&model, "WILL_DELETE open"));
    pump_advance(&p, 2000); /* 11500: "pend"'s will */
    assert_int_equal(model_count(model.deliveries), 2);
    assert_true(model_log_has(&model, "WILL_DELETE pend"));
    assert_int_equal(model_count(model.wills), 0);
    pump_log_clear(&p);
    pump_connect_simple(&p, 2, "watch", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C2",
               "C2 CONNECTED sp=1\nC2 MESSAGE will/t q1 r0 d0 'bye'\n"
               "C2 MESSAGE will/t q1 r0 d0 'bye'\n");
    pump_free(&p);
}

/* [MQTT-3.3.2-5] Message Expiry keeps running across a restart. */
SCENARIO(message_expiry_continues_across_restart)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 0, "sub", false, 300);
    bt_sub(&p, 0, "t", 1, false, false, 0, NO_SUBID);
    pump_run(&p);
    pump_drop(&p, 0);
    bt_client(&p, 1, "pub", true, 0);
    bt_pub_exp(&p, 1, "t", "long", 1, false, 10);
    bt_pub_exp(&p, 1, "t", "short", 1, false, 3);
    pump_run(&p);
    p.now_ms += 5000;
    crash_restore(&p, false);
    pump_log_clear(&p);
    pump_connect_simple(&p, 0, "sub", false, 300);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=1\nC0 MESSAGE t q1 r0 d0 'long' exp=5\n");
    assert_int_equal(model_count(model.deliveries), 0);
    assert_int_equal(model_count(model.messages), 0);
    pump_free(&p);
}

/* With hold_acks, what a client is told waits for the store: the PUBACK
   of a message queued for a durable session, the CONNACK and SUBACK of a
   durable session, and what follows them; a message nothing durable
   needs is acknowledged at once. */
SCENARIO(acknowledgements_wait_for_the_store)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, true);
    assert_true(raw_connect(&p, 0, "hs", true, 300, 0) > 0);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    mqttproto_broker_client *w = NULL;
    assert_int_equal(mqttproto_broker_next_writable(p.broker, &w), 1);
    assert_ptr_equal(w, p.peers[0].conn);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    /* The SUBACK waits, and the PINGRESP after it. */
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 01"), 9);
    assert_int_equal(raw_hex(&p, 0, "c0 00"), 2);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 01 d0 00");
    pump_drop(&p, 0);
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);

    assert_true(raw_connect(&p, 1, "hp", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK); /* expiry 0: nothing to store */
    /* To a topic no durable session wants: acknowledged at once. */
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 75 00 01 00 61"), 9);
    EXPECT_OUT(&p, 1, "40 02 00 01");
    /* To the durable session: the PUBACK and the PINGRESP after it wait. */
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 74 00 02 00 61 c0 00"), 11);
    EXPECT_OUT(&p, 1, "");
    assert_true(mqttproto_broker_store_last_seq(p.broker) > 0);
    /* A sequence number below the record changes nothing. */
    assert_int_equal(
        mqttproto_broker_store_synced(p.broker, mqttproto_broker_store_last_seq(p.broker) - 1), 0);
    EXPECT_OUT(&p, 1, "");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, UINT64_MAX), 0);
    assert_int_equal(mqttproto_broker_next_writable(p.broker, &w), 1);
    assert_ptr_equal(w, p.peers[1].conn);
    EXPECT_OUT(&p, 1, "40 02 00 02 d0 00");
    /* Partly written bytes: the rest stays, and the hold covers only the
       new bytes. */
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 74 00 03 00 61"), 9);
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 75 00 04 00 61"), 9);
    const uint8_t *data;
    assert_int_equal(mqttproto_broker_client_get_outbound_data(p.peers[1].conn, &data), 0);
    mqttproto_broker_client_consume_outbound(p.peers[1].conn, 4); /* nothing to consume */
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    assert_int_equal(mqttproto_broker_client_get_outbound_data(p.peers[1].conn, &data), 8);
    mqttproto_broker_client_consume_outbound(p.peers[1].conn, 2);
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 74 00 05 00 61"), 9);
    /* 2 bytes of the old PUBACK, the next PUBACK, then the held one. */
    EXPECT_OUT(&p, 1, "00 03 40 02 00 04");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    EXPECT_OUT(&p, 1, "40 02 00 05");
    /* Without hold_acks nothing waits, and what waited is released. */
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 74 00 06 00 61"), 9);
    assert_int_equal(mqttproto_broker_set_store(p.broker, model_record, &model, false), 0);
    EXPECT_OUT(&p, 1, "40 02 00 06");
    assert_int_equal(raw_hex(&p, 1, "32 07 00 01 74 00 07 00 61"), 9);
    EXPECT_OUT(&p, 1, "40 02 00 07");
    pump_free(&p);
}

/* The held output is released record by record; past a few distinct
   holds the last one takes the newer records. A client that existed before
   the store was set is held too. */
SCENARIO(held_output_released_in_order)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    assert_true(raw_connect(&p, 1, "hp", true, 0, 0) > 0);
    EXPECT_OUT(&p, 1, CONNACK_OK);
    store_init(&p, true);
    bt_client(&p, 0, "hs", false, 300);
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    pump_run(&p);
    assert_true(bt_sub(&p, 0, "t", 1, false, false, 0, NO_SUBID) > 0);
    pump_run(&p);
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    pump_run(&p);
    EXPECT_LOG(&p, "C0", "C0 CONNECTED sp=0\nC0 SUBSCRIBE_ACK id=1 rc=01\n");
    pump_drop(&p, 0);
    uint64_t seq[7];
    char hex[64];
    for (int i = 1; i <= 6; i++) {
        snprintf(hex, sizeof hex, "32 07 00 01 74 00 %02x 00 61", i);
        assert_int_equal(raw_hex(&p, 1, hex), 9);
        seq[i] = model.last_seq;
    }
    EXPECT_OUT(&p, 1, "");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, seq[2]), 0);
    EXPECT_OUT(&p, 1, "40 02 00 01 40 02 00 02");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, seq[3]), 0);
    EXPECT_OUT(&p, 1, "40 02 00 03");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, seq[5]), 0);
    EXPECT_OUT(&p, 1, "");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, seq[6]), 0);
    EXPECT_OUT(&p, 1, "40 02 00 04 40 02 00 05 40 02 00 06");
    pump_free(&p);
}

/* A QoS 1 delivery's sending and a finished delivery hold nothing: lost,
   the message is sent again (a duplicate QoS 1 allows). */
SCENARIO(qos1_sending_and_acknowledgement_hold_nothing)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, true);
    assert_true(raw_connect(&p, 0, "s1", true, 300, 0) > 0);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 01"), 9);
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    EXPECT_OUT(&p, 0, CONNACK_OK "90 04 00 01 00 01");
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("t"), BIN("q"), QOS(1), false, NULL, p.now_ms), 1);
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    uint64_t synced = model.last_seq;
    EXPECT_OUT(&p, 0, "32 07 00 01 74 00 01 00 71");
    assert_true(model_log_has(&model, "DELIVERY_SENT s1 d1 p1"));
    assert_int_equal(model.last_seq, synced + 1); /* not durable, not waited for */
    assert_int_equal(raw_hex(&p, 0, "40 02 00 01 c0 00"), 6);
    assert_true(model_log_has(&model, "DELIVERY_DELETE s1 d1"));
    assert_true(model_log_has(&model, "MESSAGE_DELETE m1"));
    EXPECT_OUT(&p, 0, "d0 00");
    pump_free(&p);
}

/* A QoS 2 PUBLISH to a durable session goes out only once its packet
   identifier is stored: after a restart it is sent again with the same
   one, never as a new message. */
SCENARIO(qos2_publish_waits_for_its_identifier)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, true);
    assert_true(raw_connect(&p, 0, "s2", true, 300, 0) > 0);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    EXPECT_OUT(&p, 0, CONNACK_OK "90 04 00 01 00 02");
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("t"), BIN("q"), QOS(2), false, NULL, p.now_ms), 1);
    EXPECT_OUT(&p, 0, "");
    assert_true(model_log_has(&model, "DELIVERY_SENT s2 d1 p1"));
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    EXPECT_OUT(&p, 0, "34 07 00 01 74 00 01 00 71");
    /* PUBREC: the PUBREL waits for the stage to be stored. */
    assert_int_equal(raw_hex(&p, 0, "50 02 00 01"), 4);
    EXPECT_OUT(&p, 0, "");
    assert_int_equal(mqttproto_broker_store_synced(p.broker, model.last_seq), 0);
    EXPECT_OUT(&p, 0, "62 02 00 01");
    pump_free(&p);
}

/* A session becomes durable when its expiry leaves 0 (a takeover asking
   for one): everything it holds is recorded; it stops being durable when
   a connection asks for 0. */
SCENARIO(session_becomes_durable_and_back)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    /* Expiry 0: a subscription, a QoS 1 delivery sent and not
       acknowledged, an inbound QoS 2 identifier; no record. */
    assert_true(raw_connect(&p, 0, "x", false, 0, 0) > 0);
    EXPECT_OUT(&p, 0, CONNACK_OK);
    assert_int_equal(raw_hex(&p, 0, "82 09 00 01 02 0b 09 00 01 74 2d"), 11);
    EXPECT_OUT(&p, 0, "90 04 00 01 00 01");
    assert_int_equal(
        mqttproto_broker_publish(p.broker, STR("t"), BIN("m"), QOS(1), false, NULL, p.now_ms), 1);
    EXPECT_OUT(&p, 0, "32 09 00 01 74 00 01 02 0b 09 6d");
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 75 00 09 00 78"), 9);
    EXPECT_OUT(&p, 0, "50 02 00 09");
    assert_int_equal(model.records, 0);
    /* A takeover asking for an expiry: everything it holds is recorded. */
    assert_true(raw_connect(&p, 1, "x", false, 300, 0) > 0);
    EXPECT_RECORDS("SESSION_PUT x exp=300 at=-\n"
                   "SUBSCRIPTION_PUT x t o=2d sid=9\n"
                   "MESSAGE_PUT m1 q1 r0 exp=-\n"
                   "DELIVERY_PUT x d1 m1 q1 r0 s0 sids=1\n"
                   "DELIVERY_SENT x d1 p1\n"
                   "INBOUND_PUT x p9\n"
                   "WILL_DELETE x\n");
    EXPECT_OUT(&p, 1, CONNACK_OK_SP "3a 09 00 01 74 00 01 02 0b 09 6d");
    pump_drop(&p, 1);
    model_log_clear(&model);
    assert_true(raw_connect(&p, 2, "x", false, 0, 0) > 0);
    EXPECT_RECORDS("SESSION_DELETE x\n");
    assert_int_equal(model_count(model.sessions), 0);
    assert_int_equal(model_count(model.subs), 0);
    pump_free(&p);
}

/* Unsubscribing is recorded; a clean start deletes the stored session. */
SCENARIO(unsubscribe_and_clean_start_recorded)
{
    struct pump p;
    bt_init(&p, NULL, chunk);
    store_init(&p, false);
    bt_client(&p, 0, "u", false, 300);
    bt_sub(&p, 0, "a", 0, false, false, 0, NO_SUBID);
    bt_sub(&p, 0, "b", 1, false, false, 0, NO_SUBID);
    pump_run(&p);
    assert_int_equal(model_count(model.subs), 2);
    assert_true(mqttproto_client_unsubscribe(p.peers[0].client, &(mqttproto_str){"a", 1}, 1, NULL) >
                0);
    pump_run(&p);
    assert_true(model_log_has(&model, "SUBSCRIPTION_DELETE u a"));
    assert_int_equal(model_count(model.subs), 1);
    pump_drop(&p, 0);
    model_log_clear(&model);
    pump_connect_simple(&p, 0, "u", true, 300);
    pump_run(&p);
    EXPECT_RECORDS("SESSION_DELETE u\nSESSION_PUT u exp=300 at=-\nWILL_DELETE u\n");
    assert_int_equal(model_count(model.subs), 0);
    pump_free(&p);
}

/* ---- allocation failures ---- */

struct failing {
    unsigned long attempts, fail_at;
    long live;
};

static void *fa_malloc(size_t size, void *ud)
{
    struct failing *f = ud;
    if (++f->attempts == f->fail_at) {
        return NULL;
    }
    f->live++;
    return malloc(size);
}

static void *fa_realloc(void *ptr, size_t size, void *ud)
{
    struct failing *f = ud;
    if (++f->attempts == f->fail_at) {
        return NULL;
    }
    if (ptr == NULL) {
        f->live++;
    }
    return realloc(ptr, size);
}

static void fa_free(void *ptr, void *ud)
{
    struct failing *f = ud;
    if (ptr != NULL) {
        f->live--;
    }
    free(ptr);
}

/* Retry a call that ran out of memory, as an application would. */
#define RETRY(call)                                                                                \
    do {                                                                                           \
        int rc_;                                                                                   \
        while ((rc_ = (call)) == ERR(NO_MEMORY)) {                                                 \
        }                                                                                          \
        assert_int_equal(rc_, 0);                                                                  \
    } while (0)

static void restore_retrying(const struct store_model *m, mqttproto_broker *b, uint64_t now)
{
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->sessions[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_session(b, STR(r->client), r->expiry, r->at));
        }
        r = &m->subs[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_subscription(b, STR(r->client), STR(r->topic),
                                                        r->options, r->subid));
        }
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->messages[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_message(
                b, r->id, mqttproto_bin_make(r->blob, r->blob_len), r->qos, r->at));
        }
    }
    for (size_t i = 0; i < MODEL_MAX; i++) {
        const struct model_row *r = &m->deliveries[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_delivery(
                b, STR(r->client), r->id, r->msg, r->qos, r->retain, r->shared, r->subids,
                r->nsubids, r->packet_id, (mqttproto_store_delivery_stage)r->stage));
        }
        r = &m->retained[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_retained(b, STR(r->topic), r->msg));
        }
        r = &m->wills[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_will(b, STR(r->client), r->msg, r->delay, r->at));
        }
        r = &m->inbound[i];
        if (r->used) {
            RETRY(mqttproto_broker_restore_inbound(b, STR(r->client), (uint16_t)r->id));
        }
    }
    RETRY(mqttproto_broker_restore_finish(b, now));
}

/* Every allocation of a restore failing in turn: each call reports it,
   the retried restore is whole, nothing leaks. A client made before the
   store holds output gets its hold block when it first needs one; when
   that fails every client waits for the next sync instead. */
static void test_restore_and_hold_under_allocation_failures(void **state)
{
    (void)state;
    struct pump p;
    bt_init(&p, NULL, 0);
    store_init(&p, false);
    assert_true(raw_connect(&p, 0, "a", true, 300, 0) > 0);
    assert_int_equal(raw_hex(&p, 0, "82 07 00 01 00 00 01 74 02"), 9);
    assert_int_equal(raw_hex(&p, 0, "34 07 00 01 75 00 09 00 78"), 9);
    mqttproto_will w;
    pump_add_client(&p, 1, NULL);
    mqttproto_connect_options o = will_opts("b", 300, 50, &w);
    pump_connect(&p, 1, &o);
    pump_run(&p);
    pump_publish(&p, 1, "t", "r", QOS(1), true);
    pump_publish(&p, 1, "t", "s", QOS(2), false);
    pump_run(&p);
    pump_take_out_hex(&p, 0, (char[512]){0}, 512);
    pump_free(&p);
    assert_true(model_count(model.deliveries) == 2 && model_count(model.inbound) == 1 &&
                model_count(model.wills) == 1 && model_count(model.retained) == 1);

    for (unsigned long n = 1;; n++) {
        struct failing f = {0, n, 0};
        mqttproto_mem mem = {fa_malloc, fa_realloc, fa_free, &f};
        mqttproto_broker_settings set;
        mqttproto_broker_settings_default(&set);
        set.mem = &mem;
        mqttproto_broker *b = NULL;
        if (mqttproto_broker_create(&set, &b) == ERR(NO_MEMORY)) {
            assert_int_equal(mqttproto_broker_create(&set, &b), 0);
        }
        restore_retrying(&model, b, 5000);
        mqttproto_broker_stats st = mqttproto_broker_get_stats(b);
        assert_int_equal(st.sessions, 2);
        assert_int_equal(st.retained_messages, 1);
        /* A client made before the store: its first hold allocates. */
        mqttproto_broker_client *c = NULL;
        RETRY(mqttproto_broker_client_create(b, 5000, &c));
        struct store_model *m2 = malloc(sizeof *m2);
        assert_non_null(m2);
        model_init(m2);
        assert_int_equal(mqttproto_broker_set_store(b, model_record, m2, true), 0);
        mqttproto_packet cp = bt_connect_pkt("a", false, 300, 0);
        uint8_t buf[64];
        ptrdiff_t len = mqttproto_encode(&cp, NULL, buf, sizeof buf);
        assert_true(len > 0);
        size_t off = 0;
        while (off < (size_t)len) {
            ptrdiff_t r = mqttproto_broker_client_feed_bytes(c, buf + off, (size_t)len - off, 5000);
            if (r == ERR(NO_MEMORY)) {
                continue;
            }
            assert_true(r >= 0);
            off += (size_t)r;
        }
        mqttproto_broker_event ev;
        while (mqttproto_broker_client_next_event(c, &ev) == 1) {
            RETRY(mqttproto_broker_client_acknowledge_connect(c, 0, STR(""), NULL, 5000));
        }
        const uint8_t *data;
        assert_int_equal(mqttproto_broker_client_get_outbound_data(c, &data), 0);
        assert_int_equal(mqttproto_broker_store_synced(b, m2->last_seq), 0);
        /* CONNACK with Session Present, the QoS 2 PUBLISH again with DUP. */
        size_t got = mqttproto_broker_client_get_outbound_data(c, &data);
        char hex[256], want[256];
        for (size_t i = 0; i < got && 2 * i + 2 < sizeof hex; i++) {
            snprintf(hex + 2 * i, 3, "%02x", data[i]);
        }
        hex[got < 127 ? 2 * got : 254] = '\0';
        bt_squeeze(CONNACK_OK_SP "3a 07 00 01 74 00 01 00 72 3c 07 00 01 74 00 02 00 73", want,
                   sizeof want);
        assert_string_equal(hex, want);
        mqttproto_broker_client_destroy(c, 5000);
        mqttproto_broker_destroy(b);
        free(m2);
        assert_int_equal(f.live, 0);
        if (f.attempts < n) {
            break; /* a run that met no failure: every point was covered */
        }
    }
}

/* Restore calls check what they are given. */
static void test_restore_errors(void **state)
{
    (void)state;
    mqttproto_broker *b;
    assert_int_equal(mqttproto_broker_create(NULL, &b), 0);
    mqttproto_str id = STR("c");
    uint8_t pub[] = {0x30, 0x04, 0x00, 0x01, 't', 0x00};
    uint8_t pub_q1[] = {0x32, 0x06, 0x00, 0x01, 't', 0x00, 0x01, 0x00};
    uint8_t junk[] = {0x30, 0x09, 0x00};
    mqttproto_bin msg = {pub, sizeof pub};
    uint32_t sid = 3;

    assert_int_equal(mqttproto_broker_restore_session(NULL, id, 1, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_session(b, STR(""), 1, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_session(b, id, 0, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_session(b, STR("\xc0\xaf"), 5, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_session(b, id, 5, UINT64_MAX), 0);
    assert_int_equal(mqttproto_broker_restore_session(b, id, 5, UINT64_MAX), ERR(INVALID_ARGUMENT));

    assert_int_equal(mqttproto_broker_restore_subscription(b, STR("none"), STR("t"), 1, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("a/#/b"), 1, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("t"), 3, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("t"), 0x30, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("t"), 0x40, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("t"), 1, 268435456u),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("t"), 1, 0), 0);

    assert_int_equal(mqttproto_broker_restore_message(b, 0, msg, 1, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_message(b, 1, msg, 3, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(
        mqttproto_broker_restore_message(b, 1, mqttproto_bin_make(junk, sizeof junk), 1, 0),
        ERR(INVALID_ARGUMENT));
    assert_int_equal(
        mqttproto_broker_restore_message(b, 1, mqttproto_bin_make(pub_q1, sizeof pub_q1), 1, 0),
        ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_message(b, 1, mqttproto_bin_make(pub, 4), 1, 0),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_message(b, 1, msg, 1, 0), 0);
    assert_int_equal(mqttproto_broker_restore_message(b, 1, msg, 1, 0), ERR(INVALID_ARGUMENT));

    assert_int_equal(mqttproto_broker_restore_delivery(b, STR("none"), 1, 1, 1, false, false, NULL,
                                                       0, 0, MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 9, 1, false, false, NULL, 0, 0,
                                                       MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 0, false, false, NULL, 0, 0,
                                                       MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 1, false, false, NULL, 0, 5,
                                                       MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 1, false, false, NULL, 0, 0,
                                                       MQTTPROTO_STORE_STAGE_SENT),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 1, false, false, NULL, 0, 5,
                                                       MQTTPROTO_STORE_STAGE_RELEASED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 1, false, false, NULL, 1, 0,
                                                       MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 1, false, false, &sid, 256, 0,
                                                       MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 2, false, false, NULL, 0, 5,
                                                       (mqttproto_store_delivery_stage)3),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 1, 1, 2, false, false, &sid, 1, 5,
                                                       MQTTPROTO_STORE_STAGE_SENT),
                     0);
    /* The packet identifier is in use in the session. */
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 2, 1, 2, false, false, NULL, 0, 5,
                                                       MQTTPROTO_STORE_STAGE_RELEASED),
                     ERR(INVALID_ARGUMENT));

    assert_int_equal(mqttproto_broker_restore_retained(b, STR("t"), 9), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_retained(b, STR("t/+"), 1), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_retained(b, STR("t"), 1), 0);

    assert_int_equal(mqttproto_broker_restore_will(b, STR("none"), 1, 0, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_will(b, id, 9, 0, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_will(b, id, 1, 0, UINT64_MAX), 0);
    assert_int_equal(mqttproto_broker_restore_will(b, id, 1, 0, UINT64_MAX), ERR(INVALID_ARGUMENT));

    assert_int_equal(mqttproto_broker_restore_inbound(b, STR("none"), 1), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_inbound(b, id, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_inbound(b, id, 4), 0);

    /* A client existing closes the restore. */
    mqttproto_broker_client *c;
    assert_int_equal(mqttproto_broker_client_create(b, 1000, &c), 0);
    assert_int_equal(mqttproto_broker_restore_session(b, STR("d"), 5, 0), ERR(BAD_STATE));
    mqttproto_broker_client_destroy(c, 1000);

    assert_int_equal(mqttproto_broker_restore_finish(NULL, 0), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_restore_finish(b, 1000), 0);
    assert_int_equal(mqttproto_broker_restore_finish(b, 1000), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_session(b, STR("d"), 5, 0), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_subscription(b, id, STR("t"), 1, 0), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_message(b, 2, msg, 1, 0), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_delivery(b, id, 3, 1, 1, false, false, NULL, 0, 0,
                                                       MQTTPROTO_STORE_STAGE_QUEUED),
                     ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_retained(b, STR("t"), 1), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_will(b, id, 1, 0, 0), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_restore_inbound(b, id, 5), ERR(BAD_STATE));
    assert_int_equal(mqttproto_broker_get_stats(b).sessions, 1);
    mqttproto_broker_destroy(b);
}

static void test_store_api_errors(void **state)
{
    (void)state;
    /* A store set after a durable session exists would never hear of it. */
    struct pump p;
    bt_init(&p, NULL, 0);
    bt_client(&p, 0, "early", false, 300);
    assert_int_equal(mqttproto_broker_set_store(p.broker, model_record, &model, true),
                     ERR(BAD_STATE));
    pump_free(&p);
    bt_init(&p, NULL, 0);
    bt_client(&p, 0, "clean", true, 0); /* nothing durable: allowed */
    assert_int_equal(mqttproto_broker_set_store(p.broker, model_record, &model, true), 0);
    assert_int_equal(mqttproto_broker_set_store(p.broker, NULL, NULL, true), 0);
    pump_free(&p);
    assert_int_equal(mqttproto_broker_set_store(NULL, model_record, NULL, true),
                     ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_store_synced(NULL, 1), ERR(INVALID_ARGUMENT));
    assert_int_equal(mqttproto_broker_store_last_seq(NULL), 0);
    assert_string_equal(mqttproto_store_record_type_name(MQTTPROTO_STORE_INBOUND_DELETE),
                        "INBOUND_DELETE");
    assert_string_equal(mqttproto_store_record_type_name(0), "UNKNOWN");
    assert_string_equal(mqttproto_store_record_type_name(17), "UNKNOWN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        RUN(records_and_restore_queued),
        RUN(inflight_resent_with_dup_after_restart),
        RUN(inbound_qos2_identifier_survives),
        RUN(retained_messages_survive),
        RUN(session_expiry_continues_across_restart),
        RUN(wills_survive_restart),
        RUN(message_expiry_continues_across_restart),
        RUN(acknowledgements_wait_for_the_store),
        RUN(held_output_released_in_order),
        RUN(qos1_sending_and_acknowledgement_hold_nothing),
        RUN(qos2_publish_waits_for_its_identifier),
        RUN(session_becomes_durable_and_back),
        RUN(unsubscribe_and_clean_start_recorded),
        cmocka_unit_test(test_restore_and_hold_under_allocation_failures),
        cmocka_unit_test(test_restore_errors),
        cmocka_unit_test(test_store_api_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
