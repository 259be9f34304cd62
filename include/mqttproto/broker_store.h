/**
 * @file broker_store.h
 * @brief Durable broker state, still without I/O: the broker tells a store
 * the application implements every change of the state that must survive a
 * restart, holds the acknowledgements that depend on it until the store
 * says it is durable, and is rebuilt from that state by restore calls.
 *
 * What is durable: the sessions whose Session Expiry Interval is not 0
 * (a session that ends with its connection has nothing to keep), their
 * subscriptions, their QoS 1 and QoS 2 deliveries (queued, sent, released),
 * their inbound QoS 2 packet identifiers awaiting PUBREL, their pending
 * wills, the retained messages, and each message that any of these refers
 * to. QoS 0 deliveries are not kept.
 *
 * Records: mqttproto_broker_set_store() installs a callback that receives
 * one ::mqttproto_store_record per change, in order, each with a sequence
 * number one higher than the last. A put is an upsert and a delete of
 * what does not exist is a no-op: a call that ran out of memory part-way
 * may repeat records when it is called again. The views of a record are
 * valid only during the callback; it must not call into the broker. The
 * callback cannot refuse a record: one the store cannot keep (it ran out
 * of memory to copy it) leaves the store behind the broker for good, and
 * the application must stop serving with this broker (with hold_acks, not
 * releasing anything after it: nothing that depends on it was sent).
 *
 * Holding acknowledgements (group commit): with @c hold_acks set, every
 * byte a broker client writes after a record the store has not yet made
 * durable waits in the client's output: get_outbound_data() stops before
 * it. Three records hold nothing, since no promise to a client rests on
 * them: DELIVERY_DELETE, MESSAGE_DELETE (lost, the message is sent again)
 * and DELIVERY_SENT of a QoS 1 delivery (lost, it is sent again as new: a
 * duplicate, which QoS 1 allows). The application writes the records in batches and, once a batch
 * is on disk, calls mqttproto_broker_store_synced() with the last sequence number it holds; the
 * held bytes are then released (the clients they belong to are returned by
 * mqttproto_broker_next_writable()). So a PUBACK, PUBREC, PUBCOMP, SUBACK or a QoS 2 PUBLISH never
 * reaches a client before the state it promises is stored. Without @c hold_acks nothing waits: what
 * was acknowledged since the last write may be lost.
 *
 * Clock: records hold absolute times in the clock of the @c now_ms
 * arguments (session expiry, will delay, Message Expiry). For them to
 * continue across a restart that clock must too: use wall-clock
 * milliseconds (e.g. Unix time), not a monotonic clock that restarts.
 *
 * Restoring: on a new broker, before any broker client exists, give the
 * stored state with the mqttproto_broker_restore_*() calls (sessions
 * first, then messages, then what refers to them), then
 * mqttproto_broker_restore_finish(). Restore calls emit no records.
 */
#ifndef MQTTPROTO_BROKER_STORE_H
#define MQTTPROTO_BROKER_STORE_H

#include "mqttproto/broker.h"

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Kinds of store records; the fields each one sets are listed. */
typedef enum mqttproto_store_record_type {
    /** A durable session exists or changed: client_id,
        session_expiry_interval, expires_at (when it ends while offline;
        UINT64_MAX while its connection is open, or when it never expires). */
    MQTTPROTO_STORE_SESSION_PUT = 1,
    /** The session ended (or is no longer durable): client_id. Its
        subscriptions, deliveries, inbound identifiers and will go with it. */
    MQTTPROTO_STORE_SESSION_DELETE = 2,
    /** A subscription was stored or its options replaced: client_id, topic
        (the filter as subscribed, "$share/..." included), options,
        subscription_identifier (0: none). */
    MQTTPROTO_STORE_SUBSCRIPTION_PUT = 3,
    /** A subscription was removed: client_id, topic. */
    MQTTPROTO_STORE_SUBSCRIPTION_DELETE = 4,
    /** A message something durable refers to: message_id, message (the
        PUBLISH packet as encoded at QoS 0, MQTT 5, with its topic and
        properties), qos (as published), expires_at (Message Expiry; 0:
        none). Sent once per message, before the first record naming it. */
    MQTTPROTO_STORE_MESSAGE_PUT = 5,
    /** Nothing refers to the message any more: message_id. */
    MQTTPROTO_STORE_MESSAGE_DELETE = 6,
    /** A QoS 1 or 2 delivery queued for a session, after the ones before
        it: client_id, delivery_id (increasing: the queue's order),
        message_id, qos (of this delivery), retain, shared,
        subscription_identifiers. */
    MQTTPROTO_STORE_DELIVERY_PUT = 7,
    /** The delivery's PUBLISH is sent with packet_id: client_id,
        delivery_id, packet_id, qos. */
    MQTTPROTO_STORE_DELIVERY_SENT = 8,
    /** PUBREC came for the QoS 2 delivery and PUBREL is sent: client_id,
        delivery_id, packet_id. */
    MQTTPROTO_STORE_DELIVERY_RELEASED = 9,
    /** The delivery is finished (acknowledged, expired, dropped):
        client_id, delivery_id. */
    MQTTPROTO_STORE_DELIVERY_DELETE = 10,
    /** A retained message set or replaced: topic, message_id. */
    MQTTPROTO_STORE_RETAINED_PUT = 11,
    /** A retained message cleared: topic. */
    MQTTPROTO_STORE_RETAINED_DELETE = 12,
    /** The session's will: client_id, message_id, will_delay (seconds),
        will_at (when it is published; UINT64_MAX while the connection is
        open). */
    MQTTPROTO_STORE_WILL_PUT = 13,
    /** The will was published or cancelled: client_id. */
    MQTTPROTO_STORE_WILL_DELETE = 14,
    /** An inbound QoS 2 message was accepted and awaits PUBREL: client_id,
        packet_id. */
    MQTTPROTO_STORE_INBOUND_PUT = 15,
    /** PUBREL came: client_id, packet_id. */
    MQTTPROTO_STORE_INBOUND_DELETE = 16
} mqttproto_store_record_type;

