#include "idmap.h"

static inline uint32_t slot_of(uint16_t key, uint32_t mask)
{
    return ((uint32_t)key * 40503u >> 4) & mask;
}

void *idmap_get(const struct idmap *m, uint16_t key)
{
    if (m->count == 0 || key == 0) {
        return NULL;
    }
    for (uint32_t i = slot_of(key, m->mask);; i = (i + 1) & m->mask) {
        if (m->keys[i] == key) {
            return m->vals[i];
        }
        if (m->keys[i] == 0) {
            return NULL;
        }
    }
}

static int grow(struct idmap *m, const mqttproto_mem *mem)
{
    uint32_t cap = m->keys == NULL ? 16 : (m->mask + 1) * 2;
    uint16_t *keys = mem_alloc(mem, cap * sizeof *keys);
    void **vals = mem_alloc(mem, cap * sizeof *vals);
    if (keys == NULL || vals == NULL) {
        mem_free(mem, keys);
        mem_free(mem, vals);
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    for (uint32_t i = 0; i < cap; i++) {
        keys[i] = 0;
    }
    uint32_t mask = cap - 1;
    if (m->keys != NULL) {
        for (uint32_t i = 0; i <= m->mask; i++) {
            if (m->keys[i] != 0) {
                uint32_t j = slot_of(m->keys[i], mask);
                while (keys[j] != 0) {
                    j = (j + 1) & mask;
                }
                keys[j] = m->keys[i];
                vals[j] = m->vals[i];
            }
        }
    }
    mem_free(mem, m->keys);
    mem_free(mem, m->vals);
    m->keys = keys;
    m->vals = vals;
    m->mask = mask;
    return 0;
}

int idmap_put(struct idmap *m, const mqttproto_mem *mem, uint16_t key, void *val)
{
    /* Keep the load under 3/4 so probes stay short. */
    if (m->keys == NULL || (m->count + 1) * 4 > (m->mask + 1) * 3) {
        int e = grow(m, mem);
        if (e != 0) {
            return e;
        }
    }
    uint32_t i = slot_of(key, m->mask);
    while (m->keys[i] != 0) {
        i = (i + 1) & m->mask;
    }
    m->keys[i] = key;
    m->vals[i] = val;
    m->count++;
    return 0;
}

void *idmap_remove(struct idmap *m, uint16_t key)
{
    if (m->count == 0 || key == 0) {
        return NULL;
    }
    uint32_t i = slot_of(key, m->mask);
    while (m->keys[i] != key) {
        if (m->keys[i] == 0) {
            return NULL;
        }
        i = (i + 1) & m->mask;
    }
    void *val = m->vals[i];
    /* Shift back the entries of the same probe run so lookups need no
       tombstones. */
    uint32_t hole = i;
    for (uint32_t j = (i + 1) & m->mask; m->keys[j] != 0; j = (j + 1) & m->mask) {
        uint32_t home = slot_of(m->keys[j], m->mask);
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->keys[hole] = m->keys[j];
            m->vals[hole] = m->vals[j];
            hole = j;
        }
    }
    m->keys[hole] = 0;
    m->count--;
    return val;
}

void idmap_free(struct idmap *m, const mqttproto_mem *mem)
{
    mem_free(mem, m->keys);
    mem_free(mem, m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->mask = 0;
    m->count = 0;
}
