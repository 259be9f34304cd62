/* SO_PEERCRED and struct ucred are GNU extensions. */
#define _GNU_SOURCE
#include "conn_info.h"

#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

void conn_info_from_tcp(struct connection_info *info, const char *listener, const uv_tcp_t *tcp)
{
    memset(info, 0, sizeof *info);
    info->transport = "tcp";
    info->listener = listener;
    struct sockaddr_storage ss;
    int len = (int)sizeof ss;
    char host[INET6_ADDRSTRLEN];
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(info->peer, sizeof info->peer, "unknown");
        return;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, host, sizeof host);
        snprintf(info->peer, sizeof info->peer, "[%s]:%u", host, ntohs(a->sin6_port));
    } else {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        uv_ip4_name(a, host, sizeof host);
        snprintf(info->peer, sizeof info->peer, "%s:%u", host, ntohs(a->sin_port));
    }
}

void conn_info_from_pipe(struct connection_info *info, const char *listener, const uv_pipe_t *pipe)
{
    memset(info, 0, sizeof *info);
    info->transport = "unix";
    info->listener = listener;
    snprintf(info->peer, sizeof info->peer, "unix");
    uv_os_fd_t fd;
    if (uv_fileno((const uv_handle_t *)pipe, &fd) != 0) {
        return;
    }
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 && len == sizeof cred) {
        info->has_peer_credentials = true;
        info->pid = cred.pid;
        info->uid = cred.uid;
        info->gid = cred.gid;
        snprintf(info->peer, sizeof info->peer, "unix pid=%ld uid=%lu", (long)cred.pid,
                 (unsigned long)cred.uid);
    }
}
