#include "auth_builtin.h"
#include "password_file.h"

#include <stdlib.h>
#include <string.h>

struct password_auth {
    struct password_db db;
    /* For unknown users: a hash is computed anyway, at the cost of a real
       entry, so that timing does not tell which user names exist. */
    struct password_entry decoy;
};

static struct auth_result password_authenticate(void *user_data, const struct auth_credentials *c)
{
    const struct password_auth *pa = user_data;
    if (!c->has_username) {
        return auth_continue();
    }
    const struct password_entry *e = password_db_find(&pa->db, c->username.data, c->username.len);
    const uint8_t *pw = c->has_password ? c->password.data : NULL;
    size_t pw_len = c->has_password ? c->password.len : 0;
    if (e == NULL) {
        (void)password_verify(&pa->decoy, pw, pw_len);
        return auth_deny(MQTTPROTO_RC_BAD_USERNAME_OR_PASSWORD);
    }
    if (!c->has_password || !password_verify(e, pw, pw_len)) {
        return auth_deny(MQTTPROTO_RC_BAD_USERNAME_OR_PASSWORD);
    }
    return auth_allow(MQTTPROTO_RC_SUCCESS);
}

static void password_destroy(void *user_data)
{
    struct password_auth *pa = user_data;
    password_db_free(&pa->db);
    free(pa);
}

bool password_authenticator_create(const char *path, struct authenticator *out)
{
    struct password_auth *pa = calloc(1, sizeof *pa);
    if (pa == NULL) {
        return false;
    }
    if (!password_db_load(&pa->db, path)) {
        free(pa);
        return false;
    }
    uint32_t iterations =
        pa->db.count > 0 ? pa->db.entries[0].iterations : PASSWORD_DEFAULT_ITERATIONS;
    static const uint8_t nothing[1] = {0};
    if (!password_make(nothing, 0, iterations, &pa->decoy)) {
        password_destroy(pa);
        return false;
    }
    memset(out, 0, sizeof *out);
    out->name = "password file";
    out->may_block = true;
    out->authenticate = password_authenticate;
    out->user_data = pa;
    out->destroy = password_destroy;
    return true;
}

/* ---- the anonymous policy ---- */

static struct auth_result anonymous_authenticate(void *user_data, const struct auth_credentials *c)
{
    bool allow = user_data != NULL;
    if (allow) {
        return auth_allow(MQTTPROTO_RC_SUCCESS);
    }
    return auth_deny(c->has_username ? MQTTPROTO_RC_BAD_USERNAME_OR_PASSWORD
                                     : MQTTPROTO_RC_NOT_AUTHORIZED);
}

void anonymous_authenticator_create(bool allow_anonymous, struct authenticator *out)
{
    static char yes;
    memset(out, 0, sizeof *out);
    out->name = "anonymous policy";
    out->authenticate = anonymous_authenticate;
    out->user_data = allow_anonymous ? &yes : NULL;
}
