/* Pieces shared by the decoder and the encoder (internal). */
#ifndef MQTTPROTO_CODEC_INTERNAL_H
#define MQTTPROTO_CODEC_INTERNAL_H

#include "wire.h"

/* The options to use: the defaults for NULL, NULL for unsupported options. */
const mqttproto_codec_options *mqttproto_codec_options_resolve(const mqttproto_codec_options *o);

/* The effective maximum packet size of resolved options. */
uint32_t mqttproto_codec_max_size(const mqttproto_codec_options *o);

/* Check the type and flags of a fixed header's first byte: 0 or an error. */
int mqttproto_check_first_byte(uint8_t b);

#endif
