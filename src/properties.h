/* Property blocks: decoding, sizing and encoding (internal). */
#ifndef MQTTPROTO_PROPERTIES_H
#define MQTTPROTO_PROPERTIES_H

#include "wire.h"

/*
 * Decode the property block that starts at p (its length VBI first) and must
 * end at or before end. context is a packet type or
 * MQTTPROTO_PROPERTY_CONTEXT_WILL. Returns the bytes used (length VBI
 * included) or an error.
 */
ptrdiff_t mqttproto_props_decode(const uint8_t *p, const uint8_t *end, int context,
                                 uint32_t max_user_properties, mqttproto_properties *out);

/*
 * The length of the property block's content (without its length VBI), or a
 * shape error: MQTTPROTO_ERR_UNKNOWN_PROPERTY, MQTTPROTO_ERR_PROPERTY_NOT_ALLOWED,
 * MQTTPROTO_ERR_STRING_TOO_LONG, MQTTPROTO_ERR_VALUE_TOO_LARGE,
 * MQTTPROTO_ERR_INVALID_ARGUMENT.
 *
 * With check_err non-NULL the same walk also checks every value as a
 * decoder would (ranges, UTF-8, duplicates in the repeatable lists) and
 * stores the first error in identifier order, or 0, in *check_err. It is
 * kept apart from the return value so that an encoder reports shape errors
 * before content errors whatever order the properties come in.
 */
ptrdiff_t mqttproto_props_size(const mqttproto_properties *props, int context, int *check_err);

/*
 * Write the length VBI (of content_len, from mqttproto_props_size()) and the
 * block. Returns the position after it. The properties must be checked.
 */
uint8_t *mqttproto_props_write(const mqttproto_properties *props, size_t content_len, uint8_t *p);

/* Bytes taken by a property block of content length n, VBI included. */
static inline size_t props_total_size(size_t n)
{
    return n + wire_vbi_size((uint32_t)n);
}

#endif /* MQTTPROTO_PROPERTIES_H */
