/*
 * Codec benchmark: ns per mqttproto_encode() and per mqttproto_decode() (with
 * extraction of every property) for three packet shapes, each set against a
 * memcpy of the same encoded bytes timed in the same repetition.
 *
 * Usage: bench_codec [repetitions [ms_per_sample]]
 *
 * Each repetition times encode, decode and memcpy of every shape one after
 * the other, so all three see the same machine load; the figures printed are
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
#define BUF_SIZE            512

/*
 * Keeps the compiler from moving loads and stores across it or caching
 * memory in registers, so every iteration does all of its work.
 */
#define BARRIER() __asm__ __volatile__("" ::: "memory")

enum op { OP_ENCODE, OP_DECODE, OP_MEMCPY, OP_COUNT };

struct shape {
    const char *name;  /* in error messages; also the key prefix of the last line */
    const char *label; /* row label of the table */
    size_t expect_len; /* worked out by hand from MQTT 5.0 chapter 3 */
    uint8_t expect_first_byte;
    mqttproto_packet pkt; /* prepared once; encode reads it every iteration */
    _Alignas(64) uint8_t wire[BUF_SIZE];
    size_t wire_len;
    uint64_t iters[OP_COUNT]; /* calibrated per operation */
    double *ns[OP_COUNT];     /* one value per repetition */
    double *ratio[2];         /* encode and decode over memcpy, per repetition */
};

/* Results flow here so no computation is dead. */
static volatile uint64_t sink;
/* The copy length comes from memory the compiler knows nothing about. */
static volatile size_t copy_len;

/* Cache-line aligned so that the floor does not depend on where the linker
   puts them (misaligned buffers make the copy up to about 10% slower). */
static _Alignas(64) uint8_t copy_src[BUF_SIZE];
static _Alignas(64) uint8_t copy_dst[BUF_SIZE];
static _Alignas(64) uint8_t encode_buf[BUF_SIZE];

static const mqttproto_codec_options *bench_opts;

static uint8_t publish_payload[64];

static mqttproto_user_property user_props[2];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static _Noreturn void die(const char *shape, const char *what, ptrdiff_t r)
{
    fprintf(stderr, "bench_codec: %s: %s failed: %s (%s)\n", shape, what,
            mqttproto_strerror((int)r), mqttproto_err_name((int)r));
    exit(1);
}

static _Noreturn void fail(const char *shape, const char *what)
{
    fprintf(stderr, "bench_codec: %s: check failed: %s\n", shape, what);
    exit(1);
}

static bool str_eq(mqttproto_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.data, c, n) == 0);
}

/* ---- extraction: what an application reads after decoding ---- */

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

#define HAS(p, id) (((p)->present & MQTTPROTO_PROP_BIT(MQTTPROTO_PROP_##id)) != 0)

/*
 * Reads every property the decoder reported present, and every User
 * Property. Walks the set bits of present rather than testing all 27, so the
 * cost that remains is the library's, as in an application that reads what
 * it finds.
 */
