/* The broker and its clients, shared by the files that implement them. */
#ifndef MQTTPROTO_BROKER_INTERNAL_H
#define MQTTPROTO_BROKER_INTERNAL_H

#include "alloc.h"
#include "bytebuf.h"
#include "idmap.h"
#include "retained.h"
#include "strmap.h"
#include "subtrie.h"

#include "mqttproto/broker.h"
#include "mqttproto/broker_store.h"

/*
 * A message as routed: one copy shared by every session it is queued for,
 * the retained store and a pending will. The blob is the PUBLISH encoded at
 * QoS 0 with its full topic, no Topic Alias and DUP 0; each delivery sets
 * its own QoS, packet identifier, flags and properties when it is sent.
 */
struct bmsg {
    struct mqttproto_broker *broker; /* the retained store releases messages
                                        without a broker at hand */
    uint64_t store_id;               /* 0: the store does not hold it */
    uint32_t refs;
    uint8_t qos;
    bool retain;
    uint64_t expires_at; /* 0: no Message Expiry Interval */
    size_t len;
    uint8_t blob[];
};

/* Stages of a delivery to a session. */
enum delivery_stage { D_QUEUED, D_AWAIT_ACK, D_AWAIT_PUBCOMP };

struct delivery {
    struct delivery *prev, *next;
    struct bmsg *msg;
    uint64_t store_id;  /* 0: not durable (QoS 0, or the session is not) */
    uint16_t packet_id; /* 0 until first sent at QoS 1/2 */
    uint8_t qos;
    uint8_t stage;
    bool retain;
    bool ever_sent;
    bool wired;  /* sent on the current connection */
    bool shared; /* chosen through a shared subscription group */
    uint8_t nsubids;
    uint32_t subids[]; /* Subscription Identifiers of the matching subscriptions */
};

struct session {
    struct mqttproto_broker *broker;
    char *client_id;
    size_t client_id_len;
    struct mqttproto_broker_client *conn; /* NULL while offline */
    uint32_t expiry_interval;
    uint64_t expires_at; /* while offline; UINT64_MAX: never */
    bool stored;         /* the store holds it (see broker_store.c) */

    /* Filters subscribed, to remove them from the trie; value: unused. */
    struct strmap subs;

    /* Deliveries in order; [head, cursor) went out on this connection. */
    struct delivery *head, *tail, *cursor;
    uint32_t count;
    size_t bytes;
    uint32_t inflight;
    struct idmap ids;
    uint16_t next_id;

    /* Inbound QoS 2 packet identifiers whose PUBREL has not come. */
    struct idmap qos2_in;

    /* A will waiting for its delay (after the connection ended). */
    struct bmsg *will;
    uint64_t will_at;

    size_t timer_slot; /* index in the broker's timer heap, or SIZE_MAX */
    uint64_t route_mark;
    size_t route_slot;
};

/* A routing target collected while matching. */
struct route_target {
    struct session *session;
    uint8_t qos;
    bool retain_as_published;
    uint8_t nsubids;
    bool shared;           /* the member picked for a shared subscription group */
    struct delivery *made; /* made before any is queued: routing is all or nothing */
    uint32_t subids[8];    /* the first 8 matching identifiers; the others are */
    uint32_t extra_head;   /* chained in the broker's route_extra (index + 1; 0: none) */
};

/* A Subscription Identifier beyond a target's first 8, chained. */
struct route_extra {
    uint32_t id;
    uint32_t next; /* index + 1 of the next one; 0: the end */
};

/* Most Subscription Identifiers one delivery carries (its count is 8 bits). */
#define MAX_DELIVERY_SUBIDS 255u

struct mqttproto_broker {
    mqttproto_mem mem;
    mqttproto_broker_settings settings;
    mqttproto_broker_stats stats;
    struct strmap sessions_by_id; /* client id → index in sessions */
    struct session **sessions;
    size_t session_count, session_cap;
    struct subtrie subs;
    struct retained retained;
    struct mqttproto_broker_client *conns; /* every broker client */
    struct mqttproto_broker_client *writable_head, *writable_tail;
    struct session **timers; /* min-heap on session_deadline() */
    size_t timer_count, timer_cap;
    uint64_t assigned_counter;
    /* The latest time any call on the broker or one of its clients gave:
       deliveries are encoded at it, since get_outbound_data() takes none. */
    uint64_t now_ms;
    uint64_t route_mark;
    struct route_target *targets;
    size_t target_cap;
    struct route_extra *route_extra; /* reset for each routed message */
    size_t extra_count, extra_cap;
    uint32_t *gathered; /* one target's identifiers, MAX_DELIVERY_SUBIDS of them */
    struct subtrie_group **groups;
    size_t group_count, group_cap;
    bool groups_failed;

    /* The store (broker_store.c). */
    mqttproto_store_fn store_fn;
    void *store_ctx;
    bool store_hold;
    bool store_muted;    /* restoring, or destroying: no records */
    bool restore_closed; /* restore_finish() ran, or a client was created */
    uint64_t store_seq, store_synced;
    uint64_t store_hold_seq; /* the last record output must wait for */
    uint64_t hold_all;       /* every client's output waits for this record */
    uint64_t next_message_id, next_delivery_id;
    struct strmap restore_msgs; /* message id (8 bytes) -> index in restore_list */
    struct bmsg **restore_list;
    size_t restore_count, restore_cap;
    struct mqttproto_broker_client *fenced_head; /* clients with held output */
};

