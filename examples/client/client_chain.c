#include "client_chain.h"

#include "ws.h"

#include <stdio.h>
#include <string.h>

int client_chain_build(xport_chain *chain, tls_mem_ctx **tls_ctx,
                       const mqttproto_blocking_options *o, char *err, size_t errlen, bool *is_tls)
{
    char why[400];
    bool tls = o->transport == MQTTPROTO_BLOCKING_TLS || o->transport == MQTTPROTO_BLOCKING_WSS;
    bool websocket =
        o->transport == MQTTPROTO_BLOCKING_WS || o->transport == MQTTPROTO_BLOCKING_WSS;
    *is_tls = true;
    if (tls) {
        if (*tls_ctx == NULL) {
            tls_mem_config cfg;
            memset(&cfg, 0, sizeof cfg);
            cfg.role = TLS_MEM_CLIENT;
            cfg.ca_file = o->tls.ca_file;
            cfg.ca_path = o->tls.ca_path;
            cfg.cert_file = o->tls.cert_file;
            cfg.key_file = o->tls.key_file;
            cfg.insecure = o->tls.insecure;
            *tls_ctx = tls_mem_ctx_new(&cfg, why, sizeof why);
            if (*tls_ctx == NULL) {
                snprintf(err, errlen, "TLS: %s", why);
                return -1;
            }
        }
        const char *name = o->tls.server_name != NULL ? o->tls.server_name : o->host;
        tls_mem *t = tls_mem_new(*tls_ctx, name, why, sizeof why);
        if (t == NULL) {
            snprintf(err, errlen, "TLS: %s", why);
            return -1;
        }
        xport_chain_push(chain, tls_mem_layer(t));
    }
    if (websocket) {
        *is_tls = false;
        ws_config cfg;
        ws_config_default(&cfg, WS_CLIENT);
        char host[300];
        uint16_t def = mqttproto_blocking_default_port((int)o->transport);
        uint16_t port = o->port != 0 ? o->port : def;
        bool v6 = strchr(o->host, ':') != NULL;
        if (port == def) {
            snprintf(host, sizeof host, v6 ? "[%s]" : "%s", o->host);
        } else {
            snprintf(host, sizeof host, v6 ? "[%s]:%u" : "%s:%u", o->host, (unsigned)port);
        }
        cfg.host = host;
        cfg.path = o->ws_path != NULL ? o->ws_path : "/mqtt";
        if (o->connect.maximum_packet_size != 0) {
            cfg.max_frame_size = (uint64_t)o->connect.maximum_packet_size + 64 * 1024;
        }
        ws *w = ws_new(&cfg, why, sizeof why);
        if (w == NULL) {
            snprintf(err, errlen, "WebSocket: %s", why);
            return -1;
        }
        xport_chain_push(chain, ws_layer(w));
    }
    return 0;
}

const char *client_chain_phase(const xport_chain *chain)
{
    for (size_t i = 0; i < chain->count; i++) {
        const xport_layer *l = &chain->layers[i];
        if (!l->ops->ready(l->self)) {
            return strcmp(l->ops->name, "tls") == 0 ? "the TLS handshake" : "the WebSocket upgrade";
        }
    }
    return NULL;
}
