/* A connection's send queue (wsk_send_queue.h). */
#include "wsk_send_queue.h"

#include <string.h>

#include "wsk_platform.h"

ssize_t wsk_send_queue_send_now(wsk_send_queue_t *q, wsk_conn_t *conn, const uint8_t *bytes, size_t len)
{
    size_t sent = 0;
    q->wants_read = false;
    while (sent < len) {
        size_t piece = q->tls_retry ? q->tls_retry : len - sent;
        ssize_t n = wsk_conn_send(conn, bytes + sent, piece);
        if (n == WSK_CONN_AGAIN || n == WSK_CONN_WANT_READ) {
            if (conn->tls) q->tls_retry = piece;
            q->wants_read = n == WSK_CONN_WANT_READ;
            break;
        }
        if (n < 0) return -1;
        q->tls_retry = 0;
        sent += (size_t)n;
        if (n == 0 || (!conn->tls && (size_t)n < piece)) break; /* a plain socket took what it could */
    }
    return (ssize_t)sent;
}

ssize_t wsk_send_queue_flush(wsk_send_queue_t *q, wsk_conn_t *conn)
{
    if (q->len == 0) return 0;
    ssize_t n = wsk_send_queue_send_now(q, conn, q->bytes + q->head, q->len);
    if (n <= 0) return n;
    q->head += (size_t)n;
    q->len -= (size_t)n;
    q->progress = wsk_now_ms();
    if (q->len == 0) wsk_send_queue_clear(q);
    return n;
}

wsk_err_t wsk_send_queue_push(wsk_send_queue_t *q, const uint8_t *bytes, size_t len, size_t growth_limit)
{
    size_t need = q->len + len;
    if (q->head + need > q->cap) {
        /* No room behind: move the unsent bytes to the front, and grow if that is not enough. */
        if (q->head > 0) memmove(q->bytes, q->bytes + q->head, q->len);
        q->head = 0;
        if (need > q->cap) {
            size_t cap = q->cap * 2 < growth_limit ? q->cap * 2 : growth_limit;
            if (cap < need) cap = need;
            uint8_t *grown = wsk_realloc(q->bytes, cap);
            if (!grown) return WSK_ERR_NO_MEM;
            q->bytes = grown;
            q->cap = cap;
        }
    }
    if (q->len == 0) q->progress = wsk_now_ms();
    memcpy(q->bytes + q->head + q->len, bytes, len);
    q->len += len;
    return WSK_OK;
}

wsk_err_t wsk_send_queue_write(wsk_send_queue_t *q, wsk_conn_t *conn, const uint8_t *bytes, size_t len)
{
    ssize_t sent = q->len == 0 ? wsk_send_queue_send_now(q, conn, bytes, len) : 0;
    if (sent < 0) return WSK_ERR_SOCKET;
    if ((size_t)sent == len) return WSK_OK;
    return wsk_send_queue_push(q, bytes + sent, len - (size_t)sent, len - (size_t)sent);
}

void wsk_send_queue_clear(wsk_send_queue_t *q)
{
    wsk_free(q->bytes);
    q->bytes = NULL;
    q->head = q->len = q->cap = q->tls_retry = 0;
    q->wants_read = false;
}
