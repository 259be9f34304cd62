#include "strmap.h"

#include <string.h>

/* FNV-1a: short keys, no adversary that could not already flood us with
   valid topics, and the table is bounded by the caller. */
static uint32_t hash_of(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ (uint8_t)s[i]) * 16777619u;
    }
    return h;
}

struct strmap_entry *strmap_find(const struct strmap *m, const char *key, size_t len)
{
    if (m->count == 0) {
        return NULL;
    }
    uint32_t h = hash_of(key, len);
    for (uint32_t i = h & m->mask;; i = (i + 1) & m->mask) {
        struct strmap_entry *e = &m->slots[i];
        if (e->key == NULL) {
            return NULL;
        }
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            return e;
        }
    }
}

static int grow(struct strmap *m, const mqttproto_mem *mem)
{
    uint32_t cap = m->slots == NULL ? 16 : (m->mask + 1) * 2;
    struct strmap_entry *slots = mem_alloc(mem, cap * sizeof *slots);
    if (slots == NULL) {
        return MQTTPROTO_ERR_NO_MEMORY;
    }
    memset(slots, 0, cap * sizeof *slots);
    uint32_t mask = cap - 1;
    if (m->slots != NULL) {
        for (uint32_t i = 0; i <= m->mask; i++) {
            if (m->slots[i].key != NULL) {
                uint32_t j = m->slots[i].hash & mask;
                while (slots[j].key != NULL) {
                    j = (j + 1) & mask;
                }
                slots[j] = m->slots[i];
            }
        }
    }
    mem_free(mem, m->slots);
    m->slots = slots;
    m->mask = mask;
    return 0;
}

struct strmap_entry *strmap_insert(struct strmap *m, const mqttproto_mem *mem, const char *key,
                                   size_t len, uint32_t value)
{
    if (m->slots == NULL || (m->count + 1) * 4 > (m->mask + 1) * 3) {
        if (grow(m, mem) != 0) {
            return NULL;
        }
    }
    char *copy = mem_alloc(mem, len);
    if (copy == NULL) {
        return NULL;
    }
    if (len > 0) {
        memcpy(copy, key, len);
    }
    uint32_t h = hash_of(key, len);
    uint32_t i = h & m->mask;
    while (m->slots[i].key != NULL) {
        i = (i + 1) & m->mask;
    }
    m->slots[i] = (struct strmap_entry){copy, len, h, value};
    m->count++;
    return &m->slots[i];
}

bool strmap_remove(struct strmap *m, const mqttproto_mem *mem, const char *key, size_t len)
{
    struct strmap_entry *e = strmap_find(m, key, len);
    if (e == NULL) {
        return false;
    }
    mem_free(mem, e->key);
    uint32_t hole = (uint32_t)(e - m->slots);
    for (uint32_t j = (hole + 1) & m->mask; m->slots[j].key != NULL; j = (j + 1) & m->mask) {
        uint32_t home = m->slots[j].hash & m->mask;
        if (((j - home) & m->mask) >= ((j - hole) & m->mask)) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].key = NULL;
    m->count--;
    return true;
}

void strmap_clear(struct strmap *m, const mqttproto_mem *mem)
{
    if (m->slots == NULL) {
        return;
    }
    for (uint32_t i = 0; i <= m->mask; i++) {
        mem_free(mem, m->slots[i].key);
        m->slots[i].key = NULL;
    }
    m->count = 0;
}

void strmap_free(struct strmap *m, const mqttproto_mem *mem)
{
    strmap_clear(m, mem);
    mem_free(mem, m->slots);
    m->slots = NULL;
    m->mask = 0;
}
