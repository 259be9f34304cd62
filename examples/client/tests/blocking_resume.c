/*
 * Session resumption through the blocking API: connects with a Session
 * Expiry Interval and reconnect on, subscribes at QoS 1, says "ready", and
 * waits for a message. interop_clients.sh cuts the connection (a proxy sits
 * between this client and the broker) and publishes while this client is
 * away: the client must reconnect by itself with Clean Start 0, find its
 * session present, and receive the message the broker queued for it. Then it publishes at QoS 1 and
 * 2 over the new connection and disconnects.
 *
 * Usage: blocking_resume HOST PORT CLIENT_ID PREFIX
 */
#include "mqttproto_blocking.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(mqttproto_blocking *c, const char *what, int r)
{
    fprintf(stderr, "blocking_resume: %s: %s (%s)\n", what, mqttproto_blocking_errmsg(c),
            mqttproto_blocking_err_name(r));
    mqttproto_blocking_destroy(c);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: blocking_resume HOST PORT CLIENT_ID PREFIX\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    mqttproto_blocking_options o;
    mqttproto_blocking_options_default(&o);
    o.host = argv[1];
    o.port = (uint16_t)atoi(argv[2]);
    o.connect.client_id = mqttproto_str_from_cstr(argv[3]);
    o.connect.session_expiry_interval = 300;
    o.connect.keep_alive = 5;
    o.reconnect = true;
    o.reconnect_attempts = 40;
    o.reconnect_delay_ms = 100;
    o.connect_timeout_ms = 2000;

    mqttproto_blocking *c = NULL;
    int r = mqttproto_blocking_create(&o, &c);
    if (r < 0) {
        fprintf(stderr, "blocking_resume: create: %s\n", mqttproto_blocking_err_name(r));
        return 1;
    }
    if ((r = mqttproto_blocking_connect(c)) < 0) {
        return fail(c, "connect", r);
    }
    printf("connected session_present=%d\n", mqttproto_blocking_session_present(c) ? 1 : 0);

    char filter[256];
    snprintf(filter, sizeof filter, "%s/#", argv[4]);
    mqttproto_subscription sub;
    memset(&sub, 0, sizeof sub);
    sub.topic_filter = mqttproto_str_from_cstr(filter);
    sub.max_qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    uint8_t granted = 0xff;
    if ((r = mqttproto_blocking_subscribe(c, &sub, 1, NULL, &granted)) < 0) {
        return fail(c, "subscribe", r);
    }
    printf("subscribed granted=%u\n", granted);
    printf("ready\n");

    mqttproto_blocking_message *m = NULL;
    r = mqttproto_blocking_receive(c, &m, 30000);
    if (r < 0) {
        return fail(c, "receive", r);
    }
    if (r == 0) {
        fprintf(stderr, "blocking_resume: no message within 30 s\n");
        mqttproto_blocking_destroy(c);
        return 1;
    }
    printf("received topic=%s qos=%d payload=%.*s\n", m->topic, (int)m->qos, (int)m->payload_len,
           (const char *)m->payload);
    mqttproto_blocking_message_free(m);
    printf("reconnects=%u session_present=%d\n", mqttproto_blocking_reconnects(c),
           mqttproto_blocking_session_present(c) ? 1 : 0);

    char topic[256];
    snprintf(topic, sizeof topic, "%s/after", argv[4]);
    for (int q = 1; q <= 2; q++) {
        if ((r = mqttproto_blocking_publish(c, topic, "ok", 2, (mqttproto_qos)q, false, NULL)) <
            0) {
            return fail(c, "publish", r);
        }
        printf("published qos=%d\n", q);
    }
    if ((r = mqttproto_blocking_disconnect(c, 0, NULL)) < 0) {
        return fail(c, "disconnect", r);
    }
    printf("disconnected\n");
    mqttproto_blocking_destroy(c);
    return 0;
}
