#include "auth.h"

#include <stdlib.h>
#include <string.h>

void auth_chain_init(struct auth_chain *chain)
{
    memset(chain, 0, sizeof *chain);
}

bool auth_chain_add_authenticator(struct auth_chain *chain, const struct authenticator *a)
{
    struct authenticator *v =
        realloc(chain->authenticators, (chain->authenticator_count + 1) * sizeof *v);
    if (v == NULL) {
        return false;
    }
    chain->authenticators = v;
    v[chain->authenticator_count++] = *a;
    return true;
}

bool auth_chain_add_authorizer(struct auth_chain *chain, const struct authorizer *a)
{
    struct authorizer *v = realloc(chain->authorizers, (chain->authorizer_count + 1) * sizeof *v);
    if (v == NULL) {
        return false;
    }
    chain->authorizers = v;
    v[chain->authorizer_count++] = *a;
    return true;
}

bool auth_chain_may_block(const struct auth_chain *chain)
{
    for (size_t i = 0; i < chain->authenticator_count; i++) {
        if (chain->authenticators[i].may_block) {
            return true;
        }
    }
    return false;
}

struct auth_result auth_chain_authenticate(const struct auth_chain *chain,
                                           const struct auth_credentials *cred)
{
    for (size_t i = 0; i < chain->authenticator_count; i++) {
        const struct authenticator *a = &chain->authenticators[i];
        struct auth_result r = a->authenticate(a->user_data, cred);
        if (r.verdict != AUTH_CONTINUE) {
            return r;
        }
    }
    return auth_deny(MQTTPROTO_RC_NOT_AUTHORIZED);
}

struct auth_result auth_chain_authorize_publish(const struct auth_chain *chain,
                                                const struct auth_request *req)
{
    for (size_t i = 0; i < chain->authorizer_count; i++) {
        const struct authorizer *a = &chain->authorizers[i];
        if (a->authorize_publish == NULL) {
            continue;
        }
        struct auth_result r = a->authorize_publish(a->user_data, req);
        if (r.verdict != AUTH_CONTINUE) {
            return r;
        }
    }
    return auth_allow(MQTTPROTO_RC_SUCCESS);
}

struct auth_result auth_chain_authorize_subscribe(const struct auth_chain *chain,
                                                  const struct auth_request *req)
{
    for (size_t i = 0; i < chain->authorizer_count; i++) {
        const struct authorizer *a = &chain->authorizers[i];
        if (a->authorize_subscribe == NULL) {
            continue;
        }
        struct auth_result r = a->authorize_subscribe(a->user_data, req);
        if (r.verdict != AUTH_CONTINUE) {
            return r;
        }
    }
    return auth_allow(MQTTPROTO_RC_GRANTED_QOS_2);
}

void auth_chain_free(struct auth_chain *chain)
{
    for (size_t i = 0; i < chain->authenticator_count; i++) {
        if (chain->authenticators[i].destroy != NULL) {
            chain->authenticators[i].destroy(chain->authenticators[i].user_data);
        }
    }
    for (size_t i = 0; i < chain->authorizer_count; i++) {
        if (chain->authorizers[i].destroy != NULL) {
            chain->authorizers[i].destroy(chain->authorizers[i].user_data);
        }
    }
    free(chain->authenticators);
    free(chain->authorizers);
    memset(chain, 0, sizeof *chain);
}
