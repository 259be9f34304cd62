/*
 * Retained message store: set, replace, clear and release; matching by
 * filter (checked against mqttproto_topic_matches() over every stored topic
 * on random data), the '$' rule, deep and wide trees, and allocation failure
 * at every step of a set.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "retained.h"

/* MQTTPROTO_TEST_QUICK set and not "0" (the valgrind test setup sets it):
   the exhaustive loops take a sample; every check stays the same. */
static bool quick_mode(void)
{
    const char *q = getenv("MQTTPROTO_TEST_QUICK");
    return q != NULL && q[0] != '\0' && strcmp(q, "0") != 0;
}

static mqttproto_str S(const char *s)
{
    return mqttproto_str_from_cstr(s);
}

/* ---- counting allocator ------------------------------------------------- */

typedef union block_header {
    max_align_t align;
    size_t size;
} block_header;

struct counting {
    mqttproto_mem mem;
    long live;
    unsigned long attempts;
    unsigned long fail_at; /* 1-based attempt to fail; 0 never */
    bool fail_from;        /* fail every attempt from fail_at on */
    unsigned long failed;
};

static bool ca_should_fail(struct counting *c)
{
    c->attempts++;
    bool fail =
        c->fail_at != 0 && (c->fail_from ? c->attempts >= c->fail_at : c->attempts == c->fail_at);
    c->failed += fail;
    return fail;
}

static void *ca_malloc(size_t size, void *user)
{
    struct counting *c = user;
    if (ca_should_fail(c)) {
        return NULL;
    }
    block_header *b = malloc(sizeof *b + size);
    assert_non_null(b);
    b->size = size;
    c->live++;
    return b + 1;
}

static void *ca_realloc(void *p, size_t size, void *user)
{
    struct counting *c = user;
    if (p == NULL) {
        return ca_malloc(size, user);
    }
    if (ca_should_fail(c)) {
        return NULL;
    }
    block_header *nb = realloc((block_header *)p - 1, sizeof *nb + size);
    assert_non_null(nb);
    nb->size = size;
    return nb + 1;
}

static void ca_free(void *p, void *user)
{
    struct counting *c = user;
    if (p != NULL) {
        c->live--;
        free((block_header *)p - 1);
    }
}

static void ca_init(struct counting *c)
{
    memset(c, 0, sizeof *c);
    c->mem.malloc_fn = ca_malloc;
    c->mem.realloc_fn = ca_realloc;
    c->mem.free_fn = ca_free;
    c->mem.user_data = c;
}

/* ---- messages ----------------------------------------------------------- */

#define NMSG 20000

struct msg {
    unsigned released;
};

static struct msg msgs[NMSG];

static void release(void *m)
{
    struct msg *x = m;
    assert_true(x >= msgs && x < msgs + NMSG);
    assert_int_equal(x->released, 0); /* never twice */
    x->released++;
}

static void reset_msgs(void)
{
    memset(msgs, 0, sizeof msgs);
}

static uint64_t rng_state;

static uint32_t rnd(uint32_t n)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return (uint32_t)((z ^ (z >> 31)) % n);
}

/* ---- collecting what a match visits ------------------------------------- */

#define MAX_SEEN 16384

struct hit {
    char *topic;
    void *msg;
};

struct seen {
    struct hit hits[MAX_SEEN];
    size_t n;
};

static void on_msg(void *ctx, mqttproto_str topic, void *m)
{
    struct seen *s = ctx;
    assert_true(s->n < MAX_SEEN);
    char *copy = malloc(topic.len + 1);
    assert_non_null(copy);
    memcpy(copy, topic.data, topic.len);
    copy[topic.len] = '\0';
    s->hits[s->n].topic = copy;
    s->hits[s->n].msg = m;
    s->n++;
}

static void seen_clear(struct seen *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->hits[i].topic);
    }
    s->n = 0;
}

