#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

uint8_t *tu_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    size_t k = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        if (hex[i] == ' ' || hex[i] == '\n' || hex[i] == '\t') {
            continue;
        }
        int d = hex_digit(hex[i]);
        if (d < 0) {
            fail_msg("bad hex digit '%c' in \"%s\"", hex[i], hex);
        }
        if (hi < 0) {
            hi = d;
        } else {
            out[k++] = (uint8_t)(hi << 4 | d);
            hi = -1;
        }
    }
    if (hi >= 0) {
        fail_msg("odd number of hex digits in \"%s\"", hex);
    }
    *len = k;
    return out;
}

static size_t page_size(void)
{
    return (size_t)sysconf(_SC_PAGESIZE);
}

static size_t guard_span(size_t len)
{
    size_t ps = page_size();
    return (len + ps - 1) / ps * ps + ps;
}

uint8_t *tu_guard_copy(const void *data, size_t len)
{
    size_t span = guard_span(len);
    uint8_t *base = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(base != MAP_FAILED);
    size_t ps = page_size();
    assert_int_equal(mprotect(base + span - ps, ps, PROT_NONE), 0);
    uint8_t *p = base + span - ps - len;
    if (len > 0) {
        memcpy(p, data, len);
    }
    return p;
}

void tu_guard_free(uint8_t *p, size_t len)
{
    size_t span = guard_span(len);
    size_t ps = page_size();
    uint8_t *base = p + len + ps - span;
    munmap(base, span);
}

/* The input of the last tu_decode_hex() call: kept so views stay valid. */
static uint8_t *last_input;
static size_t last_input_len;

ptrdiff_t tu_decode_hex(const char *hex, mqttproto_packet *out)
{
    if (last_input != NULL) {
        tu_guard_free(last_input, last_input_len);
    }
    size_t len;
    uint8_t *bytes = tu_hex(hex, &len);
    last_input = tu_guard_copy(bytes, len);
    last_input_len = len;
    free(bytes);
    return mqttproto_decode(last_input, len, NULL, out);
}
