/*
 * An in-memory pump that wires client state machines to one broker: it
 * moves bytes both ways until every side is quiet, answers the broker's
 * decision events by a policy the test sets, and renders every event of
 * every side as one text line in a log that the test compares.
 *
 * Log lines:
 *   "B<i> CONNECT id=<client id> clean=<0|1> ka=<s>"        broker side
 *   "B<i> PUBLISH <topic> q<qos> r<retain> '<payload>'"
 *   "B<i> SUBSCRIBE id=<packet id> n=<count>"
 *   "B<i> UNSUBSCRIBE id=<packet id> rc=<hex codes>"
 *   "B<i> DISCONNECTED rc=<hex>" / "B<i> TAKEN_OVER" / "B<i> AUTH rc=<hex>"
 *   "C<i> CONNECTED sp=<0|1>" / "C<i> CONNECT_REFUSED rc=<hex>"
 *   "C<i> MESSAGE <topic> q<qos> r<retain> d<dup> '<payload>'[ sid=<ids>][ exp=<s>]"
 *   "C<i> PUBLISH_COMPLETED id=<n> rc=<hex>" / "C<i> PUBLISH_FAILED id=<n> rc=<hex> err=<name>"
 *   "C<i> SUBSCRIBE_ACK id=<n> rc=<hex codes>" / "C<i> UNSUBSCRIBE_ACK ..."
 *   "C<i> DISCONNECTED rc=<hex>" / "C<i> AUTH rc=<hex>" / "C<i> REQUEST_FAILED id=<n>"
 */
#ifndef MQTTPROTO_TEST_PUMP_H
#define MQTTPROTO_TEST_PUMP_H

#include "testutil.h"

#define PUMP_MAX_PEERS 16
#define PUMP_LOG_CAP   65536

struct pump_peer {
    mqttproto_client *client;
    mqttproto_broker_client *conn; /* NULL while not connected */
    bool in_use;
};

struct pump {
    mqttproto_broker *broker;
    struct pump_peer peers[PUMP_MAX_PEERS];
    uint64_t now_ms;
    /* Policy for the broker's decisions. */
    uint8_t connect_rc;          /* reason code for every CONNECT; default 0x00 */
    uint8_t subscribe_rc;        /* 0xFF (default): grant the requested QoS; else this code */
    const char *deny_publish_to; /* with authorize_publish: topic refused with 0x87 */
    const char *deny_subscribe;  /* filter refused with 0x87 */
    bool hold_decisions;         /* leave CONNECT/SUBSCRIBE/PUBLISH unanswered */
    /* Chunk size used to move bytes (0: everything at once). */
    size_t chunk;
    char log[PUMP_LOG_CAP];
    size_t log_len;
};

/* Create the broker with @p settings (NULL: defaults). */
void pump_init(struct pump *p, const mqttproto_broker_settings *settings);
void pump_free(struct pump *p);

/* A client object in slot @p i (settings NULL: defaults). */
void pump_add_client(struct pump *p, int i, const mqttproto_client_settings *settings);

/* Open a connection for slot @p i and queue the CONNECT. */
void pump_connect(struct pump *p, int i, const mqttproto_connect_options *o);

/* Convenience: connect with client id, clean start and session expiry. */
void pump_connect_simple(struct pump *p, int i, const char *client_id, bool clean_start,
                         uint32_t session_expiry);

/* Move bytes until nothing moves; returns the number of rounds. */
int pump_run(struct pump *p);

/* The network connection of slot @p i ends (both sides told). */
void pump_drop(struct pump *p, int i);

/* The broker process dies: every connection is lost on the client side,
   the broker is destroyed without closing its clients, and a new empty
   one is created with @p settings (clients keep their sessions). */
void pump_crash(struct pump *p, const mqttproto_broker_settings *settings);

/* Advance the clock by @p ms and run every timer due. */
void pump_advance(struct pump *p, uint64_t ms);

/* Append a line to the log (the pump does so for every event). */
void pump_logf(struct pump *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forget the log. */
void pump_log_clear(struct pump *p);

/* Whether the log holds @p line as a whole line. */
bool pump_log_has(const struct pump *p, const char *line);

/* How many whole lines equal to @p line the log holds. */
int pump_log_count(const struct pump *p, const char *line);

/* Subscribe slot @p i to one filter at @p qos; returns the packet id. */
int32_t pump_subscribe(struct pump *p, int i, const char *filter, mqttproto_qos qos);

/* Publish from slot @p i; returns the packet id (0 for QoS 0). */
int32_t pump_publish(struct pump *p, int i, const char *topic, const char *payload,
                     mqttproto_qos qos, bool retain);

/* Feed raw bytes to the broker side of slot @p i (a misbehaving client);
   returns feed_bytes' result. */
ptrdiff_t pump_feed_raw(struct pump *p, int i, const uint8_t *data, size_t len);

/* Take the bytes the broker side of slot @p i wants to send, as hex, and
   consume them (for raw-client tests). */
const char *pump_take_out_hex(struct pump *p, int i, char *buf, size_t cap);

/* Open a broker connection for slot @p i with no client object (raw tests). */
void pump_open_raw(struct pump *p, int i);

#endif /* MQTTPROTO_TEST_PUMP_H */
