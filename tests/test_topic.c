/*
 * Topic names, topic filters, shared subscription filters and matching
 * (MQTT 5.0 sections 4.7 and 4.8.2).
 */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

/* The reference matcher is built into this test, not linked. */
#include "../fuzz/naive_match.c"

#define DEEP_LEVELS 10000
#define MAX_TOPIC   65535

static mqttproto_str S(const char *s)
{
    return mqttproto_str_from_cstr(s);
}

static mqttproto_str SL(const char *s, size_t len)
{
    mqttproto_str v = {s, len};
    return v;
}

static void expect_name(mqttproto_str t, int want)
{
    int got = mqttproto_topic_name_validate(t);
    if (got != want) {
        print_error("topic name \"%.*s\": got %s, want %s\n", (int)(t.len > 80 ? 80 : t.len),
                    t.data ? t.data : "", mqttproto_err_name(got), mqttproto_err_name(want));
    }
    assert_int_equal(got, want);
}

static void expect_filter(mqttproto_str f, int want)
{
    int got = mqttproto_topic_filter_validate(f);
    if (got != want) {
        print_error("topic filter \"%.*s\": got %s, want %s\n", (int)(f.len > 80 ? 80 : f.len),
                    f.data ? f.data : "", mqttproto_err_name(got), mqttproto_err_name(want));
    }
    assert_int_equal(got, want);
}

static void expect_match(const char *filter, const char *topic, bool want)
{
    bool got = mqttproto_topic_matches(S(filter), S(topic));
    if (got != want) {
        print_error("filter \"%s\" topic \"%s\": got %d, want %d\n", filter, topic, got, want);
    }
    assert_int_equal(got, want);
    /* The reference must agree, or the differential tests prove nothing. */
    assert_int_equal(naive_topic_matches(filter, strlen(filter), topic, strlen(topic)), want);
}

/* A buffer of len copies of c; free with free(). */
static char *filled(char c, size_t len)
{
    char *p = malloc(len + 1);
    assert_non_null(p);
    memset(p, c, len);
    p[len] = '\0';
    return p;
}

/* levels copies of level joined by '/', then tail (may be ""); free with free(). */
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
    memcpy(p + k, tail, tl);
    k += tl;
    p[k] = '\0';
    return p;
}

/* ---- topic names ---- */

static void test_name_accepts(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "a",
        "/",
        "//",
        "sport/tennis/player1",
        "/finance",
        "$SYS/monitor/Clients",
        "$share/g/t", /* a name, not a filter: no shared-filter rules apply */
        "Accounts payable",
        " ",
        "caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80",
        "\xef\xbb\xbf", /* U+FEFF stays a character [MQTT-1.5.4-3] */
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        expect_name(S(ok[i]), 0);
    }
}

/* [MQTT-4.7.3-1] */
static void test_name_rejects_empty(void **state)
{
    (void)state;
    expect_name(SL(NULL, 0), MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-4.7.3-1] */
    expect_name(S(""), MQTTPROTO_ERR_TOPIC_NAME_INVALID);       /* [MQTT-4.7.3-1] */
    /* A view that claims bytes but has none is refused, not read. */
    expect_name(SL(NULL, 3), MQTTPROTO_ERR_TOPIC_NAME_INVALID);
}

/* [MQTT-4.7.0-1] [MQTT-3.3.2-2] */
static void test_name_rejects_wildcards(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "+", "#", "a/+", "a/#", "+/a", "a+b", "a#b", "sport/tennis/#", "$SYS/+", "a/b+",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_name(S(bad[i]), MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-4.7.0-1] */
    }
}

/* [MQTT-4.7.3-3] */
static void test_name_length_limit(void **state)
{
    (void)state;
    char *p = filled('a', MAX_TOPIC + 1);
    expect_name(SL(p, MAX_TOPIC), 0);                                    /* [MQTT-4.7.3-3] */
    expect_name(SL(p, MAX_TOPIC + 1), MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-4.7.3-3] */
    free(p);
}

