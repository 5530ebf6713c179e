/* Plain TCP reads and writes, and the dispatch to TLS (wsk_tls.c) for connections that have it. */
#include "wsk_transport.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>

#include "wsk_platform.h"
#include "wsk_socket.h"
#include "wsk_tls.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

ssize_t wsk_conn_recv(wsk_conn_t *conn, void *buf, size_t len)
{
    if (conn->tls) return wsk_tls_recv(conn, buf, len);
    ssize_t n = recv(conn->fd, buf, len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return WSK_CONN_AGAIN;
    return n < 0 ? -1 : n;
}

ssize_t wsk_conn_send(wsk_conn_t *conn, const void *buf, size_t len)
{
    if (conn->tls) return wsk_tls_send(conn, buf, len);
    ssize_t n = send(conn->fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return WSK_CONN_AGAIN;
    return n < 0 ? -1 : n;
}

wsk_err_t wsk_conn_send_all(wsk_conn_t *conn, const void *buf, size_t len, int timeout_ms)
{
    if (conn->fd < 0) return WSK_ERR_INVALID_STATE;
    const uint8_t *at = buf;
    int64_t deadline = wsk_now_ms() + timeout_ms;
    while (len > 0) {
        /* After WSK_CONN_AGAIN / WANT_READ the same `at` and `len` go again, as TLS requires. */
        ssize_t n = wsk_conn_send(conn, at, len);
        if (n > 0) {
            at += n;
            len -= (size_t)n;
            continue;
        }
        if (n != WSK_CONN_AGAIN && n != WSK_CONN_WANT_READ) return WSK_ERR_SOCKET;
        int64_t left = deadline - wsk_now_ms();
        if (left <= 0) return WSK_ERR_TIMEOUT;
        struct pollfd pfd = {.fd = conn->fd, .events = n == WSK_CONN_WANT_READ ? POLLIN : POLLOUT};
        if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR) return WSK_ERR_SOCKET;
    }
    return WSK_OK;
}

size_t wsk_conn_pending(const wsk_conn_t *conn)
{
    return conn->tls ? wsk_tls_pending(conn) : 0;
}

int wsk_conn_wait_readable(wsk_conn_t *conn, int timeout_ms)
{
    if (wsk_conn_pending(conn) > 0) return 1;
    return wsk_socket_wait_readable(conn->fd, timeout_ms);
}

void wsk_conn_close(wsk_conn_t *conn)
{
    if (conn->tls) wsk_tls_detach(conn);
    wsk_socket_close(&conn->fd);
}
