/* The benchmarks' counting allocator: a size header before each block. */
#include "counting_alloc.h"

#include <stdlib.h>
#include <string.h>

typedef union block_header {
    max_align_t align;
    size_t size;
} block_header;

static size_t chunk_of(size_t size)
{
    size_t c = (size + 8 + 15) & ~(size_t)15;
    return c < 32 ? 32 : c;
}

static void *c_malloc(size_t size, void *user)
{
    struct counting *c = user;
    block_header *b = malloc(sizeof *b + size);
    if (b == NULL) {
        return NULL;
    }
    b->size = size;
    c->bytes += size;
    c->chunks += chunk_of(size);
    c->blocks++;
    c->total += size;
    c->calls++;
    return b + 1;
}

static void *c_realloc(void *p, size_t size, void *user)
{
    struct counting *c = user;
    if (p == NULL) {
        return c_malloc(size, user);
    }
    block_header *b = (block_header *)p - 1;
    size_t old = b->size;
    block_header *nb = realloc(b, sizeof *nb + size);
    if (nb == NULL) {
        return NULL;
    }
    nb->size = size;
    c->bytes = c->bytes - old + size;
    c->chunks = c->chunks - chunk_of(old) + chunk_of(size);
    c->total += size;
    c->calls++;
    return nb + 1;
}

static void c_free(void *p, void *user)
{
    struct counting *c = user;
    if (p == NULL) {
        return;
    }
    block_header *b = (block_header *)p - 1;
    c->bytes -= b->size;
    c->chunks -= chunk_of(b->size);
    c->blocks--;
    free(b);
}

mqttproto_mem counting_mem(struct counting *c)
{
    memset(c, 0, sizeof *c);
    mqttproto_mem m = {c_malloc, c_realloc, c_free, c};
    return m;
}
