#include "fuzz_buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_append(struct buf *b, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (b->cap - b->len < n) {
        size_t cap = b->cap < 256 ? 256 : b->cap;
        while (cap - b->len < n) {
            cap *= 2;
        }
        uint8_t *d = realloc(b->d, cap);
        if (d == NULL) {
            fprintf(stderr, "fuzz harness out of memory (%zu bytes)\n", cap);
            abort();
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, p, n);
    b->len += n;
}

void buf_drop(struct buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->d, b->d + n, b->len - n);
    b->len -= n;
}

void buf_free(struct buf *b)
{
    free(b->d);
    memset(b, 0, sizeof *b);
}
