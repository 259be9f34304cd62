/*
 * Client benchmark: messages per second through the client state machine in
 * memory, each set against the codec-only cost of the same packets timed in
 * the same repetition.
 *
 * Usage: bench_client [repetitions [ms_per_sample]]
 *
 * Two flows, both with PUBLISH QoS 1, topic sensors/room1/temperature, a
 * 64-byte payload, no properties (96 bytes on the wire):
 *
 *   outbound  client: publish() BATCH messages, get_outbound_data() and
 *             consume_outbound() of their bytes, feed_bytes() of a PUBACK
 *             for each, next_event() of each PUBLISH_COMPLETED.
 *             codec:  mqttproto_encode() of each PUBLISH into one buffer,
 *             mqttproto_decode() of each PUBACK.
 *   inbound   client: feed_bytes() of BATCH PUBLISH packets, next_event()
 *             of each MESSAGE (topic and payload read), get_outbound_data()
 *             and consume_outbound() of the PUBACKs.
 *             codec:  mqttproto_decode() of each PUBLISH (topic and payload
 *             read), mqttproto_encode() of its PUBACK.
 *
 * BATCH is the server's Receive Maximum, so the in-flight window is filled
 * and emptied once per batch. Each repetition times the four loops one after
 * the other, so they see the same machine load; the figures printed are
 * medians over the repetitions, and each ratio is the median of the
 * per-repetition ratios. The last line is meant for scripts.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <mqttproto/mqttproto.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DEFAULT_REPETITIONS 11
#define DEFAULT_SAMPLE_MS   20
#define MAX_REPETITIONS     1001
/* Messages per batch; also the Receive Maximum the simulated server sends. */
#define BATCH 64
/* 1 + 1 (remaining length 94) + 2 + 25 topic + 2 packet id + 1 empty
   property block + 64 payload */
#define PUBLISH_LEN 96
/* 40 02 hi lo: reason code Success and no properties, so both omitted */
#define PUBACK_LEN 4
/* Any fixed time: no timer must fire during the benchmark. */
#define BENCH_NOW_MS 1000

/* Keeps the compiler from moving loads and stores across it. */
#define BARRIER() __asm__ __volatile__("" ::: "memory")

enum op { OP_OUT_CLIENT, OP_OUT_CODEC, OP_IN_CLIENT, OP_IN_CODEC, OP_COUNT };

static const char *const op_names[OP_COUNT] = {"outbound client", "outbound codec",
                                               "inbound client", "inbound codec"};

/* Results flow here so no computation is dead. */
static volatile uint64_t sink;

static const mqttproto_codec_options *bench_opts;
static const char topic_name[] = "sensors/room1/temperature";
static uint8_t publish_payload[64];

static mqttproto_client *out_client; /* outbound flow */
static mqttproto_client *in_client;  /* inbound flow */

/* PUBACKs the simulated server returns for one outbound batch. */
static _Alignas(64) uint8_t ack_stream[BATCH * PUBACK_LEN];
/* BATCH encoded PUBLISH, packet ids 1..BATCH: the inbound stream. */
static _Alignas(64) uint8_t publish_stream[BATCH * PUBLISH_LEN];
/* Where the codec loops write. */
static _Alignas(64) uint8_t encode_buf[BATCH * PUBLISH_LEN];

/* The outbound PUBLISH the codec loop encodes; its packet id moves like
   the client's. */
static mqttproto_packet codec_publish;
static uint16_t codec_next_pid = 1;
static mqttproto_packet codec_puback;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *what, ptrdiff_t r)
{
    fprintf(stderr, "bench_client: %s failed: %s (%s)\n", what, mqttproto_strerror((int)r),
            mqttproto_err_name((int)r));
    exit(1);
}

static _Noreturn void fail(const char *what)
{
    fprintf(stderr, "bench_client: check failed: %s\n", what);
    exit(1);
}

static bool str_eq(mqttproto_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}