static uint64_t extract_properties(const mqttproto_properties *p)
{
    uint64_t acc = p->present;
    for (uint64_t m = p->present; m != 0; m &= m - 1) {
        switch (__builtin_ctzll(m)) {
        case MQTTPROTO_PROP_PAYLOAD_FORMAT_INDICATOR:
            acc += p->payload_format_indicator;
            break;
        case MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL:
            acc += p->message_expiry_interval;
            break;
        case MQTTPROTO_PROP_CONTENT_TYPE:
            acc += touch_str(p->content_type);
            break;
        case MQTTPROTO_PROP_RESPONSE_TOPIC:
            acc += touch_str(p->response_topic);
            break;
        case MQTTPROTO_PROP_CORRELATION_DATA:
            acc += touch_bin(p->correlation_data);
            break;
        case MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER: {
            size_t cursor = 0;
            uint32_t id;
            while (mqttproto_subscription_identifiers_next(p, &cursor, &id)) {
                acc += id;
            }
            break;
        }
        case MQTTPROTO_PROP_SESSION_EXPIRY_INTERVAL:
            acc += p->session_expiry_interval;
            break;
        case MQTTPROTO_PROP_ASSIGNED_CLIENT_IDENTIFIER:
            acc += touch_str(p->assigned_client_identifier);
            break;
        case MQTTPROTO_PROP_SERVER_KEEP_ALIVE:
            acc += p->server_keep_alive;
            break;
        case MQTTPROTO_PROP_AUTHENTICATION_METHOD:
            acc += touch_str(p->authentication_method);
            break;
        case MQTTPROTO_PROP_AUTHENTICATION_DATA:
            acc += touch_bin(p->authentication_data);
            break;
        case MQTTPROTO_PROP_REQUEST_PROBLEM_INFORMATION:
            acc += p->request_problem_information;
            break;
        case MQTTPROTO_PROP_WILL_DELAY_INTERVAL:
            acc += p->will_delay_interval;
            break;
        case MQTTPROTO_PROP_REQUEST_RESPONSE_INFORMATION:
            acc += p->request_response_information;
            break;
        case MQTTPROTO_PROP_RESPONSE_INFORMATION:
            acc += touch_str(p->response_information);
            break;
        case MQTTPROTO_PROP_SERVER_REFERENCE:
            acc += touch_str(p->server_reference);
            break;
        case MQTTPROTO_PROP_REASON_STRING:
            acc += touch_str(p->reason_string);
            break;
        case MQTTPROTO_PROP_RECEIVE_MAXIMUM:
            acc += p->receive_maximum;
            break;
        case MQTTPROTO_PROP_TOPIC_ALIAS_MAXIMUM:
            acc += p->topic_alias_maximum;
            break;
        case MQTTPROTO_PROP_TOPIC_ALIAS:
            acc += p->topic_alias;
            break;
        case MQTTPROTO_PROP_MAXIMUM_QOS:
            acc += p->maximum_qos;
            break;
        case MQTTPROTO_PROP_RETAIN_AVAILABLE:
            acc += p->retain_available;
            break;
        case MQTTPROTO_PROP_USER_PROPERTY: {
            size_t cursor = 0;
            mqttproto_user_property up;
            while (mqttproto_user_properties_next(p, &cursor, &up)) {
                acc += touch_str(up.name) + touch_str(up.value);
            }
            break;
        }
        case MQTTPROTO_PROP_MAXIMUM_PACKET_SIZE:
            acc += p->maximum_packet_size;
            break;
        case MQTTPROTO_PROP_WILDCARD_SUBSCRIPTION_AVAILABLE:
            acc += p->wildcard_subscription_available;
            break;
        case MQTTPROTO_PROP_SUBSCRIPTION_IDENTIFIER_AVAILABLE:
            acc += p->subscription_identifier_available;
            break;
        case MQTTPROTO_PROP_SHARED_SUBSCRIPTION_AVAILABLE:
            acc += p->shared_subscription_available;
            break;
        default:
            break;
        }
    }
    return acc;
}

/* Reads every field of a decoded packet of the shapes measured here. */
static uint64_t extract_packet(const mqttproto_packet *pkt)
{
    uint64_t acc = (uint64_t)pkt->type;
    if (pkt->type == MQTTPROTO_PACKET_PUBLISH) {
        const mqttproto_publish *p = &pkt->publish;
        acc += touch_str(p->topic) + touch_bin(p->payload) + (uint64_t)p->qos + p->packet_id +
               (p->retain ? 1u : 0u) + (p->dup ? 2u : 0u);
        if (p->properties.present != 0) {
            acc += extract_properties(&p->properties);
        }
    } else if (pkt->type == MQTTPROTO_PACKET_CONNECT) {
        const mqttproto_connect *c = &pkt->connect;
        acc += c->protocol_version + (c->clean_start ? 1u : 0u) + c->keep_alive +
               touch_str(c->client_id);
        if (c->properties.present != 0) {
            acc += extract_properties(&c->properties);
        }
        if (c->has_will) {
            acc += touch_str(c->will.topic) + touch_bin(c->will.payload) + (uint64_t)c->will.qos +
                   (c->will.retain ? 1u : 0u);
            if (c->will.properties.present != 0) {
                acc += extract_properties(&c->will.properties);
            }
        }
        if (c->has_username) {
            acc += touch_str(c->username);
        }
        if (c->has_password) {
            acc += touch_bin(c->password);
        }
    }
    return acc;
}

/* ---- the three shapes ---- */

static void prepare_publish(struct shape *s, bool with_props)
{
    memset(&s->pkt, 0, sizeof s->pkt);
    s->pkt.type = MQTTPROTO_PACKET_PUBLISH;
    mqttproto_publish *p = &s->pkt.publish;
    p->topic = mqttproto_str_from_cstr("sensors/room1/temperature");
    p->payload = mqttproto_bin_make(publish_payload, sizeof publish_payload);
    p->qos = MQTTPROTO_QOS_AT_LEAST_ONCE;
    p->packet_id = 0x1234;
    mqttproto_properties_init(&p->properties);
    if (!with_props) {
        return;
    }
    int r = mqttproto_properties_set_int(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                         MQTTPROTO_PROP_MESSAGE_EXPIRY_INTERVAL, 3600);
    if (r != 0) {
        die(s->name, "mqttproto_properties_set_int", r);
    }
    user_props[0].name = mqttproto_str_from_cstr("unit");
    user_props[0].value = mqttproto_str_from_cstr("celsius");
    user_props[1].name = mqttproto_str_from_cstr("source");
    user_props[1].value = mqttproto_str_from_cstr("probe-7");
    r = mqttproto_properties_set_user_properties(&p->properties, MQTTPROTO_PACKET_PUBLISH,
                                                 user_props, 2);
    if (r != 0) {
        die(s->name, "mqttproto_properties_set_user_properties", r);
    }
}

