/*
 * Reference matcher and validators: split into levels, then compare levels.
 * Deliberately shares no code or strategy with src/topic.c.
 */
#include "naive_match.h"

#include <stdlib.h>
#include <string.h>

typedef struct naive_level {
    const char *p;
    size_t len;
} naive_level;

/* Levels of s (n + 1 of them for n slashes); free the result with free(). */
static naive_level *split_levels(const char *s, size_t len, size_t *count)
{
    size_t n = 1;
    if (len == 0) {
        naive_level *one = malloc(sizeof *one);
        if (one == NULL) {
            abort();
        }
        one->p = s;
        one->len = 0;
        *count = 1;
        return one;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '/') {
            n++;
        }
    }
    naive_level *out = malloc(n * sizeof *out);
    if (out == NULL) {
        abort();
    }
    size_t k = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '/') {
            out[k].p = s + start;
            out[k].len = i - start;
            k++;
            start = i + 1;
        }
    }
    *count = n;
    return out;
}

static bool level_is(naive_level l, const char *text)
{
    size_t n = strlen(text);
    return l.len == n && memcmp(l.p, text, n) == 0;
}

static bool level_equal(naive_level a, naive_level b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static bool level_contains(naive_level l, char c)
{
    return l.len > 0 && memchr(l.p, c, l.len) != NULL;
}

bool naive_topic_matches(const char *filter, size_t filter_len, const char *topic, size_t topic_len)
{
    if (filter_len > 0 && topic_len > 0 && (filter[0] == '+' || filter[0] == '#') &&
        topic[0] == '$') {
        return false;
    }
    size_t nf;
    size_t nt;
    naive_level *fl = split_levels(filter, filter_len, &nf);
    naive_level *tl = split_levels(topic, topic_len, &nt);
    bool result = true;
    for (size_t i = 0; i < nf; i++) {
        if (i == nf - 1 && level_is(fl[i], "#")) {
            result = true;
            goto done;
        }
        if (i >= nt) {
            result = false;
            goto done;
        }
        if (level_is(fl[i], "+")) {
            continue;
        }
        if (!level_equal(fl[i], tl[i])) {
            result = false;
            goto done;
        }
    }
    result = nf == nt;
done:
    free(fl);
    free(tl);
    return result;
}

static bool plain_filter_shape_ok(const char *filter, size_t filter_len)
{
    if (filter_len == 0) {
        return false;
    }
    size_t n;
    naive_level *lv = split_levels(filter, filter_len, &n);
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        if (level_contains(lv[i], '+') && !level_is(lv[i], "+")) {
            ok = false;
        }
        if (level_contains(lv[i], '#') && !(level_is(lv[i], "#") && i == n - 1)) {
            ok = false;
        }
    }
    free(lv);
    return ok;
}

bool naive_filter_shape_ok(const char *filter, size_t filter_len)
{
    if (filter_len == 0 || filter_len > 65535) {
        return false;
    }
    if (filter_len < 7 || memcmp(filter, "$share/", 7) != 0) {
        return plain_filter_shape_ok(filter, filter_len);
    }
    size_t n;
    naive_level *lv = split_levels(filter, filter_len, &n);
    /* lv[0] is "$share", lv[1] the ShareName, the rest the inner filter. */
    bool ok = n >= 3 && lv[1].len > 0 && !level_contains(lv[1], '+') && !level_contains(lv[1], '#');
    if (ok) {
        const char *inner = lv[2].p;
        ok = plain_filter_shape_ok(inner, filter_len - (size_t)(inner - filter));
    }
    free(lv);
    return ok;
}

bool naive_name_shape_ok(const char *topic, size_t topic_len)
{
    if (topic_len == 0 || topic_len > 65535) {
        return false;
    }
    for (size_t i = 0; i < topic_len; i++) {
        if (topic[i] == '+' || topic[i] == '#') {
            return false;
        }
    }
    return true;
}