/* What an application reads of a message: both ends of topic and payload. */
static uint64_t touch_str(mqttproto_str s)
{
    return s.len == 0
               ? 0
               : (uint64_t)s.len + (unsigned char)s.data[0] + (unsigned char)s.data[s.len - 1];
}

static uint64_t touch_bin(mqttproto_bin b)
{
    return b.len == 0 ? 0 : (uint64_t)b.len + b.data[0] + b.data[b.len - 1];
}

static void put_puback(uint8_t *p, uint16_t pid)
{
    p[0] = 0x40;
    p[1] = 0x02;
    p[2] = (uint8_t)(pid >> 8);
    p[3] = (uint8_t)pid;
}

static void prepare_publish(mqttproto_packet *pkt, uint16_t pid)
{
    memset(pkt, 0, sizeof *pkt);
    pkt->type = MQTTPROTO_PACKET_PUBLISH;
    pkt->publish.topic = mqttproto_str_from_cstr(topic_name);
    pkt->publish.payload = mqttproto_bin_make(publish_payload, sizeof publish_payload);
    pkt->publish.qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    pkt->publish.packet_id = pid;
    mqttproto_properties_init(&pkt->publish.properties);
}

static uint16_t next_pid(uint16_t pid)
{
    return pid == 65535 ? 1 : (uint16_t)(pid + 1);
}

/* ---- setup: two connected clients ---- */

static void expect_event(mqttproto_client *c, mqttproto_client_event_type type, const char *what)
{
    mqttproto_client_event ev;
    int r = mqttproto_client_next_event(c, &ev);
    if (r < 0) {
        die("mqttproto_client_next_event", r);
    }
    if (r != 1 || ev.type != type) {
        fail(what);
    }
}

/* A client past CONNACK: the server's Receive Maximum is BATCH, no Topic
   Alias Maximum, so every outbound PUBLISH carries its topic in full and
   has the codec's bytes. */
static mqttproto_client *connected_client(void)
{
    mqttproto_client *c;
    int r = mqttproto_client_create(NULL, &c);
    if (r != 0) {
        die("mqttproto_client_create", r);
    }
    mqttproto_connect_options o;
    mqttproto_connect_options_default(&o);
    o.client_id = mqttproto_str_from_cstr("bench-client");
    r = mqttproto_client_connect(c, &o, BENCH_NOW_MS);
    if (r != 0) {
        die("mqttproto_client_connect", r);
    }
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(c, &data);
    if (n == 0 || data[0] != 0x10) {
        fail("CONNECT in the outbound data");
    }
    mqttproto_client_consume_outbound(c, n);

    mqttproto_packet ack;
    memset(&ack, 0, sizeof ack);
    ack.type = MQTTPROTO_PACKET_CONNACK;
    mqttproto_properties_init(&ack.connack.properties);
    r = mqttproto_properties_set_int(&ack.connack.properties, MQTTPROTO_PACKET_CONNACK,
                                     MQTTPROTO_PROP_RECEIVE_MAXIMUM, BATCH);
    if (r != 0) {
        die("mqttproto_properties_set_int", r);
    }
    uint8_t buf[32];
    ptrdiff_t len = mqttproto_encode(&ack, bench_opts, buf, sizeof buf);
    if (len < 0) {
        die("mqttproto_encode of the CONNACK", len);
    }
    ptrdiff_t taken = mqttproto_client_feed_bytes(c, buf, (size_t)len, BENCH_NOW_MS);
    if (taken != len) {
        die("mqttproto_client_feed_bytes of the CONNACK", taken < 0 ? taken : 0);
    }
    expect_event(c, MQTTPROTO_CLIENT_EVENT_CONNECTED, "CONNECTED event");
    if (mqttproto_client_get_state(c) != MQTTPROTO_CLIENT_CONNECTED ||
        mqttproto_client_server(c).receive_maximum != BATCH) {
        fail("state CONNECTED with the server's Receive Maximum");
    }
    return c;
}

