/*
 * The internal wire primitives: big-endian integers, variable byte integers,
 * UTF-8 validation and the one-pass topic name check. Inputs sit right
 * before a guard page, so a read past their end faults.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#include "wire.h"

/* A copy of hex before a guard page; *len receives its size. */
static uint8_t *guarded_hex(const char *hex, size_t *len)
{
    uint8_t *bytes = tu_hex(hex, len);
    uint8_t *g = tu_guard_copy(bytes, *len);
    free(bytes);
    return g;
}

/* ---- integers ---- */

static void test_u16_u32(void **state)
{
    (void)state;
    uint8_t b[4];
    assert_ptr_equal(wire_put_u16(b, 0xA1B2), b + 2);
    assert_int_equal(b[0], 0xA1);
    assert_int_equal(b[1], 0xB2);
    assert_int_equal(wire_get_u16(b), 0xA1B2);
    assert_ptr_equal(wire_put_u32(b, 0x01020304u), b + 4);
    assert_memory_equal(b, "\x01\x02\x03\x04", 4);
    assert_int_equal(wire_get_u32(b), 0x01020304u);
    wire_put_u32(b, 0xFFFFFFFFu);
    assert_int_equal(wire_get_u32(b), 0xFFFFFFFFu);
    wire_put_u16(b, 0);
    assert_int_equal(wire_get_u16(b), 0);
}

static const struct {
    uint32_t value;
    const char *hex;
} vbi_vectors[] = {
    {0, "00"},
    {1, "01"},
    {127, "7F"},
    {128, "80 01"},
    {16383, "FF 7F"},
    {16384, "80 80 01"},
    {2097151, "FF FF 7F"},
    {2097152, "80 80 80 01"},
    {268435455, "FF FF FF 7F"},
};

static void test_vbi_boundaries(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vbi_vectors / sizeof vbi_vectors[0]; i++) {
        size_t n;
        uint8_t *g = guarded_hex(vbi_vectors[i].hex, &n);
        uint32_t v = vbi_vectors[i].value;

        assert_int_equal(wire_vbi_size(v), n);
        uint8_t out[8];
        memset(out, 0xEE, sizeof out);
        assert_ptr_equal(wire_put_vbi(out, v), out + n);
        assert_memory_equal(out, g, n);
        assert_int_equal(out[n], 0xEE);

        uint32_t got = 0xDEADBEEF;
        assert_int_equal(wire_get_vbi(g, n, &got), (int)n);
        assert_int_equal(got, v);

        /* Every proper prefix asks for more, and reads only what it has. */
        for (size_t k = 0; k < n; k++) {
            uint8_t *prefix = tu_guard_copy(g, k);
            assert_int_equal(wire_get_vbi(prefix, k, &got), 0);
            tu_guard_free(prefix, k);
        }
        tu_guard_free(g, n);
    }
}

static void test_vbi_followed_by_more_bytes(void **state)
{
    (void)state;
    /* The integer ends at its first byte without a continuation bit. */
    size_t n;
    uint8_t *g = guarded_hex("80 01 FF FF", &n);
    uint32_t v = 0;
    assert_int_equal(wire_get_vbi(g, n, &v), 2);
    assert_int_equal(v, 128);
    tu_guard_free(g, n);
}

static void test_vbi_five_bytes_malformed(void **state)
{
    (void)state;
    /* Four bytes with the continuation bit end the input: the decoder must
       give up without touching a fifth one [MQTT-1.5.5-1]. */
    static const char *const vectors[] = {"FF FF FF FF", "80 80 80 80", "81 82 83 84"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n;
        uint8_t *g = guarded_hex(vectors[i], &n);
        uint32_t v = 0;
        assert_int_equal(wire_get_vbi(g, n, &v), MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER);
        tu_guard_free(g, n);
    }
    /* With a fifth byte present it is still refused. */
    size_t n;
    uint8_t *g = guarded_hex("FF FF FF FF 01", &n);
    uint32_t v = 0;
    assert_int_equal(wire_get_vbi(g, n, &v), MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER);
    tu_guard_free(g, n);
}

