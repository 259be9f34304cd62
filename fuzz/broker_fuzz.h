/*
 * The interpreter shared by the broker fuzz targets (fuzz_broker_client.c,
 * fuzz_broker.c): a little program in the input drives one broker and up to
 * BF_MAX_CONNS connections in the server role, as an application and its
 * network peers would. broker_fuzz.c describes the input language and every
 * invariant checked.
 */
#ifndef MQTTPROTO_FUZZ_BROKER_FUZZ_H
#define MQTTPROTO_FUZZ_BROKER_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#define BF_MAX_CONNS 4

/* Run one input. @p multi: up to BF_MAX_CONNS connections, chosen by the
   high bits of each operation byte, with drops and reconnects; otherwise
   one connection for the whole run. */
void bf_run(const uint8_t *data, size_t size, int multi, const char *name);

#endif /* MQTTPROTO_FUZZ_BROKER_FUZZ_H */
