#include "tbuf.h"

#include <stdlib.h>
#include <string.h>

void tbuf_init(tbuf *b)
{
    memset(b, 0, sizeof *b);
}

void tbuf_free(tbuf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

uint8_t *tbuf_reserve(tbuf *b, size_t n)
{
    if (b->len == 0) {
        b->start = 0;
    }
    if (b->cap - b->start - b->len >= n) {
        return b->data + b->start + b->len;
    }
    if (b->start > 0 && b->cap - b->len >= n && b->start >= b->len) {
        /* Enough room once the bytes in use move to the front. */
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
        return b->data + b->len;
    }
    if (n > SIZE_MAX / 2 - b->len) {
        return NULL;
    }
    size_t need = b->len + n;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *nd = malloc(cap);
    if (nd == NULL) {
        return NULL;
    }
    if (b->len > 0) {
        memcpy(nd, b->data + b->start, b->len);
    }
    free(b->data);
    b->data = nd;
    b->cap = cap;
    b->start = 0;
    return b->data + b->len;
}

void tbuf_commit(tbuf *b, size_t n)
{
    b->len += n;
}

bool tbuf_append(tbuf *b, const void *data, size_t n)
{
    if (n == 0) {
        return true;
    }
    uint8_t *p = tbuf_reserve(b, n);
    if (p == NULL) {
        return false;
    }
    memcpy(p, data, n);
    b->len += n;
    return true;
}

void tbuf_consume(tbuf *b, size_t n)
{
    if (n >= b->len) {
        b->start = 0;
        b->len = 0;
        return;
    }
    b->start += n;
    b->len -= n;
}

size_t tbuf_take(tbuf *b, uint8_t *out, size_t cap)
{
    size_t n = b->len < cap ? b->len : cap;
    if (n > 0) {
        memcpy(out, b->data + b->start, n);
        tbuf_consume(b, n);
    }
    return n;
}

void tbuf_clear(tbuf *b)
{
    b->start = 0;
    b->len = 0;
}