/* ---- timed loops; each returns its time in ns for `batches` batches ---- */

static uint64_t run_out_client(uint64_t batches)
{
    mqttproto_str topic = mqttproto_str_from_cstr(topic_name);
    mqttproto_bin payload = mqttproto_bin_make(publish_payload, sizeof publish_payload);
    uint64_t bad = 0;
    uint64_t acc = 0;
    mqttproto_client_event ev;
    uint64_t t0 = now_ns();
    for (uint64_t b = 0; b < batches; b++) {
        for (size_t i = 0; i < BATCH; i++) {
            int32_t pid = mqttproto_client_publish(out_client, topic, payload,
                                                   MQTTPROTO_QOS_AT_LEAST_ONCE, false, NULL);
            bad |= (uint64_t)(pid <= 0);
            put_puback(&ack_stream[i * PUBACK_LEN], (uint16_t)pid);
        }
        const uint8_t *data;
        size_t n = mqttproto_client_get_outbound_data(out_client, &data);
        bad |= (uint64_t)(n != BATCH * PUBLISH_LEN);
        acc += data != NULL ? data[n - 1] : 0;
        mqttproto_client_consume_outbound(out_client, n);
        ptrdiff_t taken =
            mqttproto_client_feed_bytes(out_client, ack_stream, sizeof ack_stream, BENCH_NOW_MS);
        bad |= (uint64_t)(taken != (ptrdiff_t)sizeof ack_stream);
        size_t events = 0;
        while (mqttproto_client_next_event(out_client, &ev) == 1) {
            bad |= (uint64_t)(ev.type != MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED);
            acc += ev.packet_id + ev.reason_code;
            events++;
        }
        bad |= (uint64_t)(events != BATCH);
        BARRIER();
    }
    uint64_t t1 = now_ns();
    if (bad != 0) {
        fail("outbound client flow in the timed loop");
    }
    sink = sink + acc;
    return t1 - t0;
}

static uint64_t run_out_codec(uint64_t batches)
{
    uint64_t bad = 0;
    uint64_t acc = 0;
    mqttproto_packet d;
    uint64_t t0 = now_ns();
    for (uint64_t b = 0; b < batches; b++) {
        size_t off = 0;
        for (size_t i = 0; i < BATCH; i++) {
            uint16_t pid = codec_next_pid;
            codec_next_pid = next_pid(pid);
            codec_publish.publish.packet_id = pid;
            ptrdiff_t n = mqttproto_encode(&codec_publish, bench_opts, encode_buf + off,
                                           sizeof encode_buf - off);
            bad |= (uint64_t)(n != PUBLISH_LEN);
            off += PUBLISH_LEN;
            put_puback(&ack_stream[i * PUBACK_LEN], pid);
        }
        acc += encode_buf[off - 1];
        for (size_t i = 0; i < BATCH; i++) {
            ptrdiff_t n = mqttproto_decode(&ack_stream[i * PUBACK_LEN], PUBACK_LEN, bench_opts, &d);
            bad |= (uint64_t)(n != PUBACK_LEN);
            acc += d.puback.packet_id + d.puback.reason_code;
        }
        BARRIER();
    }
    uint64_t t1 = now_ns();
    if (bad != 0) {
        fail("outbound codec flow in the timed loop");
    }
    sink = sink + acc;
    return t1 - t0;
}

