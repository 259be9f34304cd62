#include "listen_address.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

static char *dup_range(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p != NULL) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

static bool parse_port(const char *s, uint16_t *out)
{
    if (*s == '\0' || strlen(s) > 5) {
        return false;
    }
    unsigned long v = 0;
    for (const char *p = s; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535) {
        return false;
    }
    *out = (uint16_t)v;
    return true;
}

static bool parse_tcp(const char *spec, struct listen_address *out, char *err, size_t errlen)
{
    const char *host;
    size_t host_len;
    const char *colon;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL || close[1] != ':') {
            snprintf(err, errlen, "'%s': an IPv6 address is written [ADDRESS]:PORT", spec);
            return false;
        }
        host = spec + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (colon == NULL) {
            snprintf(err, errlen, "'%s': expected HOST:PORT, [IPV6]:PORT or unix:PATH", spec);
            return false;
        }
        host = spec;
        host_len = (size_t)(colon - spec);
        if (memchr(host, ':', host_len) != NULL) {
            snprintf(err, errlen, "'%s': write an IPv6 address in brackets: [ADDRESS]:PORT", spec);
            return false;
        }
    }
    if (host_len == 0) {
        snprintf(err, errlen, "'%s': the host is missing (e.g. 127.0.0.1:1883 or [::1]:1883)",
                 spec);
        return false;
    }
    if (!parse_port(colon + 1, &out->port)) {
        snprintf(err, errlen, "'%s': the port must be a number from 0 to 65535", spec);
        return false;
    }
    out->kind = LISTEN_TCP;
    out->host = dup_range(host, host_len);
    return out->host != NULL;
}

bool listen_address_parse(const char *text, struct listen_address *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (strncmp(text, "mqtts:", 6) == 0) {
        snprintf(err, errlen, "'%s': write tls:HOST:PORT for a TLS listener", text);
        return false;
    }
    bool ok;
    if (strncmp(text, "unix:", 5) == 0) {
        const char *path = text + 5;
        struct sockaddr_un sun;
        if (*path == '\0') {
            snprintf(err, errlen, "'%s': the socket path is missing", text);
            return false;
        }
        if (strlen(path) >= sizeof sun.sun_path) {
            snprintf(err, errlen, "'%s': a UNIX socket path has at most %zu bytes", text,
                     sizeof sun.sun_path - 1);
            return false;
        }
        out->kind = LISTEN_UNIX;
        out->path = dup_range(path, strlen(path));
        ok = out->path != NULL;
    } else if (strncmp(text, "tcp:", 4) == 0) {
        ok = parse_tcp(text + 4, out, err, errlen);
    } else if (strncmp(text, "tls:", 4) == 0) {
        ok = parse_tcp(text + 4, out, err, errlen);
        out->layers = LAYERS_TLS;
    } else if (strncmp(text, "ws:", 3) == 0) {
        ok = parse_tcp(text + 3, out, err, errlen);
        out->layers = LAYERS_WS;
    } else if (strncmp(text, "wss:", 4) == 0) {
        ok = parse_tcp(text + 4, out, err, errlen);
        out->layers = LAYERS_WSS;
    } else {
        ok = parse_tcp(text, out, err, errlen);
    }
    if (ok) {
        out->text = dup_range(text, strlen(text));
        ok = out->text != NULL;
        if (!ok) {
            snprintf(err, errlen, "out of memory");
        }
    }
    if (!ok) {
        listen_address_free(out);
    }
    return ok;
}

void listen_address_free(struct listen_address *a)
{
    free(a->text);
    free(a->host);
    free(a->path);
    memset(a, 0, sizeof *a);
}
