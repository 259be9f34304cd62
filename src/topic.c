/*
 * Topic names, topic filters, shared subscription filters and matching
 * (MQTT 5.0 sections 4.7 and 4.8.2).
 *
 * Matching sits on the broker's delivery path, so it walks both strings once,
 * level by level, with no allocation and no recursion: a filter or topic of
 * tens of thousands of levels costs time, never stack.
 */
#include "mqttproto/topic.h"

#include "wire.h"

#define TOPIC_MAX_LEN 65535u

static const char SHARE_PREFIX[] = "$share/";
#define SHARE_PREFIX_LEN (sizeof SHARE_PREFIX - 1)

/* A view with len > 0 and no bytes behind it cannot be read at all. */
static inline bool view_is_unreadable(mqttproto_str s)
{
    return s.data == NULL && s.len > 0;
}

static inline bool has_share_prefix(mqttproto_str s)
{
    return s.len >= SHARE_PREFIX_LEN && memcmp(s.data, SHARE_PREFIX, SHARE_PREFIX_LEN) == 0;
}

/*
 * Where each wildcard may stand in a (non-shared) filter: '#' only as the
 * whole last level [MQTT-4.7.1-1], '+' only as a whole level [MQTT-4.7.1-2].
 * The filter must be non-empty; its UTF-8 is checked elsewhere.
 */
static bool filter_wildcards_ok(const char *f, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = f[i];
        if (c != '+' && c != '#') {
            continue;
        }
        bool starts_level = i == 0 || f[i - 1] == '/';
        if (!starts_level) {
            return false; /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] */
        }
        if (c == '#') {
            return i + 1 == len; /* [MQTT-4.7.1-1] */
        }
        if (i + 1 < len && f[i + 1] != '/') {
            return false; /* [MQTT-4.7.1-2] */
        }
    }
    return true;
}

/*
 * Split "$share/{ShareName}/{filter}" and check its shape; the caller has
 * seen the prefix already. UTF-8 is not checked here.
 */
static bool shared_split(mqttproto_str filter, mqttproto_str *share_name, mqttproto_str *inner)
{
    const char *name = filter.data + SHARE_PREFIX_LEN;
    size_t rest = filter.len - SHARE_PREFIX_LEN;
    const char *slash = memchr(name, '/', rest);
    if (slash == NULL) {
        return false; /* [MQTT-4.8.2-2] ShareName must be followed by '/' */
    }
    size_t name_len = (size_t)(slash - name);
    if (name_len == 0) {
        return false; /* [MQTT-4.8.2-1] */
    }
    if (wire_has_wildcard(name, name_len)) {
        return false; /* [MQTT-4.8.2-2] */
    }
    size_t inner_len = rest - name_len - 1;
    if (inner_len == 0) {
        return false; /* [MQTT-4.8.2-2] a Topic Filter must follow */
    }
    if (!filter_wildcards_ok(slash + 1, inner_len)) {
        return false; /* [MQTT-4.8.2-2] [MQTT-4.7.1-1] [MQTT-4.7.1-2] */
    }
    share_name->data = name;
    share_name->len = name_len;
    inner->data = slash + 1;
    inner->len = inner_len;
    return true;
}

int mqttproto_topic_name_validate(mqttproto_str topic)
{
    if (topic.len == 0 || view_is_unreadable(topic)) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-4.7.3-1] */
    }
    if (topic.len > TOPIC_MAX_LEN) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-4.7.3-3] */
    }
    /* Rejects U+0000 too [MQTT-4.7.3-2]. */
    int r = mqttproto_utf8_validate((const uint8_t *)topic.data, topic.len);
    if (r != 0) {
        return r;
    }
    if (wire_has_wildcard(topic.data, topic.len)) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-4.7.0-1] [MQTT-3.3.2-2] */
    }
    return 0;
}

