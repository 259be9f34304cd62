/*
 * Authentication and authorization as chains of C interfaces, the
 * counterparts of mqttproto's MQTTAuthenticator and MQTTAuthorizer.
 *
 * Each link returns a verdict: allow (with a reason code), deny (with the
 * reason code the client is sent), or continue with the next link. The
 * first allow or deny ends the walk; what happens when every link
 * continues is said on each chain function.
 *
 * Threads: authorizers always run on the event loop thread, and must be
 * quick (they are asked about every PUBLISH when any authorizer exists).
 * Authenticators run on the loop thread too, unless one of the chain sets
 * may_block: then the whole authenticator chain of each CONNECT runs on a
 * thread of libuv's pool (the client waits in the library's AUTHENTICATING
 * state, so the loop keeps serving everyone else). Such authenticators see
 * only copies of the CONNECT's data and must not touch the loop; data they
 * share with it must be read-only or locked.
 */
#ifndef BROKER_AUTH_H
#define BROKER_AUTH_H

#include "conn_info.h"

#include <mqttproto/mqttproto.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum auth_verdict {
    AUTH_CONTINUE = 0, /* no opinion: ask the next link */
    AUTH_ALLOW = 1,
    AUTH_DENY = 2,
};

struct auth_result {
    enum auth_verdict verdict;
    /* ALLOW: 0x00 for CONNECT and PUBLISH; for SUBSCRIBE the highest QoS
       granted (0x00, 0x01 or 0x02; the library also lowers it to what was
       asked). DENY: the reason code sent (CONNACK 0x86, 0x87, 0x8A...;
       SUBACK and PUBACK/PUBREC 0x87...), 0x80 or more. */
    uint8_t reason_code;
};

static inline struct auth_result auth_allow(uint8_t reason_code)
{
    struct auth_result r = {AUTH_ALLOW, reason_code};
    return r;
}

static inline struct auth_result auth_deny(uint8_t reason_code)
{
    struct auth_result r = {AUTH_DENY, reason_code};
    return r;
}

static inline struct auth_result auth_continue(void)
{
    struct auth_result r = {AUTH_CONTINUE, 0};
    return r;
}

/* What a CONNECT presents. The views are valid during the call only. */
struct auth_credentials {
    mqttproto_str client_id; /* empty when the client asked the server for one */
    bool has_username;
    mqttproto_str username;
    bool has_password;
    mqttproto_bin password; /* binary data */
    const struct connection_info *conn;
};

struct authenticator {
    const char *name; /* for logs */
    /* Set when authenticate() may take long (a slow hash, a remote
       lookup): the chain then runs on the thread pool. */
    bool may_block;
    struct auth_result (*authenticate)(void *user_data, const struct auth_credentials *cred);
    void *user_data;
    void (*destroy)(void *user_data); /* may be NULL */
};

/* A PUBLISH or SUBSCRIBE to decide. Views are valid during the call only. */
struct auth_request {
    /* PUBLISH: the topic name (a Topic Alias resolved). SUBSCRIBE: the
       topic filter, without its "$share/{group}/" prefix. */
    mqttproto_str topic;
    mqttproto_str share_group; /* SUBSCRIBE to a shared subscription; else empty */
    mqttproto_qos qos;         /* PUBLISH: its QoS; SUBSCRIBE: the maximum asked */
    bool retain;               /* PUBLISH */
    bool is_will;              /* PUBLISH: the will of a CONNECT, checked at connect time */
    mqttproto_str client_id;   /* assigned or given; empty for a will with none */
    bool has_username;
    mqttproto_str username;
    const struct connection_info *conn;
};

struct authorizer {
    const char *name;
    /* Either may be NULL: no opinion. */
    struct auth_result (*authorize_publish)(void *user_data, const struct auth_request *req);
    struct auth_result (*authorize_subscribe)(void *user_data, const struct auth_request *req);
    void *user_data;
    void (*destroy)(void *user_data); /* may be NULL */
};

struct auth_chain {
    struct authenticator *authenticators;
    size_t authenticator_count;
    struct authorizer *authorizers;
    size_t authorizer_count;
};

void auth_chain_init(struct auth_chain *chain);

/** Append a link (copied). False when out of memory. */
bool auth_chain_add_authenticator(struct auth_chain *chain, const struct authenticator *a);
bool auth_chain_add_authorizer(struct auth_chain *chain, const struct authorizer *a);

/** Whether some authenticator sets may_block. */
bool auth_chain_may_block(const struct auth_chain *chain);

/**
 * Walk the authenticators. When every one continues (or there is none) the
 * CONNECT is denied with 0x87 Not authorized: a connection needs a link
 * that lets it in (the built-in anonymous policy is the last link).
 */
struct auth_result auth_chain_authenticate(const struct auth_chain *chain,
                                           const struct auth_credentials *cred);

/**
 * Walk the authorizers. When every one continues (or there is none) the
 * request is allowed: without an authorizer, everything is.
 */
struct auth_result auth_chain_authorize_publish(const struct auth_chain *chain,
                                                const struct auth_request *req);
struct auth_result auth_chain_authorize_subscribe(const struct auth_chain *chain,
                                                  const struct auth_request *req);

/** Call every link's destroy and free the chain. */
void auth_chain_free(struct auth_chain *chain);

#endif /* BROKER_AUTH_H */