static void prepare_connect(struct shape *s)
{
    memset(&s->pkt, 0, sizeof s->pkt);
    s->pkt.type = MQTTPROTO_PACKET_CONNECT;
    mqttproto_connect *c = &s->pkt.connect;
    c->protocol_version = MQTTPROTO_PROTOCOL_V5;
    c->clean_start = true;
    c->keep_alive = 60;
    c->client_id = mqttproto_str_from_cstr("sensor-node-000123");
    mqttproto_properties_init(&c->properties);
    mqttproto_properties_init(&c->will.properties);
}

/* Encodes the shape once and checks that the bytes decode to the same packet. */
static void verify(struct shape *s)
{
    ptrdiff_t size = mqttproto_encoded_size(&s->pkt, bench_opts);
    if (size < 0) {
        die(s->name, "mqttproto_encoded_size", size);
    }
    ptrdiff_t n = mqttproto_encode(&s->pkt, bench_opts, s->wire, sizeof s->wire);
    if (n < 0) {
        die(s->name, "mqttproto_encode", n);
    }
    if (n != size) {
        fail(s->name, "encoded size differs from mqttproto_encoded_size()");
    }
    s->wire_len = (size_t)n;
    if (s->wire_len != s->expect_len || s->wire[0] != s->expect_first_byte) {
        fail(s->name, "encoded size or first byte differs from the expected one");
    }

    mqttproto_packet d;
    ptrdiff_t used = mqttproto_decode(s->wire, s->wire_len, bench_opts, &d);
    if (used < 0) {
        die(s->name, "mqttproto_decode", used);
    }
    if ((size_t)used != s->wire_len) {
        fail(s->name, "decoder did not consume the whole packet");
    }
    if (d.type != s->pkt.type) {
        fail(s->name, "packet type");
    }
    const mqttproto_properties *props;
    const mqttproto_properties *want;
    if (d.type == MQTTPROTO_PACKET_PUBLISH) {
        const mqttproto_publish *p = &d.publish;
        if (!str_eq(p->topic, "sensors/room1/temperature")) {
            fail(s->name, "topic");
        }
        if (p->payload.len != sizeof publish_payload ||
            memcmp(p->payload.data, publish_payload, sizeof publish_payload) != 0) {
            fail(s->name, "payload");
        }
        if (p->qos != MQTTPROTO_QOS_AT_LEAST_ONCE || p->packet_id != 0x1234 || p->retain ||
            p->dup) {
            fail(s->name, "qos, packet id or flags");
        }
        props = &p->properties;
        want = &s->pkt.publish.properties;
    } else {
        const mqttproto_connect *c = &d.connect;
        if (c->protocol_version != MQTTPROTO_PROTOCOL_V5 || !c->clean_start ||
            c->keep_alive != 60 || c->has_will || c->has_username || c->has_password) {
            fail(s->name, "version, flags or keep alive");
        }
        if (!str_eq(c->client_id, "sensor-node-000123")) {
            fail(s->name, "client id");
        }
        props = &c->properties;
        want = &s->pkt.connect.properties;
    }
    if (props->present != want->present) {
        fail(s->name, "set of properties");
    }
    if (HAS(want, MESSAGE_EXPIRY_INTERVAL) && props->message_expiry_interval != 3600) {
        fail(s->name, "message expiry interval");
    }
    if (props->user_property_count != want->user_property_count) {
        fail(s->name, "number of user properties");
    }
    size_t cursor = 0;
    size_t i = 0;
    mqttproto_user_property up;
    while (mqttproto_user_properties_next(props, &cursor, &up)) {
        if (i >= want->user_property_count ||
            !str_eq(up.name, want->user_properties[i].name.data) ||
            !str_eq(up.value, want->user_properties[i].value.data)) {
            fail(s->name, "user property");
        }
        i++;
    }
    if (i != want->user_property_count) {
        fail(s->name, "user properties iterated");
    }
    /* Bytes the encoder wrote must match a re-encoding of what was decoded. */
    uint8_t again[BUF_SIZE];
    ptrdiff_t n2 = mqttproto_encode(&d, bench_opts, again, sizeof again);
    if (n2 < 0) {
        die(s->name, "mqttproto_encode of the decoded packet", n2);
    }
    if ((size_t)n2 != s->wire_len || memcmp(again, s->wire, s->wire_len) != 0) {
        fail(s->name, "re-encoding the decoded packet gives other bytes");
    }
}

