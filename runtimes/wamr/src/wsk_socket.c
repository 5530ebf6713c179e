#include "wsk_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include "wsk_platform.h"

wsk_err_t wsk_socket_prepare(int fd)
{
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return WSK_ERR_SOCKET;
#ifdef FD_CLOEXEC
    fcntl(fd, F_SETFD, FD_CLOEXEC);
#endif
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return WSK_OK;
}

static int wait_for(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    for (;;) {
        int n = poll(&pfd, 1, timeout_ms);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return n;
        return 1;
    }
}

int wsk_socket_wait_readable(int fd, int timeout_ms)
{
    return wait_for(fd, POLLIN, timeout_ms);
}

int wsk_socket_connect(const char *host, int port, int timeout_ms)
{
    char service[8];
    snprintf(service, sizeof(service), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *list = NULL;
    if (getaddrinfo(host, service, &hints, &list) != 0 || !list) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = list; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) continue;
        if (wsk_socket_prepare(fd) != WSK_OK) {
            wsk_socket_close(&fd);
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
        int err = 0;
        socklen_t err_len = sizeof(err);
        if (errno != EINPROGRESS || wait_for(fd, POLLOUT, timeout_ms) != 1 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) != 0 || err != 0) {
            if (err != 0) errno = err;
            wsk_socket_close(&fd);
        }
    }
    freeaddrinfo(list);
    return fd;
}

void wsk_socket_close(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}