static uint64_t run_in_client(uint64_t batches)
{
    uint64_t bad = 0;
    uint64_t acc = 0;
    mqttproto_client_event ev;
    uint64_t t0 = now_ns();
    for (uint64_t b = 0; b < batches; b++) {
        size_t off = 0;
        size_t events = 0;
        while (off < sizeof publish_stream) {
            ptrdiff_t taken = mqttproto_client_feed_bytes(
                in_client, publish_stream + off, sizeof publish_stream - off, BENCH_NOW_MS);
            if (taken < 0) {
                die("mqttproto_client_feed_bytes in the timed loop", taken);
            }
            off += (size_t)taken;
            size_t before = events;
            while (mqttproto_client_next_event(in_client, &ev) == 1) {
                bad |= (uint64_t)(ev.type != MQTTPROTO_CLIENT_EVENT_MESSAGE);
                acc +=
                    touch_str(ev.topic) + touch_bin(ev.payload) + (uint64_t)ev.qos + ev.packet_id;
                events++;
            }
            if (taken == 0 && events == before) {
                fail("inbound client flow: no input taken and no event");
            }
        }
        bad |= (uint64_t)(events != BATCH);
        const uint8_t *data;
        size_t n = mqttproto_client_get_outbound_data(in_client, &data);
        bad |= (uint64_t)(n != BATCH * PUBACK_LEN);
        acc += data != NULL ? data[n - 1] : 0;
        mqttproto_client_consume_outbound(in_client, n);
        BARRIER();
    }
    uint64_t t1 = now_ns();
    if (bad != 0) {
        fail("inbound client flow in the timed loop");
    }
    sink = sink + acc;
    return t1 - t0;
}

static uint64_t run_in_codec(uint64_t batches)
{
    uint64_t bad = 0;
    uint64_t acc = 0;
    mqttproto_packet d;
    uint64_t t0 = now_ns();
    for (uint64_t b = 0; b < batches; b++) {
        size_t off = 0;
        for (size_t i = 0; i < BATCH; i++) {
            ptrdiff_t n =
                mqttproto_decode(publish_stream + off, sizeof publish_stream - off, bench_opts, &d);
            bad |= (uint64_t)(n != PUBLISH_LEN);
            off += PUBLISH_LEN;
            acc += touch_str(d.publish.topic) + touch_bin(d.publish.payload) +
                   (uint64_t)d.publish.qos + d.publish.packet_id;
            codec_puback.puback.packet_id = d.publish.packet_id;
            ptrdiff_t m = mqttproto_encode(&codec_puback, bench_opts, encode_buf + i * PUBACK_LEN,
                                           sizeof encode_buf - i * PUBACK_LEN);
            bad |= (uint64_t)(m != PUBACK_LEN);
        }
        acc += encode_buf[BATCH * PUBACK_LEN - 1];
        BARRIER();
    }
    uint64_t t1 = now_ns();
    if (bad != 0) {
        fail("inbound codec flow in the timed loop");
    }
    sink = sink + acc;
    return t1 - t0;
}

static uint64_t run_op(enum op op, uint64_t batches)
{
    switch (op) {
    case OP_OUT_CLIENT:
        return run_out_client(batches);
    case OP_OUT_CODEC:
        return run_out_codec(batches);
    case OP_IN_CLIENT:
        return run_in_client(batches);
    default:
        return run_in_codec(batches);
    }
}

/* ---- checks before timing: the client produces and accepts the bytes the
   codec does ---- */