/* ---- timed loops ---- */

static uint64_t run_encode(const struct shape *s, uint64_t iters)
{
    ptrdiff_t expect = (ptrdiff_t)s->wire_len;
    uint64_t bad = 0;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        ptrdiff_t n = mqttproto_encode(&s->pkt, bench_opts, encode_buf, sizeof encode_buf);
        bad |= (uint64_t)(n != expect);
        BARRIER();
    }
    uint64_t t1 = now_ns();
    if (bad != 0) {
        die(s->name, "mqttproto_encode in the timed loop",
            mqttproto_encode(&s->pkt, bench_opts, encode_buf, sizeof encode_buf));
    }
    sink = sink + encode_buf[s->wire_len - 1];
    return t1 - t0;
}

static uint64_t run_decode(const struct shape *s, uint64_t iters)
{
    ptrdiff_t expect = (ptrdiff_t)s->wire_len;
    uint64_t bad = 0;
    uint64_t acc = 0;
    mqttproto_packet d;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        ptrdiff_t n = mqttproto_decode(s->wire, s->wire_len, bench_opts, &d);
        bad |= (uint64_t)(n != expect);
        acc += extract_packet(&d);
        BARRIER();
    }
    uint64_t t1 = now_ns();
    if (bad != 0) {
        die(s->name, "mqttproto_decode in the timed loop",
            mqttproto_decode(s->wire, s->wire_len, bench_opts, &d));
    }
    sink = sink + acc;
    return t1 - t0;
}

static uint64_t run_memcpy(const struct shape *s, uint64_t iters)
{
    /* The source holds the shape's encoded bytes; the length is only known
       at run time, so the copy is the library call a real copy would be. */
    memcpy(copy_src, s->wire, s->wire_len);
    copy_len = s->wire_len;
    size_t len = copy_len;
    uint64_t t0 = now_ns();
    for (uint64_t i = 0; i < iters; i++) {
        memcpy(copy_dst, copy_src, len);
        /* The barrier may read copy_dst, so every copy must be done. Reading
           a byte back inside the loop would instead time a store-forwarding
           stall that depends on the length (about 3 ns at some sizes). */
        BARRIER();
    }
    uint64_t t1 = now_ns();
    sink = sink + copy_dst[len - 1];
    return t1 - t0;
}

static uint64_t run_op(const struct shape *s, enum op op, uint64_t iters)
{
    switch (op) {
    case OP_ENCODE:
        return run_encode(s, iters);
    case OP_DECODE:
        return run_decode(s, iters);
    default:
        return run_memcpy(s, iters);
    }
}

/* Doubles the iteration count until one sample lasts about sample_ns. */
static uint64_t calibrate(const struct shape *s, enum op op, uint64_t sample_ns)
{
    uint64_t iters = 64;
    for (;;) {
        uint64_t t = run_op(s, op, iters);
        if (t >= sample_ns / 4 || iters >= (UINT64_C(1) << 40)) {
            double scale = (double)sample_ns / (double)(t == 0 ? 1 : t);
            double n = (double)iters * scale;
            return n < 64.0 ? 64 : (uint64_t)n;
        }
        iters *= 2;
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
        fprintf(stderr, "bench_codec: out of memory\n");
        exit(1);
    }
    memcpy(tmp, v, n * sizeof *tmp);
    qsort(tmp, n, sizeof *tmp, cmp_double);
    double m = n % 2 == 1 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2.0;
    free(tmp);
    return m;
}