/* [MQTT-4.7.3-2] */
static void test_name_rejects_null_character(void **state)
{
    (void)state;
    expect_name(SL("\0", 1), MQTTPROTO_ERR_UTF8_NULL_CHARACTER);         /* [MQTT-4.7.3-2] */
    expect_name(SL("a/\0/b", 5), MQTTPROTO_ERR_UTF8_NULL_CHARACTER);     /* [MQTT-4.7.3-2] */
    expect_name(SL("abcdefgh\0", 9), MQTTPROTO_ERR_UTF8_NULL_CHARACTER); /* [MQTT-4.7.3-2] */
}

/* [MQTT-1.5.4-1] */
static void test_name_rejects_ill_formed_utf8(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "\xff",             /* never valid */
        "a/\xc3",           /* truncated sequence */
        "\xc0\x80",         /* overlong U+0000 */
        "\xe0\x80\xaf",     /* overlong '/' */
        "\xed\xa0\x80",     /* surrogate U+D800 [MQTT-1.5.4-1] */
        "\xf4\x90\x80\x80", /* past U+10FFFF */
        "a/\x80/b",         /* lone continuation byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_name(S(bad[i]), MQTTPROTO_ERR_INVALID_UTF8);
    }
}

/* ---- topic filters ---- */

static void test_filter_accepts(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "+",
        "#",
        "/",
        "//",
        "+/+",
        "/+",
        "+/",
        "a/#",
        "a/+/b",
        "+/+/#",
        "sport/tennis/player1/#",
        "sport/tennis/+",
        "$SYS/#",
        "$SYS/monitor/+",
        "+/monitor/Clients",
        "$share",    /* no '/' after it: not a shared filter */
        "$sharex/y", /* not the "$share/" prefix */
        "$SHARE/a",  /* the prefix is case-sensitive */
        "$share/g/#",
        "$share/g/+/x",
        "$share/g/a/b",
        "$share/g//",
        "$share/g/$share/h/t", /* the inner filter is a plain topic filter */
        "$share/caf\xc3\xa9/t",
        "caf\xc3\xa9/+/\xe2\x82\xac",
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        expect_filter(S(ok[i]), 0);
    }
}

/* [MQTT-4.7.3-1] */
static void test_filter_rejects_empty(void **state)
{
    (void)state;
    expect_filter(SL(NULL, 0), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.3-1] */
    expect_filter(S(""), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);       /* [MQTT-4.7.3-1] */
    expect_filter(SL(NULL, 2), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
}

/* [MQTT-4.7.1-1] */
static void test_filter_hash_alone_and_last(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "a#",     "#/bar", "sport/tennis#", "sport/tennis/#/ranking", "##", "#/", "a/#b",
        "a/b#/c", "#+",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_filter(S(bad[i]), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.1-1] */
    }
}

/* [MQTT-4.7.1-2] */
static void test_filter_plus_whole_level(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "foo/+bar", "foo/bar+", "sport+", "+a", "a+", "++", "a/++/b", "+/a+/b", "+#",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        expect_filter(S(bad[i]), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.1-2] */
    }
}

/* [MQTT-4.7.3-3] */
static void test_filter_length_limit(void **state)
{
    (void)state;
    char *p = filled('a', MAX_TOPIC + 1);
    expect_filter(SL(p, MAX_TOPIC), 0);                                      /* [MQTT-4.7.3-3] */
    expect_filter(SL(p, MAX_TOPIC + 1), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.3-3] */
    p[MAX_TOPIC - 1] = '#';
    p[MAX_TOPIC - 2] = '/';
    expect_filter(SL(p, MAX_TOPIC), 0); /* [MQTT-4.7.3-3] */
    free(p);
}

/* [MQTT-4.7.3-2] [MQTT-1.5.4-1] */
static void test_filter_rejects_bad_utf8(void **state)
{
    (void)state;
    expect_filter(SL("a/\0", 3), MQTTPROTO_ERR_UTF8_NULL_CHARACTER);         /* [MQTT-4.7.3-2] */
    expect_filter(SL("$share/g/\0", 10), MQTTPROTO_ERR_UTF8_NULL_CHARACTER); /* [MQTT-4.7.3-2] */
    expect_filter(S("+/\xff"), MQTTPROTO_ERR_INVALID_UTF8);
    expect_filter(S("\xed\xbf\xbf/#"), MQTTPROTO_ERR_INVALID_UTF8); /* [MQTT-1.5.4-1] */
    expect_filter(S("$share/\xc3/t"), MQTTPROTO_ERR_INVALID_UTF8);
}