static void test_vbi_non_minimal(void **state)
{
    (void)state;
    static const char *const vectors[] = {"80 00",    "FF 00",       "FF 80 00",
                                          "80 80 00", "80 80 80 00", "FF FF FF 00"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n;
        uint8_t *g = guarded_hex(vectors[i], &n);
        uint32_t v = 0;
        /* [MQTT-1.5.5-1] */
        assert_int_equal(wire_get_vbi(g, n, &v), MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER);
        tu_guard_free(g, n);
    }
}

static void test_vbi_incomplete(void **state)
{
    (void)state;
    static const char *const vectors[] = {"80", "FF", "FF FF", "80 80", "FF FF FF"};
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        size_t n;
        uint8_t *g = guarded_hex(vectors[i], &n);
        uint32_t v = 0;
        assert_int_equal(wire_get_vbi(g, n, &v), 0);
        tu_guard_free(g, n);
    }
    uint32_t v = 0;
    assert_int_equal(wire_get_vbi(NULL, 0, &v), 0);
}

static void test_vbi_every_size_round_trip(void **state)
{
    (void)state;
    /* Values around each size boundary, and a sweep of the 1- and 2-byte range. */
    for (uint32_t v = 0; v < 20000; v++) {
        uint8_t b[4];
        uint8_t *end = wire_put_vbi(b, v);
        uint32_t got = 0;
        assert_int_equal(wire_get_vbi(b, (size_t)(end - b), &got), (int)(end - b));
        assert_int_equal(got, v);
        assert_int_equal(wire_vbi_size(v), (size_t)(end - b));
    }
}

/* ---- UTF-8 ---- */

struct utf8_case {
    const char *hex;
    int expected;
};

static void run_utf8_cases(const struct utf8_case *cases, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        size_t n;
        uint8_t *g = guarded_hex(cases[i].hex, &n);
        int r = mqttproto_utf8_validate(g, n);
        if (r != cases[i].expected) {
            fail_msg("\"%s\": got %s, expected %s", cases[i].hex, mqttproto_err_name(r),
                     mqttproto_err_name(cases[i].expected));
        }
        tu_guard_free(g, n);
    }
}

static void test_utf8_valid_classes(void **state)
{
    (void)state;
    static const struct utf8_case cases[] = {
        {"", 0},
        {"61", 0},
        {"01", 0},          /* U+0001: discouraged, not forbidden */
        {"7F", 0},          /* U+007F */
        {"C2 80", 0},       /* U+0080, smallest 2-byte */
        {"DF BF", 0},       /* U+07FF, largest 2-byte */
        {"E0 A0 80", 0},    /* U+0800, smallest 3-byte */
        {"E1 80 80", 0},    /* U+1000 */
        {"ED 9F BF", 0},    /* U+D7FF, just below the surrogates */
        {"EE 80 80", 0},    /* U+E000, just above them */
        {"EF BB BF", 0},    /* U+FEFF is kept as a character [MQTT-1.5.4-3] */
        {"EF BF BF", 0},    /* U+FFFF */
        {"F0 90 80 80", 0}, /* U+10000, smallest 4-byte */
        {"F1 80 80 80", 0}, /* U+40000 */
        {"F3 BF BF BF", 0}, /* U+FFFFF */
        {"F4 8F BF BF", 0}, /* U+10FFFF, the last code point */
        {"61 C3 A9 E2 82 AC F0 9F 98 80 7A", 0},
        {"EF BB BF 61 62 63 64 65 66 67 68 69", 0},
        {"61 62 63 64 65 66 67 68 F0 9F 98 80", 0},
    };
    run_utf8_cases(cases, sizeof cases / sizeof cases[0]);
}

