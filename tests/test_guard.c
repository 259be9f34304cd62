/*
 * The decoder reads no byte past its input: every vector is decoded at every
 * prefix length from a copy that ends right before a PROT_NONE page, so a
 * read past the end faults and fails the test.
 */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define PK(x)        MQTTPROTO_PACKET_##x

/*
 * Valid packets of every type, each ending in a field that a careless reader
 * would overrun: a string, a multi-byte UTF-8 character, a property value, a
 * variable byte integer, an options byte.
 */
static const char *const valid[] = {
    /* CONNECT: will QoS 1, will, clean start, user name, password; will
       delay 1; client "a", will topic "t", payload "p", user "u", password "w" */
    ("10 20 00 04 4d 51 54 54 05 ce 00 00 00 00 01 61 05 18 00 00 00 01 00 01 74 00 01 70"
     " 00 01 75 00 01 77"),
    /* CONNECT: clean start, keep alive 60, receive maximum 20, client "" */
    "10 10 00 04 4d 51 54 54 05 02 00 3c 03 21 00 14 00 00",
    "20 03 00 00 00",
    /* CONNACK: session present, session expiry 10 */
    "20 08 01 00 05 11 00 00 00 0a",
    "30 05 00 01 74 00 ff",
    /* PUBLISH DUP, QoS 2, RETAIN, id 5, topic alias 1, payload "a" */
    "3d 0a 00 01 74 00 05 03 23 00 01 61",
    /* a user property value as the last byte */
    "30 0b 00 01 74 07 26 00 01 6b 00 01 76",
    /* a subscription identifier as the last byte(s): 127, then 2,097,151 */
    "30 06 00 01 74 02 0b 7f",
    "30 08 00 01 74 04 0b ff ff 7f",
    "40 02 00 01",
    "40 03 00 01 10",
    /* an empty reason string last */
    "40 07 00 01 00 03 1f 00 00",
    "50 02 00 02",
    "62 02 00 03",
    "70 03 00 04 92",
    "82 09 00 01 00 00 03 74 2f 2b 02",
    /* subscription identifier 1, filter "#" */
    "82 09 00 01 02 0b 01 00 01 23 01",
    "90 04 00 01 00 02",
    "a2 08 00 01 00 00 03 61 2f 62",
    /* filters ending in a 2-byte and a 4-byte UTF-8 character */
    "a2 07 00 01 00 00 02 c3 a9",
    "a2 09 00 01 00 00 04 f0 9f 98 80",
    "b0 04 00 01 00 11",
    "c0 00",
    "d0 00",
    "e0 00",
    "e0 01 8e",
    /* an empty server reference last */
    "e0 05 00 03 1c 00 00",
    "f0 00",
    /* authentication method "abc", then authentication data 00 00 */
    "f0 08 18 06 15 00 03 61 62 63",
    "f0 07 19 05 16 00 02 00 00",
};

/* Invalid packets: the error at full length; shorter prefixes give 0 or it. */
struct invalid {
    const char *hex;
    int err;
    uint32_t max_packet_size; /* 0: default */
    uint32_t max_user_properties;
};

