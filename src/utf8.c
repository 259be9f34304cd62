/*
 * UTF-8 validation for MQTT strings (MQTT 5.0 section 1.5.4).
 *
 * Topics, client ids and property strings are mostly ASCII, so the loop
 * checks eight bytes at a time for "all ASCII and no zero byte" and falls
 * back to a byte-wise decoder only around multi-byte sequences.
 */
#include "wire.h"

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Non-zero when any byte of v is 0x00 or has its high bit set. */
static inline uint64_t word_needs_slow_path(uint64_t v)
{
    return ((v - ONES) | v) & HIGHS;
}

int mqttproto_utf8_validate(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && !word_needs_slow_path(load64(s + i))) {
            i += 8;
            continue;
        }
        uint8_t c = s[i];
        if (c < 0x80) {
            if (c == 0) {
                return MQTTPROTO_ERR_UTF8_NULL_CHARACTER; /* [MQTT-1.5.4-2] */
            }
            i++;
            continue;
        }
        size_t need;
        uint32_t cp;
        uint32_t min;
        if (c >= 0xC2 && c <= 0xDF) { /* C0 and C1 only start overlong forms */
            need = 1;
            cp = c & 0x1Fu;
            min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            cp = c & 0x0Fu;
            min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            cp = c & 0x07u;
            min = 0x10000;
        } else {
            return MQTTPROTO_ERR_INVALID_UTF8;
        }
        if (len - i <= need) {
            return MQTTPROTO_ERR_INVALID_UTF8;
        }
        for (size_t k = 1; k <= need; k++) {
            uint8_t cc = s[i + k];
            if ((cc & 0xC0u) != 0x80u) {
                return MQTTPROTO_ERR_INVALID_UTF8;
            }
            cp = cp << 6 | (cc & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFFu) {
            return MQTTPROTO_ERR_INVALID_UTF8;
        }
        if (cp >= 0xD800u && cp <= 0xDFFFu) {
            return MQTTPROTO_ERR_INVALID_UTF8; /* [MQTT-1.5.4-1] */
        }
        i += need + 1;
    }
    return 0;
}

/* Non-zero when any byte of v equals the byte replicated in pattern. */
static inline uint64_t word_has_byte(uint64_t v, uint64_t pattern)
{
    uint64_t x = v ^ pattern;
    return (x - ONES) & ~x & HIGHS;
}

int mqttproto_topic_name_check(const uint8_t *s, size_t len)
{
    const uint64_t plus = ONES * (uint8_t)'+';
    const uint64_t hash = ONES * (uint8_t)'#';
    size_t i = 0;
    /* The common all-ASCII topic passes eight bytes per step; anything
       else goes to the full validator below. */
    while (len - i >= 8) {
        uint64_t v = load64(s + i);
        if (word_needs_slow_path(v)) {
            break;
        }
        if (word_has_byte(v, plus) | word_has_byte(v, hash)) {
            return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
        }
        i += 8;
    }
    /* Bytes 0x23 and 0x2B never occur inside a multi-byte UTF-8 sequence,
       so a byte-wise search is exact. */
    if (memchr(s + i, '+', len - i) != NULL || memchr(s + i, '#', len - i) != NULL) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
    }
    return mqttproto_utf8_validate(s + i, len - i);
}