static int cmp_hit(const void *a, const void *b)
{
    return strcmp(((const struct hit *)a)->topic, ((const struct hit *)b)->topic);
}

/* The topics a filter visits, sorted, joined by spaces; "-" for an empty topic list. */
static void expect_match(const struct retained *r, const char *filter, const char *want)
{
    static struct seen s;
    assert_int_equal(retained_match(r, S(filter), on_msg, &s), 0);
    qsort(s.hits, s.n, sizeof s.hits[0], cmp_hit);
    char got[4096];
    size_t k = 0;
    got[0] = '\0';
    for (size_t i = 0; i < s.n; i++) {
        int w = snprintf(got + k, sizeof got - k, "%s%s", i ? " " : "", s.hits[i].topic);
        assert_true(w >= 0 && (size_t)w < sizeof got - k);
        k += (size_t)w;
        assert_ptr_equal(retained_get(r, S(s.hits[i].topic)), s.hits[i].msg);
    }
    if (strcmp(got, want) != 0) {
        print_error("filter \"%s\": visited [%s], want [%s]\n", filter, got, want);
    }
    assert_string_equal(got, want);
    seen_clear(&s);
}

static void set_ok(struct retained *r, const char *topic, struct msg *m)
{
    assert_int_equal(retained_set(r, S(topic), m), 0);
}

/* ---- set, replace, clear ------------------------------------------------ */

static void test_set_replace_clear(void **state)
{
    (void)state;
    reset_msgs();
    struct counting ca;
    ca_init(&ca);
    struct retained r;
    retained_init(&r, &ca.mem, release);
    set_ok(&r, "a/b", &msgs[1]);
    assert_int_equal(retained_count(&r), 1);
    assert_ptr_equal(retained_get(&r, S("a/b")), &msgs[1]);
    assert_null(retained_get(&r, S("a")));
    assert_null(retained_get(&r, S("a/b/c")));

    /* A new retained message replaces the old one, which is released [MQTT-3.3.1-5]. */
    set_ok(&r, "a/b", &msgs[2]);
    assert_int_equal(msgs[1].released, 1);
    assert_int_equal(retained_count(&r), 1);
    assert_ptr_equal(retained_get(&r, S("a/b")), &msgs[2]);
    /* The same message again is not a replacement. */
    set_ok(&r, "a/b", &msgs[2]);
    assert_int_equal(msgs[2].released, 0);

    set_ok(&r, "a", &msgs[3]);
    set_ok(&r, "a/b/c", &msgs[4]);
    assert_int_equal(retained_count(&r), 3);
    assert_true(retained_clear(&r, S("a/b")));
    assert_int_equal(msgs[2].released, 1);
    assert_false(retained_clear(&r, S("a/b")));
    assert_false(retained_clear(&r, S("a/b/c/d")));
    assert_false(retained_clear(&r, S("")));
    assert_int_equal(retained_count(&r), 2);
    expect_match(&r, "a/#", "a a/b/c");
    assert_true(retained_clear(&r, S("a/b/c")));
    assert_true(retained_clear(&r, S("a")));
    assert_int_equal(retained_count(&r), 0);
    /* Clearing the last message frees every node. */
    assert_int_equal(ca.live, 0);

    /* Freeing the store releases what it still holds, each message once. */
    set_ok(&r, "x/y", &msgs[5]);
    set_ok(&r, "x", &msgs[6]);
    retained_free(&r);
    assert_int_equal(msgs[5].released, 1);
    assert_int_equal(msgs[6].released, 1);
    assert_int_equal(ca.live, 0);

    /* Without a release callback nothing is called back. */
    retained_init(&r, NULL, NULL);
    set_ok(&r, "x", &msgs[7]);
    set_ok(&r, "x", &msgs[8]);
    assert_true(retained_clear(&r, S("x")));
    retained_free(&r);
    assert_int_equal(msgs[7].released, 0);
}

