/*
 * Subscription trie: matching (checked against mqttproto_topic_matches() on
 * random filters and topics), the '$' rule, shared groups and their round
 * robin, replacement, removal down to zero live allocations, deep topics,
 * and allocation failure at every step of an add.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "subtrie.h"

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
    long live;              /* blocks not yet freed */
    size_t bytes;           /* bytes in those blocks */
    unsigned long attempts; /* malloc and realloc calls */
    unsigned long fail_at;  /* 1-based attempt to fail; 0 never */
    bool fail_from;         /* fail every attempt from fail_at on */
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
    c->bytes += size;
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
    block_header *b = (block_header *)p - 1;
    size_t old = b->size;
    block_header *nb = realloc(b, sizeof *nb + size);
    assert_non_null(nb);
    nb->size = size;
    c->bytes = c->bytes - old + size;
    return nb + 1;
}

static void ca_free(void *p, void *user)
{
    struct counting *c = user;
    if (p == NULL) {
        return;
    }
    block_header *b = (block_header *)p - 1;
    c->live--;
    c->bytes -= b->size;
    free(b);
}

static void ca_init(struct counting *c)
{
    memset(c, 0, sizeof *c);
    c->mem.malloc_fn = ca_malloc;
    c->mem.realloc_fn = ca_realloc;
    c->mem.free_fn = ca_free;
    c->mem.user_data = c;
}

/* ---- deterministic PRNG ------------------------------------------------- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    /* splitmix64 */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static uint32_t rnd(uint32_t n)
{
    return (uint32_t)(rng() % n);
}

/* ---- collecting what a match visits ------------------------------------- */

#define MAX_SEEN 4096

struct seen {
    struct subtrie_sub subs[MAX_SEEN];
    size_t nsubs;
    struct subtrie_group *groups[MAX_SEEN];
    size_t ngroups;
};

static void on_sub(void *ctx, const struct subtrie_sub *sub)
{
    struct seen *s = ctx;
    assert_true(s->nsubs < MAX_SEEN);
    s->subs[s->nsubs++] = *sub;
}

static void on_group(void *ctx, struct subtrie_group *g)
{
    struct seen *s = ctx;
    assert_true(s->ngroups < MAX_SEEN);
    s->groups[s->ngroups++] = g;
}

static void match(const struct subtrie *t, const char *topic, struct seen *s)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(subtrie_match(t, S(topic), on_sub, on_group, s), 0);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* The subscription identifiers visited, sorted, as a string "1 4 9". */
static void ids_of(const struct seen *s, char *out, size_t cap)
{
    uint32_t ids[MAX_SEEN];
    for (size_t i = 0; i < s->nsubs; i++) {
        ids[i] = s->subs[i].subscription_identifier;
    }
    qsort(ids, s->nsubs, sizeof ids[0], cmp_u32);
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < s->nsubs; i++) {
        int w = snprintf(out + k, cap - k, "%s%u", i ? " " : "", (unsigned)ids[i]);
        assert_true(w > 0 && (size_t)w < cap - k);
        k += (size_t)w;
    }
}

static void expect_ids(const struct subtrie *t, const char *topic, const char *want)
{
    struct seen s;
    char got[1024];
    match(t, topic, &s);
    ids_of(&s, got, sizeof got);
    if (strcmp(got, want) != 0) {
        print_error("topic \"%s\": visited [%s], want [%s]\n", topic, got, want);
    }
    assert_string_equal(got, want);
}

static struct subtrie_sub sub_of(void *subscriber, uint32_t id, uint8_t qos)
{
    struct subtrie_sub s = {subscriber, id, qos, false, false, 0};
    return s;
}

static void add_ok(struct subtrie *t, const char *filter, void *subscriber, uint32_t id)
{
    struct subtrie_sub s = sub_of(subscriber, id, 1);
    bool replaced = true;
    assert_int_equal(subtrie_add(t, S(filter), &s, &replaced), 0);
    assert_false(replaced);
}

static int sessions[256]; /* their addresses stand for sessions */

/* ---- plain matching ----------------------------------------------------- */

static void test_literal_and_wildcards(void **state)
{
    (void)state;
    struct subtrie t;
    subtrie_init(&t, NULL);
    add_ok(&t, "a/b/c", &sessions[0], 1);
    add_ok(&t, "a/+/c", &sessions[0], 2);
    add_ok(&t, "a/#", &sessions[0], 3);
    add_ok(&t, "#", &sessions[0], 4);
    add_ok(&t, "+/+", &sessions[0], 5);
    add_ok(&t, "a/b", &sessions[1], 6);
    add_ok(&t, "+", &sessions[1], 7);
    add_ok(&t, "a/+/#", &sessions[1], 8);
    add_ok(&t, "/", &sessions[1], 9);
    add_ok(&t, "+/", &sessions[1], 10);
    assert_int_equal(subtrie_count(&t), 10);

    /* [MQTT-3.3.2-3] exactly the filters that match */
    expect_ids(&t, "a/b/c", "1 2 3 4 8");
    expect_ids(&t, "a/b", "3 4 5 6 8");
    expect_ids(&t, "a", "3 4 7"); /* "a/#" also matches its parent level */
    expect_ids(&t, "a/x/c/d", "3 4 8");
    expect_ids(&t, "b", "4 7");
    expect_ids(&t, "/", "4 5 9 10");
    expect_ids(&t, "a/", "3 4 5 8 10");
    expect_ids(&t, "x/b/c", "4");
    subtrie_free(&t);
}