static unsigned long parse_arg(const char *arg, const char *what, unsigned long lo,
                               unsigned long hi)
{
    char *end;
    unsigned long v = strtoul(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_codec: %s must be an integer from %lu to %lu\n", what, lo, hi);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    if (argc > 3) {
        fprintf(stderr, "usage: bench_codec [repetitions [ms_per_sample]]\n");
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

    static struct shape shapes[3];
    shapes[0].name = "publish";
    shapes[0].label = "PUBLISH QoS 1";
    /* 1 + 1 (remaining length 94) + 2 + 25 topic + 2 packet id + 1 empty
       property block + 64 payload */
    shapes[0].expect_len = 96;
    shapes[0].expect_first_byte = 0x32;
    shapes[1].name = "props";
    shapes[1].label = "PUBLISH QoS 1 + props";
    /* as above plus 39 property bytes (5 expiry, 16 unit=celsius, 18
       source=probe-7): remaining length 133 takes two bytes */
    shapes[1].expect_len = 136;
    shapes[1].expect_first_byte = 0x32;
    shapes[2].name = "connect";
    shapes[2].label = "CONNECT";
    /* 1 + 1 + 10 variable header + 1 empty property block + 2 + 18 client id */
    shapes[2].expect_len = 33;
    shapes[2].expect_first_byte = 0x10;
    prepare_publish(&shapes[0], false);
    prepare_publish(&shapes[1], true);
    prepare_connect(&shapes[2]);

    for (size_t i = 0; i < 3; i++) {
        struct shape *s = &shapes[i];
        verify(s);
        for (int op = 0; op < OP_COUNT; op++) {
            s->ns[op] = calloc(reps, sizeof(double));
            if (s->ns[op] == NULL) {
                fprintf(stderr, "bench_codec: out of memory\n");
                return 1;
            }
        }
        for (int k = 0; k < 2; k++) {
            s->ratio[k] = calloc(reps, sizeof(double));
            if (s->ratio[k] == NULL) {
                fprintf(stderr, "bench_codec: out of memory\n");
                return 1;
            }
        }
        for (int op = 0; op < OP_COUNT; op++) {
            run_op(s, (enum op)op, 1000); /* warm caches and branch predictors */
            s->iters[op] = calibrate(s, (enum op)op, sample_ns);
        }
    }

    for (size_t r = 0; r < reps; r++) {
        for (size_t i = 0; i < 3; i++) {
            struct shape *s = &shapes[i];
            for (int op = 0; op < OP_COUNT; op++) {
                uint64_t t = run_op(s, (enum op)op, s->iters[op]);
                s->ns[op][r] = (double)t / (double)s->iters[op];
            }
            s->ratio[0][r] = s->ns[OP_ENCODE][r] / s->ns[OP_MEMCPY][r];
            s->ratio[1][r] = s->ns[OP_DECODE][r] / s->ns[OP_MEMCPY][r];
        }
    }

    printf("libmqttproto %s codec benchmark: median of %zu repetitions, ~%lu ms per sample\n",
           mqttproto_version_string(), reps, sample_ms);
    printf("ratio = codec ns / memcpy ns of the same bytes, median of per-repetition ratios\n\n");
    printf("%-22s %6s %10s %10s %10s %9s %9s\n", "shape", "bytes", "encode ns", "decode ns",
           "memcpy ns", "enc/copy", "dec/copy");
    double enc_ratio[3], dec_ratio[3];
    for (size_t i = 0; i < 3; i++) {
        struct shape *s = &shapes[i];
        enc_ratio[i] = median(s->ratio[0], reps);
        dec_ratio[i] = median(s->ratio[1], reps);
        printf("%-22s %6zu %10.1f %10.1f %10.2f %9.2f %9.2f\n", s->label, s->wire_len,
               median(s->ns[OP_ENCODE], reps), median(s->ns[OP_DECODE], reps),
               median(s->ns[OP_MEMCPY], reps), enc_ratio[i], dec_ratio[i]);
    }
    printf("\nspread of the ratios over the repetitions (min - max):\n");
    for (size_t i = 0; i < 3; i++) {
        struct shape *s = &shapes[i];
        double lo[2], hi[2];
        for (int k = 0; k < 2; k++) {
            lo[k] = hi[k] = s->ratio[k][0];
            for (size_t r = 1; r < reps; r++) {
                lo[k] = s->ratio[k][r] < lo[k] ? s->ratio[k][r] : lo[k];
                hi[k] = s->ratio[k][r] > hi[k] ? s->ratio[k][r] : hi[k];
            }
        }
        printf("%-22s encode %.2f - %.2f, decode %.2f - %.2f\n", s->label, lo[0], hi[0], lo[1],
               hi[1]);
    }
    printf("\n");
    printf("codec: publish_encode_ratio=%.2f publish_decode_ratio=%.2f "
           "props_encode_ratio=%.2f props_decode_ratio=%.2f "
           "connect_encode_ratio=%.2f connect_decode_ratio=%.2f\n",
           enc_ratio[0], dec_ratio[0], enc_ratio[1], dec_ratio[1], enc_ratio[2], dec_ratio[2]);

    for (size_t i = 0; i < 3; i++) {
        for (int op = 0; op < OP_COUNT; op++) {
            free(shapes[i].ns[op]);
        }
        free(shapes[i].ratio[0]);
        free(shapes[i].ratio[1]);
    }
    return 0;
}
