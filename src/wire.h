/*
 * Wire primitives shared by the decoder, the encoder and the topic rules:
 * big-endian integers, variable byte integers and UTF-8 validation.
 * Internal: nothing here is exported.
 */
#ifndef MQTTPROTO_WIRE_H
#define MQTTPROTO_WIRE_H

#include "mqttproto/codec.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__GNUC__)
#define MQTTPROTO_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MQTTPROTO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MQTTPROTO_LIKELY(x)   (x)
#define MQTTPROTO_UNLIKELY(x) (x)
#endif

static inline uint16_t wire_get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint8_t *wire_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

/* A two-byte length and len bytes: a UTF-8 string or binary data field. */
static inline uint8_t *wire_put_bytes(uint8_t *p, const void *data, size_t len)
{
    p = wire_put_u16(p, (uint16_t)len);
    if (len > 0) {
        memcpy(p, data, len);
    }
    return p + len;
}

static inline uint8_t *wire_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
    return p + 4;
}

/* Bytes a variable byte integer of value v takes (v <= 268,435,455). */
static inline size_t wire_vbi_size(uint32_t v)
{
    return v < 128u ? 1 : v < 16384u ? 2 : v < 2097152u ? 3 : 4;
}

static inline uint8_t *wire_put_vbi(uint8_t *p, uint32_t v)
{
    while (v >= 128u) {
        *p++ = (uint8_t)(v | 128u);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/*
 * Decode a variable byte integer from p[0..avail).
 * Returns the number of bytes used (1..4), 0 when avail ends before the
 * integer does, or an error: a 4th byte with its continuation bit set is
 * malformed at once, so a 5th byte is never read [MQTT-1.5.5-1]; a
 * non-minimal encoding (a last byte of 0 after a continuation) is rejected
 * too [MQTT-1.5.5-1].
 */
static inline int wire_get_vbi(const uint8_t *p, size_t avail, uint32_t *out)
{
    uint32_t value = 0;
    size_t max = avail < 4 ? avail : 4;
    for (size_t i = 0; i < max; i++) {
        uint8_t b = p[i];
        value |= (uint32_t)(b & 127u) << (7 * i);
        if ((b & 128u) == 0) {
            if (b == 0 && i > 0) {
                return MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER; /* [MQTT-1.5.5-1] */
            }
            *out = value;
            return (int)(i + 1);
        }
    }
    return avail >= 4 ? MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER : 0;
}

#define WIRE_ONES  0x0101010101010101ull
#define WIRE_HIGHS 0x8080808080808080ull

static inline uint64_t wire_load64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline uint32_t wire_load32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* Non-zero when some byte of v is 0x00 or has its high bit set. */
static inline uint64_t wire_word_needs_slow_path(uint64_t v)
{
    return ((v - WIRE_ONES) | v) & WIRE_HIGHS;
}

/* Non-zero when some byte of v equals the byte replicated in pattern. */
static inline uint64_t wire_word_has_byte(uint64_t v, uint64_t pattern)
{
    uint64_t x = v ^ pattern;
    return (x - WIRE_ONES) & ~x & WIRE_HIGHS;
}

/*
 * Validate UTF-8 as MQTT requires of every UTF-8 Encoded String: well
 * formed (no overlong forms, no code point past U+10FFFF), no surrogates
 * [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2]. U+FEFF is kept as any other
 * character [MQTT-1.5.4-3]. Returns 0 or an error. The slow form decodes
 * byte by byte; the inline form first checks, with overlapping word loads,
 * whether every byte is plain non-zero ASCII, which MQTT strings mostly are.
 */
int mqttproto_utf8_validate_slow(const uint8_t *s, size_t len);

static inline int mqttproto_utf8_validate(const uint8_t *s, size_t len)
{
    uint64_t slow;
    if (len >= 8) {
        slow = wire_word_needs_slow_path(wire_load64(s + len - 8));
        for (size_t i = 0; i + 8 < len; i += 8) {
            slow |= wire_word_needs_slow_path(wire_load64(s + i));
        }
    } else if (len >= 4) {
        /* Two overlapping 4-byte loads, padded with 0x01 bytes (plain ASCII). */
        const uint64_t pad = 0x01010101ull << 32;
        slow = wire_word_needs_slow_path(wire_load32(s) | pad) |
               wire_word_needs_slow_path(wire_load32(s + len - 4) | pad);
    } else {
        slow = 0;
        for (size_t i = 0; i < len; i++) {
            slow |= (s[i] == 0 || s[i] >= 0x80) ? 1u : 0u;
        }
    }
    return slow != 0 ? mqttproto_utf8_validate_slow(s, len) : 0;
}

/*
 * The content checks of a topic name in one pass: UTF-8 as above and no
 * wildcard character. Emptiness and length are the caller's to check.
 * Returns 0, MQTTPROTO_ERR_TOPIC_NAME_INVALID or a UTF-8 error.
 */
int mqttproto_topic_name_check(const uint8_t *s, size_t len);

/* True when the len bytes at s contain '+' or '#'. */
static inline bool wire_has_wildcard(const char *s, size_t len)
{
    return len != 0 && (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL);
}

#endif /* MQTTPROTO_WIRE_H */
