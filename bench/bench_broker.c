/*
 * The broker state machines in memory, through the public API only:
 *
 * - routing cost per PUBLISH as subscriptions grow (1k to 1M filters, most
 *   with wildcards and never matching, 10 matching ones held by 10
 *   connected subscribers whose deliveries are encoded and drained);
 * - fan-out of one PUBLISH to 1,000 subscribers: deliveries per second and
 *   heap bytes allocated per delivery;
 * - heap bytes per idle connection (CONNECT answered, CONNACK written) and
 *   per subscription, from a counting allocator.
 *
 * Usage: bench_broker [max_subscriptions]   (default 1000000)
 * The last line reads "broker: route_ns_1k=... route_ns_max=... flatness=...
 * fanout_deliveries_per_s=... fanout_bytes_per_delivery=...
 * bytes_per_idle_connection=... bytes_per_subscription=...".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mqttproto/mqttproto.h>

#include "counting_alloc.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "bench_broker: %s: %s\n", what, mqttproto_strerror(err));
    exit(1);
}

/* ---- packets ---- */

static size_t encode(const mqttproto_packet *pkt, uint8_t *buf, size_t cap)
{
    ptrdiff_t n = mqttproto_encode(pkt, NULL, buf, cap);
    if (n <= 0) {
        die("encode", (int)n);
    }
    return (size_t)n;
}

static size_t connect_packet(uint8_t *buf, size_t cap, const char *id, uint32_t expiry)
{
    mqttproto_packet pkt;
    memset(&pkt, 0, sizeof pkt);
    pkt.type = MQTTPROTO_PACKET_CONNECT;
    pkt.connect.protocol_version = 5;
    pkt.connect.clean_start = true;
    pkt.connect.keep_alive = 60;
    pkt.connect.client_id = mqttproto_str_from_cstr(id);
    mqttproto_properties_init(&pkt.connect.properties);
    if (expiry != 0) {
        (void)mqttproto_properties_set_int(&pkt.connect.properties, MQTTPROTO_PACKET_CONNECT,
                                           MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL, expiry);
    }
    return encode(&pkt, buf, cap);
}

/* ---- one connection driven by hand ---- */

struct conn {
    mqttproto_broker_client *bc;
    uint16_t next_id;
};

static void drain_events(struct conn *c)
{
    mqttproto_broker_event ev;
    while (mqttproto_broker_client_next_event(c->bc, &ev) == 1) {
        if (ev.type == MQTTPROTO_BROKER_EVENT_CONNECT) {
            int e = mqttproto_broker_client_acknowledge_connect(
                c->bc, 0, mqttproto_str_from_cstr(""), NULL, 0);
            if (e != 0) {
                die("acknowledge_connect", e);
            }
        } else if (ev.type == MQTTPROTO_BROKER_EVENT_SUBSCRIBE) {
            static uint8_t codes[1024];
            size_t n = ev.subscriptions->count;
            memset(codes, 0, n);
            int e = mqttproto_broker_client_acknowledge_subscribe(c->bc, ev.packet_id, codes, n);
            if (e != 0) {
                die("acknowledge_subscribe", e);
            }
        }
    }
}

static size_t drain_output(struct conn *c)
{
    const uint8_t *data;
    size_t n = mqttproto_broker_client_get_outbound_data(c->bc, &data);
    mqttproto_broker_client_consume_outbound(c->bc, n);
    return n;
}

static void feed(struct conn *c, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ptrdiff_t n = mqttproto_broker_client_feed_bytes(c->bc, data, len, 0);
        if (n < 0) {
            die("feed_bytes", (int)n);
        }
        drain_events(c);
        data += n;
        len -= (size_t)n;
    }
}

static void open_conn(mqttproto_broker *b, struct conn *c, const char *id)
{
    uint8_t buf[128];
    int e = mqttproto_broker_client_create(b, 0, &c->bc);
    if (e != 0) {
        die("broker_client_create", e);
    }
    c->next_id = 1;
    feed(c, buf, connect_packet(buf, sizeof buf, id, 0));
    drain_output(c);
}

/* Subscribe @p c to @p n filters made by @p make, up to 500 per SUBSCRIBE. */
static void subscribe_many(struct conn *c, size_t first, size_t n,
                           int (*make)(char *out, size_t cap, size_t i))
{
    static char text[500][64];
    static mqttproto_subscription subs[500];
    static uint8_t buf[500 * 70 + 64];
    for (size_t done = 0; done < n;) {
        size_t k = n - done < 500 ? n - done : 500;
        for (size_t j = 0; j < k; j++) {
            int len = make(text[j], sizeof text[j], first + done + j);
            memset(&subs[j], 0, sizeof subs[j]);
            subs[j].topic_filter.data = text[j];
            subs[j].topic_filter.len = (size_t)len;
        }
        mqttproto_packet pkt;
        memset(&pkt, 0, sizeof pkt);
        pkt.type = MQTTPROTO_PACKET_SUBSCRIBE;
        pkt.subscribe.packet_id = c->next_id++;
        if (c->next_id == 0) {
            c->next_id = 1;
        }
        mqttproto_properties_init(&pkt.subscribe.properties);
        pkt.subscribe.subscriptions.items = subs;
        pkt.subscribe.subscriptions.count = k;
        feed(c, buf, encode(&pkt, buf, sizeof buf));
        drain_output(c);
        done += k;
    }
}

