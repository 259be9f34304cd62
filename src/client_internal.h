/* The client object, shared by the files that implement its parts. */
#ifndef MQTTPROTO_CLIENT_INTERNAL_H
#define MQTTPROTO_CLIENT_INTERNAL_H

#include "alloc.h"
#include "bytebuf.h"
#include "idmap.h"
#include "strmap.h"

#include "mqttproto/client.h"

/* What a packet identifier of ours is in use for. */
enum flow_kind { FLOW_PUBLISH = 1, FLOW_SUBSCRIBE, FLOW_UNSUBSCRIBE };

/* Freed messages kept for reuse, and the largest blob kept. */
#define OUT_SPARE_MAX  32
#define OUT_SPARE_SIZE 4096u

/* Stages of an outbound PUBLISH. */
enum out_stage {
    OUT_QUEUED,        /* never sent */
    OUT_AWAIT_ACK,     /* PUBLISH sent: waiting for PUBACK or PUBREC */
    OUT_AWAIT_PUBCOMP, /* PUBREL sent: waiting for PUBCOMP */
};

/* An outbound application message, held from publish() to its end. */
struct out_msg {
    uint8_t kind; /* FLOW_PUBLISH: first, like struct request */
    uint8_t qos;
    uint8_t stage;  /* enum out_stage */
    bool ever_sent; /* a later send is a retransmission: DUP */
    bool retain;
    bool wired; /* sent on this connection */
    uint16_t packet_id;
    struct out_msg *prev, *next;
    size_t topic_off, topic_len; /* the topic inside blob */
    size_t len;
    size_t cap;     /* bytes of blob allocated */
    uint8_t blob[]; /* the PUBLISH as encoded by publish(), DUP 0, no alias */
};

/* A SUBSCRIBE or UNSUBSCRIBE waiting for its answer. */
struct request {
    uint8_t kind; /* FLOW_SUBSCRIBE or FLOW_UNSUBSCRIBE */
    uint16_t packet_id;
    struct request *prev, *next; /* in the order sent */
    size_t count;                /* filters sent */
    size_t *lens;                /* their lengths, then the filters back to back in text */
    char *text;
};

/* Stages of an inbound QoS 1/2 PUBLISH. */
enum in_stage {
    IN_AWAIT_APP,    /* manual ack: the application has not acknowledged yet */
    IN_ACK_READY,    /* acknowledged; waits for an earlier message's ack */
    IN_AWAIT_PUBREL, /* QoS 2: PUBREC sent */
};

struct in_msg {
    uint16_t packet_id;
    uint8_t qos;
    uint8_t stage;
    uint8_t reason_code;
    struct in_msg *next_order; /* arrival order, while not yet acknowledged */
};

struct ev_rec {
    uint8_t type;
    uint8_t reason_code;
    bool session_present;
    uint8_t protocol_version; /* of the connection the packet came on */
    uint16_t packet_id;
    int error;
    size_t pkt_off, pkt_len;     /* the packet in the input buffer; len 0: none */
    size_t topic_off, topic_len; /* resolved alias topic in the arena; off SIZE_MAX: none */
};

struct mqttproto_client {
    mqttproto_mem mem;
    mqttproto_client_settings settings;
    mqttproto_codec_options in_opts;  /* decoding: our limits */
    mqttproto_codec_options out_opts; /* encoding: the server's limit */

    mqttproto_client_state state;
    int error; /* sticky, while FAILED */
    /* The protocol level of the last connect() (5 before the first): 3.1.1
       and 3.1 have no properties, AUTH or reason codes beyond CONNACK's and
       SUBACK's. in_opts and out_opts carry it to the codec. */
    uint8_t protocol_version;

    /* Connection parameters of the last connect(). */
    char *client_id;
    size_t client_id_len;
    char *auth_method;
    size_t auth_method_len;
    bool clean_start;
    uint16_t keep_alive_requested;
    uint32_t session_expiry;
    uint16_t our_receive_maximum;
    uint16_t our_topic_alias_maximum;
    bool request_problem_information;  /* sent as 1 (or not sent) */
    bool request_response_information; /* sent as 1 */

    mqttproto_client_server_info server;
    bool has_session; /* session state worth resuming exists */
    bool reauthenticating;

    /* Bytes. */
    /* Input. Offsets (parsed, event packets) count from in.head, which only
       moves once no event holds the bytes before it. */
    struct bytebuf in;
    size_t parsed;        /* bytes processed */
    struct bytebuf out;   /* encoded, waiting to be written */
    struct bytebuf arena; /* event-owned copies (alias-resolved topics) */