struct conn_event;

/* What next_event() decodes an event's packet into. */
struct event_view {
    mqttproto_packet pkt;
    mqttproto_topic_filter_list filters;
    mqttproto_subscription_list subs;
};

/* ---- broker.c ---- */
struct bmsg *broker_msg_new(mqttproto_broker *b, const mqttproto_publish *p, uint64_t now_ms,
                            int *err);
void broker_msg_release(mqttproto_broker *b, struct bmsg *m);
struct session *broker_session_find(mqttproto_broker *b, const char *id, size_t len);
int broker_session_create(mqttproto_broker *b, const char *id, size_t len, struct session **out);
int broker_session_end(mqttproto_broker *b, struct session *s, uint64_t now_ms);
void broker_session_detach(mqttproto_broker *b, struct session *s, struct bmsg *will,
                           uint32_t will_delay, uint64_t now_ms);
/* Route a message from @p origin (NULL: the application); returns the
   number of sessions it was queued for, or an error. */
int broker_route(mqttproto_broker *b, struct bmsg *m, struct session *origin, uint64_t now_ms);
void broker_mark_writable(mqttproto_broker *b, struct mqttproto_broker_client *c);
bool broker_valid_client_id_free(mqttproto_broker *b, const char *id, size_t len);
int broker_retain(mqttproto_broker *b, struct bmsg *m, mqttproto_str topic);
void broker_timer_update(mqttproto_broker *b, struct session *s);

/* ---- broker_deliver.c ---- */
struct delivery *delivery_new(mqttproto_broker *b, struct session *s, struct bmsg *m, uint8_t qos,
                              bool retain, const uint32_t *subids, uint8_t nsubids, bool shared,
                              int *err);
void delivery_discard(mqttproto_broker *b, struct delivery *d);
int session_link(mqttproto_broker *b, struct session *s, struct delivery *d);
void session_append(struct session *s, struct delivery *d);
int session_enqueue(mqttproto_broker *b, struct session *s, struct bmsg *m, uint8_t qos,
                    bool retain, const uint32_t *subids, uint8_t nsubids, bool shared);
void session_free_deliveries(mqttproto_broker *b, struct session *s);
void session_resume(struct session *s);
void conn_pump(struct mqttproto_broker_client *c);
int conn_handle_puback(struct mqttproto_broker_client *c, const mqttproto_packet *pkt);
int conn_handle_pubrec(struct mqttproto_broker_client *c, const mqttproto_packet *pkt);
int conn_handle_pubcomp(struct mqttproto_broker_client *c, const mqttproto_packet *pkt);

/* ---- broker_client.c ---- */
int conn_write_packet(struct mqttproto_broker_client *c, const mqttproto_packet *pkt);
int conn_push_event(struct mqttproto_broker_client *c, const struct conn_event *ev);
int conn_reserve_events(struct mqttproto_broker_client *c, size_t n);
struct conn_event conn_new_event(uint8_t type, size_t off, size_t len);
void conn_release_event_memory(struct mqttproto_broker_client *c);
int conn_fail(struct mqttproto_broker_client *c, int err);
void conn_enter_closing(struct mqttproto_broker_client *c);
int conn_handle_connect(struct mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                        size_t len);
int conn_handle_auth(struct mqttproto_broker_client *c, const mqttproto_packet *pkt, size_t off,
                     size_t len);
int conn_write_short(struct mqttproto_broker_client *c, uint8_t first, uint16_t id, uint8_t rc);
void conn_taken_over(struct mqttproto_broker_client *c);
void conn_free_all(mqttproto_broker *b);
/* Advance the connection's clock (and the broker's) to @p now_ms. */
void conn_clock(struct mqttproto_broker_client *c, uint64_t now_ms);

/* ---- broker_store.c ---- */
static inline bool store_on(const mqttproto_broker *b)
{
    return b->store_fn != NULL && !b->store_muted;
}
/* Bring the store in line with the session's expiry: a session is durable
   while its Session Expiry Interval is not 0. */
void store_session_sync(mqttproto_broker *b, struct session *s);
void store_session_delete(mqttproto_broker *b, struct session *s);
void store_subscription_put(mqttproto_broker *b, struct session *s, mqttproto_str filter,
                            const struct subtrie_sub *sub);
void store_subscription_delete(mqttproto_broker *b, struct session *s, mqttproto_str filter);
void store_delivery_put(mqttproto_broker *b, struct session *s, struct delivery *d);
void store_delivery_stage(mqttproto_broker *b, struct session *s, struct delivery *d);
void store_delivery_delete(mqttproto_broker *b, struct session *s, struct delivery *d);
void store_retained_put(mqttproto_broker *b, mqttproto_str topic, struct bmsg *m);
void store_retained_delete(mqttproto_broker *b, mqttproto_str topic);
void store_will_put(mqttproto_broker *b, struct session *s, struct bmsg *will, uint32_t delay,
                    uint64_t at);
