#include "connect_request.h"

#include "connection.h"
#include "log.h"

#include <openssl/crypto.h>
#include <stdlib.h>
#include <string.h>

static size_t copy_in(uint8_t *base, size_t *at, const void *src, size_t len)
{
    size_t start = *at;
    if (len > 0) {
        memcpy(base + start, src, len);
    }
    *at += len;
    return start;
}

struct connect_request *connect_request_new(const mqttproto_broker_event *ev,
                                            const struct connection_info *info,
                                            const struct auth_chain *chain)
{
    size_t will_len = ev->has_will ? ev->will->topic.len : 0;
    size_t id_len = info->tls_identity != NULL ? strlen(info->tls_identity) + 1 : 0;
    size_t total = ev->client_id.len + ev->username.len + ev->password.len + will_len + id_len;
    struct connect_request *r = calloc(1, sizeof *r + total);
    if (r == NULL) {
        return NULL;
    }
    r->chain = chain;
    r->info = *info;
    r->data_len = total;
    size_t at = 0;
    size_t o = copy_in(r->data, &at, ev->client_id.data, ev->client_id.len);
    r->client_id = (mqttproto_str){(const char *)r->data + o, ev->client_id.len};
    r->has_username = ev->has_username;
    o = copy_in(r->data, &at, ev->username.data, ev->has_username ? ev->username.len : 0);
    r->username =
        (mqttproto_str){(const char *)r->data + o, ev->has_username ? ev->username.len : 0};
    r->has_password = ev->has_password;
    o = copy_in(r->data, &at, ev->password.data, ev->has_password ? ev->password.len : 0);
    r->password = mqttproto_bin_make(r->data + o, ev->has_password ? ev->password.len : 0);
    r->has_will = ev->has_will;
    if (ev->has_will) {
        o = copy_in(r->data, &at, ev->will->topic.data, will_len);
        r->will_topic = (mqttproto_str){(const char *)r->data + o, will_len};
        r->will_qos = ev->will->qos;
        r->will_retain = ev->will->retain;
    }
    if (id_len > 0) {
        /* The TLS identity lives in the connection, which may go first. */
        o = copy_in(r->data, &at, info->tls_identity, id_len);
        r->info.tls_identity = (const char *)r->data + o;
    }
    r->keep_alive = ev->keep_alive;
    r->clean_start = ev->clean_start;
    return r;
}

void connect_request_authenticate(struct connect_request *r)
{
    struct auth_credentials cred;
    cred.client_id = r->client_id;
    cred.has_username = r->has_username;
    cred.username = r->username;
    cred.has_password = r->has_password;
    cred.password = r->password;
    cred.conn = &r->info;
    r->result = auth_chain_authenticate(r->chain, &cred);
}

static void work(uv_work_t *w)
{
    connect_request_authenticate((struct connect_request *)(void *)w);
}

static void after_work(uv_work_t *w, int status)
{
    struct connect_request *r = (struct connect_request *)(void *)w;
    struct connection *c = r->conn;
    if (c != NULL && status == 0) {
        c->auth_job = NULL;
        conn_connect_decided(c, r);
        /* Packets that came after the CONNECT, held meanwhile. */
        (void)conn_drain_events(c);
        conn_resume_input(c);
        conn_mark_dirty(c);
        conn_schedule(c);
    }
    connect_request_free(r);
}

int connect_request_queue(struct connect_request *r, uv_loop_t *loop)
{
    return uv_queue_work(loop, &r->work, work, after_work);
}

void connect_request_detach(struct connect_request *r)
{
    r->conn = NULL;
    /* Not started yet: it never will be (after_work sees UV_ECANCELED). */
    (void)uv_cancel((uv_req_t *)&r->work);
}

void connect_request_free(struct connect_request *r)
{
    if (r != NULL) {
        OPENSSL_cleanse(r->data, r->data_len);
        free(r);
    }
}
