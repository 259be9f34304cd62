/*
 * A CONNECT waiting for the authenticator chain: the credentials copied out
 * of the library's event (whose views last only until the next call on the
 * client), so that the chain can run on libuv's thread pool while the loop
 * goes on. The answer is applied on the loop thread by
 * conn_connect_decided().
 */
#ifndef BROKER_CONNECT_REQUEST_H
#define BROKER_CONNECT_REQUEST_H

#include "auth.h"
#include "conn_info.h"

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct connection;

struct connect_request {
    uv_work_t work;
    struct connection *conn; /* NULL once the connection went away */
    const struct auth_chain *chain;
    struct connection_info info; /* a copy: the connection may go first */

    mqttproto_str client_id; /* views into the copies below */
    bool has_username;
    mqttproto_str username;
    bool has_password;
    mqttproto_bin password;
    bool has_will;
    mqttproto_str will_topic;
    mqttproto_qos will_qos;
    bool will_retain;
    uint16_t keep_alive;
    bool clean_start;

    struct auth_result result;
    size_t data_len;
    uint8_t data[]; /* the copied strings */
};

/** Copy what the CONNECT event @p ev presents. NULL when out of memory. */
struct connect_request *connect_request_new(const mqttproto_broker_event *ev,
                                            const struct connection_info *info,
                                            const struct auth_chain *chain);

/** Run the authenticator chain into result (any thread). */
void connect_request_authenticate(struct connect_request *r);

/**
 * Run the chain on the thread pool; on the loop thread afterwards, the
 * connection gets conn_connect_decided() (unless it went away) and the
 * request is freed. Returns a libuv error (the request is then not queued).
 */
int connect_request_queue(struct connect_request *r, uv_loop_t *loop);

/** The connection goes away first: the answer will be dropped. */
void connect_request_detach(struct connect_request *r);

/** Free (the password copy is wiped). */
void connect_request_free(struct connect_request *r);

#endif /* BROKER_CONNECT_REQUEST_H */
