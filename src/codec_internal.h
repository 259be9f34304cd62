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
        (o->protocol_version != MQTTPROTO_PROTOCOL_V5 &&
         o->protocol_version != MQTTPROTO_PROTOCOL_V311 &&
         o->protocol_version != MQTTPROTO_PROTOCOL_V31)) {
        return NULL;
    }
    return o;
}

/* Whether resolved options use the MQTT 3.1.1 / 3.1 packet forms: no
   properties, no reason codes beyond CONNACK and SUBACK return codes. */
static inline bool mqttproto_codec_is_v3(const mqttproto_codec_options *o)
{
    return o->protocol_version != MQTTPROTO_PROTOCOL_V5;
}

/* The effective maximum packet size of resolved options (0 means MQTT's). */
static inline uint32_t mqttproto_codec_max_size(const mqttproto_codec_options *o)
{
    return o->maximum_packet_size == 0 ? MQTTPROTO_MAX_PACKET_SIZE : o->maximum_packet_size;
}

/* A SUBACK return code of MQTT 3.1.1 and 3.1: 0x00, 0x01, 0x02 or 0x80. */
static inline bool mqttproto_v3_suback_code_ok(uint8_t rc)
{
    return rc <= 2 || rc == 0x80;
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