int mqttproto_topic_filter_validate(mqttproto_str filter)
{
    if (filter.len == 0 || view_is_unreadable(filter)) {
        return MQTTPROTO_ERR_TOPIC_FILTER_INVALID; /* [MQTT-4.7.3-1] */
    }
    if (filter.len > TOPIC_MAX_LEN) {
        return MQTTPROTO_ERR_TOPIC_FILTER_INVALID; /* [MQTT-4.7.3-3] */
    }
    /* Rejects U+0000 too [MQTT-4.7.3-2]. */
    int r = mqttproto_utf8_validate((const uint8_t *)filter.data, filter.len);
    if (r != 0) {
        return r;
    }
    if (has_share_prefix(filter)) {
        mqttproto_str share_name;
        mqttproto_str inner;
        if (!shared_split(filter, &share_name, &inner)) {
            return MQTTPROTO_ERR_TOPIC_FILTER_INVALID; /* [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
        }
        return 0;
    }
    if (!filter_wildcards_ok(filter.data, filter.len)) {
        return MQTTPROTO_ERR_TOPIC_FILTER_INVALID; /* [MQTT-4.7.1-1] [MQTT-4.7.1-2] */
    }
    return 0;
}

int mqttproto_shared_filter_parse(mqttproto_str filter, mqttproto_str *share_name,
                                  mqttproto_str *inner)
{
    mqttproto_str name_out = {NULL, 0};
    mqttproto_str inner_out = {NULL, 0};
    int result;
    if (view_is_unreadable(filter)) {
        result = MQTTPROTO_ERR_TOPIC_FILTER_INVALID;
    } else if (!has_share_prefix(filter)) {
        inner_out = filter;
        result = 0;
    } else if (filter.len > TOPIC_MAX_LEN ||
               mqttproto_utf8_validate((const uint8_t *)filter.data, filter.len) != 0 ||
               !shared_split(filter, &name_out, &inner_out)) {
        /* [MQTT-4.7.3-2] [MQTT-4.7.3-3] [MQTT-4.8.2-1] [MQTT-4.8.2-2] */
        name_out = (mqttproto_str){NULL, 0};
        inner_out = (mqttproto_str){NULL, 0};
        result = MQTTPROTO_ERR_TOPIC_FILTER_INVALID;
    } else {
        result = 1;
    }
    if (share_name != NULL) {
        *share_name = name_out;
    }
    if (inner != NULL) {
        *inner = inner_out;
    }
    return result;
}

/*
 * A filter level is a wildcard only when it is exactly "+", or exactly "#"
 * and last; any other level, valid or not, compares byte for byte, so
 * invalid filters still get a defined answer. No normalization of either
 * string [MQTT-4.7.3-4].
 */
bool mqttproto_topic_matches(mqttproto_str filter, mqttproto_str topic)
{
    if (view_is_unreadable(filter) || view_is_unreadable(topic)) {
        return false;
    }
    const char *f = filter.data;
    const char *t = topic.data;
    size_t flen = filter.len;
    size_t tlen = topic.len;

    if (flen > 0 && tlen > 0 && (f[0] == '+' || f[0] == '#') && t[0] == '$') {
        return false; /* [MQTT-4.7.2-1] */
    }

    size_t fi = 0;
    size_t ti = 0;
    for (;;) {
        /* Here fi and ti each start a level. */
        if (fi + 1 == flen && f[fi] == '#') {
            return true; /* this level and everything below */
        }
        if (fi < flen && f[fi] == '+' && (fi + 1 == flen || f[fi + 1] == '/')) {
            while (ti < tlen && t[ti] != '/') {
                ti++;
            }
            fi++;
        } else {
            while (fi < flen && f[fi] != '/') {
                if (ti == tlen || t[ti] != f[fi]) {
                    return false;
                }
                fi++;
                ti++;
            }
            if (ti < tlen && t[ti] != '/') {
                return false;
            }
        }
        /* Both now sit at a '/' or at their end. */
        if (fi == flen) {
            return ti == tlen;
        }
        if (ti == tlen) {
            /* "a/#" also matches its parent "a". */
            return fi + 2 == flen && f[fi + 1] == '#';
        }
        fi++;
        ti++;
    }
}
