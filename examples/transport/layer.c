#include "layer.h"

#include <string.h>

#define PUMP_CHUNK 16384

const char *xport_status_name(int status)
{
    switch (status) {
    case XPORT_OK:
        return "XPORT_OK";
    case XPORT_ERR_NO_MEMORY:
        return "XPORT_ERR_NO_MEMORY";
    case XPORT_ERR_INVALID:
        return "XPORT_ERR_INVALID";
    case XPORT_ERR_TLS:
        return "XPORT_ERR_TLS";
    case XPORT_ERR_HANDSHAKE:
        return "XPORT_ERR_HANDSHAKE";
    case XPORT_ERR_PROTOCOL:
        return "XPORT_ERR_PROTOCOL";
    case XPORT_ERR_CLOSED:
        return "XPORT_ERR_CLOSED";
    default:
        return status > 0 ? "XPORT_OK" : "XPORT_ERR_UNKNOWN";
    }
}

void xport_chain_init(xport_chain *c)
{
    memset(c, 0, sizeof *c);
    tbuf_init(&c->in);
    tbuf_init(&c->out);
}

void xport_chain_free(xport_chain *c)
{
    for (size_t i = 0; i < c->count; i++) {
        c->layers[i].ops->destroy(c->layers[i].self);
    }
    c->count = 0;
    tbuf_free(&c->in);
    tbuf_free(&c->out);
}

int xport_chain_push(xport_chain *c, xport_layer layer)
{
    if (layer.ops == NULL || layer.self == NULL) {
        return XPORT_ERR_INVALID;
    }
    if (c->count == XPORT_MAX_LAYERS) {
        layer.ops->destroy(layer.self);
        return XPORT_ERR_INVALID;
    }
    c->layers[c->count++] = layer;
    return XPORT_OK;
}

static void set_error(xport_chain *c, int err)
{
    if (c->error == 0 && err < 0) {
        c->error = err;
    }
}

/* Moves what each layer wants to send into the layer below, top first. */
static void pump_down(xport_chain *c)
{
    for (size_t i = c->count; i-- > 1;) {
        xport_layer *up = &c->layers[i];
        xport_layer *low = &c->layers[i - 1];
        const uint8_t *p;
        size_t n;
        while ((n = up->ops->net_out(up->self, &p)) > 0) {
            int r = low->ops->app_write(low->self, p, n);
            if (r < 0) {
                set_error(c, r);
                return;
            }
            up->ops->net_consume(up->self, n);
        }
    }
}

/* Moves what each layer decoded into the layer above, bottom first. */
static void pump_up(xport_chain *c)
{
    uint8_t tmp[PUMP_CHUNK];
    for (size_t i = 0; i + 1 < c->count; i++) {
        xport_layer *low = &c->layers[i];
        xport_layer *up = &c->layers[i + 1];
        for (;;) {
            ptrdiff_t n = low->ops->app_read(low->self, tmp, sizeof tmp);
            if (n == XPORT_ERR_CLOSED) {
                c->closed = true;
                break;
            }
            if (n < 0) {
                set_error(c, (int)n);
                return;
            }
            if (n == 0) {
                break;
            }
            int r = up->ops->net_in(up->self, tmp, (size_t)n);
            if (r < 0) {
                /* The upper layer failed (and may have queued a close). */
                set_error(c, r);
                break;
            }
        }
    }
}

static void pump(xport_chain *c)
{
    pump_up(c);
    pump_down(c);
}

int xport_chain_net_in(xport_chain *c, const uint8_t *data, size_t len)
{
    if (c->count == 0) {
        return tbuf_append(&c->in, data, len) ? XPORT_OK : XPORT_ERR_NO_MEMORY;
    }
    if (c->error != 0) {
        return c->error;
    }
    int r = c->layers[0].ops->net_in(c->layers[0].self, data, len);
    if (r < 0) {
        set_error(c, r);
    }
    pump(c);
    return c->error;
}

size_t xport_chain_net_out(xport_chain *c, const uint8_t **data)
{
    if (c->count == 0) {
        *data = tbuf_peek(&c->out);
        return tbuf_len(&c->out);
    }
    pump_down(c);
    return c->layers[0].ops->net_out(c->layers[0].self, data);
}

void xport_chain_net_consume(xport_chain *c, size_t n)
{
    if (c->count == 0) {
        tbuf_consume(&c->out, n);
        return;
    }
    c->layers[0].ops->net_consume(c->layers[0].self, n);
}

ptrdiff_t xport_chain_app_read(xport_chain *c, uint8_t *buf, size_t cap)
{
    if (c->count == 0) {
        return (ptrdiff_t)tbuf_take(&c->in, buf, cap);
    }
    pump(c);
    xport_layer *top = &c->layers[c->count - 1];
    ptrdiff_t n = top->ops->app_read(top->self, buf, cap);
    if (n == 0 && c->error != 0) {
        return c->error;
    }
    if (n == 0 && c->closed) {
        return XPORT_ERR_CLOSED;
    }
    return n;
}

int xport_chain_app_write(xport_chain *c, const uint8_t *data, size_t len)
{
    if (c->count == 0) {
        return tbuf_append(&c->out, data, len) ? XPORT_OK : XPORT_ERR_NO_MEMORY;
    }
    if (c->error != 0) {
        return c->error;
    }
    xport_layer *top = &c->layers[c->count - 1];
    int r = top->ops->app_write(top->self, data, len);
    if (r < 0) {
        /* Writing after our own close refuses the bytes but breaks nothing:
           the peer's answer to the close is still to be read. */
        if (r != XPORT_ERR_CLOSED) {
            set_error(c, r);
        }
        return r;
    }
    pump_down(c);
    return c->error;
}

bool xport_chain_ready(const xport_chain *c)
{
    for (size_t i = 0; i < c->count; i++) {
        if (!c->layers[i].ops->ready(c->layers[i].self)) {
            return false;
        }
    }
    return true;
}

bool xport_chain_finished(const xport_chain *c)
{
    if (c->error != 0 || c->closed) {
        return true;
    }
    for (size_t i = 0; i < c->count; i++) {
        if (c->layers[i].ops->finished(c->layers[i].self)) {
            return true;
        }
    }
    return false;
}

void xport_chain_close(xport_chain *c)
{
    for (size_t i = c->count; i-- > 0;) {
        c->layers[i].ops->close(c->layers[i].self);
        pump_down(c);
    }
}

const char *xport_chain_error(const xport_chain *c)
{
    for (size_t i = 0; i < c->count; i++) {
        const char *e = c->layers[i].ops->error(c->layers[i].self);
        if (e != NULL && e[0] != '\0') {
            return e;
        }
    }
    return "";
}