static void test_dollar_topics(void **state)
{
    (void)state;
    struct subtrie t;
    subtrie_init(&t, NULL);
    add_ok(&t, "#", &sessions[0], 1);
    add_ok(&t, "+/x", &sessions[0], 2);
    add_ok(&t, "+", &sessions[0], 3);
    add_ok(&t, "$SYS/#", &sessions[0], 4);
    add_ok(&t, "$SYS/+", &sessions[0], 5);
    add_ok(&t, "a/+", &sessions[0], 6);
    add_ok(&t, "a/#", &sessions[0], 7);
    add_ok(&t, "$share/g/#", &sessions[0], 8);
    add_ok(&t, "$share/g/+/x", &sessions[0], 9);

    struct seen s;
    /* A filter starting with a wildcard matches no '$' topic [MQTT-4.7.2-1]. */
    expect_ids(&t, "$SYS/x", "4 5");
    expect_ids(&t, "$SYS", "4");
    expect_ids(&t, "$x", "");
    match(&t, "$SYS/x", &s);
    assert_int_equal(s.ngroups, 0);
    /* A '$' below the first level is an ordinary character. */
    expect_ids(&t, "a/$x", "1 6 7");
    expect_ids(&t, "b/x", "1 2");
    match(&t, "b/x", &s);
    assert_int_equal(s.ngroups, 2);
    subtrie_free(&t);
}

static void test_no_normalization(void **state)
{
    (void)state;
    struct subtrie t;
    subtrie_init(&t, NULL);
    add_ok(&t, "a/b", &sessions[0], 1);
    add_ok(&t, "A/b", &sessions[0], 2);
    add_ok(&t, "caf\xc3\xa9", &sessions[0], 3);
    add_ok(&t, "a//b", &sessions[0], 4);
    /* Levels compare byte for byte: no case folding, no Unicode
       normalization, no collapsing of empty levels [MQTT-4.7.3-4]. */
    expect_ids(&t, "a/b", "1");
    expect_ids(&t, "A/b", "2");
    expect_ids(&t, "a/b/", "");
    expect_ids(&t, "a//b", "4");
    expect_ids(&t, "caf\xc3\xa9", "3");
    expect_ids(&t, "cafe\xcc\x81", "");
    subtrie_free(&t);
}