static void verify_outbound(void)
{
    mqttproto_str topic = mqttproto_str_from_cstr(topic_name);
    mqttproto_bin payload = mqttproto_bin_make(publish_payload, sizeof publish_payload);
    uint8_t want[PUBLISH_LEN];
    mqttproto_packet pkt;
    for (size_t i = 0; i < BATCH; i++) {
        int32_t pid = mqttproto_client_publish(out_client, topic, payload,
                                               MQTTPROTO_QOS_AT_LEAST_ONCE, false, NULL);
        if (pid < 0) {
            die("mqttproto_client_publish", pid);
        }
        /* A fresh client numbers its packets from 1. */
        if (pid != (int32_t)(i + 1)) {
            fail("packet identifiers 1, 2, ... from a fresh client");
        }
        put_puback(&ack_stream[i * PUBACK_LEN], (uint16_t)pid);
    }
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(out_client, &data);
    if (n != BATCH * PUBLISH_LEN) {
        fail("outbound data of one batch");
    }
    for (size_t i = 0; i < BATCH; i++) {
        prepare_publish(&pkt, (uint16_t)(i + 1));
        ptrdiff_t len = mqttproto_encode(&pkt, bench_opts, want, sizeof want);
        if (len != PUBLISH_LEN) {
            die("mqttproto_encode of the expected PUBLISH", len < 0 ? len : 0);
        }
        if (memcmp(data + i * PUBLISH_LEN, want, PUBLISH_LEN) != 0) {
            fail("client PUBLISH bytes differ from the codec's");
        }
    }
    mqttproto_client_consume_outbound(out_client, n);
    ptrdiff_t taken =
        mqttproto_client_feed_bytes(out_client, ack_stream, sizeof ack_stream, BENCH_NOW_MS);
    if (taken != (ptrdiff_t)sizeof ack_stream) {
        die("mqttproto_client_feed_bytes of the PUBACKs", taken < 0 ? taken : 0);
    }
    mqttproto_client_event ev;
    for (size_t i = 0; i < BATCH; i++) {
        if (mqttproto_client_next_event(out_client, &ev) != 1 ||
            ev.type != MQTTPROTO_CLIENT_EVENT_PUBLISH_COMPLETED || ev.packet_id != i + 1 ||
            ev.reason_code != 0 || ev.error != 0) {
            fail("PUBLISH_COMPLETED for each PUBACK, in order");
        }
    }
    if (mqttproto_client_next_event(out_client, &ev) != 0 ||
        mqttproto_client_get_outbound_data(out_client, &data) != 0) {
        fail("nothing left after a batch");
    }
    codec_next_pid = BATCH + 1;
}

static void verify_inbound(void)
{
    ptrdiff_t taken =
        mqttproto_client_feed_bytes(in_client, publish_stream, sizeof publish_stream, BENCH_NOW_MS);
    if (taken != (ptrdiff_t)sizeof publish_stream) {
        die("mqttproto_client_feed_bytes of the PUBLISH stream", taken < 0 ? taken : 0);
    }
    mqttproto_client_event ev;
    for (size_t i = 0; i < BATCH; i++) {
        if (mqttproto_client_next_event(in_client, &ev) != 1 ||
            ev.type != MQTTPROTO_CLIENT_EVENT_MESSAGE || ev.packet_id != i + 1 ||
            ev.qos != MQTTPROTO_QOS_AT_LEAST_ONCE || ev.retain || ev.dup ||
            !str_eq(ev.topic, topic_name) || ev.payload.len != sizeof publish_payload ||
            memcmp(ev.payload.data, publish_payload, sizeof publish_payload) != 0) {
            fail("MESSAGE for each PUBLISH, in order, with its topic and payload");
        }
    }
    if (mqttproto_client_next_event(in_client, &ev) != 0) {
        fail("no event beyond the batch");
    }
    const uint8_t *data;
    size_t n = mqttproto_client_get_outbound_data(in_client, &data);
    if (n != BATCH * PUBACK_LEN) {
        fail("one PUBACK per inbound PUBLISH");
    }
    for (size_t i = 0; i < BATCH; i++) {
        uint8_t want[PUBACK_LEN];
        put_puback(want, (uint16_t)(i + 1));
        if (memcmp(data + i * PUBACK_LEN, want, PUBACK_LEN) != 0) {
            fail("PUBACK bytes 40 02 hi lo");
        }
    }
    mqttproto_client_consume_outbound(in_client, n);
}

