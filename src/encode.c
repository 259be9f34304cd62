/*
 * Packet encoding. Sizing (shape) and validation (content) are separate
 * steps, so that mqttproto_encoded_size() stays cheap and a packet with
 * several faults always reports the same one (shape errors first);
 * mqttproto_encode() does both, so what it writes always decodes back to
 * the same packet. Property blocks are sized and checked in one walk whose
 * content error is kept in the layout until validation reaches it.
 *
 * encode_generic() is the reference for every packet type. The fast paths
 * at the end take only the most common valid shapes and hand anything else
 * to it, so they change how fast those shapes are written and nothing else.
 */
#include "codec_internal.h"
#include "properties.h"

#include "mqttproto/topic.h"

/* Sizes computed once and used by the writer. */
struct layout {
    size_t remaining;   /* the Remaining Length */
    size_t props;       /* content length of the packet's property block */
    size_t will_props;  /* content length of the will's property block */
    int props_err;      /* with check: first content error of the packet's properties */
    int will_props_err; /* with check: first content error of the will's properties */
    bool check;         /* whether the property walks check content too */
    uint8_t short_form; /* acks, DISCONNECT, AUTH: fields left out (0, 1 or 2) */
    uint8_t version;    /* the packet's protocol level: the options', or a CONNECT's own */
    bool v3;            /* MQTT 3.1.1 or 3.1 forms: no properties, no reason codes */
};

static inline int check_len(size_t len, const void *data)
{
    if (len > 65535) {
        return MQTTPROTO_ERR_STRING_TOO_LONG;
    }
    return data == NULL && len != 0 ? MQTTPROTO_ERR_INVALID_ARGUMENT : 0;
}

/* Size a property block; with check its content error goes to *check_err. */
static inline int props_size(const mqttproto_properties *props, int context, bool check,
                             size_t *content, int *check_err)
{
    if (props->present == 0) { /* the usual case, without a call */
        *content = 0;
        return 0;
    }
    ptrdiff_t n = mqttproto_props_size(props, context, check ? check_err : NULL);
    if (n < 0) {
        return (int)n;
    }
    *content = (size_t)n;
    return 0;
}

static int connect_shape(const mqttproto_connect *c, struct layout *l, size_t *body)
{
    if (c->protocol_version != 0) {
        l->version = c->protocol_version;
        l->v3 = c->protocol_version == MQTTPROTO_PROTOCOL_V311 ||
                c->protocol_version == MQTTPROTO_PROTOCOL_V31;
    }
    /* Name, level, flags, keep alive; then the properties of MQTT 5 (3.1.1
       and 3.1 drop them: there is nowhere to write them). */
    size_t n = l->version == MQTTPROTO_PROTOCOL_V31 ? 12 : 10;
    if (!l->v3) {
        TRY(props_size(&c->properties, MQTTPROTO_PACKET_CONNECT, l->check, &l->props,
                       &l->props_err));
        n += props_total_size(l->props);
    }
    TRY(check_len(c->client_id.len, c->client_id.data));
    n += 2 + c->client_id.len;
    if (c->has_will) {
        if (!l->v3) {
            TRY(props_size(&c->will.properties, MQTTPROTO_PROPERTY_CONTEXT_WILL, l->check,
                           &l->will_props, &l->will_props_err));
            n += props_total_size(l->will_props);
        }
        TRY(check_len(c->will.topic.len, c->will.topic.data));
        TRY(check_len(c->will.payload.len, c->will.payload.data));
        n += 4 + c->will.topic.len + c->will.payload.len;
    }
    if (c->has_username) {
        TRY(check_len(c->username.len, c->username.data));
        n += 2 + c->username.len;
    }
    if (c->has_password) {
        TRY(check_len(c->password.len, c->password.data));
        n += 2 + c->password.len;
    }
    *body = n;
    return 0;
}

static int subscribe_shape(const mqttproto_subscribe *s, struct layout *l, size_t *body)
{
    size_t n = 2;
    if (!l->v3) {
        TRY(props_size(&s->properties, MQTTPROTO_PACKET_SUBSCRIBE, l->check, &l->props,
                       &l->props_err));
        n += props_total_size(l->props);
    }
    size_t cursor = 0;
    size_t count = 0;
    mqttproto_subscription sub;
    while (mqttproto_subscriptions_next(&s->subscriptions, &cursor, &sub)) {
        TRY(check_len(sub.topic_filter.len, sub.topic_filter.data));
        n += 3 + sub.topic_filter.len;
        count++;
    }
    if (count != s->subscriptions.count) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    *body = n;
    return 0;
}

