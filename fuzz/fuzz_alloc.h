/*
 * The counting allocator the fuzz targets give the library: every block
 * carries a header, so that a block from elsewhere or freed twice is caught;
 * the live count shows a leak once everything is destroyed; and the next
 * attempt can be made to fail, recording that it did.
 */
#ifndef MQTTPROTO_FUZZ_ALLOC_H
#define MQTTPROTO_FUZZ_ALLOC_H

#include <stdbool.h>

#include "mqttproto/mqttproto.h"

struct fuzz_alloc {
    long live;         /* blocks allocated and not freed */
    bool fail_next;    /* the next attempt fails */
    bool hit;          /* an attempt failed since the harness last cleared it */
    const char *owner; /* named when a block is wrong: "broker", "client" */
};

/* An allocator that counts in @p a (which must outlive every block). */
mqttproto_mem fuzz_alloc_mem(struct fuzz_alloc *a);

#endif /* MQTTPROTO_FUZZ_ALLOC_H */
