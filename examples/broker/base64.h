/* Standard base64 (RFC 4648, with padding) over OpenSSL's block coder. */
#ifndef BROKER_BASE64_H
#define BROKER_BASE64_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Characters base64_encode() writes for @p n bytes, without the NUL. */
#define BASE64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/** Encode into @p out, which holds BASE64_ENCODED_LEN(n) + 1 bytes. */
void base64_encode(const uint8_t *in, size_t n, char *out);

/**
 * Decode @p len characters (a multiple of 4, padded) into @p out.
 * @return false for a bad length or character, or when @p cap is too small.
 */
bool base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif /* BROKER_BASE64_H */