static int unsubscribe_shape(const mqttproto_unsubscribe *u, struct layout *l, size_t *body)
{
    size_t n = 2;
    if (!l->v3) {
        TRY(props_size(&u->properties, MQTTPROTO_PACKET_UNSUBSCRIBE, l->check, &l->props,
                       &l->props_err));
        n += props_total_size(l->props);
    }
    size_t cursor = 0;
    size_t count = 0;
    mqttproto_str filter;
    while (mqttproto_topic_filters_next(&u->topic_filters, &cursor, &filter)) {
        TRY(check_len(filter.len, filter.data));
        n += 2 + filter.len;
        count++;
    }
    if (count != u->topic_filters.count) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    *body = n;
    return 0;
}

static int publish_shape(const mqttproto_publish *p, struct layout *l, size_t *body)
{
    if (!l->v3) {
        TRY(props_size(&p->properties, MQTTPROTO_PACKET_PUBLISH, l->check, &l->props,
                       &l->props_err));
    }
    TRY(check_len(p->topic.len, p->topic.data));
    if (p->payload.data == NULL && p->payload.len != 0) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (p->payload.len > MQTTPROTO_MAX_VARIABLE_INT) {
        return MQTTPROTO_ERR_PACKET_TOO_LARGE;
    }
    *body = 2 + p->topic.len + (p->qos != MQTTPROTO_QOS_AT_MOST_ONCE ? 2u : 0u) +
            (l->v3 ? 0u : props_total_size(l->props)) + p->payload.len;
    return 0;
}

/* Start a layout; with check, the property walks also check content. */
static inline void layout_init(struct layout *l, const mqttproto_codec_options *o, bool check)
{
    l->version = o->protocol_version;
    l->v3 = mqttproto_codec_is_v3(o);
    l->props = 0;
    l->will_props = 0;
    l->props_err = 0;
    l->will_props_err = 0;
    l->check = check;
    l->short_form = 0;
}