/** @brief Name of a store record type; "UNKNOWN" otherwise. */
MQTTPROTO_API const char *mqttproto_store_record_type_name(int type);

/** @brief Stages of a stored delivery. */
typedef enum mqttproto_store_delivery_stage {
    MQTTPROTO_STORE_STAGE_QUEUED = 0,  /**< Not sent yet. */
    MQTTPROTO_STORE_STAGE_SENT = 1,    /**< PUBLISH sent; PUBACK/PUBREC awaited. */
    MQTTPROTO_STORE_STAGE_RELEASED = 2 /**< PUBREL sent; PUBCOMP awaited. */
} mqttproto_store_delivery_stage;

/**
 * @brief One change of durable state. Fields its type does not list are
 * zero; views are valid during the callback only.
 */
typedef struct mqttproto_store_record {
    mqttproto_store_record_type type;
    uint64_t seq;            /**< 1, 2, 3, ... for the broker's lifetime. */
    mqttproto_str client_id; /**< The session. */
    uint32_t session_expiry_interval;
    uint64_t expires_at; /**< Session end, or message expiry (0: none). */
    /** A subscription's filter or a retained message's topic. */
    mqttproto_str topic;
    /** Subscription options as in SUBSCRIBE: bits 0-1 maximum QoS, bit 2
        No Local, bit 3 Retain As Published, bits 4-5 Retain Handling. */
    uint8_t options;
    uint32_t subscription_identifier;
    uint64_t message_id;
    mqttproto_bin message;
    uint64_t delivery_id;
    uint8_t qos;
    bool retain;
    bool shared; /**< Chosen through a shared subscription group. */
    const uint32_t *subscription_identifiers;
    size_t subscription_identifier_count;
    uint16_t packet_id;
    uint32_t will_delay;
    uint64_t will_at;
} mqttproto_store_record;

/** @brief Receives each record; @p ctx is the one given to set_store(). */
typedef void (*mqttproto_store_fn)(void *ctx, const mqttproto_store_record *record);

/**
 * @brief Install (or, with @p fn NULL, remove) the store callback. Set it
 * on a new broker, or after the restore calls, before any client connects:
 * the store hears only of changes made after this call. With @p hold_acks
 * each broker client created afterwards carries a small block (under 100
 * bytes) for its held output.
 * @param hold_acks Hold each client's output behind records not yet
 *        confirmed by mqttproto_broker_store_synced() (see the file
 *        comment). Turning it off releases everything held.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (@p broker NULL);
 *         ::MQTTPROTO_ERR_BAD_STATE (no store was set and the broker holds
 *         a session with a non-zero expiry that was not restored: the store
 *         would never hear of it).
 */
MQTTPROTO_API int mqttproto_broker_set_store(mqttproto_broker *broker, mqttproto_store_fn fn,
                                             void *ctx, bool hold_acks);

/**
 * @brief Every record up to and including @p seq is durable: release the
 * output held behind them (the clients concerned are then returned by
 * mqttproto_broker_next_writable()). A @p seq at or below an earlier one
 * changes nothing; one above the last record issued counts as the last.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT.
 */
MQTTPROTO_API int mqttproto_broker_store_synced(mqttproto_broker *broker, uint64_t seq);

/** @brief The sequence number of the last record issued (0: none yet). */
MQTTPROTO_API uint64_t mqttproto_broker_store_last_seq(const mqttproto_broker *broker);

