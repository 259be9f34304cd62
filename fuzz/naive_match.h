/*
 * A reference for the topic module, written for obviousness, not speed:
 * both strings are split into arrays of levels and compared level by level.
 * Fuzz targets and tests compare the library against it.
 */
#ifndef MQTTPROTO_NAIVE_MATCH_H
#define MQTTPROTO_NAIVE_MATCH_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Whether topic matches filter. A filter level is "+" for exactly one level,
 * "#" as the last level for that level and all below (the parent included);
 * any other level must equal the topic level byte for byte. A filter whose
 * first byte is '+' or '#' never matches a topic whose first byte is '$'.
 * Aborts when out of memory.
 */
bool naive_topic_matches(const char *filter, size_t filter_len, const char *topic,
                         size_t topic_len);

/*
 * The wildcard and shared-subscription rules for a topic filter, without
 * the UTF-8 rules: non-empty, at most 65,535 bytes, every level holding '+'
 * is exactly "+", every level holding '#' is exactly "#" and last, and a
 * filter starting with "$share/" has a non-empty ShareName without '+' or
 * '#', then '/', then a non-empty filter obeying the same level rules.
 */
bool naive_filter_shape_ok(const char *filter, size_t filter_len);

/* The same for a topic name: non-empty, at most 65,535 bytes, no '+' or '#'. */
bool naive_name_shape_ok(const char *topic, size_t topic_len);

#endif
