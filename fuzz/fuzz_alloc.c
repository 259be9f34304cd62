#include "fuzz_alloc.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define BLOCK_LIVE  0x4d515454414c4f43ull
#define BLOCK_FREED 0x46524545442d2d2dull

typedef union block_header {
    max_align_t align;
    struct {
        uint64_t magic;
        size_t size;
    } h;
} block_header;

_Noreturn static void die(const struct fuzz_alloc *a, const char *what)
{
    fprintf(stderr, "fuzz allocator (%s): %s\n", a->owner != NULL ? a->owner : "?", what);
    abort();
}

static bool should_fail(struct fuzz_alloc *a)
{
    if (!a->fail_next) {
        return false;
    }
    a->fail_next = false;
    a->hit = true;
    return true;
}

static void *fa_malloc(size_t size, void *user_data)
{
    struct fuzz_alloc *a = user_data;
    if (should_fail(a) || size > SIZE_MAX - sizeof(block_header)) {
        return NULL;
    }
    block_header *b = malloc(sizeof *b + size);
    if (b == NULL) {
        die(a, "out of memory");
    }
    b->h.magic = BLOCK_LIVE;
    b->h.size = size;
    a->live++;
    return b + 1;
}

static block_header *header_of(const struct fuzz_alloc *a, void *ptr)
{
    block_header *b = (block_header *)ptr - 1;
    if (b->h.magic != BLOCK_LIVE) {
        die(a, "a block not from this allocator, or freed twice");
    }
    return b;
}

static void *fa_realloc(void *ptr, size_t size, void *user_data)
{
    if (ptr == NULL) {
        return fa_malloc(size, user_data);
    }
    struct fuzz_alloc *a = user_data;
    block_header *b = header_of(a, ptr);
    if (should_fail(a) || size > SIZE_MAX - sizeof(block_header)) {
        return NULL;
    }
    block_header *nb = realloc(b, sizeof *nb + size);
    if (nb == NULL) {
        die(a, "out of memory");
    }
    nb->h.size = size;
    return nb + 1;
}

static void fa_free(void *ptr, void *user_data)
{
    if (ptr == NULL) {
        return;
    }
    struct fuzz_alloc *a = user_data;
    block_header *b = header_of(a, ptr);
    b->h.magic = BLOCK_FREED;
    a->live--;
    free(b);
}

mqttproto_mem fuzz_alloc_mem(struct fuzz_alloc *a)
{
    mqttproto_mem m = {fa_malloc, fa_realloc, fa_free, a};
    return m;
}
