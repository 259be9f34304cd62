/* Shared test helpers: hex vectors, guard pages, cmocka includes. */
#ifndef MQTTPROTO_TESTUTIL_H
#define MQTTPROTO_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#ifdef __clang_analyzer__
/*
 * For the static analyzer only (scan-build): cmocka 1.1.5 declares no
 * failed assertion as ending the test, so the analyzer follows paths past
 * every failed assert_*() or fail() and reports what would happen there.
 * Say that they end it. Real builds use cmocka's macros unchanged.
 */
void _fail(const char *const file, const int line) __attribute__((analyzer_noreturn));
#define TU_ANALYZER_CHECK(c) ((c) ? (void)0 : _fail(__FILE__, __LINE__))
#undef assert_true
#define assert_true(c) TU_ANALYZER_CHECK(c)
#undef assert_false
#define assert_false(c) TU_ANALYZER_CHECK(!(c))
#undef assert_non_null
#define assert_non_null(c) TU_ANALYZER_CHECK((c) != NULL)
#undef assert_null
#define assert_null(c) TU_ANALYZER_CHECK((c) == NULL)
#undef assert_int_equal
#define assert_int_equal(a, b)                                                                     \
    TU_ANALYZER_CHECK(cast_to_largest_integral_type(a) == cast_to_largest_integral_type(b))
#undef assert_int_not_equal
#define assert_int_not_equal(a, b)                                                                 \
    TU_ANALYZER_CHECK(cast_to_largest_integral_type(a) != cast_to_largest_integral_type(b))
#undef assert_ptr_equal
#define assert_ptr_equal(a, b)                                                                     \
    TU_ANALYZER_CHECK(cast_ptr_to_largest_integral_type(a) == cast_ptr_to_largest_integral_type(b))
#endif

#include "mqttproto/mqttproto.h"

/*
 * Parse a hex string ("10 0c 00 04 4d 51 54 54", spaces optional) into a
 * newly allocated buffer; *len receives the byte count. Aborts the test on
 * a bad string. Free with free().
 */
uint8_t *tu_hex(const char *hex, size_t *len);

/*
 * A copy of data placed so that its last byte is immediately followed by a
 * PROT_NONE page: any read past the end faults. Free with tu_guard_free().
 */
uint8_t *tu_guard_copy(const void *data, size_t len);
void tu_guard_free(uint8_t *p, size_t len);

/*
 * Decode hex placed before a guard page; returns mqttproto_decode()'s result.
 * The views in *out stay valid until the next call.
 */
ptrdiff_t tu_decode_hex(const char *hex, mqttproto_packet *out);

#endif