/**
 * @brief Restore a session, offline. Its interval is kept as stored: the
 * broker's max_session_expiry bounds what connections ask for, and applies
 * when its client next connects.
 * @param expires_at When it ends; UINT64_MAX for one whose connection was
 *        open when the state was saved: it then ends @p expiry_interval
 *        seconds after restore_finish() (never, for 0xFFFFFFFF).
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (empty or invalid client id,
 *         expiry_interval 0, the session exists); ::MQTTPROTO_ERR_BAD_STATE
 *         (a broker client exists, or restore_finish() was called);
 *         ::MQTTPROTO_ERR_QUEUE_FULL (max_sessions); ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_session(mqttproto_broker *broker,
                                                   mqttproto_str client_id,
                                                   uint32_t expiry_interval, uint64_t expires_at);

/**
 * @brief Restore a subscription of a restored session (@p options as in
 * ::mqttproto_store_record).
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (no such session, an invalid
 *         filter or options byte); ::MQTTPROTO_ERR_BAD_STATE;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_subscription(mqttproto_broker *broker,
                                                        mqttproto_str client_id,
                                                        mqttproto_str topic_filter, uint8_t options,
                                                        uint32_t subscription_identifier);

/**
 * @brief Restore a message that deliveries, retained entries or wills
 * restored next refer to by @p message_id. The broker holds it until
 * restore_finish(), and after that as long as something refers to it.
 * @param message The bytes of a ::MQTTPROTO_STORE_MESSAGE_PUT record
 *        (copied).
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (id 0 or already restored,
 *         @p qos above 2, bytes that are not a QoS 0 MQTT 5 PUBLISH with a
 *         topic); ::MQTTPROTO_ERR_BAD_STATE; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_message(mqttproto_broker *broker, uint64_t message_id,
                                                   mqttproto_bin message, uint8_t qos,
                                                   uint64_t expires_at);

/**
 * @brief Restore a delivery at the end of a restored session's queue
 * (restore them in increasing delivery_id). A sent or released one is sent
 * again, with DUP, or its PUBREL again, when the session's client
 * reconnects [MQTT-4.4.0-1].
 * @param packet_id Required (non-zero, unique in the session) for
 *        ::MQTTPROTO_STORE_STAGE_SENT and ::MQTTPROTO_STORE_STAGE_RELEASED;
 *        0 for ::MQTTPROTO_STORE_STAGE_QUEUED.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (no such session or message,
 *         qos not 1 or 2, a stage or packet identifier that does not fit,
 *         more than 255 identifiers); ::MQTTPROTO_ERR_BAD_STATE;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_delivery(
    mqttproto_broker *broker, mqttproto_str client_id, uint64_t delivery_id, uint64_t message_id,
    uint8_t qos, bool retain, bool shared, const uint32_t *subscription_identifiers,
    size_t subscription_identifier_count, uint16_t packet_id, mqttproto_store_delivery_stage stage);

/**
 * @brief Restore a retained message under @p topic.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (no such message, an invalid
 *         topic); ::MQTTPROTO_ERR_BAD_STATE; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_retained(mqttproto_broker *broker, mqttproto_str topic,
                                                    uint64_t message_id);

/**
 * @brief Restore the pending will of a restored session.
 * @param will_at When it is published; UINT64_MAX for the will of a
 *        connection that was open when the state was saved: that connection
 *        is gone, so it is published @p will_delay seconds after
 *        restore_finish() (or when the session ends, if sooner).
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (no such session or message,
 *         the session has a will); ::MQTTPROTO_ERR_BAD_STATE;
 *         ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_will(mqttproto_broker *broker, mqttproto_str client_id,
                                                uint64_t message_id, uint32_t will_delay,
                                                uint64_t will_at);

/**
 * @brief Restore an inbound QoS 2 packet identifier awaiting PUBREL: a
 * repeat of that PUBLISH is acknowledged and not routed again.
 * @return 0; ::MQTTPROTO_ERR_INVALID_ARGUMENT (no such session, id 0);
 *         ::MQTTPROTO_ERR_BAD_STATE; ::MQTTPROTO_ERR_NO_MEMORY.
 */
MQTTPROTO_API int mqttproto_broker_restore_inbound(mqttproto_broker *broker,
                                                   mqttproto_str client_id, uint16_t packet_id);

/**
 * @brief End the restore at @p now_ms: messages nothing refers to are
 * released, sessions and wills of connections open at the save get their
 * timers from now, and what expired meanwhile is dropped (sessions whose
 * time passed end, publishing their wills; messages past their expiry are
 * dropped when they would be sent). Records for what this changes go to
 * the store, when one is set. Clients may be created afterwards.
 * @return 0; ::MQTTPROTO_ERR_BAD_STATE (called twice, or after a client
 *         existed); ::MQTTPROTO_ERR_NO_MEMORY (call it again).
 */
MQTTPROTO_API int mqttproto_broker_restore_finish(mqttproto_broker *broker, uint64_t now_ms);

#ifdef __cplusplus
}
#endif

#endif /* MQTTPROTO_BROKER_STORE_H */
