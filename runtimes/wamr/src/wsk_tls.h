/* TLS over mbedTLS for wsk_transport.c: the TLS half of each wsk_conn_* call (wsk_tls.c; stubs without TLS). */
#ifndef WSK_TLS_H
#define WSK_TLS_H

#include "wsk_transport.h"

/** As wsk_conn_recv, for a connection with TLS. */
ssize_t wsk_tls_recv(wsk_conn_t *conn, void *buf, size_t len);
/** As wsk_conn_send: bytes taken (> 0), WSK_CONN_AGAIN (socket full), WSK_CONN_WANT_READ, or -1. */
ssize_t wsk_tls_send(wsk_conn_t *conn, const void *buf, size_t len);
size_t wsk_tls_pending(const wsk_conn_t *conn);
/** Send close_notify if it fits now, then free the session. */
void wsk_tls_detach(wsk_conn_t *conn);

#endif