/* Remaining length and property sizes of a packet, from a fresh layout. */
static int shape(const mqttproto_packet *pkt, struct layout *l)
{
    size_t body = 0;
    switch (pkt->type) {
    case MQTTPROTO_PACKET_CONNECT:
        TRY(connect_shape(&pkt->connect, l, &body));
        break;
    case MQTTPROTO_PACKET_CONNACK:
        body = 2;
        if (!l->v3) {
            TRY(props_size(&pkt->connack.properties, MQTTPROTO_PACKET_CONNACK, l->check, &l->props,
                           &l->props_err));
            body += props_total_size(l->props);
        }
        break;
    case MQTTPROTO_PACKET_PUBLISH:
        TRY(publish_shape(&pkt->publish, l, &body));
        break;
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        if (l->v3) { /* only the packet identifier: the reason code is dropped */
            body = 2;
            l->short_form = 2;
            break;
        }
        TRY(props_size(&pkt->puback.properties, (int)pkt->type, l->check, &l->props,
                       &l->props_err));
        /* The reason code and properties may be left out when they say
           nothing (MQTT 5.0 section 3.4.2.1). */
        if (pkt->puback.properties.present != 0) {
            body = 3 + props_total_size(l->props);
        } else if (pkt->puback.reason_code != 0) {
            body = 3;
            l->short_form = 1;
        } else {
            body = 2;
            l->short_form = 2;
        }
        break;
    case MQTTPROTO_PACKET_SUBSCRIBE:
        TRY(subscribe_shape(&pkt->subscribe, l, &body));
        break;
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        if (l->v3 && pkt->type == MQTTPROTO_PACKET_UNSUBACK) {
            body = 2; /* only the packet identifier: the reason codes are dropped */
            break;
        }
        if (!l->v3) {
            TRY(props_size(&pkt->suback.properties, (int)pkt->type, l->check, &l->props,
                           &l->props_err));
        }
        if (pkt->suback.reason_codes == NULL && pkt->suback.reason_code_count != 0) {
            return MQTTPROTO_ERR_INVALID_ARGUMENT;
        }
        body = 2 + (l->v3 ? 0u : props_total_size(l->props)) + pkt->suback.reason_code_count;
        break;
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        TRY(unsubscribe_shape(&pkt->unsubscribe, l, &body));
        break;
    case MQTTPROTO_PACKET_PINGREQ:
    case MQTTPROTO_PACKET_PINGRESP:
        body = 0;
        break;
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        if (l->v3) {
            if (pkt->type == MQTTPROTO_PACKET_AUTH) {
                return MQTTPROTO_ERR_NOT_IN_PROTOCOL_VERSION; /* reserved type 15 */
            }
            body = 0; /* Remaining Length 0: the reason code is dropped */
            l->short_form = 2;
            break;
        }
        TRY(props_size(&pkt->disconnect.properties, (int)pkt->type, l->check, &l->props,
                       &l->props_err));
        if (pkt->disconnect.properties.present != 0) {
            body = 1 + props_total_size(l->props);
        } else if (pkt->disconnect.reason_code != 0) {
            body = 1;
            l->short_form = 1;
        } else {
            body = 0;
            l->short_form = 2;
        }
        break;
    default:
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (body > MQTTPROTO_MAX_VARIABLE_INT) {
        return MQTTPROTO_ERR_PACKET_TOO_LARGE;
    }
    l->remaining = body;
    return 0;
}

static ptrdiff_t total_size(const struct layout *l, const mqttproto_codec_options *o)
{
    size_t total = 1 + wire_vbi_size((uint32_t)l->remaining) + l->remaining;
    if (total > mqttproto_codec_max_size(o)) {
        return MQTTPROTO_ERR_PACKET_TOO_LARGE;
    }
    return (ptrdiff_t)total;
}

ptrdiff_t mqttproto_encoded_size(const mqttproto_packet *pkt, const mqttproto_codec_options *opts)
{
    const mqttproto_codec_options *o = mqttproto_codec_options_resolve(opts);
    if (o == NULL || pkt == NULL) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    struct layout l;
    layout_init(&l, o, false);
    TRY(shape(pkt, &l));
    return total_size(&l, o);
}

/* ---- content validation ---- */

static inline int check_utf8(mqttproto_str s)
{
    return mqttproto_utf8_validate((const uint8_t *)s.data, s.len);
}

static inline int check_reason(uint8_t rc, int type)
{
    return mqttproto_reason_code_allowed(rc, type) ? 0 : MQTTPROTO_ERR_INVALID_REASON_CODE;
}

/* The validation step of each packet reports the property errors found
   while sizing (l->props_err, l->will_props_err) where it reaches them. */
static int validate_connect(const mqttproto_connect *c, const struct layout *l)
{
    if (l->version != MQTTPROTO_PROTOCOL_V5 && !l->v3) {
        return MQTTPROTO_ERR_UNSUPPORTED_PROTOCOL_VERSION;
    }
    TRY(l->props_err);
    TRY(check_utf8(c->client_id)); /* [MQTT-3.1.3-4] */
    if (l->v3) {
        if (c->has_password && !c->has_username) {
            return MQTTPROTO_ERR_BAD_CONNECT_FLAGS; /* [MQTT-3.1.2-22] (3.1.1) */
        }
        if (l->version == MQTTPROTO_PROTOCOL_V31
                ? c->client_id.len < 1 || c->client_id.len > 23 /* MQTT 3.1 section 3.1 */
                : c->client_id.len == 0 && !c->clean_start) {   /* [MQTT-3.1.3-7] (3.1.1) */
            return MQTTPROTO_ERR_CLIENT_IDENTIFIER_INVALID;
        }
    }
    if (c->has_will) {
        if ((unsigned)c->will.qos > 2) {
            return MQTTPROTO_ERR_BAD_QOS; /* [MQTT-3.1.2-12] */
        }
        TRY(l->will_props_err);
        TRY(mqttproto_topic_name_validate(c->will.topic));
    }
    if (c->has_username) {
        TRY(check_utf8(c->username)); /* [MQTT-3.1.3-12] */
    }
    return 0;
}

static int validate_publish(const mqttproto_publish *p, const struct layout *l)
{
    if ((unsigned)p->qos > 2) {
        return MQTTPROTO_ERR_BAD_QOS; /* [MQTT-3.3.1-4] */
    }
    if (p->qos == MQTTPROTO_QOS_AT_MOST_ONCE) {
        if (p->dup) {
            return MQTTPROTO_ERR_DUP_ON_QOS0; /* [MQTT-3.3.1-2] */
        }
        if (p->packet_id != 0) {
            return MQTTPROTO_ERR_UNEXPECTED_PACKET_ID; /* [MQTT-2.2.1-2] */
        }
    } else if (p->packet_id == 0) {
        return MQTTPROTO_ERR_ZERO_PACKET_ID; /* [MQTT-2.2.1-3] */
    }
    TRY(mqttproto_topic_name_check((const uint8_t *)p->topic.data, p->topic.len));
    if (p->topic.len == 0 && l->v3) {
        return MQTTPROTO_ERR_TOPIC_NAME_INVALID; /* [MQTT-4.7.3-1] (3.1.1) */
    }
    if (p->topic.len == 0 &&
        !mqttproto_properties_has(&p->properties, MQTTPROTO_PROP_TOPIC_ALIAS)) {
        return MQTTPROTO_ERR_EMPTY_TOPIC_WITHOUT_ALIAS;
    }
    return l->props_err;
}

static int validate_subscription(const mqttproto_subscription *s, bool v3)
{
    if ((unsigned)s->max_qos > 2) {
        return MQTTPROTO_ERR_SUBSCRIPTION_QOS_INVALID;
    }
    if (v3 && (s->no_local || s->retain_as_published || s->retain_handling != 0)) {
        /* Only the Requested QoS; the other bits are reserved [MQTT-3-8.3-4] (3.1.1). */
        return MQTTPROTO_ERR_BAD_SUBSCRIPTION_OPTIONS;
    }
    if ((unsigned)s->retain_handling > 2) {
        return MQTTPROTO_ERR_BAD_RETAIN_HANDLING;
    }
    TRY(mqttproto_topic_filter_validate(s->topic_filter));
    if (s->no_local && mqttproto_shared_filter_parse(s->topic_filter, NULL, NULL) == 1) {
        return MQTTPROTO_ERR_NO_LOCAL_ON_SHARED; /* [MQTT-3.8.3-4] */
    }
    return 0;
}

static int validate_subscribe(const mqttproto_subscribe *s, const struct layout *l)
{
    if (s->packet_id == 0) {
        return MQTTPROTO_ERR_ZERO_PACKET_ID;
    }
    TRY(l->props_err);
    if (s->subscriptions.count == 0) {
        return MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST; /* [MQTT-3.8.3-2] */
    }
    size_t cursor = 0;
    mqttproto_subscription sub;
    while (mqttproto_subscriptions_next(&s->subscriptions, &cursor, &sub)) {
        TRY(validate_subscription(&sub, l->v3));
    }
    return 0;
}

static int validate_unsubscribe(const mqttproto_unsubscribe *u, const struct layout *l)
{
    if (u->packet_id == 0) {
        return MQTTPROTO_ERR_ZERO_PACKET_ID;
    }
    TRY(l->props_err);
    if (u->topic_filters.count == 0) {
        return MQTTPROTO_ERR_EMPTY_SUBSCRIPTION_LIST; /* [MQTT-3.10.3-2] */
    }
    size_t cursor = 0;
    mqttproto_str filter;
    while (mqttproto_topic_filters_next(&u->topic_filters, &cursor, &filter)) {
        TRY(mqttproto_topic_filter_validate(filter));
    }
    return 0;
}

static int validate_suback(const mqttproto_suback *a, int type, const struct layout *l)
{
    if (a->packet_id == 0) {
        return MQTTPROTO_ERR_ZERO_PACKET_ID;
    }
    TRY(l->props_err);
    if (a->reason_code_count == 0) {
        return MQTTPROTO_ERR_EMPTY_REASON_CODE_LIST;
    }
    for (size_t i = 0; i < a->reason_code_count; i++) {
        if (l->v3) {
            /* 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2] (3.1.1) */
            if (!mqttproto_v3_suback_code_ok(a->reason_codes[i])) {
                return MQTTPROTO_ERR_INVALID_REASON_CODE;
            }
        } else {
            TRY(check_reason(a->reason_codes[i], type)); /* [MQTT-3.9.3-2] [MQTT-3.11.3-2] */
        }
    }
    return 0;
}

static int validate(const mqttproto_packet *pkt, const struct layout *l)
{
    int type = (int)pkt->type;
    switch (pkt->type) {
    case MQTTPROTO_PACKET_CONNECT:
        return validate_connect(&pkt->connect, l);
    case MQTTPROTO_PACKET_PUBLISH:
        return validate_publish(&pkt->publish, l);
    case MQTTPROTO_PACKET_CONNACK:
        if (l->v3) {
            /* Return codes 0 to 5 (3.1.1 section 3.2.2.3); Session Present 0
               with a non-zero one [MQTT-3.2.2-4] (3.1.1). */
            if (pkt->connack.reason_code > MQTTPROTO_CONNACK_NOT_AUTHORIZED) {
                return MQTTPROTO_ERR_INVALID_REASON_CODE;
            }
            return pkt->connack.session_present && pkt->connack.reason_code != 0
                       ? MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR
                       : 0;
        }
        TRY(check_reason(pkt->connack.reason_code, type)); /* [MQTT-3.2.2-8] */
        if (pkt->connack.session_present && pkt->connack.reason_code >= 0x80) {
            return MQTTPROTO_ERR_SESSION_PRESENT_ON_ERROR; /* [MQTT-3.2.2-6] */
        }
        return l->props_err;
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        if (pkt->puback.packet_id == 0) {
            return MQTTPROTO_ERR_ZERO_PACKET_ID;
        }
        if (l->v3) {
            return 0; /* the reason code is not written */
        }
        /* [MQTT-3.4.2-1] [MQTT-3.5.2-1] [MQTT-3.6.2-1] [MQTT-3.7.2-1] */
        TRY(check_reason(pkt->puback.reason_code, type));
        return l->props_err;
    case MQTTPROTO_PACKET_SUBSCRIBE:
        return validate_subscribe(&pkt->subscribe, l);
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        if (l->v3 && pkt->type == MQTTPROTO_PACKET_UNSUBACK) {
            return pkt->suback.packet_id == 0 ? MQTTPROTO_ERR_ZERO_PACKET_ID : 0;
        }
        return validate_suback(&pkt->suback, type, l);
    case MQTTPROTO_PACKET_UNSUBSCRIBE:
        return validate_unsubscribe(&pkt->unsubscribe, l);
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        if (l->v3) {
            return 0; /* a DISCONNECT without reason code; AUTH was refused by shape() */
        }
        TRY(check_reason(pkt->disconnect.reason_code, type)); /* [MQTT-3.14.2-1] [MQTT-3.15.2-1] */
        return l->props_err;
    default: /* PINGREQ, PINGRESP */
        return 0;
    }
}

/* ---- writing ---- */

/* A property block of content length len; the empty one without a call. */
static inline uint8_t *write_props(const mqttproto_properties *props, size_t len, bool v3,
                                   uint8_t *p)
{
    if (v3) {
        return p; /* MQTT 3.1.1 and 3.1 have no property blocks */
    }
    if (len == 0) {
        *p = 0; /* the length is written even when it is 0 [MQTT-2.2.2-1] */
        return p + 1;
    }
    return mqttproto_props_write(props, len, p);
}

static inline uint8_t publish_first_byte(const mqttproto_publish *pub)
{
    return (uint8_t)(MQTTPROTO_PACKET_PUBLISH << 4 | (pub->dup ? 8u : 0u) |
                     (unsigned)pub->qos << 1 | (pub->retain ? 1u : 0u));
}

static uint8_t first_byte(const mqttproto_packet *pkt)
{
    unsigned type = (unsigned)pkt->type;
    unsigned flags = 0;
    if (pkt->type == MQTTPROTO_PACKET_PUBLISH) {
        return publish_first_byte(&pkt->publish);
    }
    if (pkt->type == MQTTPROTO_PACKET_PUBREL || pkt->type == MQTTPROTO_PACKET_SUBSCRIBE ||
        pkt->type == MQTTPROTO_PACKET_UNSUBSCRIBE) {
        flags = 2u; /* [MQTT-3.6.1-1] [MQTT-3.8.1-1] [MQTT-3.10.1-1] */
    }
    return (uint8_t)(type << 4 | flags);
}

static uint8_t *write_connect(const mqttproto_connect *c, const struct layout *l, uint8_t *p)
{
    static const uint8_t protocol_name[6] = {0, 4, 'M', 'Q', 'T', 'T'};
    static const uint8_t protocol_name_v31[8] = {0, 6, 'M', 'Q', 'I', 's', 'd', 'p'};
    if (l->version == MQTTPROTO_PROTOCOL_V31) {
        memcpy(p, protocol_name_v31, 8);
        p += 8;
    } else {
        memcpy(p, protocol_name, 6);
        p += 6;
    }
    *p++ = l->version;
    unsigned flags = (c->clean_start ? 0x02u : 0u) | (c->has_username ? 0x80u : 0u) |
                     (c->has_password ? 0x40u : 0u);
    if (c->has_will) {
        flags |= 0x04u | (unsigned)c->will.qos << 3 | (c->will.retain ? 0x20u : 0u);
    }
    *p++ = (uint8_t)flags;
    p = wire_put_u16(p, c->keep_alive);
    p = write_props(&c->properties, l->props, l->v3, p);
    p = wire_put_bytes(p, c->client_id.data, c->client_id.len);
    if (c->has_will) {
        p = write_props(&c->will.properties, l->will_props, l->v3, p);
        p = wire_put_bytes(p, c->will.topic.data, c->will.topic.len);
        p = wire_put_bytes(p, c->will.payload.data, c->will.payload.len);
    }
    if (c->has_username) {
        p = wire_put_bytes(p, c->username.data, c->username.len);
    }
    if (c->has_password) {
        p = wire_put_bytes(p, c->password.data, c->password.len);
    }
    return p;
}

static uint8_t *write_body(const mqttproto_packet *pkt, const struct layout *l, uint8_t *p)
{
    switch (pkt->type) {
    case MQTTPROTO_PACKET_CONNECT:
        return write_connect(&pkt->connect, l, p);
    case MQTTPROTO_PACKET_PUBLISH: {
        const mqttproto_publish *pub = &pkt->publish;
        p = wire_put_bytes(p, pub->topic.data, pub->topic.len);
        if (pub->qos != MQTTPROTO_QOS_AT_MOST_ONCE) {
            p = wire_put_u16(p, pub->packet_id);
        }
        p = write_props(&pub->properties, l->props, l->v3, p);
        wire_copy_payload(p, pub->payload.data, pub->payload.len);
        return p + pub->payload.len;
    }
    case MQTTPROTO_PACKET_CONNACK:
        *p++ = pkt->connack.session_present ? 1u : 0u;
        *p++ = pkt->connack.reason_code;
        return write_props(&pkt->connack.properties, l->props, l->v3, p);
    case MQTTPROTO_PACKET_PUBACK:
    case MQTTPROTO_PACKET_PUBREC:
    case MQTTPROTO_PACKET_PUBREL:
    case MQTTPROTO_PACKET_PUBCOMP:
        p = wire_put_u16(p, pkt->puback.packet_id);
        if (l->short_form == 2) {
            return p;
        }
        *p++ = pkt->puback.reason_code;
        return l->short_form == 1 ? p : write_props(&pkt->puback.properties, l->props, l->v3, p);
    case MQTTPROTO_PACKET_SUBSCRIBE: {
        p = wire_put_u16(p, pkt->subscribe.packet_id);
        p = write_props(&pkt->subscribe.properties, l->props, l->v3, p);
        size_t cursor = 0;
        mqttproto_subscription s;
        while (mqttproto_subscriptions_next(&pkt->subscribe.subscriptions, &cursor, &s)) {
            p = wire_put_bytes(p, s.topic_filter.data, s.topic_filter.len);
            *p++ = (uint8_t)((unsigned)s.max_qos | (s.no_local ? 4u : 0u) |
                             (s.retain_as_published ? 8u : 0u) | (unsigned)s.retain_handling << 4);
        }
        return p;
    }
    case MQTTPROTO_PACKET_SUBACK:
    case MQTTPROTO_PACKET_UNSUBACK:
        p = wire_put_u16(p, pkt->suback.packet_id);
        if (l->v3 && pkt->type == MQTTPROTO_PACKET_UNSUBACK) {
            return p;
        }
        p = write_props(&pkt->suback.properties, l->props, l->v3, p);
        memcpy(p, pkt->suback.reason_codes, pkt->suback.reason_code_count);
        return p + pkt->suback.reason_code_count;
    case MQTTPROTO_PACKET_UNSUBSCRIBE: {
        p = wire_put_u16(p, pkt->unsubscribe.packet_id);
        p = write_props(&pkt->unsubscribe.properties, l->props, l->v3, p);
        size_t cursor = 0;
        mqttproto_str filter;
        while (mqttproto_topic_filters_next(&pkt->unsubscribe.topic_filters, &cursor, &filter)) {
            p = wire_put_bytes(p, filter.data, filter.len);
        }
        return p;
    }
    case MQTTPROTO_PACKET_DISCONNECT:
    case MQTTPROTO_PACKET_AUTH:
        if (l->short_form == 2) {
            return p;
        }
        *p++ = pkt->disconnect.reason_code;
        return l->short_form == 1 ? p
                                  : write_props(&pkt->disconnect.properties, l->props, l->v3, p);
    default: /* PINGREQ, PINGRESP */
        return p;
    }
}

/* Every packet type: shape, total size, validation, capacity, writing. */
MQTTPROTO_NOINLINE static ptrdiff_t encode_generic(const mqttproto_packet *pkt,
                                                   const mqttproto_codec_options *o, uint8_t *buf,
                                                   size_t cap)
{
    struct layout l;
    layout_init(&l, o, true);
    TRY(shape(pkt, &l));
    ptrdiff_t total = total_size(&l, o);
    if (total < 0) {
        return total;
    }
    TRY(validate(pkt, &l));
    /* A packet is at least two bytes, so no buffer (NULL, capacity 0) is
       always too small; the NULL test makes that plain before the writes. */
    if (buf == NULL || (size_t)total > cap) {
        return MQTTPROTO_ERR_BUFFER_TOO_SMALL;
    }
    uint8_t *p = buf;
    *p++ = first_byte(pkt);
    p = wire_put_vbi(p, (uint32_t)l.remaining);
    p = write_body(pkt, &l, p);
    return p - buf;
}

/* ---- fast paths ---- */

/*
 * Each fast path accepts only a common shape for which every check of the
 * generic path passes, tested directly (a plain ASCII string passes the
 * UTF-8 and topic checks), writes the same bytes, and otherwise returns
 * encode_generic(), faults included. Without properties they call nothing
 * (a large payload's copy is reached by a jump), which keeps them short.
 */

/* A length and data pointer that check_len() accepts. */
static inline bool len_ok(size_t len, const void *data)
{
    return len <= 65535 && (data != NULL || len == 0);
}

/* A large payload's copy, reached by a jump so that the fast paths that
   end with it call nothing themselves. */
MQTTPROTO_NOINLINE static ptrdiff_t copy_and_return(uint8_t *dst, const uint8_t *src, size_t len,
                                                    ptrdiff_t result)
{
    memcpy(dst, src, len);
    return result;
}

/* PUBLISH without properties, with a non-empty plain ASCII topic. */
MQTTPROTO_NOINLINE static ptrdiff_t encode_publish_fast(const mqttproto_packet *pkt,
                                                        const mqttproto_codec_options *o,
                                                        uint8_t *buf, size_t cap)
{
    const mqttproto_publish *pub = &pkt->publish;
    const mqttproto_str topic = pub->topic;
    const mqttproto_bin payload = pub->payload;
    const unsigned qos = (unsigned)pub->qos;
    const uint16_t packet_id = pub->packet_id;
    /* The topic first, so that the scan's constants are dead before the
       sizes are live: fewer registers to save. */
    if (topic.len == 0 || !len_ok(topic.len, topic.data) ||
        wire_needs_exact_check((const uint8_t *)topic.data, topic.len, true)) {
        return encode_generic(pkt, o, buf, cap);
    }
    bool id_ok = qos == 0 ? !pub->dup && packet_id == 0 : qos <= 2 && packet_id != 0;
    size_t id_len = qos != 0 ? 2u : 0u;
    size_t body = 2 + topic.len + id_len + 1 + payload.len;
    size_t total = 1 + wire_vbi_size((uint32_t)body) + body;
    if (!id_ok || (payload.data == NULL && payload.len != 0) ||
        payload.len > MQTTPROTO_MAX_VARIABLE_INT || body > MQTTPROTO_MAX_VARIABLE_INT ||
        total > mqttproto_codec_max_size(o) || total > cap) {
        return encode_generic(pkt, o, buf, cap);
    }
    uint8_t *p = buf;
    *p++ = publish_first_byte(pub);
    p = wire_put_vbi(p, (uint32_t)body);
    p = wire_put_bytes(p, topic.data, topic.len);
    if (id_len != 0) {
        p = wire_put_u16(p, packet_id);
    }
    *p++ = 0; /* the empty property block [MQTT-2.2.2-1] */
    if (payload.len > 64) {
        return copy_and_return(p, payload.data, payload.len, (ptrdiff_t)total);
    }
    wire_copy(p, payload.data, payload.len);
    return (ptrdiff_t)total;
}

/*
 * PUBLISH with properties, a non-empty plain ASCII topic and valid
 * properties: one walk sizes and checks them, a second writes them.
 */
MQTTPROTO_NOINLINE static ptrdiff_t encode_publish_props_fast(const mqttproto_packet *pkt,
                                                              const mqttproto_codec_options *o,
                                                              uint8_t *buf, size_t cap)
{
    const mqttproto_publish *pub = &pkt->publish;
    size_t topic_len = pub->topic.len;
    size_t payload_len = pub->payload.len;
    unsigned qos = (unsigned)pub->qos;
    int props_err = 0;
    ptrdiff_t props = mqttproto_props_size(&pub->properties, MQTTPROTO_PACKET_PUBLISH, &props_err);
    bool id_ok = qos == 0 ? !pub->dup && pub->packet_id == 0 : qos <= 2 && pub->packet_id != 0;
    if (props < 0 || props_err != 0 || !id_ok || topic_len == 0 ||
        !len_ok(topic_len, pub->topic.data) || (pub->payload.data == NULL && payload_len != 0) ||
        payload_len > MQTTPROTO_MAX_VARIABLE_INT) {
        return encode_generic(pkt, o, buf, cap);
    }
    size_t id_len = qos != 0 ? 2u : 0u;
    size_t body = 2 + topic_len + id_len + props_total_size((size_t)props) + payload_len;
    size_t total = 1 + wire_vbi_size((uint32_t)body) + body;
    if (body > MQTTPROTO_MAX_VARIABLE_INT || total > mqttproto_codec_max_size(o) || total > cap ||
        wire_needs_exact_check((const uint8_t *)pub->topic.data, topic_len, true)) {
        return encode_generic(pkt, o, buf, cap);
    }
    uint8_t *p = buf;
    *p++ = publish_first_byte(pub);
    p = wire_put_vbi(p, (uint32_t)body);
    p = wire_put_bytes(p, pub->topic.data, topic_len);
    if (id_len != 0) {
        p = wire_put_u16(p, pub->packet_id);
    }
    p = mqttproto_props_write(&pub->properties, (size_t)props, p);
    wire_copy_payload(p, pub->payload.data, payload_len);
    return (ptrdiff_t)total;
}

/* CONNECT without properties or will, with a plain ASCII client id and user name. */
MQTTPROTO_NOINLINE static ptrdiff_t encode_connect_fast(const mqttproto_packet *pkt,
                                                        const mqttproto_codec_options *o,
                                                        uint8_t *buf, size_t cap)
{
    const mqttproto_connect *c = &pkt->connect;
    size_t id_len = c->client_id.len;
    size_t user_len = c->has_username ? c->username.len : 0;
    size_t pass_len = c->has_password ? c->password.len : 0;
    if ((c->protocol_version == 0 ? o->protocol_version : c->protocol_version) !=
            MQTTPROTO_PROTOCOL_V5 ||
        c->has_will || c->properties.present != 0 || !len_ok(id_len, c->client_id.data) ||
        (c->has_username && !len_ok(user_len, c->username.data)) ||
        (c->has_password && !len_ok(pass_len, c->password.data))) {
        return encode_generic(pkt, o, buf, cap);
    }
    /* At most 13 + 3 * 65,537 bytes: always under MQTTPROTO_MAX_VARIABLE_INT. */
    size_t body =
        13 + id_len + (c->has_username ? 2 + user_len : 0) + (c->has_password ? 2 + pass_len : 0);
    size_t total = 1 + wire_vbi_size((uint32_t)body) + body;
    if (total > mqttproto_codec_max_size(o) || total > cap ||
        wire_needs_exact_check((const uint8_t *)c->client_id.data, id_len, false) ||
        wire_needs_exact_check((const uint8_t *)c->username.data, user_len, false)) {
        return encode_generic(pkt, o, buf, cap);
    }
    static const uint8_t protocol_name[6] = {0, 4, 'M', 'Q', 'T', 'T'};
    uint8_t *p = buf;
    *p++ = MQTTPROTO_PACKET_CONNECT << 4;
    p = wire_put_vbi(p, (uint32_t)body);
    memcpy(p, protocol_name, 6);
    p += 6;
    *p++ = MQTTPROTO_PROTOCOL_V5;
    *p++ = (uint8_t)((c->clean_start ? 0x02u : 0u) | (c->has_username ? 0x80u : 0u) |
                     (c->has_password ? 0x40u : 0u));
    p = wire_put_u16(p, c->keep_alive);
    *p++ = 0; /* the empty property block [MQTT-2.2.2-1] */
    p = wire_put_bytes(p, c->client_id.data, id_len);
    if (c->has_username) {
        p = wire_put_bytes(p, c->username.data, user_len);
    }
    if (c->has_password) {
        wire_put_bytes(p, c->password.data, pass_len);
    }
    return (ptrdiff_t)total;
}

ptrdiff_t mqttproto_encode(const mqttproto_packet *pkt, const mqttproto_codec_options *opts,
                           uint8_t *buf, size_t cap)
{
    const mqttproto_codec_options *o = mqttproto_codec_options_resolve(opts);
    if (o == NULL || pkt == NULL || (buf == NULL && cap != 0)) {
        return MQTTPROTO_ERR_INVALID_ARGUMENT;
    }
    if (pkt->type == MQTTPROTO_PACKET_PUBLISH && !mqttproto_codec_is_v3(o)) {
        if (pkt->publish.properties.present != 0) {
            return encode_publish_props_fast(pkt, o, buf, cap);
        }
        return encode_publish_fast(pkt, o, buf, cap);
    }
    if (pkt->type == MQTTPROTO_PACKET_CONNECT) {
        return encode_connect_fast(pkt, o, buf, cap);
    }
    return encode_generic(pkt, o, buf, cap);
}
