/*
 * Fuzz target for decode -> encode -> decode.
 *
 * Input: the bytes of one packet (anything after the first packet is
 * ignored), decoded with the default options; or a first byte 0x03 or 0x04
 * (packet type 0, which no packet has) and then the packet, decoded and
 * encoded with that protocol_version (MQTT 3.1 or 3.1.1). When it decodes, the encoder
 * must accept the decoded packet as it is: mqttproto_encoded_size() and
 * mqttproto_encode() succeed and agree, the encoding is never longer than the
 * input (the encoder writes the shortest form), a buffer one byte short is
 * refused with MQTTPROTO_ERR_BUFFER_TOO_SMALL, the encoded bytes decode to
 * the same packet with the same size, and encoding that second packet gives
 * the same bytes again (the encoding is canonical). Any failure aborts after
 * printing what failed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mqttproto/mqttproto.h"
#include "packet_equal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Never returns: the checks after a failed one may rely on it. */
static _Noreturn void fail(const char *what, ptrdiff_t value)
{
    fprintf(stderr, "fuzz_roundtrip: %s (%td, %s)\n", what, value,
            mqttproto_err_name(value < 0 ? (int)value : 0));
    abort();
}

static uint8_t *copy_of(const uint8_t *data, size_t size)
{
    uint8_t *p = malloc(size > 0 ? size : 1);
    if (p == NULL) {
        abort();
    }
    if (size > 0) {
        memcpy(p, data, size);
    }
    return p;
}

static mqttproto_codec_options opts;

static uint8_t *encode_exact(const mqttproto_packet *pkt, size_t expected)
{
    uint8_t *out = malloc(expected);
    if (out == NULL) {
        abort();
    }
    ptrdiff_t w = mqttproto_encode(pkt, &opts, out, expected);
    if (w < 0) {
        fail("mqttproto_encode refused a decoded packet", w);
    }
    if ((size_t)w != expected) {
        fail("mqttproto_encode wrote a size other than mqttproto_encoded_size", w);
    }
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    mqttproto_codec_options_default(&opts);
    if (size > 0 && (data[0] == MQTTPROTO_PROTOCOL_V31 || data[0] == MQTTPROTO_PROTOCOL_V311)) {
        opts.protocol_version = data[0];
        data++;
        size--;
    }
    uint8_t *in = copy_of(data, size);
    mqttproto_packet first;
    ptrdiff_t n = mqttproto_decode(in, size, &opts, &first);
    if (n <= 0) {
        free(in);
        return 0;
    }

    ptrdiff_t s = mqttproto_encoded_size(&first, &opts);
    if (s <= 0) {
        fail("mqttproto_encoded_size refused a decoded packet", s);
    }
    if (s > n) {
        fprintf(stderr, "fuzz_roundtrip: decoded %td bytes\n", n);
        fail("the encoding is longer than the decoded input", s);
    }
    size_t size_s = (size_t)s;

    uint8_t *short_buf = malloc(size_s - 1); /* a packet takes at least 2 bytes */
    if (short_buf == NULL) {
        abort();
    }
    ptrdiff_t w = mqttproto_encode(&first, &opts, short_buf, size_s - 1);
    if (w != MQTTPROTO_ERR_BUFFER_TOO_SMALL) {
        fail("a buffer one byte short was not refused", w);
    }
    free(short_buf);

    uint8_t *out = encode_exact(&first, size_s);

    mqttproto_packet second;
    ptrdiff_t n2 = mqttproto_decode(out, size_s, &opts, &second);
    if (n2 != s) {
        fail("the encoding does not decode to its own size", n2);
    }
    const char *diff = packet_difference(&first, &second);
    if (diff != NULL) {
        fprintf(stderr, "fuzz_roundtrip: %s packets differ in %s\n",
                mqttproto_packet_type_name((int)first.type), diff);
        fail("decode(encode(p)) differs from p", 0);
    }

    ptrdiff_t s2 = mqttproto_encoded_size(&second, &opts);
    if (s2 != s) {
        fail("the re-decoded packet has another encoded size", s2);
    }
    uint8_t *again = encode_exact(&second, size_s);
    if (memcmp(out, again, size_s) != 0) {
        fail("encoding the re-decoded packet gave other bytes", s);
    }

    free(again);
    free(out);
    free(in);
    return 0;
}
