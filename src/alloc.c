#include "alloc.h"

#include <stdlib.h>

static void *libc_malloc(size_t size, void *user_data)
{
    (void)user_data;
    return malloc(size);
}

static void *libc_realloc(void *ptr, size_t size, void *user_data)
{
    (void)user_data;
    return realloc(ptr, size);
}

static void libc_free(void *ptr, void *user_data)
{
    (void)user_data;
    free(ptr);
}

void mqttproto_mem_resolve(const mqttproto_mem *in, mqttproto_mem *out)
{
    if (in != NULL && in->malloc_fn != NULL && in->realloc_fn != NULL && in->free_fn != NULL) {
        *out = *in;
        return;
    }
    out->malloc_fn = libc_malloc;
    out->realloc_fn = libc_realloc;
    out->free_fn = libc_free;
    out->user_data = NULL;
}
