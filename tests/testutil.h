/* Shared test helpers: hex vectors, guard pages, cmocka includes. */
#ifndef MQTTPROTO_TESTUTIL_H
#define MQTTPROTO_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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