static void test_utf8_rejections(void **state)
{
    (void)state;
    /* [MQTT-1.5.4-1] */
    static const struct utf8_case cases[] = {
        /* Overlong forms. */
        {"C0 AF", MQTTPROTO_ERR_INVALID_UTF8},
        {"C0 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"C1 BF", MQTTPROTO_ERR_INVALID_UTF8},
        {"E0 80 AF", MQTTPROTO_ERR_INVALID_UTF8},
        {"E0 9F BF", MQTTPROTO_ERR_INVALID_UTF8},
        {"F0 80 80 AF", MQTTPROTO_ERR_INVALID_UTF8},
        {"F0 8F BF BF", MQTTPROTO_ERR_INVALID_UTF8},
        /* Surrogates. */
        {"ED A0 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"ED AD BF", MQTTPROTO_ERR_INVALID_UTF8},
        {"ED B0 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"ED BF BF", MQTTPROTO_ERR_INVALID_UTF8},
        {"ED A0 BD ED B8 80", MQTTPROTO_ERR_INVALID_UTF8},
        /* Past U+10FFFF. */
        {"F4 90 80 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"F4 BF BF BF", MQTTPROTO_ERR_INVALID_UTF8},
        /* Lead bytes that never occur. */
        {"F5 80 80 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"F7 BF BF BF", MQTTPROTO_ERR_INVALID_UTF8},
        {"F8 88 80 80 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"FC 84 80 80 80 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"FE", MQTTPROTO_ERR_INVALID_UTF8},
        {"FF", MQTTPROTO_ERR_INVALID_UTF8},
        /* Lone continuation bytes. */
        {"80", MQTTPROTO_ERR_INVALID_UTF8},
        {"BF", MQTTPROTO_ERR_INVALID_UTF8},
        {"61 80 62", MQTTPROTO_ERR_INVALID_UTF8},
        {"C3 A9 A9", MQTTPROTO_ERR_INVALID_UTF8},
        /* A lead byte followed by a non-continuation byte. */
        {"C2 41", MQTTPROTO_ERR_INVALID_UTF8},
        {"E0 A0 41", MQTTPROTO_ERR_INVALID_UTF8},
        {"F0 90 80 41", MQTTPROTO_ERR_INVALID_UTF8},
        {"C2 C2 80", MQTTPROTO_ERR_INVALID_UTF8},
        /* Sequences cut off by the end of the string. */
        {"C2", MQTTPROTO_ERR_INVALID_UTF8},
        {"E0 A0", MQTTPROTO_ERR_INVALID_UTF8},
        {"E1", MQTTPROTO_ERR_INVALID_UTF8},
        {"F0 90 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"F4 8F", MQTTPROTO_ERR_INVALID_UTF8},
        {"61 62 63 64 65 66 67 68 C3", MQTTPROTO_ERR_INVALID_UTF8},
        {"61 62 63 64 65 66 67 68 E2 82", MQTTPROTO_ERR_INVALID_UTF8},
        {"61 62 63 64 65 66 67 68 61 62 63 64 65 66 67 F0 9F 98", MQTTPROTO_ERR_INVALID_UTF8},
        /* U+0000 [MQTT-1.5.4-2]. */
        {"00", MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
        {"61 00 62", MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
        {"C3 A9 00", MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
        /* The first error found counts. */
        {"00 80", MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
        {"80 00", MQTTPROTO_ERR_INVALID_UTF8},
    };
    run_utf8_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Continuation bytes a lead byte takes, or -1 when it cannot start a character. */
static int trail_count(unsigned b)
{
    if (b < 0x80) {
        return 0;
    }
    if (b >= 0xC2 && b <= 0xDF) {
        return 1;
    }
    if (b >= 0xE0 && b <= 0xEF) {
        return 2;
    }
    if (b >= 0xF0 && b <= 0xF4) {
        return 3;
    }
    return -1;
}

static void test_utf8_every_lead_byte(void **state)
{
    (void)state;
    /* Each byte value followed by its continuation bytes, all A0: valid unless
       the byte cannot lead, or A0 takes ED into the surrogates or F4 past
       U+10FFFF. */
    for (unsigned b = 1; b < 256; b++) {
        uint8_t s[4] = {(uint8_t)b, 0xA0, 0xA0, 0xA0};
        int trail = trail_count(b);
        bool valid = trail >= 0 && b != 0xED && b != 0xF4;
        size_t len = trail >= 0 ? (size_t)trail + 1 : 4;
        uint8_t *g = tu_guard_copy(s, len);
        int r = mqttproto_utf8_validate(g, len);
        if (r != (valid ? 0 : MQTTPROTO_ERR_INVALID_UTF8)) {
            fail_msg("lead byte 0x%02X: got %s", b, mqttproto_err_name(r));
        }
        tu_guard_free(g, len);
    }
}

static void test_utf8_null_in_ascii_runs(void **state)
{
    (void)state;
    /* Lengths around the eight-byte step of the fast path, U+0000 at each
       position [MQTT-1.5.4-2]. */
    static const size_t lengths[] = {1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 33};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        size_t len = lengths[li];
        uint8_t s[40];
        for (size_t pos = 0; pos < len; pos++) {
            memset(s, 'a', len);
            s[pos] = 0;
            uint8_t *g = tu_guard_copy(s, len);
            int r = mqttproto_utf8_validate(g, len);
            if (r != MQTTPROTO_ERR_UTF8_NULL_CHARACTER) {
                fail_msg("len %zu, NUL at %zu: got %s", len, pos, mqttproto_err_name(r));
            }
            tu_guard_free(g, len);
        }
        memset(s, 'a', len);
        uint8_t *g = tu_guard_copy(s, len);
        assert_int_equal(mqttproto_utf8_validate(g, len), 0);
        tu_guard_free(g, len);
    }
}

static void test_utf8_non_ascii_at_every_position(void **state)
{
    (void)state;
    /* A 2-byte character, a lone 0xFF and a truncated 3-byte lead at each
       position 0..16 of a 24-byte ASCII string. */
    const size_t len = 24;
    for (size_t pos = 0; pos <= 16; pos++) {
        uint8_t s[24];

        memset(s, 'x', len);
        s[pos] = 0xC3;
        s[pos + 1] = 0xA9;
        uint8_t *g = tu_guard_copy(s, len);
        assert_int_equal(mqttproto_utf8_validate(g, len), 0);
        tu_guard_free(g, len);

        memset(s, 'x', len);
        s[pos] = 0xFF;
        g = tu_guard_copy(s, len);
        assert_int_equal(mqttproto_utf8_validate(g, len), MQTTPROTO_ERR_INVALID_UTF8);
        tu_guard_free(g, len);

        memset(s, 'x', len);
        s[pos] = 0xE2;
        s[pos + 1] = 0x82;
        g = tu_guard_copy(s, len);
        assert_int_equal(mqttproto_utf8_validate(g, len), MQTTPROTO_ERR_INVALID_UTF8);
        tu_guard_free(g, len);

        /* The string ends in the middle of the character. */
        memset(s, 'x', len);
        s[pos] = 0xE2;
        s[pos + 1] = 0x82;
        g = tu_guard_copy(s, pos + 2);
        assert_int_equal(mqttproto_utf8_validate(g, pos + 2), MQTTPROTO_ERR_INVALID_UTF8);
        tu_guard_free(g, pos + 2);
    }
}

/* ---- topic name check ---- */

static void test_topic_name_check_wildcards(void **state)
{
    (void)state;
    static const size_t lengths[] = {21, 8, 16, 24};
    for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++) {
        size_t len = lengths[li];
        for (size_t pos = 0; pos <= 20 && pos < len; pos++) {
            for (int w = 0; w < 2; w++) {
                uint8_t s[24];
                memset(s, 'a', len);
                s[pos] = w == 0 ? '+' : '#';
                uint8_t *g = tu_guard_copy(s, len);
                int r = mqttproto_topic_name_check(g, len);
                if (r != MQTTPROTO_ERR_TOPIC_NAME_INVALID) {
                    /* [MQTT-3.3.2-2] [MQTT-4.7.0-1] */
                    fail_msg("'%c' at %zu of %zu: got %s", s[pos], pos, len, mqttproto_err_name(r));
                }
                tu_guard_free(g, len);
            }
        }
    }
}

static void test_topic_name_check_content(void **state)
{
    (void)state;
    static const struct utf8_case cases[] = {
        {"", 0}, /* emptiness is the caller's to check */
        {"61", 0},
        {"61 2F 62 2F 63", 0},
        {"24 53 59 53 2F 62 72 6F 6B 65 72", 0},
        {"73 65 6E 73 6F 72 73 2F C3 A9 74 C3 A9 2F 74 65 6D 70", 0},
        {"2B", MQTTPROTO_ERR_TOPIC_NAME_INVALID},
        {"23", MQTTPROTO_ERR_TOPIC_NAME_INVALID},
        {"C3 A9 2F 2B", MQTTPROTO_ERR_TOPIC_NAME_INVALID},
        {"61 62 63 64 65 66 67 68 C3 A9 23", MQTTPROTO_ERR_TOPIC_NAME_INVALID},
        {"61 00", MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
        {"61 62 63 64 65 66 67 68 00", MQTTPROTO_ERR_UTF8_NULL_CHARACTER},
        {"61 ED A0 80", MQTTPROTO_ERR_INVALID_UTF8},
        {"61 62 63 64 65 66 67 68 C0 AF", MQTTPROTO_ERR_INVALID_UTF8},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n;
        uint8_t *g = guarded_hex(cases[i].hex, &n);
        int r = mqttproto_topic_name_check(g, n);
        if (r != cases[i].expected) {
            fail_msg("\"%s\": got %s, expected %s", cases[i].hex, mqttproto_err_name(r),
                     mqttproto_err_name(cases[i].expected));
        }
        tu_guard_free(g, n);
    }
}

static void test_has_wildcard(void **state)
{
    (void)state;
    assert_false(wire_has_wildcard("abc/def", 7));
    assert_true(wire_has_wildcard("abc/+", 5));
    assert_true(wire_has_wildcard("#", 1));
    assert_false(wire_has_wildcard("abc#", 3)); /* only the given length counts */
}

/* ---- differential test against a table-driven reference ---- */

/*
 * A reference validator written from the well-formed byte sequence table
 * of the Unicode standard (Table 3-7), which forbids overlong forms,
 * surrogates and code points past U+10FFFF by the range of the second byte.
 */
static int reference_utf8(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t b = s[i];
        if (b == 0) {
            return MQTTPROTO_ERR_UTF8_NULL_CHARACTER;
        }
        if (b < 0x80) {
            i++;
            continue;
        }
        uint8_t lo = 0x80, hi = 0xBF;
        size_t trail;
        if (b >= 0xC2 && b <= 0xDF) {
            trail = 1;
        } else if (b == 0xE0) {
            trail = 2;
            lo = 0xA0;
        } else if (b == 0xED) {
            trail = 2;
            hi = 0x9F;
        } else if (b >= 0xE1 && b <= 0xEF) {
            trail = 2;
        } else if (b == 0xF0) {
            trail = 3;
            lo = 0x90;
        } else if (b == 0xF4) {
            trail = 3;
            hi = 0x8F;
        } else if (b >= 0xF1 && b <= 0xF3) {
            trail = 3;
        } else {
            return MQTTPROTO_ERR_INVALID_UTF8;
        }
        if (n - i - 1 < trail) {
            return MQTTPROTO_ERR_INVALID_UTF8;
        }
        if (s[i + 1] < lo || s[i + 1] > hi) {
            return MQTTPROTO_ERR_INVALID_UTF8;
        }
        for (size_t k = 2; k <= trail; k++) {
            if (s[i + k] < 0x80 || s[i + k] > 0xBF) {
                return MQTTPROTO_ERR_INVALID_UTF8;
            }
        }
        i += trail + 1;
    }
    return 0;
}

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint32_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

static void test_utf8_differential(void **state)
{
    (void)state;
    /* Bytes that sit on the edges of the rules, with plenty of ASCII so
       that long valid runs reach the eight-byte fast path. */
    static const uint8_t alphabet[] = {
        'a',  'b',  'z',  '/',  '+',  '#',  0x00, 0x01, 0x7F, 0x80, 0x81, 0x8F,
        0x90, 0x9F, 0xA0, 0xBB, 0xBF, 0xC0, 0xC1, 0xC2, 0xC3, 0xDF, 0xE0, 0xE1,
        0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xF8, 0xFE, 0xFF,
    };
    enum { MAX_LEN = 24 };
    static const uint8_t zeros[MAX_LEN];
    uint8_t *slot = tu_guard_copy(zeros, MAX_LEN);
    size_t mismatches = 0;
    size_t valid_seen = 0;
    for (int iter = 0; iter < 100000; iter++) {
        size_t len = rng_next() % (MAX_LEN + 1);
        uint8_t *s = slot + MAX_LEN - len; /* the string's end touches the guard page */
        for (size_t i = 0; i < len; i++) {
            uint32_t pick = rng_next() % 100;
            s[i] = pick < 70 ? (uint8_t)('a' + pick % 26) : alphabet[rng_next() % sizeof alphabet];
        }
        int want = reference_utf8(s, len);
        int got = mqttproto_utf8_validate(s, len);
        if (want == 0) {
            valid_seen++;
        }
        if (got != want && mismatches++ < 5) {
            char hex[3 * MAX_LEN + 1] = "";
            for (size_t i = 0; i < len; i++) {
                snprintf(hex + 3 * i, 4, "%02X ", s[i]);
            }
            print_error("utf8 mismatch on %s: library %s, reference %s\n", hex,
                        mqttproto_err_name(got), mqttproto_err_name(want));
        }

        /* The topic check adds the wildcard rule; which error wins when both
           apply is not specified. */
        bool wild = len > 0 && (memchr(s, '+', len) != NULL || memchr(s, '#', len) != NULL);
        int topic = mqttproto_topic_name_check(s, len);
        bool ok = want == 0 ? topic == (wild ? MQTTPROTO_ERR_TOPIC_NAME_INVALID : 0)
                  : wild    ? topic == want || topic == MQTTPROTO_ERR_TOPIC_NAME_INVALID
                            : topic == want;
        if (!ok && mismatches++ < 5) {
            print_error("topic check mismatch: library %s, reference utf8 %s, wildcard %d\n",
                        mqttproto_err_name(topic), mqttproto_err_name(want), wild);
        }
    }
    tu_guard_free(slot, MAX_LEN);
    assert_int_equal(mismatches, 0);
    /* The alphabet must give both outcomes often enough to mean something. */
    assert_true(valid_seen > 10000);
    assert_true(valid_seen < 90000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_u16_u32),
        cmocka_unit_test(test_vbi_boundaries),
        cmocka_unit_test(test_vbi_followed_by_more_bytes),
        cmocka_unit_test(test_vbi_five_bytes_malformed),
        cmocka_unit_test(test_vbi_non_minimal),
        cmocka_unit_test(test_vbi_incomplete),
        cmocka_unit_test(test_vbi_every_size_round_trip),
        cmocka_unit_test(test_utf8_valid_classes),
        cmocka_unit_test(test_utf8_rejections),
        cmocka_unit_test(test_utf8_every_lead_byte),
        cmocka_unit_test(test_utf8_null_in_ascii_runs),
        cmocka_unit_test(test_utf8_non_ascii_at_every_position),
        cmocka_unit_test(test_topic_name_check_wildcards),
        cmocka_unit_test(test_topic_name_check_content),
        cmocka_unit_test(test_has_wildcard),
        cmocka_unit_test(test_utf8_differential),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