/* ---- routing as subscriptions grow ---- */

static const char *const matching[10] = {
    "fleet/+/engine/telemetry",
    "fleet/#",
    "#",
    "+/+/engine/telemetry",
    "+/+/+/telemetry",
    "fleet/+/+/+",
    "fleet/+/engine/#",
    "+/#",
    "fleet/+/#",
    "+/+/engine/+",
};

static int miss_filter(char *out, size_t cap, size_t i)
{
    unsigned d = (unsigned)i;
    switch (i % 8) {
    case 0:
        return snprintf(out, cap, "fleet/d%u/+/telemetry", d);
    case 1:
        return snprintf(out, cap, "fleet/d%u/#", d);
    case 2:
        return snprintf(out, cap, "+/d%u/engine/+", d);
    case 3:
        return snprintf(out, cap, "region/r%u/fleet/d%u/+", d % 1000, d);
    case 4:
        return snprintf(out, cap, "fleet/+/d%u/telemetry", d);
    case 5:
        return snprintf(out, cap, "+/+/d%u/#", d);
    case 6:
        return snprintf(out, cap, "fleet/d%u", d);
    default:
        return snprintf(out, cap, "$SYS/broker/d%u/+", d);
    }
}

static size_t matching_index;
static int matching_filter(char *out, size_t cap, size_t i)
{
    (void)i;
    return snprintf(out, cap, "%s", matching[matching_index]);
}

/* Filters held by each bulk subscriber (the broker's per-session limit is
   raised to this). */
#define BULK_PER_SESSION 100000u

static double route_once(size_t nsubs, size_t *deliveries)
{
    mqttproto_broker_settings s;
    mqttproto_broker_settings_default(&s);
    s.max_subscriptions_per_session = BULK_PER_SESSION;
    s.max_sessions = 1000000;
    mqttproto_broker *b;
    int e = mqttproto_broker_create(&s, &b);
    if (e != 0) {
        die("broker_create", e);
    }
    struct conn subs[10];
    char id[32];
    for (size_t i = 0; i < 10; i++) {
        snprintf(id, sizeof id, "match-%zu", i);
        open_conn(b, &subs[i], id);
        matching_index = i;
        subscribe_many(&subs[i], 0, 1, matching_filter);
    }
    size_t nbulk = (nsubs - 10 + BULK_PER_SESSION - 1) / BULK_PER_SESSION;
    struct conn *bulk = calloc(nbulk, sizeof *bulk);
    for (size_t i = 0, left = nsubs - 10; i < nbulk; i++) {
        snprintf(id, sizeof id, "bulk-%zu", i);
        open_conn(b, &bulk[i], id);
        size_t k = left < BULK_PER_SESSION ? left : BULK_PER_SESSION;
        subscribe_many(&bulk[i], i * BULK_PER_SESSION, k, miss_filter);
        left -= k;
    }

    char topic[64];
    const int rounds = 20000;
    size_t delivered = 0;
    mqttproto_bin payload = mqttproto_bin_make("21.5", 4);
    double t0 = now_ns();
    for (int r = 0; r < rounds; r++) {
        int n = snprintf(topic, sizeof topic, "fleet/v%d/engine/telemetry", r & 1023);
        mqttproto_str t = {topic, (size_t)n};
        int got =
            mqttproto_broker_publish(b, t, payload, MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL, 0);
        if (got != 10) {
            fprintf(stderr, "bench_broker: a PUBLISH reached %d sessions, not 10\n", got);
            exit(1);
        }
        mqttproto_broker_client *w;
        while (mqttproto_broker_next_writable(b, &w) == 1) {
            const uint8_t *data;
            size_t len = mqttproto_broker_client_get_outbound_data(w, &data);
            mqttproto_broker_client_consume_outbound(w, len);
            delivered++;
        }
    }
    double ns = (now_ns() - t0) / rounds;
    *deliveries = delivered;
    free(bulk);
    mqttproto_broker_destroy(b);
    return ns;
}

/* ---- fan-out ---- */