/* [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
static void test_filter_shared_rules(void **state)
{
    (void)state;
    expect_filter(S("$share/"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);     /* [MQTT-4.8.2-1] */
    expect_filter(S("$share//t"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);   /* [MQTT-4.8.2-1] */
    expect_filter(S("$share//"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);    /* [MQTT-4.8.2-1] */
    expect_filter(S("$share/ab"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);   /* [MQTT-4.8.2-2] */
    expect_filter(S("$share/a/"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);   /* [MQTT-4.8.2-2] */
    expect_filter(S("$share/a+/t"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.8.2-2] */
    expect_filter(S("$share/+/t"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);  /* [MQTT-4.8.2-2] */
    expect_filter(S("$share/#/t"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);  /* [MQTT-4.8.2-2] */
    expect_filter(S("$share/g#/t"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.8.2-2] */
    expect_filter(S("$share/#"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);    /* [MQTT-4.8.2-2] */
    /* The inner filter follows the ordinary wildcard rules [MQTT-4.8.2-2]. */
    expect_filter(S("$share/g/a#"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);   /* [MQTT-4.7.1-1] */
    expect_filter(S("$share/g/#/a"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);  /* [MQTT-4.7.1-1] */
    expect_filter(S("$share/g/a+"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID);   /* [MQTT-4.7.1-2] */
    expect_filter(S("$share/g/+x/y"), MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.1-2] */
}

/* ---- shared filter parsing ---- */

static void expect_shared(const char *filter, const char *name, const char *inner)
{
    mqttproto_str f = S(filter);
    mqttproto_str n = {"junk", 4};
    mqttproto_str in = {"junk", 4};
    assert_int_equal(mqttproto_shared_filter_parse(f, &n, &in), 1); /* [MQTT-4.8.2-1] */
    assert_int_equal(n.len, strlen(name));
    assert_memory_equal(n.data, name, n.len);
    assert_int_equal(in.len, strlen(inner));
    assert_memory_equal(in.data, inner, in.len);
    /* Views into the filter itself, not copies. */
    assert_ptr_equal(n.data, filter + 7);
    assert_ptr_equal(in.data, filter + 7 + n.len + 1);
    assert_int_equal(mqttproto_shared_filter_parse(f, NULL, NULL), 1);
}

static void test_shared_parse_valid(void **state)
{
    (void)state;
    expect_shared("$share/g/#", "g", "#");
    expect_shared("$share/g/+/x", "g", "+/x");
    expect_shared("$share/consumer1/sport/tennis/+", "consumer1", "sport/tennis/+");
    expect_shared("$share/g//", "g", "/");
    expect_shared("$share/g/$share/h/t", "g", "$share/h/t");
    expect_shared("$share/caf\xc3\xa9/t", "caf\xc3\xa9", "t");
}

static void test_shared_parse_not_shared(void **state)
{
    (void)state;
    static const char *const plain[] = {
        "a/b", "$share", "$sharex/y", "$SHARE/g/t", "#", "share/g/t", "$shar", "a#",
    };
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        mqttproto_str f = S(plain[i]);
        mqttproto_str n = {"junk", 4};
        mqttproto_str in = {NULL, 0};
        assert_int_equal(mqttproto_shared_filter_parse(f, &n, &in), 0);
        assert_int_equal(n.len, 0);
        /* The whole filter comes back as the inner one. */
        assert_ptr_equal(in.data, f.data);
        assert_int_equal(in.len, f.len);
    }
    mqttproto_str in = {"junk", 4};
    assert_int_equal(mqttproto_shared_filter_parse(SL(NULL, 0), NULL, &in), 0);
    assert_int_equal(in.len, 0);
}

/* [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
static void test_shared_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "$share/",       /* [MQTT-4.8.2-1] */
        "$share//t",     /* [MQTT-4.8.2-1] */
        "$share/ab",     /* [MQTT-4.8.2-2] */
        "$share/a/",     /* [MQTT-4.8.2-2] */
        "$share/a+/t",   /* [MQTT-4.8.2-2] */
        "$share/a#/t",   /* [MQTT-4.8.2-2] */
        "$share/g/a#",   /* [MQTT-4.7.1-1] */
        "$share/g/a+",   /* [MQTT-4.7.1-2] */
        "$share/g/\xff", /* every invalid shared filter gives the one error */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mqttproto_str n = {"junk", 4};
        mqttproto_str in = {"junk", 4};
        assert_int_equal(mqttproto_shared_filter_parse(S(bad[i]), &n, &in),
                         MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.8.2-2] */
        assert_int_equal(n.len, 0);
        assert_int_equal(in.len, 0);
        assert_int_equal(mqttproto_shared_filter_parse(S(bad[i]), NULL, NULL),
                         MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
    }
    assert_int_equal(mqttproto_shared_filter_parse(SL("$share/g/\0", 10), NULL, NULL),
                     MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.3-2] */
    char *p = filled('a', MAX_TOPIC + 1);
    memcpy(p, "$share/g/", 9);
    assert_int_equal(mqttproto_shared_filter_parse(SL(p, MAX_TOPIC), NULL, NULL), 1);
    assert_int_equal(mqttproto_shared_filter_parse(SL(p, MAX_TOPIC + 1), NULL, NULL),
                     MQTTPROTO_ERR_TOPIC_FILTER_INVALID); /* [MQTT-4.7.3-3] */
    free(p);
}

/* ---- matching ---- */

/* The examples of MQTT 5.0 section 4.7.1. */
static void test_match_spec_multi_level(void **state)
{
    (void)state;
    expect_match("sport/tennis/player1/#", "sport/tennis/player1", true);
    expect_match("sport/tennis/player1/#", "sport/tennis/player1/ranking", true);
    expect_match("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true);
    expect_match("sport/tennis/player1/#", "sport/tennis/player2", false);
    expect_match("sport/tennis/player1/#", "sport/tennis", false);
    expect_match("sport/tennis/player1/#", "sport/tennis/player10", false);
    expect_match("sport/#", "sport", true);
    expect_match("sport/#", "sport/", true);
    expect_match("sport/#", "sport/tennis/player1", true);
    expect_match("sport/#", "sports", false);
    expect_match("sport/#", "spor", false);
    expect_match("#", "sport", true);
    expect_match("#", "/", true);
    expect_match("#", "a/b/c/d", true);
    expect_match("/#", "/", true);
    expect_match("/#", "/a/b", true);
    expect_match("/#", "a", false);
}

static void test_match_spec_single_level(void **state)
{
    (void)state;
    expect_match("sport/tennis/+", "sport/tennis/player1", true);
    expect_match("sport/tennis/+", "sport/tennis/player2", true);
    expect_match("sport/tennis/+", "sport/tennis/player1/ranking", false);
    expect_match("sport/tennis/+", "sport/tennis", false);
    expect_match("sport/+", "sport", false);
    expect_match("sport/+", "sport/", true);
    expect_match("+/+", "/finance", true);
    expect_match("/+", "/finance", true);
    expect_match("+", "/finance", false);
    expect_match("+", "finance", true);
    expect_match("+/tennis/#", "sport/tennis/player1", true);
    expect_match("+/tennis/#", "sport/tennis", true);
    expect_match("+/tennis/#", "sport/golf", false);
    expect_match("+/+", "a", false);
    expect_match("+/+", "a/b/c", false);
    expect_match("+/+", "/", true);
    expect_match("a/+/c", "a//c", true);
    expect_match("a/+/c", "a/c", false);
    expect_match("+/+/#", "a/b", true);
    expect_match("+/+/#", "a", false);
}

/* [MQTT-4.7.2-1] */
static void test_match_dollar_topics(void **state)
{
    (void)state;
    expect_match("#", "$SYS/monitor/Clients", false);                 /* [MQTT-4.7.2-1] */
    expect_match("#", "$SYS", false);                                 /* [MQTT-4.7.2-1] */
    expect_match("+/monitor/Clients", "$SYS/monitor/Clients", false); /* [MQTT-4.7.2-1] */
    expect_match("+", "$x", false);                                   /* [MQTT-4.7.2-1] */
    expect_match("+/#", "$SYS/a", false);                             /* [MQTT-4.7.2-1] */
    expect_match("$SYS/#", "$SYS/monitor/Clients", true);
    expect_match("$SYS/#", "$SYS", true);
    expect_match("$SYS/monitor/+", "$SYS/monitor/Clients", true);
    expect_match("$SYS/monitor/Clients", "$SYS/monitor/Clients", true);
    /* Only the first level is special. */
    expect_match("+/$x", "a/$x", true);
    expect_match("a/+", "a/$x", true);
    expect_match("a/#", "a/$x/b", true);
    expect_match("#", "a$", true);
}

/* [MQTT-4.7.3-4] */
static void test_match_no_normalization(void **state)
{
    (void)state;
    expect_match("ACCOUNTS", "Accounts", false);                /* [MQTT-4.7.3-4] */
    expect_match("Accounts payable", "Accounts payable", true); /* [MQTT-4.7.3-4] */
    expect_match("a/b", "a//b", false);                         /* [MQTT-4.7.3-4] */
    expect_match("a/b", "a/b/", false);                         /* [MQTT-4.7.3-4] */
    expect_match("a/b", "/a/b", false);                         /* [MQTT-4.7.3-4] */
    expect_match("a/b/", "a/b/", true);
    expect_match("a/b ", "a/b", false); /* [MQTT-4.7.3-4] */
    /* Precomposed and decomposed e-acute stay different [MQTT-4.7.3-4]. */
    expect_match("caf\xc3\xa9", "cafe\xcc\x81", false);
    expect_match("caf\xc3\xa9/+", "caf\xc3\xa9/x", true);
}

/* Invalid input gets an answer, never a fault; these pin the answer down. */
static void test_match_defined_on_invalid(void **state)
{
    (void)state;
    expect_match("", "", true);
    expect_match("", "a", false);
    expect_match("+", "", true);
    expect_match("#", "", true);
    expect_match("a+", "a+", true); /* not a whole level: a literal '+' */
    expect_match("a+", "ab", false);
    expect_match("#/a", "#/a", true); /* not last: a literal '#' */
    expect_match("#/a", "x/a", false);
    expect_match("a#", "a", false);
    assert_false(mqttproto_topic_matches(SL(NULL, 0), S("a")));
    assert_true(mqttproto_topic_matches(S("#"), SL(NULL, 0)));
    assert_false(mqttproto_topic_matches(SL(NULL, 4), S("a")));
    assert_false(mqttproto_topic_matches(S("#"), SL(NULL, 4)));
}

static void test_match_views_not_terminated(void **state)
{
    (void)state;
    /* Lengths, not NUL bytes, end the views. */
    const char buf[] = "a/b/cXYZ";
    assert_true(mqttproto_topic_matches(SL("a/+/c", 5), SL(buf, 5)));
    assert_false(mqttproto_topic_matches(SL("a/+/c", 5), SL(buf, 6)));
    assert_true(mqttproto_topic_matches(SL("a/#ZZ", 3), SL(buf, 5)));
    assert_false(mqttproto_topic_matches(SL("a/+ZZ", 3), SL(buf, 5)));
    assert_true(mqttproto_topic_matches(SL("a/+ZZ", 3), SL(buf, 3)));
}

/* ---- deep inputs ---- */

static void test_deep_filters_and_topics(void **state)
{
    (void)state;
    char *plus = repeat_levels("+", DEEP_LEVELS, "");
    char *plus_hash = repeat_levels("+", DEEP_LEVELS, "/#");
    char *lit = repeat_levels("a", DEEP_LEVELS, "");
    char *lit_hash = repeat_levels("a", DEEP_LEVELS - 1, "/#");
    char *lit_b = repeat_levels("a", DEEP_LEVELS - 1, "/b");
    char *longer = repeat_levels("a", DEEP_LEVELS + 1, "");
    char *empty_levels = filled('/', DEEP_LEVELS - 1);

    expect_filter(S(plus), 0);
    expect_filter(S(plus_hash), 0);
    expect_filter(S(lit_hash), 0);
    expect_name(S(lit), 0);
    expect_name(S(longer), 0);
    expect_name(S(empty_levels), 0);
    expect_name(S(plus), MQTTPROTO_ERR_TOPIC_NAME_INVALID); /* [MQTT-4.7.0-1] */

    expect_match(plus, lit, true);
    expect_match(plus, empty_levels, true);
    expect_match(plus, longer, false);
    expect_match(plus_hash, lit, true);
    expect_match(plus_hash, longer, true);
    expect_match(lit_hash, lit, true);
    expect_match(lit_hash, longer, true);
    expect_match(lit, lit, true);
    expect_match(lit, longer, false);
    expect_match(longer, lit, false);
    expect_match(lit_b, lit, false);

    free(plus);
    free(plus_hash);
    free(lit);
    free(lit_hash);
    free(lit_b);
    free(longer);
    free(empty_levels);
}

/*
 * The deepest inputs allowed (32,768 "+" levels, 65,536 empty levels) on a
 * thread with a small stack: anything that recursed per level would
 * overflow it.
 */
struct deep_args {
    const char *filter;
    const char *topic;
    const char *deep_topic;
    int filter_rc;
    int topic_rc;
    bool match;
    bool deep_match;
    bool hash_match;
};

static void *deep_worker(void *p)
{
    struct deep_args *a = p;
    a->filter_rc = mqttproto_topic_filter_validate(S(a->filter));
    a->topic_rc = mqttproto_topic_name_validate(S(a->topic));
    a->match = mqttproto_topic_matches(S(a->filter), S(a->topic));
    a->deep_match = mqttproto_topic_matches(S(a->filter), S(a->deep_topic));
    a->hash_match = mqttproto_topic_matches(S("/#"), S(a->deep_topic));
    return NULL;
}

static void test_deepest_on_small_stack(void **state)
{
    (void)state;
    char *filter = repeat_levels("+", 32768, "");
    char *topic = filled('/', 32767);
    char *deep_topic = filled('/', MAX_TOPIC);
    assert_int_equal(strlen(filter), MAX_TOPIC);

    struct deep_args a = {filter, topic, deep_topic, -1, -1, false, true, false};
    pthread_attr_t attr;
    assert_int_equal(pthread_attr_init(&attr), 0);
    assert_int_equal(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, &attr, deep_worker, &a), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    pthread_attr_destroy(&attr);

    assert_int_equal(a.filter_rc, 0);
    assert_int_equal(a.topic_rc, 0);
    assert_true(a.match);
    assert_false(a.deep_match);
    assert_true(a.hash_match);
    free(filter);
    free(topic);
    free(deep_topic);
}

/* ---- differential against the reference ---- */

static uint64_t rng_state;

static uint32_t rng_next(void)
{
    /* xorshift64*: fixed seed, same sequence on every platform. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static size_t rng_below(size_t n)
{
    return (size_t)rng_next() % n;
}

static size_t build_levels(char *out, const char *const *alphabet, size_t alphabet_len,
                           size_t max_levels)
{
    size_t levels = 1 + rng_below(max_levels);
    size_t k = 0;
    for (size_t i = 0; i < levels; i++) {
        if (i > 0) {
            out[k++] = '/';
        }
        const char *lv = alphabet[rng_below(alphabet_len)];
        size_t n = strlen(lv);
        memcpy(out + k, lv, n);
        k += n;
    }
    out[k] = '\0';
    return k;
}

static void test_differential_random(void **state)
{
    (void)state;
    static const char *const filter_levels[] = {"a", "b", "", "$x", "+", "#"};
    static const char *const topic_levels[] = {"a", "b", "", "$x"};
    rng_state = 0x6d717474u; /* fixed: failures reproduce */
    size_t compared = 0;
    size_t matched = 0;
    size_t shared = 0;
    char fbuf[128];
    char tbuf[128];
    for (int iter = 0; iter < 200000; iter++) {
        size_t off = 0;
        if (rng_below(8) == 0) {
            memcpy(fbuf, "$share/g/", 9);
            off = 9;
        }
        size_t flen = off + build_levels(fbuf + off, filter_levels, 6, 6);
        size_t tlen = build_levels(tbuf, topic_levels, 4, 6);
        mqttproto_str f = SL(fbuf, flen);
        mqttproto_str t = SL(tbuf, tlen);

        int rf = mqttproto_topic_filter_validate(f);
        bool shape_ok = naive_filter_shape_ok(fbuf, flen);
        if (rf != (shape_ok ? 0 : MQTTPROTO_ERR_TOPIC_FILTER_INVALID)) {
            print_error("filter \"%s\": validate %d, reference %d\n", fbuf, rf, shape_ok);
        }
        assert_int_equal(rf, shape_ok ? 0 : MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
        assert_int_equal(mqttproto_topic_name_validate(t),
                         naive_name_shape_ok(tbuf, tlen) ? 0 : MQTTPROTO_ERR_TOPIC_NAME_INVALID);

        mqttproto_str inner;
        int rp = mqttproto_shared_filter_parse(f, NULL, &inner);
        assert_int_equal(rp, off == 0 ? 0 : rf == 0 ? 1 : MQTTPROTO_ERR_TOPIC_FILTER_INVALID);

        /* The matcher is defined on any level string; compare it on all. */
        if (off == 0) {
            bool got = mqttproto_topic_matches(f, t);
            bool want = naive_topic_matches(fbuf, flen, tbuf, tlen);
            if (got != want) {
                print_error("filter \"%s\" topic \"%s\": got %d, reference %d\n", fbuf, tbuf, got,
                            want);
            }
            assert_int_equal(got, want);
        }
        if (rf != 0 || tlen == 0) {
            continue;
        }
        bool got = mqttproto_topic_matches(inner, t);
        bool want = naive_topic_matches(inner.data, inner.len, tbuf, tlen);
        if (got != want) {
            print_error("filter \"%s\" topic \"%s\": got %d, reference %d\n", fbuf, tbuf, got,
                        want);
        }
        assert_int_equal(got, want);
        compared++;
        matched += got;
        shared += rp == 1;
    }
    /* The generator must exercise both outcomes and shared filters. */
    assert_true(compared > 50000);
    assert_true(matched > 5000);
    assert_true(compared - matched > 5000);
    assert_true(shared > 5000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_accepts),
        cmocka_unit_test(test_name_rejects_empty),
        cmocka_unit_test(test_name_rejects_wildcards),
        cmocka_unit_test(test_name_length_limit),
        cmocka_unit_test(test_name_rejects_null_character),
        cmocka_unit_test(test_name_rejects_ill_formed_utf8),
        cmocka_unit_test(test_filter_accepts),
        cmocka_unit_test(test_filter_rejects_empty),
        cmocka_unit_test(test_filter_hash_alone_and_last),
        cmocka_unit_test(test_filter_plus_whole_level),
        cmocka_unit_test(test_filter_length_limit),
        cmocka_unit_test(test_filter_rejects_bad_utf8),
        cmocka_unit_test(test_filter_shared_rules),
        cmocka_unit_test(test_shared_parse_valid),
        cmocka_unit_test(test_shared_parse_not_shared),
        cmocka_unit_test(test_shared_parse_invalid),
        cmocka_unit_test(test_match_spec_multi_level),
        cmocka_unit_test(test_match_spec_single_level),
        cmocka_unit_test(test_match_dollar_topics),
        cmocka_unit_test(test_match_no_normalization),
        cmocka_unit_test(test_match_defined_on_invalid),
        cmocka_unit_test(test_match_views_not_terminated),
        cmocka_unit_test(test_deep_filters_and_topics),
        cmocka_unit_test(test_deepest_on_small_stack),
        cmocka_unit_test(test_differential_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
