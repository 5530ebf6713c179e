/*
 * A connection's byte transport: plain TCP, or TLS (wss://) through mbedTLS over the same non-blocking socket.
 * The server and client read and write only through these calls, so neither knows which one it has.
 * TLS exists when the host is built with WSK_TLS=1 (ESP-IDF: CONFIG_WSK_TLS; Linux: mbedTLS found by CMake).
 */
#ifndef WSK_TRANSPORT_H
#define WSK_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "wsk_common.h"

/** Certificates and settings shared by every TLS connection of one server or client. */
typedef struct wsk_tls_config wsk_tls_config_t;
/** One TLS connection's state. */
typedef struct wsk_tls_session wsk_tls_session_t;

typedef struct {
    int fd;
    wsk_tls_session_t *tls; /**< NULL: plain TCP */
} wsk_conn_t;

/** wsk_conn_recv: nothing to read now (try again when readable); wsk_conn_send: the socket is full. */
#define WSK_CONN_AGAIN (-2)
/** wsk_conn_send: TLS must read before it can write (a TLS handshake message): try again when readable. */
#define WSK_CONN_WANT_READ (-3)
/** wsk_tls_handshake: call again once the socket is readable / writable. */
#define WSK_TLS_WANT_READ 1
#define WSK_TLS_WANT_WRITE 2

/** Read up to `len` bytes: the count, 0 when the peer ended the connection, WSK_CONN_AGAIN, or -1 on error. */
ssize_t wsk_conn_recv(wsk_conn_t *conn, void *buf, size_t len);
/**
 * One write that never waits: the bytes taken (> 0; TLS takes at most one record's worth), WSK_CONN_AGAIN when
 * the socket is full, WSK_CONN_WANT_READ, or -1 on error. With TLS, a write that returned WSK_CONN_AGAIN or
 * WSK_CONN_WANT_READ must be repeated with the same bytes and length before any other (mbedTLS already made a
 * record of them and is sending it).
 */
ssize_t wsk_conn_send(wsk_conn_t *conn, const void *buf, size_t len);
/** Send all `len` bytes, waiting at most `timeout_ms` in total for the socket to take them. */
wsk_err_t wsk_conn_send_all(wsk_conn_t *conn, const void *buf, size_t len, int timeout_ms);
/** Decrypted bytes TLS already holds (readable without the socket becoming readable); 0 for plain TCP. */
size_t wsk_conn_pending(const wsk_conn_t *conn);
/** Wait until there is something to read: 1 yes, 0 timed out, -1 poll failed. */
int wsk_conn_wait_readable(wsk_conn_t *conn, int timeout_ms);
/** End TLS politely if open, free it, close the socket; `conn` becomes {-1, NULL}. */
void wsk_conn_close(wsk_conn_t *conn);

/** True when this build has TLS. */
bool wsk_tls_available(void);
/** A server's TLS settings from a PEM certificate chain and its PEM private key (NUL-terminated). */
wsk_err_t wsk_tls_server_config(const char *cert_pem, const char *key_pem, wsk_tls_config_t **out);
/**
 * A client's TLS settings: verify the server against `ca_pem` (PEM, NUL-terminated) or the certificates
 * `crt_bundle_attach` installs (ESP-IDF's esp_crt_bundle_attach); one of them is required.
 * `skip_common_name_check` skips only the host name check, never the chain.
 */
wsk_err_t wsk_tls_client_config(const char *ca_pem, wsk_err_t (*crt_bundle_attach)(void *conf),
                                bool skip_common_name_check, wsk_tls_config_t **out);
void wsk_tls_config_free(wsk_tls_config_t *config);
/** Start TLS on `conn->fd` (`hostname`: the client's SNI and name to verify; NULL on a server). */
wsk_err_t wsk_tls_attach(wsk_conn_t *conn, wsk_tls_config_t *config, const char *hostname);
/** Advance the TLS handshake: WSK_OK when done, WSK_TLS_WANT_READ/WRITE, or WSK_ERR_HANDSHAKE. */
int wsk_tls_handshake(wsk_conn_t *conn);

#endif
