/*
 * Fuzz target for the topic module.
 *
 * Input: filter bytes, one 0xFF byte, topic bytes. 0xFF never occurs in
 * valid UTF-8, so the split loses nothing; without a 0xFF the whole input
 * serves as both filter and topic.
 *
 * Checked on every input: validation agrees with the reference's wildcard
 * and shared-subscription rules, the shared filter split agrees with
 * validation and rebuilds the filter, and when both strings are valid the
 * matcher agrees with the reference matcher. Any disagreement aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqttproto/mqttproto.h"
#include "naive_match.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where results that are only computed go, so that the calls are not
   optimized away; at file scope, where each store counts (the analyzer
   calls an initialized local's first store dead even when volatile). */
static volatile bool sink;

static void check(bool ok)
{
    if (!ok) {
        abort();
    }
}

static bool is_utf8_error(int r)
{
    return r == MQTTPROTO_ERR_INVALID_UTF8 || r == MQTTPROTO_ERR_UTF8_NULL_CHARACTER;
}

static bool within(mqttproto_str part, mqttproto_str whole)
{
    return part.data >= whole.data && part.len <= whole.len &&
           (size_t)(part.data - whole.data) <= whole.len - part.len;
}

static bool starts_shared(mqttproto_str s)
{
    return s.len >= 7 && memcmp(s.data, "$share/", 7) == 0;
}

static int check_filter(mqttproto_str f)
{
    int rf = mqttproto_topic_filter_validate(f);
    if (rf == 0) {
        check(naive_filter_shape_ok(f.data, f.len));
    } else if (rf == MQTTPROTO_ERR_TOPIC_FILTER_INVALID) {
        check(!naive_filter_shape_ok(f.data, f.len));
    } else {
        check(is_utf8_error(rf) && f.len > 0 && f.len <= 65535);
    }
    return rf;
}

static int check_name(mqttproto_str t)
{
    int rn = mqttproto_topic_name_validate(t);
    if (rn == 0) {
        check(naive_name_shape_ok(t.data, t.len));
    } else if (rn == MQTTPROTO_ERR_TOPIC_NAME_INVALID) {
        check(!naive_name_shape_ok(t.data, t.len));
    } else {
        check(is_utf8_error(rn) && t.len > 0 && t.len <= 65535);
    }
    return rn;
}

/* Returns the filter to match with: the inner filter of a shared one. */
static mqttproto_str check_parse(mqttproto_str f, int rf)
{
    mqttproto_str name;
    mqttproto_str inner;
    int rp = mqttproto_shared_filter_parse(f, &name, &inner);
    if (!starts_shared(f)) {
        check(rp == 0);
        check(inner.data == f.data && inner.len == f.len);
        check(name.len == 0);
        return inner;
    }
    if (rf != 0) {
        check(rp == MQTTPROTO_ERR_TOPIC_FILTER_INVALID);
        return f;
    }
    check(rp == 1);
    check(name.len > 0 && inner.len > 0);
    check(within(name, f) && within(inner, f));
    check(name.data == f.data + 7);
    check(7 + name.len + 1 + inner.len == f.len);
    check(name.data[name.len] == '/' && inner.data == name.data + name.len + 1);
    check(memchr(name.data, '/', name.len) == NULL);
    /* A nested "$share/" inner filter is kept as a plain filter. */
    check(starts_shared(inner) || mqttproto_topic_filter_validate(inner) == 0);
    /* Both outputs are optional. */
    check(mqttproto_shared_filter_parse(f, NULL, NULL) == 1);
    return inner;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *bytes = (const char *)data;
    const uint8_t *cut = size > 0 ? memchr(data, 0xFF, size) : NULL;
    mqttproto_str f;
    mqttproto_str t;
    if (cut != NULL) {
        size_t k = (size_t)(cut - data);
        f = (mqttproto_str){bytes, k};
        t = (mqttproto_str){bytes + k + 1, size - k - 1};
    } else {
        f = (mqttproto_str){bytes, size};
        t = f;
    }

    int rf = check_filter(f);
    int rn = check_name(t);
    mqttproto_str match_filter = check_parse(f, rf);

    /* Defined on any input: must not fault. */
    sink = mqttproto_topic_matches(f, t);
    sink = mqttproto_topic_matches(t, f);

    if (rf == 0 && rn == 0) {
        bool fast = mqttproto_topic_matches(match_filter, t);
        bool ref = naive_topic_matches(match_filter.data, match_filter.len, t.data, t.len);
        check(fast == ref);
    }
    if (rn == 0) {
        /* A valid name is a filter without wildcards that matches itself. */
        check(mqttproto_topic_matches(t, t));
        if (!starts_shared(t)) {
            check(mqttproto_topic_filter_validate(t) == 0);
        }
    }
    return 0;
}
