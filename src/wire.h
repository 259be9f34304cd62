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

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#if defined(__GNUC__)
#define MQTTPROTO_LIKELY(x)   __builtin_expect(!!(x), 1)
#define MQTTPROTO_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MQTTPROTO_LIKELY(x)   (x)
#define MQTTPROTO_UNLIKELY(x) (x)
#endif

/*
 * For code kept out of line on purpose: a fast path out of its dispatcher,
 * so that the dispatcher stays small and jumps to it, or a rare path out of
 * a hot function, so that the hot one saves only the registers it needs.
 */
#if defined(__GNUC__)
#define MQTTPROTO_NOINLINE __attribute__((noinline))
#else
#define MQTTPROTO_NOINLINE
#endif

/* For handlers that must be inlined for their constant arguments to fold. */
#if defined(__GNUC__)
#define MQTTPROTO_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define MQTTPROTO_ALWAYS_INLINE inline
#endif

static inline uint16_t wire_get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Big-endian stores as one swap and one store where the compiler says how
   (it does not always merge the byte stores itself). */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define WIRE_TO_BE16(v) __builtin_bswap16(v)
#define WIRE_TO_BE32(v) __builtin_bswap32(v)
#endif

static inline uint8_t *wire_put_u16(uint8_t *p, uint16_t v)
{
#ifdef WIRE_TO_BE16
    uint16_t be = WIRE_TO_BE16(v);
    memcpy(p, &be, 2);
#else
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
#endif
    return p + 2;
}

/*
 * Copy the len bytes of a string or binary field (at most 65,535). Most
 * are a few tens of bytes, for which a call to the C library's memcpy costs
 * more than the copy: they are moved with fixed-size, so inlined, copies
 * that overlap at the end rather than byte by byte, and longer ones in
 * 16-byte steps, so that the encoder's fast paths call nothing. Reads and
 * writes stay inside [0, len).
 */
static inline void wire_copy(uint8_t *dst, const void *src, size_t len)
{
    const uint8_t *s = (const uint8_t *)src;
    if (len > 32) {
        for (size_t i = 0; i + 32 < len; i += 16) {
            memcpy(dst + i, s + i, 16);
        }
        memcpy(dst + len - 32, s + len - 32, 16);
        memcpy(dst + len - 16, s + len - 16, 16);
    } else if (len >= 16) {
        memcpy(dst, s, 16);
        memcpy(dst + len - 16, s + len - 16, 16);
    } else if (len >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + len - 8, 8);
        memcpy(dst, &a, 8);
        memcpy(dst + len - 8, &b, 8);
    } else if (len >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + len - 4, 4);
        memcpy(dst, &a, 4);
        memcpy(dst + len - 4, &b, 4);
    } else if (len > 0) {
        uint8_t a = s[0], b = s[len / 2], c = s[len - 1];
        dst[0] = a;
        dst[len / 2] = b;
        dst[len - 1] = c;
    }
}

/* A payload of any size: short ones as above, long ones by the C library. */
static inline void wire_copy_payload(uint8_t *dst, const void *src, size_t len)
{
    if (len > 64) {
        memcpy(dst, src, len);
    } else {
        wire_copy(dst, src, len);
    }
}

/* A two-byte length and len bytes: a UTF-8 string or binary data field. */
static inline uint8_t *wire_put_bytes(uint8_t *p, const void *data, size_t len)
{
    p = wire_put_u16(p, (uint16_t)len);
    wire_copy(p, data, len);
    return p + len;
}

static inline uint8_t *wire_put_u32(uint8_t *p, uint32_t v)
{
#ifdef WIRE_TO_BE32
    uint32_t be = WIRE_TO_BE32(v);
    memcpy(p, &be, 4);
#else
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
#endif
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
    /* The one- and two-byte forms (values under 16,384) first: nearly every
       packet and property block is that short. */
    if (MQTTPROTO_LIKELY(avail > 0 && p[0] < 128u)) {
        *out = p[0];
        return 1;
    }
    if (avail > 1 && p[1] < 128u) {
        if (p[1] == 0) {
            return MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER; /* [MQTT-1.5.5-1] */
        }
        *out = (p[0] & 127u) | (uint32_t)p[1] << 7;
        return 2;
    }
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
 * Non-zero when some byte of v is 0x00, has its high bit set or, with wild,
 * is '+' or '#'. '#' (0x23) and '+' (0x2B) differ only in bit 3, so OR-ing
 * 0x08 into every byte and XOR-ing with '+' turns both, and nothing else,
 * into 0x00. A subtraction borrow only starts at a 0x00 byte, so the lowest
 * byte that matches always sets its high bit and no clean word ever does:
 * the answer "some byte matches" is exact.
 */
static inline uint64_t wire_word_flags(uint64_t v, bool wild)
{
    uint64_t f = (v - WIRE_ONES) | v;
    if (wild) {
        uint64_t w = (v | WIRE_ONES * 0x08u) ^ (WIRE_ONES * (uint8_t)'+');
        f |= w - WIRE_ONES;
    }
    return f & WIRE_HIGHS;
}

#if defined(__SSE2__)
/* The same test on 16 bytes: every byte that is 0x00 (or a wildcard) set
   to 0xFF, so that the high bits of the result say which bytes matched;
   results are OR-ed before the one movemask. */
static inline __m128i wire_vec_flags(const uint8_t *p, bool wild)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i f = _mm_or_si128(v, _mm_cmpeq_epi8(v, _mm_setzero_si128()));
    if (wild) {
        __m128i w = _mm_or_si128(v, _mm_set1_epi8(0x08));
        f = _mm_or_si128(f, _mm_cmpeq_epi8(w, _mm_set1_epi8('+')));
    }
    return f;
}
#endif