static void fanout(double *per_s, double *bytes_per_delivery)
{
    enum { SUBSCRIBERS = 1000, ROUNDS = 200 };
    struct counting cnt;
    mqttproto_mem mem = counting_mem(&cnt);
    mqttproto_broker_settings s;
    mqttproto_broker_settings_default(&s);
    s.mem = &mem;
    mqttproto_broker *b;
    int e = mqttproto_broker_create(&s, &b);
    if (e != 0) {
        die("broker_create", e);
    }
    static struct conn subs[SUBSCRIBERS];
    char id[32];
    for (size_t i = 0; i < SUBSCRIBERS; i++) {
        snprintf(id, sizeof id, "fan-%zu", i);
        open_conn(b, &subs[i], id);
        matching_index = 0;
        subscribe_many(&subs[i], 0, 1, matching_filter);
    }
    uint8_t payload[64];
    memset(payload, 'x', sizeof payload);
    mqttproto_str topic = mqttproto_str_from_cstr("fleet/v1/engine/telemetry");
    /* One warm-up round so that every output buffer has its capacity. */
    size_t delivered = 0, total0 = 0;
    double t0 = 0;
    for (int r = 0; r <= ROUNDS; r++) {
        if (r == 1) {
            total0 = cnt.total;
            delivered = 0;
            t0 = now_ns();
        }
        int got = mqttproto_broker_publish(b, topic, mqttproto_bin_make(payload, sizeof payload),
                                           MQTTPROTO_QOS_AT_MOST_ONCE, false, NULL, 0);
        if (got != SUBSCRIBERS) {
            fprintf(stderr, "bench_broker: fan-out reached %d sessions\n", got);
            exit(1);
        }
        mqttproto_broker_client *w;
        while (mqttproto_broker_next_writable(b, &w) == 1) {
            const uint8_t *data;
            size_t len = mqttproto_broker_client_get_outbound_data(w, &data);
            mqttproto_broker_client_consume_outbound(w, len);
            delivered++;
        }
    }
    double secs = (now_ns() - t0) / 1e9;
    *per_s = (double)delivered / secs;
    *bytes_per_delivery = (double)(cnt.total - total0) / (double)delivered;
    mqttproto_broker_destroy(b);
}

/* ---- heap per idle connection and per subscription ---- */

static int idle_filter(char *out, size_t cap, size_t i)
{
    return snprintf(out, cap, "home/room%zu/sensor/+", i);
}

static void footprint(double *per_conn, double *per_sub)
{
    enum { CONNS = 10000, SUBS_EACH = 10 };
    struct counting cnt;
    mqttproto_mem mem = counting_mem(&cnt);
    mqttproto_broker_settings s;
    mqttproto_broker_settings_default(&s);
    s.mem = &mem;
    mqttproto_broker *b;
    int e = mqttproto_broker_create(&s, &b);
    if (e != 0) {
        die("broker_create", e);
    }
    size_t base = cnt.chunks;
    struct conn *conns = calloc(CONNS, sizeof *conns);
    char id[32];
    for (size_t i = 0; i < CONNS; i++) {
        snprintf(id, sizeof id, "sensor-node-%06zu", i);
        open_conn(b, &conns[i], id);
    }
    size_t after_conns = cnt.chunks;
    for (size_t i = 0; i < CONNS; i++) {
        subscribe_many(&conns[i], i * SUBS_EACH, SUBS_EACH, idle_filter);
    }
    size_t after_subs = cnt.chunks;
    *per_conn = (double)(after_conns - base) / CONNS;
    *per_sub = (double)(after_subs - after_conns) / (CONNS * SUBS_EACH);
    for (size_t i = 0; i < CONNS; i++) {
        mqttproto_broker_client_destroy(conns[i].bc, 0);
    }
    free(conns);
    mqttproto_broker_destroy(b);
    if (cnt.blocks != 0) {
        fprintf(stderr, "bench_broker: %zu blocks leaked\n", cnt.blocks);
        exit(1);
    }
}

int main(int argc, char **argv)
{
    size_t max = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000u;
    if (max < 1000) {
        max = 1000;
    }
    printf("routing: ns per PUBLISH (match, encode and drain 10 deliveries)\n");
    printf("%12s %14s\n", "subscriptions", "ns/publish");
    double first = 0, last = 0;
    for (size_t n = 1000; n <= max; n *= 10) {
        size_t deliveries;
        double ns = route_once(n, &deliveries);
        printf("%12zu %14.0f\n", n, ns);
        if (n == 1000) {
            first = ns;
        }
        last = ns;
    }
    double per_s, bpd;
    fanout(&per_s, &bpd);
    printf("fan-out to 1000 subscribers: %.0f deliveries/s, %.1f heap bytes allocated per "
           "delivery\n",
           per_s, bpd);
    double per_conn, per_sub;
    footprint(&per_conn, &per_sub);
    printf("heap: %.0f bytes per idle connection (session included), %.0f bytes per "
           "subscription (malloc chunks)\n",
           per_conn, per_sub);
    printf("broker: route_ns_1k=%.0f route_ns_max=%.0f flatness=%.2f fanout_deliveries_per_s=%.0f "
           "fanout_bytes_per_delivery=%.1f bytes_per_idle_connection=%.0f "
           "bytes_per_subscription=%.0f\n",
           first, last, last / first, per_s, bpd, per_conn, per_sub);
    return 0;
}
