/*
 * UTF-8 validation for MQTT strings (MQTT 5.0 section 1.5.4).
 *
 * Topics, client ids and property strings are mostly ASCII, so the loop
 * checks eight bytes at a time for "all ASCII and no zero byte" and falls
 * back to a byte-wise decoder only around multi-byte sequences.
 */
#include "wire.h"

int mqttproto_utf8_validate_slow(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && !wire_word_needs_slow_path(wire_load64(s + i))) {
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

int mqttproto_topic_name_check_slow(const uint8_t *s, size_t len)
{
    uint64_t slow = 0;
    uint64_t wild = 0;
    /* '#' (0x23) and '+' (0x2B) differ only in bit 3: OR-ing 0x08 into
       every byte maps both, and nothing else, to 0x2B. */
    const uint64_t fold = WIRE_ONES * 0x08u;
    const uint64_t plus = WIRE_ONES * (uint8_t)'+';
    if (len >= 8) {
        size_t i = 0;
        for (; i + 8 <= len; i += 8) {
            uint64_t v = wire_load64(s + i);
            slow |= wire_word_needs_slow_path(v);
            wild |= wire_word_has_byte(v | fold, plus);
        }
        if (i < len) {
            uint64_t v = wire_load64(s + len - 8);
            slow |= wire_word_needs_slow_path(v);
            wild |= wire_word_has_byte(v | fold, plus);
        }
    } else {
        for (size_t i = 0; i < len; i++) {
            slow |= (s[i] == 0 || s[i] >= 0x80) ? 1u : 0u;
            wild |= (s[i] | 0x08u) == '+' ? 1u : 0u;
        }
    }
    /* Bytes 0x23 and 0x2B never occur inside a multi-byte UTF-8 sequence,
       so the word test is exact whatever the other bytes are. */
    if (wild != 0) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
    }
    return slow != 0 ? mqttproto_utf8_validate_slow(s, len) : 0;
}