static void prepare_streams(void)
{
    mqttproto_packet pkt;
    for (size_t i = 0; i < BATCH; i++) {
        prepare_publish(&pkt, (uint16_t)(i + 1));
        ptrdiff_t n =
            mqttproto_encode(&pkt, bench_opts, publish_stream + i * PUBLISH_LEN, PUBLISH_LEN);
        if (n != PUBLISH_LEN) {
            die("mqttproto_encode of the inbound PUBLISH", n < 0 ? n : 0);
        }
        if (publish_stream[i * PUBLISH_LEN] != 0x32) {
            fail("first byte of a PUBLISH QoS 1");
        }
    }
    prepare_publish(&codec_publish, 1);
    memset(&codec_puback, 0, sizeof codec_puback);
    codec_puback.type = MQTTPROTO_PACKET_PUBACK;
    codec_puback.puback.packet_id = 1;
    mqttproto_properties_init(&codec_puback.puback.properties);
    uint8_t buf[8];
    ptrdiff_t n = mqttproto_encode(&codec_puback, bench_opts, buf, sizeof buf);
    if (n != PUBACK_LEN || buf[0] != 0x40 || buf[1] != 0x02 || buf[2] != 0 || buf[3] != 1) {
        fail("codec PUBACK is 40 02 00 01");
    }
}