static void test_invalid_arguments(void **state)
{
    (void)state;
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    struct subtrie_sub s = sub_of(&sessions[0], 1, 0);
    static const char *const bad[] = {
        "",            /* [MQTT-4.7.3-1] */
        "a/#/b",       /* [MQTT-4.7.1-1] */
        "a#",          /* [MQTT-4.7.1-1] */
        "a/b#",        /* [MQTT-4.7.1-1] */
        "a+",          /* [MQTT-4.7.1-2] */
        "a/+b/c",      /* [MQTT-4.7.1-2] */
        "$share/",     /* [MQTT-4.8.2-1] */
        "$share//a",   /* [MQTT-4.8.2-1] */
        "$share/g",    /* [MQTT-4.8.2-2] */
        "$share/g/",   /* [MQTT-4.8.2-2] */
        "$share/g+/a", /* [MQTT-4.8.2-2] */
        "$share/g#/a", /* [MQTT-4.8.2-2] */
        "$share/g/a#", /* [MQTT-4.8.2-2] */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        bool replaced = true;
        assert_int_equal(subtrie_add(&t, S(bad[i]), &s, &replaced),
                         MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
        assert_false(replaced);
    }
    /* [MQTT-4.7.3-2] U+0000, ill-formed UTF-8, NULL data */
    mqttproto_str nul = {"a\0b", 3};
    mqttproto_str bad_utf8 = {"a/\xff", 3};
    mqttproto_str null_data = {NULL, 3};
    assert_int_equal(subtrie_add(&t, nul, &s, NULL), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    assert_int_equal(subtrie_add(&t, bad_utf8, &s, NULL), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    assert_int_equal(subtrie_add(&t, null_data, &s, NULL), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    /* [MQTT-4.7.3-3] longer than 65,535 bytes */
    char *longf = malloc(65537);
    assert_non_null(longf);
    memset(longf, 'a', 65536);
    longf[65536] = '\0';
    assert_int_equal(subtrie_add(&t, S(longf), &s, NULL), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    free(longf);

    assert_int_equal(subtrie_add(&t, S("a"), NULL, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(subtrie_add(NULL, S("a"), &s, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    s.qos = 3;
    assert_int_equal(subtrie_add(&t, S("a"), &s, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    s.qos = 2;
    s.retain_handling = 3;
    assert_int_equal(subtrie_add(&t, S("a"), &s, NULL), MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(subtrie_count(&t), 0);
    assert_int_equal(ca.attempts, 0);
    assert_null(t.root);

    mqttproto_str empty = {"", 0};
    mqttproto_str null_topic = {NULL, 1};
    assert_int_equal(subtrie_match(&t, empty, on_sub, NULL, NULL),
                     MQTTPROTO_ERR_TOPIC_NAME_INVALID);
    assert_int_equal(subtrie_match(&t, null_topic, on_sub, NULL, NULL),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    assert_int_equal(subtrie_match(NULL, S("a"), on_sub, NULL, NULL),
                     MQTTPROTO_ERR_INVALID_ARGUMENT);
    /* Matching an empty trie visits nothing and allocates nothing. */
    assert_int_equal(subtrie_match(&t, S("a"), NULL, NULL, NULL), 0);

    add_ok(&t, "a/b", &sessions[0], 1);
    assert_false(subtrie_remove(&t, S(""), &sessions[0]));
    assert_false(subtrie_remove(&t, null_data, &sessions[0]));
    assert_false(subtrie_remove(&t, S("$share/g"), &sessions[0]));
    assert_false(subtrie_remove(NULL, S("a/b"), &sessions[0]));
    assert_int_equal(subtrie_count(&t), 1);
    subtrie_free(&t);
    assert_int_equal(ca.live, 0);
}

/* ---- replacement -------------------------------------------------------- */

static void test_replace(void **state)
{
    (void)state;
    struct subtrie t;
    subtrie_init(&t, NULL);
    struct subtrie_sub s = {&sessions[0], 7, 0, false, false, 0};
    bool replaced = true;
    assert_int_equal(subtrie_add(&t, S("a/+"), &s, &replaced), 0);
    assert_false(replaced);

    /* Same filter, same session: a replacement, not a second entry [MQTT-3.8.4-3]. */
    struct subtrie_sub s2 = {&sessions[0], 9, 2, true, true, 1};
    assert_int_equal(subtrie_add(&t, S("a/+"), &s2, &replaced), 0);
    assert_true(replaced);
    assert_int_equal(subtrie_count(&t), 1);
    struct seen seen;
    match(&t, "a/b", &seen);
    assert_int_equal(seen.nsubs, 1);
    assert_ptr_equal(seen.subs[0].subscriber, &sessions[0]);
    assert_int_equal(seen.subs[0].subscription_identifier, 9);
    assert_int_equal(seen.subs[0].qos, 2);
    assert_true(seen.subs[0].no_local);
    assert_true(seen.subs[0].retain_as_published);
    assert_int_equal(seen.subs[0].retain_handling, 1);

    /* Another session, or another filter (even one that is equivalent for
       routing, or shared), is a new entry. */
    struct subtrie_sub s3 = {&sessions[1], 1, 0, false, false, 0};
    assert_int_equal(subtrie_add(&t, S("a/+"), &s3, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(subtrie_add(&t, S("a/#"), &s, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(subtrie_add(&t, S("$share/g/a/+"), &s, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(subtrie_add(&t, S("$share/h/a/+"), &s, &replaced), 0);
    assert_false(replaced);
    assert_int_equal(subtrie_add(&t, S("$share/g/a/+"), &s2, &replaced), 0);
    assert_true(replaced);
    assert_int_equal(subtrie_count(&t), 5);

    /* A replacement is not a member that joins again: the rotation keeps it. */
    match(&t, "a/b", &seen);
    assert_int_equal(seen.ngroups, 2);
    for (size_t i = 0; i < seen.ngroups; i++) {
        assert_int_equal(subtrie_group_size(seen.groups[i]), 1);
        if (subtrie_group_name(seen.groups[i]).len == 1 &&
            subtrie_group_name(seen.groups[i]).data[0] == 'g') {
            const struct subtrie_sub *p = subtrie_group_pick(seen.groups[i], NULL, NULL);
            assert_non_null(p);
            assert_int_equal(p->subscription_identifier, 9);
        }
    }
    subtrie_free(&t);
}

/* ---- shared groups ------------------------------------------------------ */

static bool group_is(struct subtrie_group *g, const char *name, const char *filter)
{
    mqttproto_str n = subtrie_group_name(g);
    mqttproto_str f = subtrie_group_filter(g);
    return n.len == strlen(name) && memcmp(n.data, name, n.len) == 0 && f.len == strlen(filter) &&
           memcmp(f.data, filter, f.len) == 0;
}

static struct subtrie_group *find_group(const struct seen *s, const char *name, const char *filter)
{
    struct subtrie_group *found = NULL;
    for (size_t i = 0; i < s->ngroups; i++) {
        if (group_is(s->groups[i], name, filter)) {
            assert_null(found); /* once per group */
            found = s->groups[i];
        }
    }
    return found;
}

static void test_shared_groups(void **state)
{
    (void)state;
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    add_ok(&t, "$share/g1/a/+", &sessions[1], 1);
    add_ok(&t, "$share/g1/a/+", &sessions[2], 2);
    add_ok(&t, "$share/g1/a/+", &sessions[3], 3);
    add_ok(&t, "$share/g2/a/b", &sessions[4], 4);
    add_ok(&t, "$share/g1/a/b", &sessions[5], 5);
    add_ok(&t, "a/+", &sessions[6], 6);
    add_ok(&t, "$share/g3/#", &sessions[7], 7);
    assert_int_equal(subtrie_count(&t), 7);

    struct seen s;
    match(&t, "a/b", &s);
    /* Group members are not plain entries: only "a/+" itself is visited. */
    assert_int_equal(s.nsubs, 1);
    assert_int_equal(s.subs[0].subscription_identifier, 6);
    assert_int_equal(s.ngroups, 4);
    struct subtrie_group *g1 = find_group(&s, "g1", "a/+");
    assert_non_null(g1);
    assert_int_equal(subtrie_group_size(g1), 3);
    assert_non_null(find_group(&s, "g2", "a/b"));
    assert_non_null(find_group(&s, "g1", "a/b"));
    assert_non_null(find_group(&s, "g3", "#"));

    match(&t, "a/c", &s);
    assert_int_equal(s.ngroups, 2);
    assert_ptr_equal(find_group(&s, "g1", "a/+"), g1);
    assert_non_null(find_group(&s, "g3", "#"));

    match(&t, "b", &s);
    assert_int_equal(s.ngroups, 1);
    assert_int_equal(s.nsubs, 0);

    /* Removing the last member frees the group, and then the nodes. */
    assert_false(subtrie_remove(&t, S("$share/g2/a/b"), &sessions[5]));
    assert_false(subtrie_remove(&t, S("$share/g9/a/b"), &sessions[4]));
    assert_false(subtrie_remove(&t, S("a/b"), &sessions[4]));
    assert_true(subtrie_remove(&t, S("$share/g2/a/b"), &sessions[4]));
    match(&t, "a/b", &s);
    assert_int_equal(s.ngroups, 3);
    assert_null(find_group(&s, "g2", "a/b"));

    assert_true(subtrie_remove(&t, S("$share/g1/a/+"), &sessions[2]));
    assert_true(subtrie_remove(&t, S("$share/g1/a/+"), &sessions[1]));
    assert_true(subtrie_remove(&t, S("$share/g1/a/+"), &sessions[3]));
    assert_true(subtrie_remove(&t, S("$share/g1/a/b"), &sessions[5]));
    assert_true(subtrie_remove(&t, S("a/+"), &sessions[6]));
    assert_true(subtrie_remove(&t, S("$share/g3/#"), &sessions[7]));
    assert_int_equal(subtrie_count(&t), 0);
    assert_int_equal(ca.live, 0);
    subtrie_free(&t);
}

/* ---- round robin -------------------------------------------------------- */

struct refuse {
    const void *who[8];
    size_t n;
    unsigned calls;
};

static bool accept_unless(void *ctx, const struct subtrie_sub *sub)
{
    struct refuse *r = ctx;
    r->calls++;
    for (size_t i = 0; i < r->n; i++) {
        if (r->who[i] == sub->subscriber) {
            return false;
        }
    }
    return true;
}

static struct subtrie_group *only_group(const struct subtrie *t, const char *topic)
{
    struct seen s;
    match(t, topic, &s);
    assert_int_equal(s.ngroups, 1);
    return s.groups[0];
}

static void expect_pick(struct subtrie_group *g, struct refuse *r, const void *want)
{
    const struct subtrie_sub *p = subtrie_group_pick(g, r ? accept_unless : NULL, r);
    if (want == NULL) {
        assert_null(p);
    } else {
        assert_non_null(p);
        assert_ptr_equal(p->subscriber, want);
    }
}

static void test_round_robin(void **state)
{
    (void)state;
    struct subtrie t;
    subtrie_init(&t, NULL);
    for (uint8_t i = 0; i < 5; i++) {
        struct subtrie_sub s = {&sessions[i], i + 1u, (uint8_t)(i % 3), false, false, 0};
        assert_int_equal(subtrie_add(&t, S("$share/g/t/+"), &s, NULL), 0);
    }
    struct subtrie_group *g = only_group(&t, "t/x");
    /* In join order, wrapping; each pick carries its own member's options,
       so the broker delivers with that member's granted QoS [MQTT-4.8.2-3]. */
    for (int round = 0; round < 2; round++) {
        for (uint8_t i = 0; i < 5; i++) {
            const struct subtrie_sub *p = subtrie_group_pick(g, NULL, NULL);
            assert_ptr_equal(p->subscriber, &sessions[i]);
            assert_int_equal(p->subscription_identifier, i + 1u);
            assert_int_equal(p->qos, i % 3);
        }
    }

    /* Refused members are skipped; the rotation goes on after the one picked. */
    struct refuse r = {{&sessions[1], &sessions[2]}, 2, 0};
    expect_pick(g, &r, &sessions[0]);
    expect_pick(g, &r, &sessions[3]);
    expect_pick(g, &r, &sessions[4]);
    expect_pick(g, &r, &sessions[0]);
    expect_pick(g, NULL, &sessions[1]);

    /* Nobody accepts: NULL, every member asked once, rotation unchanged. */
    struct refuse all = {
        {&sessions[0], &sessions[1], &sessions[2], &sessions[3], &sessions[4]}, 5, 0};
    expect_pick(g, &all, NULL);
    assert_int_equal(all.calls, 5);
    expect_pick(g, NULL, &sessions[2]);

    /* Removal keeps the order: the next pick is the member that followed
       the last one picked. Last picked: 2; members 0 1 2 3 4. */
    assert_true(subtrie_remove(&t, S("$share/g/t/+"), &sessions[1]));
    expect_pick(g, NULL, &sessions[3]);
    /* Remove the member just picked (3): its follower (4) is next. */
    assert_true(subtrie_remove(&t, S("$share/g/t/+"), &sessions[3]));
    expect_pick(g, NULL, &sessions[4]);
    /* Members 0 2 4, last picked 4: remove 4, wrap to 0. */
    assert_true(subtrie_remove(&t, S("$share/g/t/+"), &sessions[4]));
    expect_pick(g, NULL, &sessions[0]);
    /* A newcomer joins at the end of the rotation. */
    add_ok(&t, "$share/g/t/+", &sessions[9], 10);
    expect_pick(g, NULL, &sessions[2]);
    expect_pick(g, NULL, &sessions[9]);
    expect_pick(g, NULL, &sessions[0]);
    assert_int_equal(subtrie_group_size(g), 3);
    /* Members 0 2 9, last picked 2: removing 9, the next one, wraps to 0. */
    expect_pick(g, NULL, &sessions[2]);
    assert_true(subtrie_remove(&t, S("$share/g/t/+"), &sessions[9]));
    expect_pick(g, NULL, &sessions[0]);
    subtrie_free(&t);
}

/*
 * A large group (its member index in use) against a model list: random
 * joins, leaves, refusals and picks.
 */
static void test_round_robin_large(void **state)
{
    (void)state;
    rng_state = 7;
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    int *model[256];
    size_t n = 0;
    size_t next = 0; /* index in model of the member the next pick starts at */
    for (size_t i = 0; i < 200; i++) {
        add_ok(&t, "$share/big/q", &sessions[i], (uint32_t)i + 1);
        model[n++] = &sessions[i];
    }
    struct subtrie_group *g = only_group(&t, "q");
    for (int step = 0; step < 20000; step++) {
        uint32_t op = rnd(10);
        if (op == 0 && n > 1) {
            size_t i = rnd((uint32_t)n);
            assert_true(subtrie_remove(&t, S("$share/big/q"), model[i]));
            memmove(&model[i], &model[i + 1], (n - i - 1) * sizeof model[0]);
            n--;
            if (i < next) {
                next--;
            }
            if (next >= n) {
                next = 0;
            }
            g = only_group(&t, "q");
        } else if (op == 1 && n < 256) {
            int *who = NULL;
            for (size_t c = rnd(256);; c = (c + 1) % 256) {
                bool present = false;
                for (size_t k = 0; k < n; k++) {
                    present |= model[k] == &sessions[c];
                }
                if (!present) {
                    who = &sessions[c];
                    break;
                }
            }
            add_ok(&t, "$share/big/q", who, 1);
            model[n++] = who;
        } else {
            struct refuse r = {{0}, 0, 0};
            for (size_t k = 0; k < 3; k++) {
                r.who[r.n++] = model[rnd((uint32_t)n)];
            }
            const struct subtrie_sub *p = subtrie_group_pick(g, accept_unless, &r);
            const void *want = NULL;
            for (size_t k = 0; k < n; k++) {
                size_t i = (next + k) % n;
                if (model[i] != r.who[0] && model[i] != r.who[1] && model[i] != r.who[2]) {
                    want = model[i];
                    next = (i + 1) % n;
                    break;
                }
            }
            assert_ptr_equal(p == NULL ? NULL : p->subscriber, want);
        }
        assert_int_equal(subtrie_group_size(g), n);
    }
    subtrie_free(&t);
    assert_int_equal(ca.live, 0);
}

/* ---- differential test against mqttproto_topic_matches() ---------------- */

struct model_entry {
    char filter[96];
    void *subscriber;
    uint32_t id;
    bool live;
};

#define MODEL_MAX 20000

static struct model_entry model[MODEL_MAX];

static void level_name(char *out, size_t cap, uint32_t i)
{
    /* Empty levels and '$' levels are in the mix on purpose. */
    if (i == 0) {
        snprintf(out, cap, "%s", "");
    } else if (i == 1) {
        snprintf(out, cap, "%s", "$s");
    } else {
        snprintf(out, cap, "l%u", (unsigned)i);
    }
}

static void random_filter_once(char *out, size_t cap, uint32_t alphabet)
{
    size_t k = 0;
    uint32_t levels = 1 + rnd(5);
    out[0] = '\0';
    if (rnd(5) == 0) {
        k += (size_t)snprintf(out, cap, "$share/g%u/", (unsigned)rnd(3));
    }
    for (uint32_t i = 0; i < levels; i++) {
        char lv[16];
        uint32_t r = rnd(10);
        if (r == 0 && i + 1 == levels) {
            snprintf(lv, sizeof lv, "#");
        } else if (r <= 2) {
            snprintf(lv, sizeof lv, "+");
        } else {
            level_name(lv, sizeof lv, rnd(alphabet));
        }
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? "/" : "", lv);
    }
    assert_true(k < cap);
}

/* "$share/g0/" with an empty filter after it is not a filter: draw again. */
static void random_filter(char *out, size_t cap, uint32_t alphabet)
{
    do {
        random_filter_once(out, cap, alphabet);
    } while (mqttproto_topic_filter_validate(S(out)) != 0);
}

static void random_topic(char *out, size_t cap, uint32_t alphabet)
{
    size_t k = 0;
    uint32_t levels = 1 + rnd(5);
    out[0] = '\0';
    for (uint32_t i = 0; i < levels; i++) {
        char lv[16];
        level_name(lv, sizeof lv, rnd(alphabet));
        k += (size_t)snprintf(out + k, cap - k, "%s%s", i ? "/" : "", lv);
    }
    if (k == 0) {
        snprintf(out, cap, "/"); /* a topic is never empty */
    }
}

static void check_against_model(const struct subtrie *t, size_t nmodel, const char *topic)
{
    static uint32_t want[MAX_SEEN];
    size_t nwant = 0;
    static char want_groups[512][128];
    size_t nwant_groups = 0;
    static size_t group_sizes[512];
    memset(group_sizes, 0, sizeof group_sizes);
    for (size_t i = 0; i < nmodel; i++) {
        if (!model[i].live) {
            continue;
        }
        mqttproto_str name;
        mqttproto_str inner;
        int shared = mqttproto_shared_filter_parse(S(model[i].filter), &name, &inner);
        assert_true(shared >= 0);
        if (!mqttproto_topic_matches(inner, S(topic))) {
            continue;
        }
        if (shared == 0) {
            want[nwant++] = model[i].id;
            continue;
        }
        char key[128];
        snprintf(key, sizeof key, "%.*s|%.*s", (int)name.len, name.data, (int)inner.len,
                 inner.data);
        size_t k = 0;
        while (k < nwant_groups && strcmp(want_groups[k], key) != 0) {
            k++;
        }
        if (k == nwant_groups) {
            assert_true(nwant_groups < 512);
            strcpy(want_groups[nwant_groups++], key);
        }
        group_sizes[k]++;
    }
    qsort(want, nwant, sizeof want[0], cmp_u32);

    struct seen s;
    match(t, topic, &s);
    assert_int_equal(s.nsubs, nwant);
    static uint32_t got[MAX_SEEN];
    for (size_t i = 0; i < s.nsubs; i++) {
        got[i] = s.subs[i].subscription_identifier;
    }
    qsort(got, s.nsubs, sizeof got[0], cmp_u32);
    for (size_t i = 0; i < nwant; i++) {
        if (got[i] != want[i]) {
            print_error("topic \"%s\": entry %u visited, want %u\n", topic, (unsigned)got[i],
                        (unsigned)want[i]);
        }
        assert_int_equal(got[i], want[i]);
    }
    /* Each matching group exactly once, with all its members. */
    assert_int_equal(s.ngroups, nwant_groups);
    for (size_t i = 0; i < s.ngroups; i++) {
        char key[128];
        mqttproto_str name = subtrie_group_name(s.groups[i]);
        mqttproto_str filt = subtrie_group_filter(s.groups[i]);
        snprintf(key, sizeof key, "%.*s|%.*s", (int)name.len, name.data, (int)filt.len, filt.data);
        size_t k = 0;
        while (k < nwant_groups && strcmp(want_groups[k], key) != 0) {
            k++;
        }
        assert_true(k < nwant_groups);
        assert_int_equal(subtrie_group_size(s.groups[i]), group_sizes[k]);
        group_sizes[k] = 0; /* a second visit would now fail the size check */
    }
}

static void differential(uint64_t seed, uint32_t alphabet, uint32_t pool, size_t adds,
                         size_t topics)
{
    rng_state = seed;
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    size_t nmodel = 0;
    size_t live = 0;
    uint32_t next_id = 1;
    assert_true(adds <= MODEL_MAX);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < adds / 3; i++) {
            char f[96];
            random_filter(f, sizeof f, alphabet);
            void *who = &sessions[rnd(pool)];
            struct subtrie_sub s = sub_of(who, next_id, (uint8_t)rnd(3));
            bool replaced;
            assert_int_equal(subtrie_add(&t, S(f), &s, &replaced), 0);
            size_t k = 0;
            while (k < nmodel && !(model[k].live && model[k].subscriber == who &&
                                   strcmp(model[k].filter, f) == 0)) {
                k++;
            }
            assert_int_equal(replaced, k < nmodel);
            if (k == nmodel) {
                strcpy(model[nmodel].filter, f);
                model[nmodel].subscriber = who;
                model[nmodel].live = true;
                nmodel++;
                live++;
            }
            model[k].id = next_id++;
        }
        /* Remove about a third of what is there, and try some absent pairs. */
        for (size_t i = 0; i < nmodel; i++) {
            if (model[i].live && rnd(3) == 0) {
                assert_true(subtrie_remove(&t, S(model[i].filter), model[i].subscriber));
                model[i].live = false;
                live--;
            }
        }
        for (size_t i = 0; i < 200; i++) {
            char f[96];
            random_filter(f, sizeof f, alphabet);
            void *who = &sessions[rnd(pool)];
            bool present = false;
            for (size_t k = 0; k < nmodel; k++) {
                present |=
                    model[k].live && model[k].subscriber == who && strcmp(model[k].filter, f) == 0;
            }
            if (!present) {
                assert_false(subtrie_remove(&t, S(f), who));
            }
        }
        assert_int_equal(subtrie_count(&t), live);
        for (size_t i = 0; i < topics; i++) {
            char topic[96];
            random_topic(topic, sizeof topic, alphabet);
            check_against_model(&t, nmodel, topic);
        }
    }
    /* Removing everything gives every block back. */
    for (size_t i = 0; i < nmodel; i++) {
        if (model[i].live) {
            assert_true(subtrie_remove(&t, S(model[i].filter), model[i].subscriber));
            model[i].live = false;
        }
    }
    assert_int_equal(subtrie_count(&t), 0);
    assert_int_equal(ca.live, 0);
    assert_null(t.root);
    subtrie_free(&t);
}

/* [MQTT-3.3.2-3] [MQTT-4.7.2-1] a small alphabet: many overlaps */
static void test_differential_small(void **state)
{
    (void)state;
    differential(1, 5, 6, quick_mode() ? 1200 : 3000, quick_mode() ? 1000 : 3000);
}

/* A wide alphabet and many sessions: hashed child tables and subscriber indexes. */
static void test_differential_wide(void **state)
{
    (void)state;
    differential(2, 60, 200, quick_mode() ? 3000 : 9000, quick_mode() ? 300 : 1000);
}

/* ---- many children, many subscribers ------------------------------------ */

static void test_wide_nodes(void **state)
{
    (void)state;
    rng_state = 3;
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    enum { N = 3000 };
    static uint32_t order[N];
    char f[64];
    for (uint32_t i = 0; i < N; i++) {
        snprintf(f, sizeof f, "device-%u/+", (unsigned)i);
        add_ok(&t, f, &sessions[0], i + 1);
        snprintf(f, sizeof f, "+/device-%u", (unsigned)i);
        add_ok(&t, f, &sessions[0], N + i + 1);
        order[i] = i;
    }
    /* One filter shared by every session. */
    for (uint32_t i = 0; i < 256; i++) {
        add_ok(&t, "device-7/device-7", &sessions[i], 100000 + i);
    }
    struct seen s;
    match(&t, "device-7/device-7", &s);
    assert_int_equal(s.nsubs, 2 + 256);
    for (uint32_t i = N - 1; i > 0; i--) {
        uint32_t j = rnd(i + 1);
        uint32_t x = order[i];
        order[i] = order[j];
        order[j] = x;
    }
    for (uint32_t i = 0; i < 256; i += 2) {
        assert_true(subtrie_remove(&t, S("device-7/device-7"), &sessions[i]));
    }
    match(&t, "device-7/device-7", &s);
    assert_int_equal(s.nsubs, 2 + 128);
    for (uint32_t n = 0; n < N; n++) {
        uint32_t i = order[n];
        snprintf(f, sizeof f, "device-%u/+", (unsigned)i);
        assert_true(subtrie_remove(&t, S(f), &sessions[0]));
        if (n % 97 == 0) {
            char topic[64];
            char want[64];
            uint32_t probe = order[(n + 1) % N];
            snprintf(topic, sizeof topic, "device-%u/z", (unsigned)probe);
            snprintf(want, sizeof want, "%u", (unsigned)probe + 1);
            expect_ids(&t, topic, n + 1 < N ? want : "");
            snprintf(topic, sizeof topic, "device-%u/z", (unsigned)i);
            expect_ids(&t, topic, "");
        }
    }
    for (uint32_t i = 0; i < N; i++) {
        snprintf(f, sizeof f, "+/device-%u", (unsigned)i);
        assert_true(subtrie_remove(&t, S(f), &sessions[0]));
        if (i == N / 2) {
            snprintf(f, sizeof f, "x/device-%u", (unsigned)(N - 1));
            char want[16];
            snprintf(want, sizeof want, "%u", (unsigned)(2 * N));
            expect_ids(&t, f, want);
        }
    }
    /* Removal never needs memory: with every allocation failing, tables
       and entry blocks that cannot shrink stay as they are. */
    ca.fail_at = ca.attempts + 1;
    ca.fail_from = true;
    for (uint32_t i = 1; i < 256; i += 2) {
        assert_true(subtrie_remove(&t, S("device-7/device-7"), &sessions[i]));
    }
    assert_int_equal(subtrie_count(&t), 0);
    assert_int_equal(ca.live, 0);
    subtrie_free(&t);
}

/* ---- deep topics -------------------------------------------------------- */

/* levels copies of level joined by '/', then tail; free with free(). */
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

static void test_deep(void **state)
{
    (void)state;
    enum { DEPTH = 30000 };
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    char *exact = repeat_levels("a", DEPTH, "");
    char *plus_end = repeat_levels("a", DEPTH - 1, "/+");
    char *hash_end = repeat_levels("a", DEPTH - 1, "/#");
    char *all_plus = repeat_levels("+", DEPTH, "");
    char *topic = repeat_levels("a", DEPTH, "");
    char *longer = repeat_levels("a", DEPTH + 1, "");
    add_ok(&t, exact, &sessions[0], 1);
    add_ok(&t, plus_end, &sessions[0], 2);
    add_ok(&t, hash_end, &sessions[0], 3);
    add_ok(&t, all_plus, &sessions[0], 4);
    add_ok(&t, "+/#", &sessions[0], 5);
    expect_ids(&t, topic, "1 2 3 4 5");
    expect_ids(&t, longer, "3 5");

    /* 65,536 empty levels: the most a topic can have. */
    char *slashes = malloc(65536);
    assert_non_null(slashes);
    memset(slashes, '/', 65535);
    slashes[65535] = '\0';
    expect_ids(&t, slashes, "5");

    /* The match stack for a long topic comes from the allocator. */
    ca.fail_at = ca.attempts + 1;
    struct seen s;
    memset(&s, 0, sizeof s);
    assert_int_equal(subtrie_match(&t, S(topic), on_sub, on_group, &s), MQTTPROTO_ERR_NO_MEMORY);
    assert_int_equal(s.nsubs, 0);
    ca.fail_at = 0;

    assert_true(subtrie_remove(&t, S(exact), &sessions[0]));
    assert_true(subtrie_remove(&t, S(plus_end), &sessions[0]));
    expect_ids(&t, topic, "3 4 5");
    /* Freed without recursion, deep chains included. */
    subtrie_free(&t);
    assert_int_equal(ca.live, 0);

    subtrie_init(&t, &ca.mem);
    add_ok(&t, all_plus, &sessions[0], 4);
    assert_true(subtrie_remove(&t, S(all_plus), &sessions[0]));
    assert_int_equal(ca.live, 0);
    subtrie_free(&t);
    free(exact);
    free(plus_end);
    free(hash_end);
    free(all_plus);
    free(topic);
    free(longer);
    free(slashes);
}

/* ---- removal frees nodes ------------------------------------------------ */

static void test_remove_frees(void **state)
{
    (void)state;
    struct counting ca;
    ca_init(&ca);
    struct subtrie t;
    subtrie_init(&t, &ca.mem);
    add_ok(&t, "a/b/c/d", &sessions[0], 1);
    long one_chain = ca.live;
    add_ok(&t, "a/b/x/y/z", &sessions[0], 2);
    assert_true(ca.live > one_chain);
    assert_true(subtrie_remove(&t, S("a/b/x/y/z"), &sessions[0]));
    /* x, y and z are gone, a/b stays for a/b/c/d. */
    assert_int_equal(ca.live, one_chain);
    assert_false(subtrie_remove(&t, S("a/b/x/y/z"), &sessions[0]));
    assert_false(subtrie_remove(&t, S("a/b/c"), &sessions[0]));
    assert_false(subtrie_remove(&t, S("a/b/c/d"), &sessions[1]));
    assert_false(subtrie_remove(&t, S("a/b/c/+"), &sessions[0]));
    assert_false(subtrie_remove(&t, S("$share/g/a/b/c/d"), &sessions[0]));
    assert_true(subtrie_remove(&t, S("a/b/c/d"), &sessions[0]));
    assert_int_equal(ca.live, 0);
    assert_null(t.root);

    /* '+' and '#' children, and nodes with both entries and children. */
    add_ok(&t, "a/+/#", &sessions[0], 1);
    add_ok(&t, "a/+", &sessions[1], 2);
    add_ok(&t, "a", &sessions[2], 3);
    add_ok(&t, "#", &sessions[3], 4);
    assert_true(subtrie_remove(&t, S("a/+"), &sessions[1]));
    expect_ids(&t, "a/b/c", "1 4");
    expect_ids(&t, "a/b", "1 4");
    assert_true(subtrie_remove(&t, S("a/+/#"), &sessions[0]));
    expect_ids(&t, "a/b", "4");
    assert_true(subtrie_remove(&t, S("#"), &sessions[3]));
    expect_ids(&t, "a", "3");
    assert_true(subtrie_remove(&t, S("a"), &sessions[2]));
    assert_int_equal(ca.live, 0);
    subtrie_free(&t);
}

/* ---- allocation failure during add -------------------------------------- */

static const char *const probes[] = {"a/b", "k3/x/y", "k8/x/y", "f/g", "a/b/c", "q/r", "z"};

/* Everything a set of probe topics visits, as one string. */
static void signature(const struct subtrie *t, char *out, size_t cap)
{
    size_t k = 0;
    out[0] = '\0';
    for (size_t i = 0; i < sizeof probes / sizeof probes[0]; i++) {
        struct seen s;
        char ids[1024];
        match(t, probes[i], &s);
        ids_of(&s, ids, sizeof ids);
        int w = snprintf(out + k, cap - k, "%s:[%s] %zu groups;", probes[i], ids, s.ngroups);
        assert_true(w > 0 && (size_t)w < cap - k);
        k += (size_t)w;
    }
}

static void prep_empty(struct subtrie *t)
{
    (void)t;
}

static void prep_eight_children(struct subtrie *t)
{
    char f[16];
    for (uint32_t i = 0; i < 8; i++) {
        snprintf(f, sizeof f, "k%u/x", (unsigned)i);
        add_ok(t, f, &sessions[0], i + 1);
    }
}

static void prep_twelve_children(struct subtrie *t)
{
    char f[16];
    for (uint32_t i = 0; i < 12; i++) {
        snprintf(f, sizeof f, "k%u/x/y", (unsigned)i);
        add_ok(t, f, &sessions[0], i + 1);
    }
}

static void prep_sixteen_sessions(struct subtrie *t)
{
    for (uint32_t i = 0; i < 16; i++) {
        add_ok(t, "f/g", &sessions[i], i + 1);
    }
}

static void prep_groups(struct subtrie *t)
{
    add_ok(t, "$share/g/a/b", &sessions[0], 1);
    add_ok(t, "$share/g/a/b", &sessions[1], 2);
    add_ok(t, "a/b", &sessions[2], 3);
}

struct scenario {
    void (*prepare)(struct subtrie *t);
    const char *filter;
};

static const struct scenario scenarios[] = {
    {prep_empty, "a/b/+/#"},
    {prep_eight_children, "k8/x/y"},
    {prep_eight_children, "k3/x/+/#"},
    {prep_twelve_children, "k12/x/y"},
    {prep_sixteen_sessions, "f/g"},
    {prep_groups, "$share/g/a/b"},
    {prep_groups, "$share/h/a/b"},
    {prep_groups, "$share/h/q/+"},
    {prep_groups, "a/b/c"},
};

static void sweep(const struct scenario *sc, bool fail_from)
{
    for (unsigned long n = 1;; n++) {
        struct counting ca;
        ca_init(&ca);
        struct subtrie t;
        subtrie_init(&t, &ca.mem);
        sc->prepare(&t);
        char before[4096];
        signature(&t, before, sizeof before);
        long live0 = ca.live;
        size_t count0 = subtrie_count(&t);

        ca.fail_at = ca.attempts + n;
        ca.fail_from = fail_from;
        struct subtrie_sub s = sub_of(&sessions[100], 999, 1);
        bool replaced = true;
        int r = subtrie_add(&t, S(sc->filter), &s, &replaced);
        ca.fail_at = 0;
        if (r == 0) {
            /* Every allocation the add needs has been failed once. */
            assert_int_equal(ca.failed, 0);
            assert_true(n > 1);
            assert_false(replaced);
            assert_int_equal(subtrie_count(&t), count0 + 1);
            subtrie_free(&t);
            assert_int_equal(ca.live, 0);
            return;
        }
        assert_int_equal(r, MQTTPROTO_ERR_NO_MEMORY);
        assert_false(replaced);
        assert_int_equal(subtrie_count(&t), count0);
        assert_int_equal(ca.live, live0);
        char after[4096];
        signature(&t, after, sizeof after);
        assert_string_equal(after, before);
        subtrie_free(&t);
        assert_int_equal(ca.live, 0);
        assert_true(n < 100);
    }
}

static void test_add_allocation_failure(void **state)
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
        cmocka_unit_test(test_literal_and_wildcards),
        cmocka_unit_test(test_dollar_topics),
        cmocka_unit_test(test_no_normalization),
        cmocka_unit_test(test_invalid_arguments),
        cmocka_unit_test(test_replace),
        cmocka_unit_test(test_shared_groups),
        cmocka_unit_test(test_round_robin),
        cmocka_unit_test(test_round_robin_large),
        cmocka_unit_test(test_differential_small),
        cmocka_unit_test(test_differential_wide),
        cmocka_unit_test(test_wide_nodes),
        cmocka_unit_test(test_deep),
        cmocka_unit_test(test_remove_frees),
        cmocka_unit_test(test_add_allocation_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
