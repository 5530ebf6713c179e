/* The echo server example's start function, shared by app_main (ESP-IDF) and main (Linux). */
#ifndef ECHO_SERVER_H
#define ECHO_SERVER_H

#include "wsk_server.h"

typedef struct {
    const char *bind_address;
    uint16_t port;
    const char *path;
    uint8_t max_clients;
    uint8_t backlog_conn;        /* listen backlog (0: CONFIG_WSK_BACKLOG_CONN) */
    int new_client_grace_ms;     /* 0: CONFIG_WSK_NEW_CLIENT_GRACE_MS (100 ms) */
    const char *subprotocols;
    size_t max_message_size;
    size_t rx_buffer_size;       /* per-client handshake buffer and bytes per socket read (0: the default, 1 KiB) */
    int send_timeout_ms;         /* 0: the default, 5 s */
    int close_timeout_ms;        /* 0: the default, 1 s */
    size_t max_send_queue;       /* per-client send queue while its socket is full (0: CONFIG_WSK_MAX_SEND_QUEUE) */
    int heartbeat_interval_ms;   /* ping after this much silence (0: Kconfig's 30 s; WSK_HEARTBEAT_OFF: none) */
    int heartbeat_timeout_ms;    /* then end a client still silent after this long (0: Kconfig's 10 s) */
    bool no_lru_purge;           /* true: a new client past max_clients gets 503 rather than the place of the least
                                    recently active one (lru_purge_enable off; Kconfig's default is on) */
    const char *server_cert_pem; /* wss: PEM certificate chain and key (NULL: ws) */
    const char *server_key_pem;
} echo_server_options_t;

wsk_err_t echo_server_start(const echo_server_options_t *options, wsk_server_handle_t *server);

#endif
