/*
 * The broker's retained message store: topic name -> message, kept in a
 * tree of topic levels so that a new subscription finds the messages its
 * filter matches by walking the filter's levels, not by testing every
 * stored topic. Only '+' levels fan out, and '#' walks the one subtree it
 * covers.
 *
 * Messages are opaque; the store owns each one from a successful
 * retained_set() until it releases it (replaced, cleared, or at
 * retained_free()). Nothing here recurses, so topics and filters of tens of
 * thousands of levels cost heap, never C stack.
 */
#ifndef MQTTPROTO_RETAINED_H
#define MQTTPROTO_RETAINED_H

#include "alloc.h"

struct retained_node;

struct retained {
    mqttproto_mem mem;
    void (*release)(void *msg);
    struct retained_node *root; /* NULL while empty */
    size_t count;
};

/* @p mem may be NULL (the C library's allocator); @p release may be NULL. */
void retained_init(struct retained *s, const mqttproto_mem *mem, void (*release)(void *msg));
/* Release every message and free the store. */
void retained_free(struct retained *s);

/*
 * Store @p msg as the retained message of @p topic, releasing the one it
 * replaces (unless it is @p msg itself). Returns 0,
 * MQTTPROTO_ERR_TOPIC_NAME_INVALID, MQTTPROTO_ERR_NO_MEMORY,
 * MQTTPROTO_ERR_INVALID_ARGUMENT (s or msg NULL); on error nothing changes
 * and @p msg stays the caller's. A PUBLISH with an empty payload clears the
 * topic instead (MQTT 5.0 section 3.3.1.3): that test is the caller's.
 */
int retained_set(struct retained *s, mqttproto_str topic, void *msg);

/* Release and forget the message of @p topic; false when there was none. */
bool retained_clear(struct retained *s, mqttproto_str topic);

/* The message of @p topic, or NULL. */
void *retained_get(const struct retained *s, mqttproto_str topic);

/*
 * Call @p visit for every retained message whose topic matches @p filter, in
 * no particular order. The topic view lives as long as the message stays
 * stored. A shared filter is matched by its inner filter; whether a shared
 * subscription gets retained messages is the caller's decision. @p visit
 * must not set or clear messages. Returns 0,
 * MQTTPROTO_ERR_TOPIC_FILTER_INVALID, MQTTPROTO_ERR_INVALID_ARGUMENT (s or
 * visit NULL) or MQTTPROTO_ERR_NO_MEMORY (a filter with more '+' levels
 * than the built-in stack holds, and no memory); on error nothing was
 * visited.
 */
int retained_match(const struct retained *s, mqttproto_str filter,
                   void (*visit)(void *ctx, mqttproto_str topic, void *msg), void *ctx);

size_t retained_count(const struct retained *s);

#endif /* MQTTPROTO_RETAINED_H */
