/*
 * String → 32-bit value map with owned keys (open addressing, linear
 * probing, backward-shift deletion): topic alias and subscription tables.
 */
#ifndef MQTTPROTO_STRMAP_H
#define MQTTPROTO_STRMAP_H

#include "alloc.h"

struct strmap_entry {
    char *key; /* owned; NULL marks an empty slot */
    size_t len;
    uint32_t hash;
    uint32_t value;
};

struct strmap {
    struct strmap_entry *slots;
    uint32_t mask;
    uint32_t count;
};

/* The entry for @p key, or NULL. */
struct strmap_entry *strmap_find(const struct strmap *m, const char *key, size_t len);
/* Insert a key that is not present (copied): its entry, or NULL (no memory). */
struct strmap_entry *strmap_insert(struct strmap *m, const mqttproto_mem *mem, const char *key,
                                   size_t len, uint32_t value);
/* Remove a key if present; true when it was. */
bool strmap_remove(struct strmap *m, const mqttproto_mem *mem, const char *key, size_t len);
void strmap_clear(struct strmap *m, const mqttproto_mem *mem);
void strmap_free(struct strmap *m, const mqttproto_mem *mem);

#endif /* MQTTPROTO_STRMAP_H */
