/* Pieces shared by the decoder and the encoder (internal). */
#ifndef MQTTPROTO_CODEC_INTERNAL_H
#define MQTTPROTO_CODEC_INTERNAL_H

#include "wire.h"

extern const mqttproto_codec_options mqttproto_codec_default_options;

/* The options to use: the defaults for NULL, NULL for unsupported options. */
static inline const mqttproto_codec_options *
mqttproto_codec_options_resolve(const mqttproto_codec_options *o)
{
    if (o == NULL) {
        return &mqttproto_codec_default_options;
    }
    if (o->version != MQTTPROTO_CODEC_OPTIONS_VERSION ||
        o->protocol_version != MQTTPROTO_PROTOCOL_V5) {
        return NULL;
    }
    return o;
}

/* The effective maximum packet size of resolved options (0 means MQTT's). */
static inline uint32_t mqttproto_codec_max_size(const mqttproto_codec_options *o)
{
    return o->maximum_packet_size == 0 ? MQTTPROTO_MAX_PACKET_SIZE : o->maximum_packet_size;
}

/* Check the type and flags of a fixed header's first byte: 0 or an error. */
int mqttproto_check_first_byte(uint8_t b);

/* Return from the enclosing function with the error of a failed step. */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int try_rc_ = (expr);                                                                      \
        if (try_rc_ != 0) {                                                                        \
            return try_rc_;                                                                        \
        }                                                                                          \
    } while (0)

#endif