static const struct invalid invalid[] = {
    {"00 00", MQTTPROTO_ERR_RESERVED_PACKET_TYPE, 0, 0},
    {"c1 00", MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS, 0, 0}, /* [MQTT-2.1.3-1] */
    {"36 00", MQTTPROTO_ERR_BAD_QOS, 0, 0},                /* [MQTT-3.3.1-4] */
    {"38 00", MQTTPROTO_ERR_DUP_ON_QOS0, 0, 0},            /* [MQTT-3.3.1-2] */
    {"30 ff ff ff ff", MQTTPROTO_ERR_MALFORMED_VARIABLE_INTEGER, 0, 0},
    {"30 80 00", MQTTPROTO_ERR_NON_MINIMAL_VARIABLE_INTEGER, 0, 0}, /* [MQTT-1.5.5-1] */
    /* topic length past the end */
    {"30 03 00 05 61", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    {"c0 01 00", MQTTPROTO_ERR_TRAILING_BYTES, 0, 0},
    /* property block longer than the body */
    {"e0 03 00 05 11", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* property length cut inside its variable byte integer */
    {"30 04 00 01 74 80", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* a user property name longer than the block */
    {"e0 05 00 03 26 00 05", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* a subscription identifier cut at the block's end */
    {"30 06 00 01 74 02 0b 80", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* a byte, a two-byte and a four-byte property cut at the block's end */
    {"30 05 00 01 74 01 01", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    {"20 05 00 00 02 21 00", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    {"e0 05 00 03 11 00 00", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* a property identifier with its continuation bit, last */
    {"e0 03 00 01 80", MQTTPROTO_ERR_UNKNOWN_PROPERTY, 0, 0},
    /* UTF-8 sequences cut by the end of the packet [MQTT-1.5.4-1], in a topic filter
       [MQTT-3.10.3-1] and in a user property value [MQTT-1.5.7-1] */
    {"a2 06 00 01 00 00 01 e2", MQTTPROTO_ERR_INVALID_UTF8, 0, 0},
    {"a2 08 00 01 00 00 03 61 f0 9f", MQTTPROTO_ERR_INVALID_UTF8, 0, 0},
    {"e0 09 00 07 26 00 01 61 00 01 c3", MQTTPROTO_ERR_INVALID_UTF8, 0, 0},
    /* a surrogate last [MQTT-1.5.4-1]; U+0000 last [MQTT-1.5.4-2] */
    {"a2 08 00 01 00 00 03 ed a0 80", MQTTPROTO_ERR_INVALID_UTF8, 0, 0},
    {"a2 06 00 01 00 00 01 00", MQTTPROTO_ERR_UTF8_NULL_CHARACTER, 0, 0},
    /* a SUBSCRIBE whose options byte is missing */
    {"82 06 00 01 00 00 01 61", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* '+' not a whole level [MQTT-4.7.1-2] */
    {"82 08 00 01 00 00 02 61 2b 00", MQTTPROTO_ERR_TOPIC_FILTER_INVALID, 0, 0},
    {"90 03 00 01 00", MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST, 0, 0},
    /* CONNACK without its property length */
    {"20 02 00 00", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* CONNECT: protocol name cut; password flag without a password [MQTT-3.1.2-19] */
    {"10 03 00 04 4d", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    {"10 0d 00 04 4d 51 54 54 05 40 00 00 00 00 00", MQTTPROTO_ERR_TRUNCATED, 0, 0},
    /* limits from the options: refused as soon as the length is known */
    {"3d 0a 00 01 74 00 05 03 23 00 01 61", MQTTPROTO_ERR_PACKET_TOO_LARGE, 11, 0},
    {"30 10 00 01 74 0c 26 00 01 61 00 00 26 00 01 62 00 00", MQTTPROTO_ERR_TOO_MANY_PROPERTIES, 0,
     1},
};

/* Read every list of a decoded packet: the iterators re-read the input. */
static size_t walk_lists(const mqttproto_packet *p)
{
    const mqttproto_properties *props[2] = {NULL, NULL};
    size_t n = 0, c;
    switch (p->type) {
    case PK(CONNECT):
        props[0] = &p->connect.properties;
        props[1] = p->connect.has_will ? &p->connect.will.properties : NULL;
        break;
    case PK(CONNACK):
        props[0] = &p->connack.properties;
        break;
    case PK(PUBLISH):
        props[0] = &p->publish.properties;
        break;
    case PK(PUBACK):
    case PK(PUBREC):
    case PK(PUBREL):
    case PK(PUBCOMP):
        props[0] = &p->puback.properties;
        break;
    case PK(SUBSCRIBE): {
        mqttproto_subscription s;
        props[0] = &p->subscribe.properties;
        for (c = 0; mqttproto_subscriptions_next(&p->subscribe.subscriptions, &c, &s);) {
            n++;
        }
        assert_int_equal(n, p->subscribe.subscriptions.count);
        break;
    }
    case PK(SUBACK):
    case PK(UNSUBACK):
        props[0] = &p->suback.properties;
        break;
    case PK(UNSUBSCRIBE): {
        mqttproto_str f;
        props[0] = &p->unsubscribe.properties;
        for (c = 0; mqttproto_topic_filters_next(&p->unsubscribe.topic_filters, &c, &f);) {
            n++;
        }
        assert_int_equal(n, p->unsubscribe.topic_filters.count);
        break;
    }
    case PK(DISCONNECT):
    case PK(AUTH):
        props[0] = &p->disconnect.properties;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < 2; i++) {
        /* Skipped when there is no property block: see test_codec_vectors's
           test_iterators_on_empty_properties. */
        if (props[i] == NULL || props[i]->wire.data == NULL) {
            continue;
        }
        mqttproto_user_property u;
        uint32_t id;
        size_t k = 0;
        for (c = 0; mqttproto_user_properties_next(props[i], &c, &u);) {
            k++;
        }
        assert_int_equal(k, props[i]->user_property_count);
        k = 0;
        for (c = 0; mqttproto_subscription_identifiers_next(props[i], &c, &id);) {
            k++;
        }
        assert_int_equal(k, props[i]->subscription_identifier_count);
        n += k;
    }
    return n;
}

/* A valid packet: every proper prefix needs more bytes, the whole is decoded. */
static void check_valid_prefixes(const uint8_t *bytes, size_t len)
{
    mqttproto_packet pkt;
    size_t hdr = 2;
    while (bytes[hdr - 1] & 0x80) {
        hdr++;
    }
    for (size_t k = 0; k <= len; k++) {
        uint8_t *g = tu_guard_copy(bytes, k);
        ptrdiff_t r = mqttproto_decode(g, k, NULL, &pkt);
        if (r != (k < len ? 0 : (ptrdiff_t)len)) {
            print_error("prefix %zu of %zu bytes (%02x...): decode gave %td\n", k, len, bytes[0],
                        r);
            fail();
        }
        assert_int_equal(mqttproto_frame_size(g, k, NULL, NULL), k < hdr ? 0 : (ptrdiff_t)len);
        if (k == len) {
            walk_lists(&pkt);
        }
        tu_guard_free(g, k);
    }
}

static void test_valid_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid); i++) {
        size_t len;
        uint8_t *bytes = tu_hex(valid[i], &len);
        check_valid_prefixes(bytes, len);
        free(bytes);
    }
}

static const mqttproto_user_property users[] = {
    {{"k", 1}, {"v", 1}}, {{"", 0}, {"", 0}}, {{"\xc3\xa9", 2}, {"\xf0\x9f\x98\x80", 4}}};
static const uint32_t subids[] = {1, 200, 268435455};

/* Every property the codec allows in ctx, through the builder. */
static void set_all(mqttproto_properties *p, int ctx)
{
    static const uint8_t bin[] = {0x00, 0x01, 0xff};
    mqttproto_properties_init(p);
    for (int id = 1; id < 64; id++) {
        const mqttproto_property_info *info = mqttproto_property_info_get(id);
        if (info == NULL || !mqttproto_property_allowed(id, ctx)) {
            continue;
        }
        int r;
        switch (info->type) {
        case MQTTPROTO_PTYPE_UTF8_STRING:
            r = mqttproto_properties_set_str(p, ctx, id, mqttproto_str_from_cstr("s/\xc3\xa9"));
            break;
        case MQTTPROTO_PTYPE_BINARY:
            r = mqttproto_properties_set_bin(p, ctx, id, mqttproto_bin_make(bin, sizeof bin));
            break;
        case MQTTPROTO_PTYPE_UTF8_PAIR:
            r = mqttproto_properties_set_user_properties(p, ctx, users, ARRAY_LEN(users));
            break;
        case MQTTPROTO_PTYPE_VARIABLE_INT:
            r = ctx == PK(PUBLISH) ? mqttproto_properties_set_subscription_identifiers(
                                         p, ctx, subids, ARRAY_LEN(subids))
                                   : mqttproto_properties_set_int(p, ctx, id, 16384);
            break;
        default:
            r = mqttproto_properties_set_int(p, ctx, id, 1);
            break;
        }
        assert_int_equal(r, MQTTPROTO_OK);
    }
}

static mqttproto_properties *props_of(mqttproto_packet *p)
{
    switch (p->type) {
    case PK(CONNECT):
        return &p->connect.properties;
    case PK(CONNACK):
        return &p->connack.properties;
    case PK(PUBLISH):
        return &p->publish.properties;
    case PK(SUBSCRIBE):
        return &p->subscribe.properties;
    case PK(UNSUBSCRIBE):
        return &p->unsubscribe.properties;
    case PK(SUBACK):
    case PK(UNSUBACK):
        return &p->suback.properties;
    case PK(DISCONNECT):
    case PK(AUTH):
        return &p->disconnect.properties;
    case PK(PINGREQ):
    case PK(PINGRESP):
        return NULL;
    default:
        return &p->puback.properties;
    }
}

/* Each valid vector again, with every property its packet allows (its
   lists re-encoded from their wire form), at every prefix. */
static void test_every_property(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(valid); i++) {
        size_t len;
        uint8_t *bytes = tu_hex(valid[i], &len);
        mqttproto_packet pkt;
        assert_int_equal(mqttproto_decode(bytes, len, NULL, &pkt), (ptrdiff_t)len);
        mqttproto_properties *props = props_of(&pkt);
        if (props == NULL) {
            free(bytes);
            continue;
        }
        set_all(props, (int)pkt.type);
        if (pkt.type == PK(CONNECT) && pkt.connect.has_will) {
            set_all(&pkt.connect.will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL);
        }
        ptrdiff_t n = mqttproto_encoded_size(&pkt, NULL);
        assert_true(n > (ptrdiff_t)len);
        uint8_t *out = malloc((size_t)n);
        assert_non_null(out);
        assert_int_equal(mqttproto_encode(&pkt, NULL, out, (size_t)n), n);
        check_valid_prefixes(out, (size_t)n);
        free(out);
        free(bytes);
    }
}

/* Invalid packets: no read past any prefix; the error, once reported, stays;
   the full packet gives exactly the expected error. */
static void test_invalid_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(invalid); i++) {
        const struct invalid *v = &invalid[i];
        mqttproto_codec_options opts;
        mqttproto_codec_options_default(&opts);
        if (v->max_packet_size != 0) {
            opts.maximum_packet_size = v->max_packet_size;
        }
        opts.max_user_properties = v->max_user_properties;
        size_t len;
        uint8_t *bytes = tu_hex(v->hex, &len);
        ptrdiff_t last = 0;
        for (size_t k = 0; k <= len; k++) {
            uint8_t *g = tu_guard_copy(bytes, k);
            mqttproto_packet pkt;
            ptrdiff_t r = mqttproto_decode(g, k, &opts, &pkt);
            ptrdiff_t fs = mqttproto_frame_size(g, k, &opts, NULL);
            tu_guard_free(g, k);
            bool ok = k == len ? r == v->err : (r == 0 || r == v->err) && (last == 0 || r == last);
            if (!ok) {
                print_error("\"%s\" prefix %zu: got %s, want %s\n", v->hex, k,
                            mqttproto_err_name((int)r), mqttproto_err_name(v->err));
                fail();
            }
            assert_true(fs == 0 || fs == (ptrdiff_t)len || fs == v->err);
            last = r;
        }
        free(bytes);
    }
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_vectors),
        cmocka_unit_test(test_every_property),
        cmocka_unit_test(test_invalid_vectors),
    };
    return cmocka_run_group_tests_name("guard", tests, NULL, NULL);
}