/* Doubles the batch count until one sample lasts about sample_ns. */
static uint64_t calibrate(enum op op, uint64_t sample_ns)
{
    uint64_t batches = 1;
    for (;;) {
        uint64_t t = run_op(op, batches);
        if (t >= sample_ns / 4 || batches >= (UINT64_C(1) << 34)) {
            double scale = (double)sample_ns / (double)(t == 0 ? 1 : t);
            double n = (double)batches * scale;
            return n < 1.0 ? 1 : (uint64_t)n;
        }
        batches *= 2;
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, size_t n)
{
    double *tmp = malloc(n * sizeof *tmp);
    if (tmp == NULL) {
        fprintf(stderr, "bench_client: out of memory\n");
        exit(1);
    }
    memcpy(tmp, v, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    double m = n % 2 == 1 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
    free(tmp);
    return m;
}

static void spread(const double *v, size_t n, double *lo, double *hi)
{
    *lo = *hi = v[0];
    for (size_t i = 1; i < n; i++) {
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

static unsigned long parse_arg(const char *arg, const char *what, unsigned long lo,
                               unsigned long hi)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_client: %s must be an integer from %lu to %lu\n", what, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc > 3) {
        fprintf(stderr, "usage: bench_client [repetitions [ms_per_sample]]\n");
        return 2;
    }
    size_t reps =
        argc > 1 ? parse_arg(argv[1], "repetitions", 1, MAX_REPETITIONS) : DEFAULT_REPETITIONS;
    unsigned long sample_ms =
        argc > 2 ? parse_arg(argv[2], "ms_per_sample", 1, 10000) : DEFAULT_SAMPLE_MS;
    uint64_t sample_ns = (uint64_t)sample_ms * 1000000u;

    static mqttproto_codec_options opts;
    mqttproto_codec_options_default(&opts);
    bench_opts = &opts;
    for (size_t i = 0; i < sizeof publish_payload; i++) {
        publish_payload[i] = (uint8_t)i;
    }
    prepare_streams();
    out_client = connected_client();
    in_client = connected_client();
    verify_outbound();
    verify_inbound();

    double *ns[OP_COUNT];
    double *ratio[2]; /* outbound, inbound: client ns / codec ns per repetition */
    uint64_t batches[OP_COUNT];
    for (int op = 0; op < OP_COUNT; op++) {
        ns[op] = calloc(reps, sizeof(double));
        if (ns[op] == NULL) {
            fprintf(stderr, "bench_client: out of memory\n");
            return 1;
        }
    }
    for (int k = 0; k < 2; k++) {
        ratio[k] = calloc(reps, sizeof(double));
        if (ratio[k] == NULL) {
            fprintf(stderr, "bench_client: out of memory\n");
            return 1;
        }
    }
    for (int op = 0; op < OP_COUNT; op++) {
        run_op((enum op)op, 16); /* warm caches and branch predictors */
        batches[op] = calibrate((enum op)op, sample_ns);
    }

    for (size_t r = 0; r < reps; r++) {
        for (int op = 0; op < OP_COUNT; op++) {
            uint64_t t = run_op((enum op)op, batches[op]);
            ns[op][r] = (double)t / (double)(batches[op] * BATCH);
        }
        ratio[0][r] = ns[OP_OUT_CLIENT][r] / ns[OP_OUT_CODEC][r];
        ratio[1][r] = ns[OP_IN_CLIENT][r] / ns[OP_IN_CODEC][r];
    }

    /* The timed loops must have left both clients connected and idle. */
    for (int k = 0; k < 2; k++) {
        mqttproto_client *c = k == 0 ? out_client : in_client;
        const uint8_t *data;
        mqttproto_client_event ev;
        if (mqttproto_client_get_state(c) != MQTTPROTO_CLIENT_CONNECTED ||
            mqttproto_client_error(c) != 0 || mqttproto_client_next_event(c, &ev) != 0 ||
            mqttproto_client_get_outbound_data(c, &data) != 0) {
            fail(k == 0 ? "outbound client idle and connected after the run"
                        : "inbound client idle and connected after the run");
        }
    }

    double med[OP_COUNT];
    for (int op = 0; op < OP_COUNT; op++) {
        med[op] = median(ns[op], reps);
    }
    double out_ratio = median(ratio[0], reps);
    double in_ratio = median(ratio[1], reps);
    double out_rate = 1e9 / med[OP_OUT_CLIENT];
    double in_rate = 1e9 / med[OP_IN_CLIENT];

    printf("libmqttproto %s client benchmark: median of %zu repetitions, ~%lu ms per sample\n",
           mqttproto_version_string(), reps, sample_ms);
    printf("PUBLISH QoS 1, %zu-byte topic, %zu-byte payload (%d bytes), batches of %d "
           "(the server's Receive Maximum)\n",
           strlen(topic_name), sizeof publish_payload, PUBLISH_LEN, BATCH);
    printf("ratio = client ns / codec ns of the same packets, median of per-repetition ratios\n\n");
    printf("%-9s %14s %13s %14s %14s %13s\n", "flow", "client ns/msg", "codec ns/msg",
           "client msgs/s", "codec msgs/s", "client/codec");
    printf("%-9s %14.1f %13.1f %14.0f %14.0f %13.2f\n", "outbound", med[OP_OUT_CLIENT],
           med[OP_OUT_CODEC], out_rate, 1e9 / med[OP_OUT_CODEC], out_ratio);
    printf("%-9s %14.1f %13.1f %14.0f %14.0f %13.2f\n", "inbound", med[OP_IN_CLIENT],
           med[OP_IN_CODEC], in_rate, 1e9 / med[OP_IN_CODEC], in_ratio);
    printf("\nspread over the repetitions (min - max):\n");
    for (int op = 0; op < OP_COUNT; op++) {
        double lo, hi;
        spread(ns[op], reps, &lo, &hi);
        printf("%-16s %8.1f - %8.1f ns/msg\n", op_names[op], lo, hi);
    }
    for (int k = 0; k < 2; k++) {
        double lo, hi;
        spread(ratio[k], reps, &lo, &hi);
        printf("%-16s %8.2f - %8.2f\n", k == 0 ? "outbound ratio" : "inbound ratio", lo, hi);
    }
    printf("\n");
    printf("client: outbound_msgs_per_s=%.0f outbound_ratio=%.2f inbound_msgs_per_s=%.0f "
           "inbound_ratio=%.2f\n",
           out_rate, out_ratio, in_rate, in_ratio);

    for (int op = 0; op < OP_COUNT; op++) {
        free(ns[op]);
    }
    free(ratio[0]);
    free(ratio[1]);
    mqttproto_client_destroy(out_client);
    mqttproto_client_destroy(in_client);
    return 0;
}
