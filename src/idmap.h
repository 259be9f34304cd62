/*
 * Packet identifier → pointer map (open addressing, linear probing,
 * backward-shift deletion). Key 0 marks an empty slot: MQTT never uses
 * packet identifier 0.
 */
#ifndef MQTTPROTO_IDMAP_H
#define MQTTPROTO_IDMAP_H

#include "alloc.h"

struct idmap {
    uint16_t *keys;
    void **vals;
    uint32_t mask; /* capacity - 1; capacity is a power of two */
    uint32_t count;
};

void *idmap_get(const struct idmap *m, uint16_t key);
/* Insert a new key (it must not be present): 0 or MQTTPROTO_ERR_NO_MEMORY. */
int idmap_put(struct idmap *m, const mqttproto_mem *mem, uint16_t key, void *val);
/* Remove a key; returns its value or NULL. */
void *idmap_remove(struct idmap *m, uint16_t key);
void idmap_free(struct idmap *m, const mqttproto_mem *mem);

#endif /* MQTTPROTO_IDMAP_H */