    /* Events. */
    struct ev_rec *evs;
    size_t ev_head, ev_count, ev_cap;
    mqttproto_packet ev_pkt; /* the packet behind the last event */
    mqttproto_properties no_props;

    /* Our packet identifiers: struct out_msg or struct request. */
    struct idmap ids;
    uint16_t next_id;
    /* SUBSCRIBE and UNSUBSCRIBE waiting for their answer, in the order sent. */
    struct request *req_head, *req_tail;

    /* Outbound messages in publish order; [head, cursor) are on the wire on
       this connection. */
    struct out_msg *out_head, *out_tail, *out_cursor;
    size_t out_count, out_bytes;
    /* Freed small messages kept for reuse: publishing then needs no
       allocation in the steady state. */
    struct out_msg *spare[OUT_SPARE_MAX];
    size_t spare_count;
    uint32_t inflight; /* QoS 1/2 PUBLISH on the wire on this connection */

    /* Outbound topic aliases of this connection: topic → alias. */
    struct strmap out_aliases;
    uint16_t out_alias_limit;

    /* Inbound QoS 1/2 by the server's packet identifier. */
    struct idmap inbound;
    struct in_msg *in_order_head, *in_order_tail;

    /* Inbound topic aliases: index alias - 1. */
    char **in_aliases;
    size_t *in_alias_lens;

    /* Subscriptions: filter → reference count. */
    struct strmap subs;

    /* Keep alive. */
    uint64_t now_ms;       /* the latest time the application gave */
    uint64_t last_send_ms; /* when bytes were last consumed */
    uint64_t ping_deadline;
    bool ping_pending;
};

/* ---- shared by the client's files ---- */

/* Whether the connection speaks MQTT 3.1.1 or 3.1. */
static inline bool client_is_v3(const mqttproto_client *c)
{
    return c->protocol_version != MQTTPROTO_PROTOCOL_V5;
}

/* Whether a property block given to a call holds anything: before MQTT 5
   there is nowhere to send it. */
static inline bool client_props_given(const mqttproto_properties *p)
{
    return p != NULL && (p->present != 0 || p->user_property_count != 0 ||
                         p->subscription_identifier_count != 0);
}

/* Enter FAILED with @p err, queueing a DISCONNECT when one may be sent;
   returns @p err, or NO_MEMORY (and changes nothing) when the DISCONNECT
   does not fit. */
int client_fail(mqttproto_client *c, int err);

/* Encode a control packet into the outbound buffer (made to fit the
   server's Maximum Packet Size by leaving out Reason String and User
   Properties where allowed). */
int client_write_packet(mqttproto_client *c, const mqttproto_packet *pkt);

/* Queue an event; 0 or MQTTPROTO_ERR_NO_MEMORY. */
int client_push_event(mqttproto_client *c, const struct ev_rec *ev);
/* Make room for @p n more events. */
int client_reserve_events(mqttproto_client *c, size_t n);

/* A free packet identifier, or 0 when all are in use; it is taken only by
   client_take_packet_id(), once the call that needs it has succeeded. */
uint16_t client_free_packet_id(const mqttproto_client *c);
void client_take_packet_id(mqttproto_client *c, uint16_t id);

/* publish side (client_publish.c) */
void client_out_pump(mqttproto_client *c);
int client_handle_puback(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len);
int client_handle_pubrec(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len);
int client_handle_pubcomp(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len);
int client_handle_publish(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len);
int client_handle_pubrel(mqttproto_client *c, const mqttproto_packet *pkt);
void client_out_connection_lost(mqttproto_client *c);
void client_out_resume(mqttproto_client *c);
/* The session is gone: every message sent and not completed ends with
   PUBLISH_FAILED (SESSION_LOST), inbound QoS 2 state is dropped. Needs room
   for client_out_session_events() events, reserved beforehand, so that it
   cannot fail. */
size_t client_out_session_events(const mqttproto_client *c);
void client_out_discard_session(mqttproto_client *c);
void client_out_free(mqttproto_client *c);
void client_in_reset_aliases(mqttproto_client *c);

/* subscribe side (client_subscribe.c) */
int client_handle_suback(mqttproto_client *c, const mqttproto_packet *pkt, size_t off, size_t len);
/* SUBSCRIBE/UNSUBSCRIBE waiting for an answer. */
size_t client_requests_pending(const mqttproto_client *c);
/* Ends every SUBSCRIBE/UNSUBSCRIBE waiting for an answer with a
   REQUEST_FAILED event; NO_MEMORY when some events could not be queued. */
int client_requests_connection_lost(mqttproto_client *c);
void client_requests_free(mqttproto_client *c);

#endif /* MQTTPROTO_CLIENT_INTERNAL_H */
