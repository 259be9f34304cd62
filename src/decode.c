/*
 * Packet decoding (MQTT 5.0 chapters 2 and 3). Every function reads between
 * a cursor and the end of the packet's body and never past it; every
 * rejection is a specific error, mapped to a reason code in common.h.
 *
 * decode_generic() is the reference for every packet type. The fast paths
 * at the end take only the most common valid shapes and hand anything else
 * to it, so they change how fast those shapes are read and nothing else.
 */
#include "codec_internal.h"
#include "properties.h"

#include "mqttproto/topic.h"

const mqttproto_codec_options mqttproto_codec_default_options = {
    MQTTPROTO_CODEC_OPTIONS_VERSION, MQTTPROTO_PROTOCOL_V5, MQTTPROTO_MAX_PACKET_SIZE, 0};

void mqttproto_codec_options_default(mqttproto_codec_options *opts)
{
    if (opts != NULL) {
        *opts = mqttproto_codec_default_options;
    }
}

int mqttproto_check_first_byte(uint8_t b)
{
    unsigned type = b >> 4;
    unsigned flags = b & 0x0Fu;
    if (type == 0) {
        return MQTTPROTO_ERR_RESERVED_PACKET_TYPE;
    }
    if (type == MQTTPROTO_PACKET_PUBLISH) {
        unsigned qos = (flags >> 1) & 3u;
        if (qos == 3) {
            return MQTTPROTO_ERR_BAD_QOS; /* [MQTT-3.3.1-4] */
        }
        if (qos == 0 && (flags & 8u) != 0) {
            return MQTTPROTO_ERR_DUP_ON_QOS0; /* [MQTT-3.3.1-2] */
        }
        return 0;
    }
    /* PUBREL, SUBSCRIBE and UNSUBSCRIBE carry 0010, all others 0000
       [MQTT-2.1.3-1] [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1]
       [MQTT-3.14.1-1] [MQTT-3.15.1-1]. */
    unsigned expected = (type == MQTTPROTO_PACKET_PUBREL || type == MQTTPROTO_PACKET_SUBSCRIBE ||
                         type == MQTTPROTO_PACKET_UNSUBSCRIBE)
                            ? 2u
                            : 0u;
    return flags == expected ? 0 : MQTTPROTO_ERR_BAD_FIXED_HEADER_FLAGS;
}

/*
 * Parse the fixed header: returns the header's size (2..5) with the
 * remaining length in *remaining, 0 when incomplete, or an error.
 */
static inline int parse_fixed_header(const uint8_t *data, size_t len,
                                     const mqttproto_codec_options *o, uint32_t *remaining)
{
    if (len == 0) {
        return 0;
    }
    int r = mqttproto_check_first_byte(data[0]);
    if (r != 0) {
        return r;
    }
    if ((data[0] >> 4) == MQTTPROTO_PACKET_AUTH && mqttproto_codec_is_v3(o)) {
        /* Packet type 15 is reserved in MQTT 3.1.1 (section 2.2.1). */
        return MQTTPROTO_ERR_RESERVED_PACKET_TYPE;
    }
    r = wire_get_vbi(data + 1, len - 1, remaining);
    if (r <= 0) {
        return r;
    }
    /* Refused as soon as the length is known, before any body arrives. */
    if ((uint64_t)*remaining + 1u + (unsigned)r > mqttproto_codec_max_size(o)) {
        return MQTTPROTO_ERR_PACKET_TOO_LARGE;
    }
    return r + 1;
}