/*
 * The ASCII fast path of every string check: true when some byte of
 * s[0..len) is 0x00 or non-ASCII (or, with wild, '+' or '#'), so that the
 * exact, byte-wise check must run. MQTT strings are short and mostly plain
 * ASCII, so this looks at them in a few overlapping loads, never reading a
 * byte outside s[0..len): under 8 bytes, two overlapping 4-byte loads in one
 * word, or under 4 bytes 0, len/2 and len-1 (which cover every byte) padded
 * with 0x01 (plain ASCII); from 16 bytes, 16 at a time with SSE2 (always
 * there on x86-64); otherwise 8 at a time.
 */
static inline bool wire_needs_exact_check(const uint8_t *s, size_t len, bool wild)
{
    if (len < 8) { /* the usual length of property names and values */
        uint64_t v;
        if (len >= 4) {
            v = wire_load32(s) | (uint64_t)wire_load32(s + len - 4) << 32;
        } else if (len > 0) {
            v = (uint32_t)s[0] | (uint32_t)s[len / 2] << 8 | (uint32_t)s[len - 1] << 16 |
                0x0101010101000000ull;
        } else {
            return false;
        }
        return wire_word_flags(v, wild) != 0;
    }
#if defined(__SSE2__)
    if (len >= 16) {
        __m128i f = _mm_or_si128(wire_vec_flags(s, wild), wire_vec_flags(s + len - 16, wild));
        for (size_t i = 16; i + 16 < len; i += 16) {
            f = _mm_or_si128(f, wire_vec_flags(s + i, wild));
        }
        return _mm_movemask_epi8(f) != 0;
    }
#endif
    uint64_t f = wire_word_flags(wire_load64(s + len - 8), wild);
    for (size_t i = 0; i + 8 < len; i += 8) {
        f |= wire_word_flags(wire_load64(s + i), wild);
    }
    return f != 0;
}

/*
 * Validate UTF-8 as MQTT requires of every UTF-8 Encoded String: well
 * formed (no overlong forms, no code point past U+10FFFF), no surrogates
 * [MQTT-1.5.4-1] and no U+0000 [MQTT-1.5.4-2]. U+FEFF is kept as any other
 * character [MQTT-1.5.4-3]. Returns 0 or an error. The slow form decodes
 * byte by byte; the inline form runs it only when the ASCII fast path above
 * finds a byte that needs it.
 */
int mqttproto_utf8_validate_slow(const uint8_t *s, size_t len);

static inline int mqttproto_utf8_validate(const uint8_t *s, size_t len)
{
    if (MQTTPROTO_UNLIKELY(wire_needs_exact_check(s, len, false))) {
        return mqttproto_utf8_validate_slow(s, len);
    }
    return 0;
}

/*
 * The content checks of a topic name in one pass: UTF-8 as above and no
 * wildcard character [MQTT-3.3.2-2] [MQTT-4.7.0-1]. Emptiness and length
 * are the caller's to check. Returns 0, MQTTPROTO_ERR_TOPIC_NAME_INVALID or
 * a UTF-8 error. The slow form tells the errors apart; the inline form runs
 * it only when the fast path finds a byte that may be one.
 */
int mqttproto_topic_name_check_slow(const uint8_t *s, size_t len);

static inline int mqttproto_topic_name_check(const uint8_t *s, size_t len)
{
    if (MQTTPROTO_UNLIKELY(wire_needs_exact_check(s, len, true))) {
        return mqttproto_topic_name_check_slow(s, len);
    }
    return 0;
}

/* True when the len bytes at s contain '+' or '#'. */
static inline bool wire_has_wildcard(const char *s, size_t len)
{
    return len != 0 && (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL);
}

#endif /* MQTTPROTO_WIRE_H */
