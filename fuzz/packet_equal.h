/*
 * Deep comparison of two decoded or caller-built packets, used by the round
 * trip fuzz target and the seed generator. Lists are compared through the
 * library's iterators, so a packet in "wire" form (after decoding) compares
 * equal to the same packet built from caller arrays.
 */
#ifndef MQTTPROTO_FUZZ_PACKET_EQUAL_H
#define MQTTPROTO_FUZZ_PACKET_EQUAL_H

#include <stdbool.h>

#include "mqttproto/mqttproto.h"

/*
 * NULL when a and b carry the same packet; otherwise the name of the first
 * field found to differ (a static string), for diagnostics.
 */
const char *packet_difference(const mqttproto_packet *a, const mqttproto_packet *b);

/* Whether a and b carry the same packet: every field, property and list entry. */
bool packet_equal(const mqttproto_packet *a, const mqttproto_packet *b);

#endif