void store_will_delete(mqttproto_broker *b, struct session *s);
void store_inbound(mqttproto_broker *b, struct session *s, uint16_t id, bool put);
void store_message_gone(struct bmsg *m);
/* Output held behind records not yet durable: call before appending bytes
   to the client's output, and read how many may go. */
static inline void conn_out_fence(struct mqttproto_broker_client *c);
size_t conn_out_ready(const struct mqttproto_broker_client *c, size_t n);
void conn_out_consumed(struct mqttproto_broker_client *c, size_t n);
void conn_fences_free(struct mqttproto_broker_client *c);
/* The client's fence block, made when the store holds output. */
int conn_fences_make(struct mqttproto_broker_client *c);
void conn_fence_slow(struct mqttproto_broker_client *c);
/* Hold the output from @p pos on (at or after every earlier fence). */
void conn_fence_at(struct mqttproto_broker_client *c, size_t pos);
void broker_store_free(mqttproto_broker *b);

/* ---- broker_inbound.c ---- */
/* Process every complete packet of the input that may be processed now:
   0, a protocol error (the connection is CLOSING) or NO_MEMORY. */
int conn_process_input(struct mqttproto_broker_client *c);
void conn_discard_held(mqttproto_broker *b, struct delivery *d);

#define NO_OFFSET UINT32_MAX

/* What a broker client holds; here so the delivery code can reach it. */
struct conn_event {
    uint8_t type;
    uint8_t reason_code;
    uint16_t packet_id;
    uint32_t ticket;
    /* Offsets fit 32 bits: the input never holds more than one maximum
       packet (under 256 MiB) plus 64 KiB. */
    uint32_t pkt_off, pkt_len;     /* the packet in the input buffer; len 0: none */
    uint32_t topic_off, topic_len; /* alias-resolved topic in the arena; NO_OFFSET: none */
    uint32_t codes_off, codes_len; /* UNSUBSCRIBE reason codes in the arena */
};

/* A PUBLISH waiting for authorize_publish(). */
struct pending_publish {
    struct pending_publish *next;
    uint32_t ticket;
    uint16_t packet_id;
    uint8_t qos;
    struct bmsg *msg;
};

/* A SUBSCRIBE waiting for acknowledge_subscribe(): its packet, copied. */
struct pending_subscribe {
    struct pending_subscribe *next;
    uint16_t packet_id;
    size_t len;
    /* acknowledge_subscribe() ran out of memory after this many filters:
       it goes on from there, their codes after the packet in bytes */
    size_t done;
    /* The retained deliveries of the filters done, queued with the SUBACK
       (linked by next) */
    struct delivery *held;
    uint8_t bytes[];
};

struct mqttproto_broker_client {
    mqttproto_broker *broker;
    struct mqttproto_broker_client *prev, *next; /* the broker's list */
    struct mqttproto_broker_client *next_writable;
    bool in_writable;
    void *user_data;
    mqttproto_broker_client_state state;
    int error;
    mqttproto_codec_options in_opts;
    mqttproto_codec_options out_opts;

    struct bytebuf in;
    size_t parsed;
    struct bytebuf out;
    struct bytebuf arena;
    struct conn_event *evs;
    size_t ev_head, ev_count, ev_cap;
    /* The packet behind the event last taken: allocated while events are
       taken, freed once they are drained, so an idle connection holds no
       decoded packet. */
    struct event_view *view;

    uint64_t now_ms;
    uint64_t connect_deadline;
    uint64_t last_recv_ms;
    uint16_t keep_alive;

    /* From the CONNECT. */
    uint8_t *connect_blob;
    size_t connect_len;
    char *client_id;
    size_t client_id_len;
    bool assigned_id;
    char *username;
    size_t username_len;
    char *auth_method;
    size_t auth_method_len;
    bool clean_start;
    uint32_t session_expiry;         /* granted */
    uint32_t connect_session_expiry; /* as the CONNECT asked */
    bool reauthenticating;
    bool no_problem_info; /* Request Problem Information 0 in the CONNECT */
    uint16_t peer_receive_maximum;
    uint32_t peer_maximum_packet_size;

    struct session *session;
    struct bmsg *will;
    uint32_t will_delay;
    bool will_cancelled; /* DISCONNECT 0x00 */

    /* Inbound. */
    char **in_aliases;
    size_t *in_alias_lens;
    struct pending_publish *pending_pubs, *pending_pubs_tail;
    uint32_t pending_count; /* QoS 1/2 among them */
    uint32_t next_ticket;
    struct pending_subscribe *pending_subs;

    /* Output held behind store records (broker_store.c); NULL: none. */
    struct out_fences *fences;
};

static inline void conn_out_fence(struct mqttproto_broker_client *c)
{
    const mqttproto_broker *b = c->broker;
    if (b->store_hold && b->store_hold_seq > b->store_synced) {
        conn_fence_slow(c);
    }
}

#endif /* MQTTPROTO_BROKER_INTERNAL_H */
