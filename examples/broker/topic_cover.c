#include "topic_cover.h"

#include <string.h>

/* The level starting at *pos; *pos moves past it and its '/'. Returns
   false at the end of the filter. */
static bool next_level(mqttproto_str f, size_t *pos, bool *done, mqttproto_str *level)
{
    if (*done) {
        return false;
    }
    const char *start = f.data + *pos;
    const char *slash = memchr(start, '/', f.len - *pos);
    if (slash == NULL) {
        level->data = start;
        level->len = f.len - *pos;
        *pos = f.len;
        *done = true;
    } else {
        level->data = start;
        level->len = (size_t)(slash - start);
        *pos += level->len + 1;
    }
    return true;
}

static bool is(mqttproto_str level, char c)
{
    return level.len == 1 && level.data[0] == c;
}

bool topic_filter_covers(mqttproto_str outer, mqttproto_str inner)
{
    if (memchr(inner.data, '+', inner.len) == NULL && memchr(inner.data, '#', inner.len) == NULL) {
        return mqttproto_topic_matches(outer, inner);
    }
    /* A filter starting with a wildcard matches no topic starting with '$'
       [MQTT-4.7.2-1]: it cannot cover a filter whose first level does. */
    bool outer_wild_first = outer.len > 0 && (outer.data[0] == '+' || outer.data[0] == '#');
    if (outer_wild_first && inner.len > 0 && inner.data[0] == '$') {
        return false;
    }
    size_t op = 0, ip = 0;
    bool odone = outer.len == 0, idone = inner.len == 0;
    for (;;) {
        mqttproto_str o, i;
        bool has_o = next_level(outer, &op, &odone, &o);
        bool has_i = next_level(inner, &ip, &idone, &i);
        if (has_o && is(o, '#')) {
            return true; /* the rest, and the parent level too */
        }
        if (!has_o || !has_i) {
            return !has_o && !has_i;
        }
        if (is(i, '#')) {
            return false; /* only '#' covers '#' */
        }
        if (is(o, '+')) {
            continue; /* covers any one level, '+' included */
        }
        if (is(i, '+') || o.len != i.len || memcmp(o.data, i.data, o.len) != 0) {
            return false;
        }
    }
}
