/*
 * Routing cost per PUBLISH through the subscription trie as the number of
 * subscriptions grows (1k to 1M), against a linear scan with
 * mqttproto_topic_matches() over the same filters, and heap bytes per
 * subscription from a counting allocator.
 *
 * All but 10 filters never match the published topics, but most share
 * their first levels with them and many start with or contain wildcards,
 * so routing has to look into the crowded nodes ("fleet", "+", "fleet/+",
 * "+/+") and miss there. Every PUBLISH matches exactly 10 filters.
 *
 * Usage: bench_trie [max_subscriptions]   (default 1000000)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mqttproto/topic.h"
#include "counting_alloc.h"
#include "subtrie.h"

/* ---- workload ------------------------------------------------------------ */

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

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

/* Filter i of n: the 10 matching ones first, then families of misses. */
static int filter_text(char *out, size_t cap, size_t i)
{
    if (i < 10) {
        return snprintf(out, cap, "%s", matching[i]);
    }
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

#define NTOPICS 4096

static char topics[NTOPICS][48];
static mqttproto_str topic_views[NTOPICS];

struct tally {
    uint64_t visits;
    uint64_t ids;
};

static void on_sub(void *ctx, const struct subtrie_sub *sub)
{
    struct tally *t = ctx;
    t->visits++;
    t->ids += sub->subscription_identifier;
}

static void run(size_t n, char *sessions, char (*filters)[48])
{
    struct counting cnt;
    mqttproto_mem mem = counting_mem(&cnt);
    struct subtrie t;
    subtrie_init(&t, &mem);

    size_t filter_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        filter_bytes += (size_t)filter_text(filters[i], sizeof filters[i], i);
    }
    double t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        struct subtrie_sub sub = {&sessions[i], (uint32_t)i + 1, 1, false, false, 0};
        if (subtrie_add(&t, mqttproto_str_from_cstr(filters[i]), &sub, NULL) != 0) {
            fprintf(stderr, "add \"%s\" failed\n", filters[i]);
            exit(1);
        }
    }
    double add_ns = (now_ns() - t0) / (double)n;

    /* About a quarter of a second of matching at every size. */
    struct tally tl = {0, 0};
    size_t iters = 1000;
    double match_ns;
    for (;;) {
        tl.visits = 0;
        t0 = now_ns();
        for (size_t k = 0; k < iters; k++) {
            subtrie_match(&t, topic_views[k % NTOPICS], on_sub, NULL, &tl);
        }
        double spent = now_ns() - t0;
        if (spent > 2.5e8 || iters >= 64000000) {
            match_ns = spent / (double)iters;
            break;
        }
        iters *= 4;
    }
    if (tl.visits != 10 * iters) {
        fprintf(stderr, "expected 10 matches per publish, got %.2f\n",
                (double)tl.visits / (double)iters);
        exit(1);
    }

    /* The baseline: every filter tested against the topic. */
    size_t scans = n >= 1000000 ? 10 : n >= 100000 ? 50 : 1000;
    uint64_t hits = 0;
    t0 = now_ns();
    for (size_t k = 0; k < scans; k++) {
        mqttproto_str topic = topic_views[k % NTOPICS];
        for (size_t i = 0; i < n; i++) {
            hits += mqttproto_topic_matches(mqttproto_str_from_cstr(filters[i]), topic);
        }
    }
    double scan_ns = (now_ns() - t0) / (double)scans;
    if (hits != 10 * scans) {
        fprintf(stderr, "linear scan disagrees: %" PRIu64 " hits\n", hits);
        exit(1);
    }

    size_t bytes = cnt.bytes;
    size_t chunks = cnt.chunks;
    size_t blocks = cnt.blocks;
    t0 = now_ns();
    for (size_t i = 0; i < n; i++) {
        if (!subtrie_remove(&t, mqttproto_str_from_cstr(filters[i]), &sessions[i])) {
            fprintf(stderr, "remove \"%s\" failed\n", filters[i]);
            exit(1);
        }
    }
    double remove_ns = (now_ns() - t0) / (double)n;
    if (cnt.blocks != 0 || subtrie_count(&t) != 0) {
        fprintf(stderr, "%zu blocks left after removing everything\n", cnt.blocks);
        exit(1);
    }
    subtrie_free(&t);

    printf("%9zu %12.0f %14.0f %17.0f %10.1f %10.1f %8.2f %9.1f %10.0f %10.0f\n", n, match_ns,
           scan_ns, scan_ns / match_ns, (double)bytes / (double)n, (double)chunks / (double)n,
           (double)blocks / (double)n, (double)filter_bytes / (double)n, add_ns, remove_ns);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    size_t max = argc > 1 ? (size_t)strtoull(argv[1], NULL, 10) : 1000000;
    for (size_t k = 0; k < NTOPICS; k++) {
        int len = snprintf(topics[k], sizeof topics[k], "fleet/m%zu/engine/telemetry", k);
        topic_views[k].data = topics[k];
        topic_views[k].len = (size_t)len;
    }
    char *sessions = malloc(max > 0 ? max : 1);
    char(*filters)[48] = malloc((max > 0 ? max : 1) * sizeof *filters);
    if (sessions == NULL || filters == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    printf("routing one PUBLISH that matches 10 of N subscriptions (ns per publish)\n");
    printf("bytes/sub: heap per subscription, as requested and in glibc malloc chunks\n\n");
    printf("%9s %12s %14s %17s %10s %10s %8s %9s %10s %10s\n", "subs", "trie ns", "linear ns",
           "linear/trie", "bytes/sub", "chunk/sub", "blk/sub", "filter B", "add ns", "remove ns");
    for (size_t n = 1000; n <= max; n *= 10) {
        run(n, sessions, filters);
    }
    free(sessions);
    free(filters);
    return 0;
}