static void test_invalid(void **state)
{
    (void)state;
    reset_msgs();
    struct counting ca;
    ca_init(&ca);
    struct retained r;
    retained_init(&r, &ca.mem, release);
    static const char *const bad_topics[] = {
        "",    /* [MQTT-4.7.3-1] */
        "a/+", /* [MQTT-4.7.0-1] */
        "a/#", /* [MQTT-4.7.0-1] */
        "#",   /* [MQTT-4.7.0-1] */
        "a+b", /* [MQTT-4.7.0-1] */
    };
    for (size_t i = 0; i < sizeof bad_topics / sizeof bad_topics[0]; i++) {
        assert_int_equal(retained_set(&r, S(bad_topics[i]), &msgs[1]),
                         MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    }
    mqttproto_str nul = {"a\0b", 3}; /* [MQTT-4.7.3-2] */
    mqttproto_str bad_utf8 = {"a/\xc0\x80", 4};
    mqttproto_str null_data = {NULL, 2};
    assert_int_equal(retained_set(&r, nul, &msgs[1]), MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    assert_int_equal(retained_set(&r, bad_utf8, &msgs[1]), MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    assert_int_equal(retained_set(&r, null_data, &msgs[1]), MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    char *longt = malloc(65537); /* [MQTT-4.7.3-3] */
    assert_non_null(longt);
    memset(longt, 'a', 65536);
    longt[65536] = '\0';
    assert_int_equal(retained_set(&r, S(longt), &msgs[1]), MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    free(longt);
    assert_int_equal(retained_set(&r, S("a"), NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(retained_set(NULL, S("a"), &msgs[1]), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(retained_count(&r), 0);
    assert_int_equal(ca.attempts, 0);
    assert_int_equal(msgs[1].released, 0);

    set_ok(&r, "a/b", &msgs[2]);
    static struct seen s;
    static const char *const bad_filters[] = {
        "",            /* [MQTT-4.7.3-1] */
        "a/#/b",       /* [MQTT-4.7.1-1] */
        "a+",          /* [MQTT-4.7.1-2] */
        "$share//a",   /* [MQTT-4.8.2-1] */
        "$share/g+/a", /* [MQTT-4.8.2-2] */
    };
    for (size_t i = 0; i < sizeof bad_filters / sizeof bad_filters[0]; i++) {
        assert_int_equal(retained_match(&r, S(bad_filters[i]), on_msg, &s),
                         MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    }
    assert_int_equal(retained_match(&r, null_data, on_msg, &s), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    assert_int_equal(retained_match(&r, S("#"), NULL, &s), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(retained_match(NULL, S("#"), on_msg, &s), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(s.n, 0);
    assert_null(retained_get(&r, null_data));
    assert_false(retained_clear(&r, null_data));
    assert_false(retained_clear(NULL, S("a/b")));
    assert_null(retained_get(NULL, S("a/b")));
    /* A literal '+' is looked up as bytes and never found. */
    assert_null(retained_get(&r, S("a/+")));
    retained_free(&r);
    assert_int_equal(ca.live, 0);
}

/* ---- matching ----------------------------------------------------------- */

static void fill(struct retained *r)
{
    static const char *const topics[] = {"a",  "a/b",  "a/b/c", "a/c",    "b",    "/",   "/a",
                                         "a/", "a//b", "A/b",   "$SYS/x", "$SYS", "a/$x"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++) {
        set_ok(r, topics[i], &msgs[i + 1]);
    }
}

static void test_match_wildcards(void **state)
{
    (void)state;
    reset_msgs();
    struct retained r;
    retained_init(&r, NULL, release);
    fill(&r);
    expect_match(&r, "a/b", "a/b");
    expect_match(&r, "a/+", "a/ a/$x a/b a/c");
    expect_match(&r, "a/#", "a a/ a/$x a//b a/b a/b/c a/c"); /* with the parent "a" */
    expect_match(&r, "a/+/c", "a/b/c");
    expect_match(&r, "+/b", "A/b a/b");
    expect_match(&r, "+", "a b");
    expect_match(&r, "+/+", "/ /a A/b a/ a/$x a/b a/c");
    expect_match(&r, "/+", "/ /a");
    expect_match(&r, "+/", "/ a/");
    expect_match(&r, "a/+/#", "a/ a/$x a//b a/b a/b/c a/c");
    expect_match(&r, "x/#", "");
    expect_match(&r, "a/b/c/d", "");
    /* A shared filter is matched by the filter after its ShareName. */
    expect_match(&r, "$share/g/a/+", "a/ a/$x a/b a/c");
    retained_free(&r);
}

static void test_dollar_topics(void **state)
{
    (void)state;
    reset_msgs();
    struct retained r;
    retained_init(&r, NULL, release);
    fill(&r);
    /* A filter starting with a wildcard matches no '$' topic [MQTT-4.7.2-1]. */
    expect_match(&r, "#", "/ /a A/b a a/ a/$x a//b a/b a/b/c a/c b");
    expect_match(&r, "+", "a b");
    expect_match(&r, "+/x", "");
    expect_match(&r, "+/#", "/ /a A/b a a/ a/$x a//b a/b a/b/c a/c b");
    expect_match(&r, "$share/g/#", "/ /a A/b a a/ a/$x a//b a/b a/b/c a/c b");
    expect_match(&r, "$SYS/#", "$SYS $SYS/x");
    expect_match(&r, "$SYS/+", "$SYS/x");
    expect_match(&r, "$SYS", "$SYS");
    retained_free(&r);
}

static void test_no_normalization(void **state)
{
    (void)state;
    reset_msgs();
    struct retained r;
    retained_init(&r, NULL, release);
    set_ok(&r, "caf\xc3\xa9", &msgs[1]);
    set_ok(&r, "a/b", &msgs[2]);
    set_ok(&r, "a//b", &msgs[3]);
    /* Byte-for-byte levels [MQTT-4.7.3-4]. */
    expect_match(&r, "cafe\xcc\x81", "");
    expect_match(&r, "caf\xc3\xa9", "caf\xc3\xa9");
    expect_match(&r, "A/b", "");
    expect_match(&r, "a/b/", "");
    expect_match(&r, "a//b", "a//b");
    retained_free(&r);
}

/* ---- differential ------------------------------------------------------- */

#define TOPICS_MAX 16000

static char stored[TOPICS_MAX][64];
static struct msg *stored_msg[TOPICS_MAX];

static void level_name(char *out, size_t cap, uint32_t i)
{
    if (i == 0) {
        snprintf(out, cap, "%s", "");
    } else if (i == 1) {
        snprintf(out, cap, "%s", "$s");
    } else {
        snprintf(out, cap, "l%u", (unsigned)i);
    }
}

static void random_topic(char *out, size_t cap, uint32_t alphabet)
{
    size_t k = 0;
    uint32_t levels = 1 + rnd(5);
    for (uint32_t i = 0; i < levels; i++) {
        char lv[16];
        level_name(lv, sizeof lv, rnd(alphabet));
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? "/" : "", lv);
    }
    if (k == 0) {
        snprintf(out, cap, "/");
    }
}

static void random_filter(char *out, size_t cap, uint32_t alphabet)
{
    do {
        size_t k = 0;
        uint32_t levels = 1 + rnd(5);
        out[0] = '\0';
        if (rnd(8) == 0) {
            k += (size_t)snprintf(out, cap, "$share/g/");
        }
        for (uint32_t i = 0; i < levels; i++) {
            char lv[16];
            uint32_t c = rnd(10);
            if (c == 0 && i + 1 == levels) {
                snprintf(lv, sizeof lv, "#");
            } else if (c <= 2) {
                snprintf(lv, sizeof lv, "+");
            } else {
                level_name(lv, sizeof lv, rnd(alphabet));
            }
            k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? "/" : "", lv);
        }
    } while (mqttproto_topic_filter_validate(S(out)) != 0);
}

static void differential(uint64_t seed, uint32_t alphabet, size_t ops, size_t filters)
{
    rng_state = seed;
    reset_msgs();
    struct counting ca;
    ca_init(&ca);
    struct retained r;
    retained_init(&r, &ca.mem, release);
    size_t n = 0;
    size_t next_msg = 0;
    assert_true(ops < NMSG);
    for (int round = 0; round < 3; round++) {
        for (size_t op = 0; op < ops / 3; op++) {
            char t[64];
            random_topic(t, sizeof t, alphabet);
            size_t k = 0;
            while (k < n && strcmp(stored[k], t) != 0) {
                k++;
            }
            if (rnd(4) == 0) {
                assert_int_equal(retained_clear(&r, S(t)), k < n);
                if (k < n) {
                    assert_int_equal(stored_msg[k]->released, 1);
                    n--;
                    memmove(stored[k], stored[n], sizeof stored[k]);
                    stored_msg[k] = stored_msg[n];
                }
                continue;
            }
            struct msg *m = &msgs[next_msg++];
            set_ok(&r, t, m);
            if (k < n) {
                assert_int_equal(stored_msg[k]->released, 1);
            } else {
                assert_true(n < TOPICS_MAX);
                strcpy(stored[n], t);
                n++;
            }
            stored_msg[k] = m;
        }
        assert_int_equal(retained_count(&r), n);
        for (size_t i = 0; i < filters; i++) {
            char f[80];
            random_filter(f, sizeof f, alphabet);
            mqttproto_str inner;
            assert_true(mqttproto_shared_filter_parse(S(f), NULL, &inner) >= 0);
            static struct seen s;
            assert_int_equal(retained_match(&r, S(f), on_msg, &s), 0);
            size_t want = 0;
            for (size_t k = 0; k < n; k++) {
                if (!mqttproto_topic_matches(inner, S(stored[k]))) {
                    continue;
                }
                want++;
                size_t hits = 0;
                for (size_t j = 0; j < s.n; j++) {
                    if (strcmp(s.hits[j].topic, stored[k]) == 0) {
                        hits++;
                        assert_ptr_equal(s.hits[j].msg, stored_msg[k]);
                    }
                }
                if (hits != 1) {
                    print_error("filter \"%s\": topic \"%s\" visited %zu times\n", f, stored[k],
                                hits);
                }
                assert_int_equal(hits, 1);
            }
            /* Nothing that does not match was visited. */
            assert_int_equal(s.n, want);
            seen_clear(&s);
        }
    }
    for (size_t k = 0; k < n; k++) {
        assert_true(retained_clear(&r, S(stored[k])));
    }
    assert_int_equal(retained_count(&r), 0);
    assert_int_equal(ca.live, 0);
    retained_free(&r);
}

/* [MQTT-4.7.2-1] [MQTT-4.7.3-4] */
static void test_differential_small(void **state)
{
    (void)state;
    differential(11, 5, quick_mode() ? 1200 : 3000, quick_mode() ? 600 : 2000);
}

/* Wide levels: hashed child tables, growing and shrinking. */
static void test_differential_wide(void **state)
{
    (void)state;
    differential(12, 40, quick_mode() ? 6000 : 15000, quick_mode() ? 200 : 600);
}

/* ---- wide and deep ------------------------------------------------------ */

static void test_wide(void **state)
{
    (void)state;
    reset_msgs();
    rng_state = 5;
    struct counting ca;
    ca_init(&ca);
    struct retained r;
    retained_init(&r, &ca.mem, release);
    enum { N = 5000 };
    static uint32_t order[N];
    char t[64];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(t, sizeof t, "dev/sensor-unit-%u/state", (unsigned)i);
        set_ok(&r, t, &msgs[2 * i]);
        snprintf(t, sizeof t, "dev/sensor-unit-%u/cfg", (unsigned)i);
        set_ok(&r, t, &msgs[2 * i + 1]);
        order[i] = i;
    }
    static struct seen s;
    assert_int_equal(retained_match(&r, S("dev/+/state"), on_msg, &s), 0);
    assert_int_equal(s.n, N);
    seen_clear(&s);
    expect_match(&r, "dev/sensor-unit-17/+", "dev/sensor-unit-17/cfg dev/sensor-unit-17/state");
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = rnd(i + 1);
        uint32_t x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (uint32_t k = 0; k < N; k++) {
        snprintf(t, sizeof t, "dev/sensor-unit-%u/state", (unsigned)order[k]);
        assert_true(retained_clear(&r, S(t)));
        if (k % 251 == 0) {
            assert_int_equal(retained_match(&r, S("dev/+/state"), on_msg, &s), 0);
            assert_int_equal(s.n, N - k - 1);
            seen_clear(&s);
            assert_int_equal(retained_match(&r, S("dev/#"), on_msg, &s), 0);
            assert_int_equal(s.n, 2 * N - k - 1);
            seen_clear(&s);
        }
    }
    /* Clearing never needs memory: with every allocation failing, tables
       that cannot shrink stay as they are. */
    ca.fail_at = ca.attempts + 1;
    ca.fail_from = true;
    for (uint32_t k = 0; k < N; k++) {
        snprintf(t, sizeof t, "dev/sensor-unit-%u/cfg", (unsigned)k);
        assert_true(retained_clear(&r, S(t)));
        if (k == N / 2) {
            expect_match(&r, "dev/sensor-unit-4999/+", "dev/sensor-unit-4999/cfg");
        }
    }
    assert_int_equal(ca.live, 0);
    retained_free(&r);
}

static char *repeat_levels(const char *level, size_t levels, const char *tail)
{
    size_t ll = strlen(level);
    size_t tl = strlen(tail);
    char *p = malloc(levels * (ll + 1) + tl + 1);
    assert_non_null(p);
    size_t k = 0;
    for (size_t i = 0; i < levels; i++) {
        if (i > 0) {
            p[k++] = '/';
        }
        memcpy(p + k, level, ll);
        k += ll;
    }
    memcpy(p + k, tail, tl + 1);
    return p;
}

static void count_msg(void *ctx, mqttproto_str topic, void *m)
{
    (void)topic;
    (void)m;
    (*(size_t *)ctx)++;
}

static void test_deep(void **state)
{
    (void)state;
    reset_msgs();
    enum { DEPTH = 30000 };
    struct counting ca;
    ca_init(&ca);
    struct retained r;
    retained_init(&r, &ca.mem, release);
    char *deep = repeat_levels("a", DEPTH, "");
    char *half = repeat_levels("a", DEPTH / 2, "");
    char *all_plus = repeat_levels("+", DEPTH, "");
    char *prefix_hash = repeat_levels("a", DEPTH - 1, "/#");
    set_ok(&r, deep, &msgs[1]);
    set_ok(&r, half, &msgs[2]);
    assert_ptr_equal(retained_get(&r, S(deep)), &msgs[1]);

    size_t n = 0;
    assert_int_equal(retained_match(&r, S("#"), count_msg, &n), 0);
    assert_int_equal(n, 2);
    n = 0;
    assert_int_equal(retained_match(&r, S(all_plus), count_msg, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(retained_match(&r, S(prefix_hash), count_msg, &n), 0);
    assert_int_equal(n, 1);
    n = 0;
    assert_int_equal(retained_match(&r, S(deep), count_msg, &n), 0);
    assert_int_equal(n, 1);

    /* The frames for a filter of many '+' levels come from the allocator. */
    ca.fail_at = ca.attempts + 1;
    n = 0;
    assert_int_equal(retained_match(&r, S(all_plus), count_msg, &n), MQTTPROTO_ERR_NO_MEMORY);
    assert_int_equal(n, 0);
    ca.fail_at = 0;

    assert_true(retained_clear(&r, S(deep)));
    assert_int_equal(msgs[1].released, 1);
    /* Freed without recursion. */
    retained_free(&r);
    assert_int_equal(msgs[2].released, 1);
    assert_int_equal(ca.live, 0);
    free(deep);
    free(half);
    free(all_plus);
    free(prefix_hash);
}

/* ---- allocation failure during set -------------------------------------- */

static const char *const probes[] = {"#", "a/+", "k3/#", "+/x", "$SYS/#"};

static void signature(const struct retained *r, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        size_t n = 0;
        assert_int_equal(retained_match(r, S(probes[i]), count_msg, &n), 0);
        int w = snprintf(out + k, cap - k, "%s:%zu;", probes[i], n);
        assert_true(w > 0 && (size_t)w < cap - k);
        k += (size_t)w;
    }
}

static void prep_empty(struct retained *r)
{
    (void)r;
}

static void prep_children(struct retained *r, unsigned n)
{
    char t[32];
    for (unsigned i = 0; i < n; i++) {
        snprintf(t, sizeof t, "k%u/x", i);
        set_ok(r, t, &msgs[100 + i]);
    }
}

static void prep_eight(struct retained *r)
{
    prep_children(r, 8);
}

static void prep_twelve(struct retained *r)
{
    prep_children(r, 12);
}

static void prep_chain(struct retained *r)
{
    set_ok(r, "a/b/c/d", &msgs[200]);
}

struct scenario {
    void (*prepare)(struct retained *r);
    const char *topic;
};

static const struct scenario scenarios[] = {
    {prep_empty, "a/b/c"},     {prep_eight, "k8/x"}, {prep_eight, "k3/x/y/z"},
    {prep_twelve, "k12/x/y"},  {prep_chain, "a/b"},  {prep_chain, "a/b/c/d/e"},
    {prep_chain, "$SYS/up/1"},
};

static void sweep(const struct scenario *sc, bool fail_from)
{
    for (unsigned long n = 1;; n++) {
        reset_msgs();
        struct counting ca;
        ca_init(&ca);
        struct retained r;
        retained_init(&r, &ca.mem, release);
        sc->prepare(&r);
        char before[512];
        signature(&r, before, sizeof before);
        long live0 = ca.live;
        size_t count0 = retained_count(&r);

        ca.fail_at = ca.attempts + n;
        ca.fail_from = fail_from;
        int rc = retained_set(&r, S(sc->topic), &msgs[1]);
        ca.fail_at = 0;
        if (rc == 0) {
            assert_int_equal(ca.failed, 0);
            assert_true(n > 1);
            assert_int_equal(retained_count(&r), count0 + 1);
            assert_ptr_equal(retained_get(&r, S(sc->topic)), &msgs[1]);
            retained_free(&r);
            assert_int_equal(msgs[1].released, 1);
            assert_int_equal(ca.live, 0);
            return;
        }
        assert_int_equal(rc, MQTTPROTO_ERR_NO_MEMORY);
        /* Nothing changed, and the message is still the caller's. */
        assert_int_equal(msgs[1].released, 0);
        assert_int_equal(retained_count(&r), count0);
        assert_null(retained_get(&r, S(sc->topic)));
        assert_int_equal(ca.live, live0);
        char after[512];
        signature(&r, after, sizeof after);
        assert_string_equal(after, before);
        retained_free(&r);
        assert_int_equal(ca.live, 0);
        assert_true(n < 100);
    }
}

static void test_set_allocation_failure(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
        sweep(&scenarios[i], false);
        sweep(&scenarios[i], true);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_replace_clear),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_match_wildcards),
        cmocka_unit_test(test_dollar_topics),
        cmocka_unit_test(test_no_normalization),
        cmocka_unit_test(test_differential_small),
        cmocka_unit_test(test_differential_wide),
        cmocka_unit_test(test_wide),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_set_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