ptrdiff_t mqttproto_frame_size(const uint8_t *data, size_t len, const mqttproto_codec_options *opts,
                               mqttproto_packet_type *type_out)
{
    const mqttproto_codec_options *o = mqttproto_codec_options_resolve(opts);
    if (o == NULL || (data == NULL && len != 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (len == 0) {
        /* Nothing to read yet, as parse_fixed_header() would say; answered
           here so that data, possibly NULL, is plainly never read. */
        return 0;
    }
    uint32_t remaining = 0;
    int hdr = parse_fixed_header(data, len, o, &remaining);
    if (hdr <= 0) {
        return hdr;
    }
    if (type_out != NULL) {
        *type_out = (mqttproto_packet_type)(data[0] >> 4);
    }
    return (ptrdiff_t)hdr + (ptrdiff_t)remaining;
}

/* A cursor over one packet body. */
struct reader {
    const uint8_t *p;
    const uint8_t *end;
};

static inline int read_u8(struct reader *r, uint8_t *v)
{
    if (r->p >= r->end) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    *v = *r->p++;
    return 0;
}

static inline int read_u16(struct reader *r, uint16_t *v)
{
    if (r->end - r->p < 2) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    *v = wire_get_u16(r->p);
    r->p += 2;
    return 0;
}

static inline int read_bin(struct reader *r, mqttproto_bin *v)
{
    if (r->end - r->p < 2) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    size_t n = wire_get_u16(r->p);
    if ((size_t)(r->end - r->p) - 2 < n) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    v->data = r->p + 2;
    v->len = n;
    r->p += 2 + n;
    return 0;
}

/* A UTF-8 Encoded String: length-prefixed and validated [MQTT-1.5.4-1] [MQTT-1.5.4-2]. */
static inline int read_str(struct reader *r, mqttproto_str *v)
{
    mqttproto_bin b;
    int e = read_bin(r, &b);
    if (e != 0) {
        return e;
    }
    v->data = (const char *)b.data;
    v->len = b.len;
    return mqttproto_utf8_validate(b.data, b.len);
}

static inline void props_empty(mqttproto_properties *props)
{
    props->present = 0;
    props->user_properties = NULL;
    props->user_property_count = 0;
    props->subscription_identifiers = NULL;
    props->subscription_identifier_count = 0;
    props->wire.data = NULL;
    props->wire.len = 0;
}

static inline int read_props(struct reader *r, int context, const mqttproto_codec_options *o,
                             mqttproto_properties *props)
{
    if (mqttproto_codec_is_v3(o)) { /* MQTT 3.1.1 and 3.1 have no properties */
        props_empty(props);
        return 0;
    }
    if (r->p < r->end && *r->p == 0) { /* the common empty block */
        props_empty(props);
        r->p++;
        return 0;
    }
    ptrdiff_t n = mqttproto_props_decode(r->p, r->end, context, o->max_user_properties, props);
    if (n < 0) {
        return (int)n;
    }
    r->p += n;
    return 0;
}

static inline int read_packet_id(struct reader *r, uint16_t *id)
{
    int e = read_u16(r, id);
    if (e == 0 && *id == 0) {
        e = MQTTPROTO_ERR_ZERO_PACKET_ID; /* [MQTT-2.2.1-3] */
    }
    return e;
}

static inline int expect_end(const struct reader *r)
{
    return r->p == r->end ? 0 : MQTTPROTO_ERR_TRAILING_BYTES;
}

static int decode_will(struct reader *r, uint8_t flags, const mqttproto_codec_options *o,
                       mqttproto_will *will)
{
    will->qos = (mqttproto_qos)((flags >> 3) & 3u);
    will->retain = (flags & 0x20u) != 0;
    /* Will Properties (MQTT 5 only), Will Topic and Will Payload follow
       [MQTT-3.1.2-9]. */
    TRY(read_props(r, MQTTPROTO_PROPERTY_CONTEXT_WILL, o, &will->properties));
    mqttproto_bin topic;
    TRY(read_bin(r, &topic)); /* [MQTT-3.1.3-11] */
    will->topic.data = (const char *)topic.data;
    will->topic.len = topic.len;
    TRY(mqttproto_topic_name_validate(will->topic));
    return read_bin(r, &will->payload);
}

/*
 * The protocol name and level: "MQTT" 5 or 4 (3.1.1), or "MQIsdp" 3 (3.1),
 * whatever the options say, so that a server learns the version from the
 * CONNECT itself. 0 with the level in *version, or an error.
 */
static int read_protocol(struct reader *r, uint8_t *version)
{
    static const uint8_t name_mqtt[6] = {0, 4, 'M', 'Q', 'T', 'T'};
    static const uint8_t name_mqisdp[8] = {0, 6, 'M', 'Q', 'I', 's', 'd', 'p'};
    if (r->end - r->p < 6) {
        return MQTTPROTO_ERR_TRUNCATED;
    }
    bool v31 = false;
    if (memcmp(r->p, name_mqtt, 6) == 0) {
        r->p += 6;
    } else if (r->end - r->p >= 8 && memcmp(r->p, name_mqisdp, 8) == 0) {
        v31 = true; /* MQTT 3.1 (section 3.1, "Protocol name") */
        r->p += 8;
    } else {
        return MQTTPROTO_ERR_BAD_PROTOCOL_NAME; /* [MQTT-3.1.2-1] */
    }
    TRY(read_u8(r, version));
    /* "MQIsdp" goes with level 3 only, "MQTT" with 4 and 5; any other level
       is refused [MQTT-3.1.2-2], in 3.1.1 with return code 1 [MQTT-3.1.2-2] (3.1.1). */
    bool ok = v31 ? *version == MQTTPROTO_PROTOCOL_V31
                  : *version == MQTTPROTO_PROTOCOL_V5 || *version == MQTTPROTO_PROTOCOL_V311;
    return ok ? 0 : MQTTPROTO_ERR_UNSUPPORTED_PROTOCOL_VERSION;
}

/* The client identifier rules of MQTT 3.1.1 and 3.1 that need no state. */
static int check_v3_client_id(uint8_t version, bool clean_session, size_t len)
{
    if (version == MQTTPROTO_PROTOCOL_V31) {
        /* MQTT 3.1 section 3.1: 1 to 23 characters (CONNACK return code 2). */
        return len >= 1 && len <= 23 ? 0 : MQTTPROTO_ERR_CLIENT_IDENTIFIER_INVALID;
    }
    if (len == 0 && !clean_session) {
        /* An empty client identifier needs Clean Session 1; the server
           answers CONNACK return code 2 [MQTT-3.1.3-7] [MQTT-3.1.3-8] (3.1.1). */
        return MQTTPROTO_ERR_CLIENT_IDENTIFIER_INVALID;
    }
    return 0;
}

static int decode_connect(struct reader *r, const mqttproto_codec_options *o, mqttproto_connect *c)
{
    uint8_t version, flags;
    TRY(read_protocol(r, &version));
    c->protocol_version = version;
    /* The CONNECT's own level decides its form, not the options. */
    mqttproto_codec_options co = *o;
    co.protocol_version = version;
    const bool v3 = version != MQTTPROTO_PROTOCOL_V5;
    TRY(read_u8(r, &flags));
    if ((flags & 1u) != 0) {
        return MQTTPROTO_ERR_BAD_CONNECT_FLAGS; /* [MQTT-3.1.2-3], also (3.1.1) */
    }
    c->has_will = (flags & 0x04u) != 0;
    if (!c->has_will && (flags & 0x38u) != 0) {
        /* [MQTT-3.1.2-11] [MQTT-3.1.2-13];
           [MQTT-3.1.2-11] [MQTT-3.1.2-13] [MQTT-3.1.2-15] (3.1.1) */
        return MQTTPROTO_ERR_BAD_CONNECT_FLAGS;
    }
    if (((flags >> 3) & 3u) == 3u) {
        return MQTTPROTO_ERR_BAD_QOS; /* [MQTT-3.1.2-12]; [MQTT-3.1.2-14] (3.1.1) */
    }
    c->clean_start = (flags & 0x02u) != 0;
    c->has_password = (flags & 0x40u) != 0;
    c->has_username = (flags & 0x80u) != 0;
    if (v3 && c->has_password && !c->has_username) {
        return MQTTPROTO_ERR_BAD_CONNECT_FLAGS; /* [MQTT-3.1.2-22] (3.1.1) */
    }
    TRY(read_u16(r, &c->keep_alive));
    TRY(read_props(r, MQTTPROTO_PACKET_CONNECT, &co, &c->properties));
    /* Payload order: Client Identifier, Will Properties, Will Topic, Will
       Payload, User Name, Password [MQTT-3.1.3-1] [MQTT-3.1.3-3] [MQTT-3.1.3-4];
       the same without Will Properties [MQTT-3.1.3-1] [MQTT-3.1.3-3] (3.1.1). */
    TRY(read_str(r, &c->client_id));
    if (v3) {
        TRY(check_v3_client_id(version, c->clean_start, c->client_id.len));
    }
    if (c->has_will) {
        TRY(decode_will(r, flags, &co, &c->will));
    }
    if (c->has_username) {
        TRY(read_str(r, &c->username)); /* [MQTT-3.1.2-17] [MQTT-3.1.3-12] */
    }
    if (c->has_password) {
        TRY(read_bin(r, &c->password)); /* [MQTT-3.1.2-19] */
    }
    /* Anything left is a field whose flag is 0 [MQTT-3.1.2-16] [MQTT-3.1.2-18];
       [MQTT-3.1.2-18] [MQTT-3.1.2-20] (3.1.1). */
    return expect_end(r);
}

static int decode_connack(struct reader *r, const mqttproto_codec_options *o, mqttproto_connack *c)
{
    uint8_t flags;
    TRY(read_u8(r, &flags));
    if ((flags & 0xFEu) != 0) {
        return MQTTPROTO_ERR_BAD_CONNACK_FLAGS; /* [MQTT-3.2.2-1] */
    }
    c->session_present = flags != 0;
    TRY(read_u8(r, &c->reason_code));
    if (mqttproto_codec_is_v3(o)) {
        /* The return code: 0 to 5; 6 to 255 are reserved (3.1.1 section
           3.2.2.3). Session Present 0 with any other than 0 [MQTT-3.2.2-4] (3.1.1). */
        if (c->reason_code > MQTTPROTO_CONNACK_NOT_AUTHORIZED) {
            return MQTTPROTO_ERR_INVALID_REASON_CODE;
        }
        if (c->session_present && c->reason_code != 0) {
            return MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR;
        }
        props_empty(&c->properties);
        return expect_end(r);
    }
    if (!mqttproto_reason_code_allowed(c->reason_code, MQTTPROTO_PACKET_CONNACK)) {
        return MQTTPROTO_ERR_INVALID_REASON_CODE; /* [MQTT-3.2.2-8] */
    }
    if (c->session_present && c->reason_code >= 0x80) {
        return MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR; /* [MQTT-3.2.2-6] */
    }
    TRY(read_props(r, MQTTPROTO_PACKET_CONNACK, o, &c->properties));
    return expect_end(r);
}

static int decode_publish(struct reader *r, uint8_t flags, const mqttproto_codec_options *o,
                          mqttproto_publish *pub)
{
    pub->retain = (flags & 1u) != 0;
    pub->qos = (mqttproto_qos)((flags >> 1) & 3u);
    pub->dup = (flags & 8u) != 0;
    mqttproto_bin topic;
    TRY(read_bin(r, &topic)); /* [MQTT-3.3.2-1] */
    pub->topic.data = (const char *)topic.data;
    pub->topic.len = topic.len;
    TRY(mqttproto_topic_name_check(topic.data, topic.len));
    if (topic.len == 0 && mqttproto_codec_is_v3(o)) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* no Topic Alias: [MQTT-4.7.3-1] (3.1.1) */
    }
    if (pub->qos != MQTTPROTO_QOS_AT_MOST_ONCE) {
        TRY(read_packet_id(r, &pub->packet_id));
    } else {
        pub->packet_id = 0; /* [MQTT-2.2.1-2] */
    }
    TRY(read_props(r, MQTTPROTO_PACKET_PUBLISH, o, &pub->properties));
    if (topic.len == 0 && !mqttproto_properties_has(&pub->properties, MQTTPROTO_PROP_TOPIC_ALIAS)) {
        return MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS; /* [MQTT-4.7.3-1] */
    }
    pub->payload.data = r->p;
    pub->payload.len = (size_t)(r->end - r->p);
    r->p = r->end;
    return 0;
}

/* PUBACK, PUBREC, PUBREL, PUBCOMP: packet id, then an optional reason code
   and optional properties (MQTT 5.0 section 3.4.2.1). */
static int decode_ack(struct reader *r, int type, const mqttproto_codec_options *o,
                      mqttproto_ack *ack)
{
    TRY(read_packet_id(r, &ack->packet_id));
    ack->reason_code = 0;
    if (mqttproto_codec_is_v3(o)) {
        /* Only the packet identifier: Remaining Length 2 (3.1.1 sections
           3.4.1, 3.5.1, 3.6.1, 3.7.1). */
        props_empty(&ack->properties);
        return expect_end(r);
    }
    if (r->p == r->end) {
        props_empty(&ack->properties);
        return 0;
    }
    TRY(read_u8(r, &ack->reason_code));
    /* [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1] */
    if (!mqttproto_reason_code_allowed(ack->reason_code, type)) {
        return MQTTPROTO_ERR_INVALID_REASON_CODE;
    }
    if (r->p == r->end) {
        props_empty(&ack->properties);
        return 0;
    }
    TRY(read_props(r, type, o, &ack->properties));
    return expect_end(r);
}

/* Subscription options byte (MQTT 5.0 section 3.8.3.1); in MQTT 3.1.1 and
   3.1 only the Requested QoS, the upper 6 bits reserved. */
static int decode_options(uint8_t b, bool v3, mqttproto_subscription *s)
{
    if ((b & (v3 ? 0xFCu : 0xC0u)) != 0) {
        /* [MQTT-3.8.3-5]; [MQTT-3-8.3-4] (3.1.1, the id as the specification spells it) */
        return MQTTPROTO_ERR_BAD_SUBSCRIPTION_OPTIONS;
    }
    if ((b & 3u) == 3u) {
        return MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID;
    }
    if (((b >> 4) & 3u) == 3u) {
        return MQTTPROTO_ERR_BAD_RETAIN_HANDLING;
    }
    s->max_qos = (mqttproto_qos)(b & 3u);
    s->no_local = (b & 4u) != 0;
    s->retain_as_published = (b & 8u) != 0;
    s->retain_handling = (mqttproto_retain_handling)((b >> 4) & 3u);
    return 0;
}

/* One topic filter with its options; used by decoding and by the iterator. */
static int read_subscription(struct reader *r, bool v3, mqttproto_subscription *s)
{
    TRY(read_str(r, &s->topic_filter)); /* [MQTT-3.8.3-1] */
    uint8_t options;
    TRY(read_u8(r, &options));
    TRY(decode_options(options, v3, s));
    TRY(mqttproto_topic_filter_validate(s->topic_filter));
    if (s->no_local && mqttproto_shared_filter_parse(s->topic_filter, NULL, NULL) == 1) {
        return MQTTPROTO_ERR_NO_LOCAL_ON_SHARED; /* [MQTT-3.8.3-4] */
    }
    return 0;
}

static int decode_subscribe(struct reader *r, const mqttproto_codec_options *o,
                            mqttproto_subscribe *sub)
{
    TRY(read_packet_id(r, &sub->packet_id));
    TRY(read_props(r, MQTTPROTO_PACKET_SUBSCRIBE, o, &sub->properties));
    sub->subscriptions.items = NULL;
    sub->subscriptions.wire.data = r->p;
    sub->subscriptions.wire.len = (size_t)(r->end - r->p);
    size_t count = 0;
    while (r->p < r->end) {
        mqttproto_subscription s;
        TRY(read_subscription(r, mqttproto_codec_is_v3(o), &s));
        count++;
    }
    if (count == 0) {
        return MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST; /* [MQTT-3.8.3-2]; [MQTT-3.8.3-3] (3.1.1) */
    }
    sub->subscriptions.count = count;
    return 0;
}

static int decode_unsubscribe(struct reader *r, const mqttproto_codec_options *o,
                              mqttproto_unsubscribe *unsub)
{
    TRY(read_packet_id(r, &unsub->packet_id));
    TRY(read_props(r, MQTTPROTO_PACKET_UNSUBSCRIBE, o, &unsub->properties));
    unsub->topic_filters.items = NULL;
    unsub->topic_filters.wire.data = r->p;
    unsub->topic_filters.wire.len = (size_t)(r->end - r->p);
    size_t count = 0;
    while (r->p < r->end) {
        mqttproto_str filter;
        TRY(read_str(r, &filter)); /* [MQTT-3.10.3-1] */
        TRY(mqttproto_topic_filter_validate(filter));
        count++;
    }
    if (count == 0) {
        return MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST; /* [MQTT-3.10.3-2], also (3.1.1) */
    }
    unsub->topic_filters.count = count;
    return 0;
}

static int decode_suback(struct reader *r, int type, const mqttproto_codec_options *o,
                         mqttproto_suback *ack)
{
    TRY(read_packet_id(r, &ack->packet_id));
    TRY(read_props(r, type, o, &ack->properties));
    if (mqttproto_codec_is_v3(o) && type == MQTTPROTO_PACKET_UNSUBACK) {
        /* Only the packet identifier: Remaining Length 2 (3.1.1 section 3.11.1). */
        ack->reason_codes = NULL;
        ack->reason_code_count = 0;
        return expect_end(r);
    }
    ack->reason_codes = r->p;
    ack->reason_code_count = (size_t)(r->end - r->p);
    if (ack->reason_code_count == 0) {
        return MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST;
    }
    for (const uint8_t *p = r->p; p < r->end; p++) {
        /* [MQTT-3.9.3-2] [MQTT-3.11.3-2]; 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2] (3.1.1) */
        if (mqttproto_codec_is_v3(o) ? !mqttproto_v3_suback_code_ok(*p)
                                     : !mqttproto_reason_code_allowed(*p, type)) {
            return MQTTPROTO_ERR_INVALID_REASON_CODE;
        }
    }
    r->p = r->end;
    return 0;
}

/* DISCONNECT and AUTH: reason code and properties, both optional. */
static int decode_reason_only(struct reader *r, int type, const mqttproto_codec_options *o,
                              mqttproto_disconnect *d)
{
    d->reason_code = 0;
    if (r->p == r->end || mqttproto_codec_is_v3(o)) {
        /* MQTT 3.1.1 DISCONNECT: Remaining Length 0 (3.1.1 section 3.14.1);
           AUTH was refused with the fixed header. */
        props_empty(&d->properties);
        return expect_end(r);
    }
    TRY(read_u8(r, &d->reason_code));
    /* [MQTT-3.14.2-1] [MQTT-3.15.2-1] */
    if (!mqttproto_reason_code_allowed(d->reason_code, type)) {
        return MQTTPROTO_ERR_INVALID_REASON_CODE;
    }
    if (r->p == r->end) {
        props_empty(&d->properties);
        return 0;
    }
    TRY(read_props(r, type, o, &d->properties));
    return expect_end(r);
}

static int decode_body(int type, uint8_t flags, struct reader *r, const mqttproto_codec_options *o,
                       mqttproto_packet *out)
{
    switch (type) {
    case MQTTPROTO_PACKET_CONNECT:
        return decode_connect(r, o, &out->connect);
    case MQTTPROTO_PACKET_CONNACK:
        return decode_connack(r, o, &out->connack);
    case MQTTPROTO_PACKET_PUBLISH:
        return decode_publish(r, flags, o, &out->publish);
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        return decode_ack(r, type, o, &out->puback);
    case MQTTPROTO_PACKET_SUBSCRIBE:
        return decode_subscribe(r, o, &out->subscribe);
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        return decode_suback(r, type, o, &out->suback);
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        return decode_unsubscribe(r, o, &out->unsubscribe);
    case MQTTPROTO_PACKET_PINGREQ:
    case MQTTPROTO_PACKET_PINGRESP:
        return expect_end(r);
    default: /* DISCONNECT and AUTH; type 0 was refused with the header */
        return decode_reason_only(r, type, o, &out->disconnect);
    }
}

/* Every packet type: the fixed header, then the body. */
MQTTPROTO_NOINLINE static ptrdiff_t decode_generic(const uint8_t *data, size_t len,
                                                   const mqttproto_codec_options *o,
                                                   mqttproto_packet *out)
{
    uint32_t remaining = 0;
    int hdr = parse_fixed_header(data, len, o, &remaining);
    if (hdr <= 0) {
        return hdr;
    }
    if (len - (size_t)hdr < remaining) {
        return 0;
    }
    struct reader r = {data + hdr, data + hdr + remaining};
    int type = data[0] >> 4;
    out->type = (mqttproto_packet_type)type;
    int e = decode_body(type, data[0] & 0x0Fu, &r, o, out);
    if (e != 0) {
        return e;
    }
    return (ptrdiff_t)hdr + (ptrdiff_t)remaining;
}

/* ---- fast paths ---- */

/*
 * Each fast path accepts only a common shape for which every check of the
 * generic path passes, tested directly (a plain ASCII string passes the
 * UTF-8 and topic checks), fills the packet as decode_generic() would, and
 * otherwise returns decode_generic(), faults and incomplete input included.
 * The caller has checked that data holds at least two bytes and the first
 * gives the packet type.
 */

/*
 * A Remaining Length of one or two bytes that is whole and within the
 * maximum packet size, and a body that is all there: the header's size (2
 * or 3), else 0 (the generic path decides what it is).
 */
static inline size_t fast_header(const uint8_t *data, size_t len, const mqttproto_codec_options *o,
                                 size_t *remaining)
{
    size_t hdr = 2;
    size_t n = data[1];
    if (n >= 128u) {
        if (len < 3 || data[2] == 0 || data[2] >= 128u) {
            return 0;
        }
        n = (n & 127u) | (size_t)data[2] << 7;
        hdr = 3;
    }
    if (hdr + n > mqttproto_codec_max_size(o) || len - hdr < n) {
        return 0;
    }
    *remaining = n;
    return hdr;
}

/* The rest of a PUBLISH with a property block: at p, ending at end. */
MQTTPROTO_NOINLINE static ptrdiff_t decode_publish_props(const uint8_t *p, const uint8_t *end,
                                                         const mqttproto_codec_options *o,
                                                         mqttproto_publish *pub, ptrdiff_t size)
{
    /* The generic path reaches the block with the same state, so its
       error is this error. */
    ptrdiff_t n = mqttproto_props_decode(p, end, MQTTPROTO_PACKET_PUBLISH, o->max_user_properties,
                                         &pub->properties);
    if (n < 0) {
        return n;
    }
    pub->payload.data = p + n;
    pub->payload.len = (size_t)(end - p - n);
    return size;
}

/* PUBLISH with a non-empty plain ASCII topic. */
MQTTPROTO_NOINLINE static ptrdiff_t decode_publish_fast(const uint8_t *data, size_t len,
                                                        const mqttproto_codec_options *o,
                                                        mqttproto_packet *out)
{
    unsigned flags = data[0] & 0x0Fu;
    unsigned qos = (flags >> 1) & 3u;
    size_t remaining = 0;
    size_t hdr = fast_header(data, len, o, &remaining);
    const uint8_t *p = data + hdr;
    size_t topic_len = hdr != 0 && remaining >= 2 ? wire_get_u16(p) : 0;
    size_t id_len = qos != 0 ? 2u : 0u;
    /* The topic, the packet identifier and at least the property length. */
    if (topic_len == 0 || qos == 3 || (qos == 0 && (flags & 8u) != 0) ||
        remaining < 2 + topic_len + id_len + 1) {
        return decode_generic(data, len, o, out);
    }
    const uint8_t *topic = p + 2;
    const uint8_t *q = topic + topic_len;
    uint16_t packet_id = id_len != 0 ? wire_get_u16(q) : 0;
    if ((id_len != 0 && packet_id == 0) || wire_needs_exact_check(topic, topic_len, true)) {
        return decode_generic(data, len, o, out);
    }
    q += id_len;
    const uint8_t *end = p + remaining;
    mqttproto_publish *pub = &out->publish;
    out->type = MQTTPROTO_PACKET_PUBLISH;
    pub->retain = (flags & 1u) != 0;
    pub->qos = (mqttproto_qos)qos;
    pub->dup = (flags & 8u) != 0;
    pub->topic.data = (const char *)topic;
    pub->topic.len = topic_len;
    pub->packet_id = packet_id;
    ptrdiff_t size = (ptrdiff_t)(hdr + remaining);
    if (*q != 0) {
        return decode_publish_props(q, end, o, pub, size);
    }
    props_empty(&pub->properties);
    pub->payload.data = q + 1;
    pub->payload.len = (size_t)(end - q - 1);
    return size;
}

/* CONNECT of MQTT 5 without will or properties, with plain ASCII strings. */
MQTTPROTO_NOINLINE static ptrdiff_t decode_connect_fast(const uint8_t *data, size_t len,
                                                        const mqttproto_codec_options *o,
                                                        mqttproto_packet *out)
{
    static const uint8_t protocol[7] = {0, 4, 'M', 'Q', 'T', 'T', MQTTPROTO_PROTOCOL_V5};
    size_t remaining = 0;
    size_t hdr = fast_header(data, len, o, &remaining);
    const uint8_t *p = data + hdr;
    /* The variable header and the client identifier's length: 13 bytes. */
    if (data[0] != MQTTPROTO_PACKET_CONNECT << 4 || hdr == 0 || remaining < 13 ||
        memcmp(p, protocol, 7) != 0 || p[10] != 0) {
        return decode_generic(data, len, o, out);
    }
    /* Reserved bit 0, and no will (so no will QoS or retain either). */
    unsigned flags = p[7];
    if ((flags & 0x3Du) != 0) {
        return decode_generic(data, len, o, out);
    }
    const uint8_t *end = p + remaining;
    const uint8_t *id = p + 13;
    size_t id_len = wire_get_u16(p + 11);
    if ((size_t)(end - id) < id_len || wire_needs_exact_check(id, id_len, false)) {
        return decode_generic(data, len, o, out);
    }
    const uint8_t *q = id + id_len;
    mqttproto_str user = {NULL, 0};
    mqttproto_bin pass = {NULL, 0};
    if ((flags & 0x80u) != 0) {
        if (end - q < 2 || (size_t)(end - q) - 2 < wire_get_u16(q)) {
            return decode_generic(data, len, o, out);
        }
        user.data = (const char *)q + 2;
        user.len = wire_get_u16(q);
        q += 2 + user.len;
        if (wire_needs_exact_check((const uint8_t *)user.data, user.len, false)) {
            return decode_generic(data, len, o, out);
        }
    }
    if ((flags & 0x40u) != 0) {
        if (end - q < 2 || (size_t)(end - q) - 2 < wire_get_u16(q)) {
            return decode_generic(data, len, o, out);
        }
        pass.data = q + 2;
        pass.len = wire_get_u16(q);
        q += 2 + pass.len;
    }
    if (q != end) {
        return decode_generic(data, len, o, out);
    }
    const bool has_username = (flags & 0x80u) != 0;
    const bool has_password = (flags & 0x40u) != 0;
    mqttproto_connect *c = &out->connect;
    out->type = MQTTPROTO_PACKET_CONNECT;
    c->protocol_version = MQTTPROTO_PROTOCOL_V5;
    c->has_will = false;
    c->clean_start = (flags & 0x02u) != 0;
    c->has_password = has_password;
    c->has_username = has_username;
    c->keep_alive = wire_get_u16(p + 8);
    props_empty(&c->properties);
    c->client_id.data = (const char *)id;
    c->client_id.len = id_len;
    if (has_username) {
        c->username = user;
    }
    if (has_password) {
        c->password = pass;
    }
    return (ptrdiff_t)(hdr + remaining);
}

ptrdiff_t mqttproto_decode(const uint8_t *data, size_t len, const mqttproto_codec_options *opts,
                           mqttproto_packet *out)
{
    const mqttproto_codec_options *o = mqttproto_codec_options_resolve(opts);
    if (o == NULL || out == NULL || (data == NULL && len != 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (len >= 2) {
        unsigned type = data[0] >> 4;
        if (type == MQTTPROTO_PACKET_PUBLISH && !mqttproto_codec_is_v3(o)) {
            return decode_publish_fast(data, len, o, out);
        }
        if (type == MQTTPROTO_PACKET_CONNECT) {
            return decode_connect_fast(data, len, o, out);
        }
    } else if (len == 0) {
        /* Nothing to read yet, as decode_generic() would say; answered here
           (off the fast paths) so that data, possibly NULL, is plainly never
           read. */
        return 0;
    }
    return decode_generic(data, len, o, out);
}

bool mqttproto_subscriptions_next(const mqttproto_subscription_list *list, size_t *cursor,
                                  mqttproto_subscription *out)
{
    if (list == NULL || cursor == NULL || out == NULL) {
        return false;
    }
    if (list->items != NULL) {
        if (*cursor >= list->count) {
            return false;
        }
        *out = list->items[(*cursor)++];
        return true;
    }
    if (list->wire.data == NULL || *cursor >= list->wire.len) {
        return false;
    }
    struct reader r = {list->wire.data + *cursor, list->wire.data + list->wire.len};
    /* MQTT 3.1.1 options are MQTT 5 options with the upper bits 0. */
    if (read_subscription(&r, false, out) != 0) {
        return false;
    }
    *cursor = (size_t)(r.p - list->wire.data);
    return true;
}

bool mqttproto_topic_filters_next(const mqttproto_topic_filter_list *list, size_t *cursor,
                                  mqttproto_str *out)
{
    if (list == NULL || cursor == NULL || out == NULL) {
        return false;
    }
    if (list->items != NULL) {
        if (*cursor >= list->count) {
            return false;
        }
        *out = list->items[(*cursor)++];
        return true;
    }
    if (list->wire.data == NULL || *cursor >= list->wire.len) {
        return false;
    }
    struct reader r = {list->wire.data + *cursor, list->wire.data + list->wire.len};
    if (read_str(&r, out) != 0) {
        return false;
    }
    *cursor = (size_t)(r.p - list->wire.data);
    return true;
}
