#include "bytebuf.h"

#include <string.h>

uint8_t *bytebuf_reserve(struct bytebuf *b, const mqttproto_mem *mem, size_t n)
{
    if (b->cap - b->len >= n) {
        return b->data + b->len;
    }
    size_t held = b->len - b->head;
    if (b->head > 0 && b->cap - held >= n && held <= b->cap / 2) {
        /* Moving the few held bytes down is cheaper than growing. */
        memmove(b->data, b->data + b->head, held);
        b->head = 0;
        b->len = held;
        return b->data + b->len;
    }
    if (n > SIZE_MAX / 2 - b->len) {
        return NULL;
    }
    size_t want = b->len + n;
    size_t cap = b->cap < 256 ? 256 : b->cap;
    while (cap < want) {
        cap *= 2;
    }
    uint8_t *p = mem_realloc(mem, b->data, cap);
    if (p == NULL) {
        return NULL;
    }
    b->data = p;
    b->cap = cap;
    return b->data + b->len;
}

int bytebuf_append(struct bytebuf *b, const mqttproto_mem *mem, const void *data, size_t n)
{
    uint8_t *p = bytebuf_reserve(b, mem, n);
    if (p == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    if (n > 0) {
        memcpy(p, data, n);
    }
    b->len += n;
    return 0;
}

void bytebuf_consume(struct bytebuf *b, size_t n)
{
    size_t held = b->len - b->head;
    if (n >= held) {
        b->head = 0;
        b->len = 0;
        return;
    }
    b->head += n;
}

void bytebuf_free(struct bytebuf *b, const mqttproto_mem *mem)
{
    mem_free(mem, b->data);
    b->data = NULL;
    b->head = b->len = b->cap = 0;
}
