/* The client example's run function, shared by app_main (ESP-IDF) and main (Linux). */
#ifndef CLIENT_EXAMPLE_H
#define CLIENT_EXAMPLE_H

#include "wsk_client.h"

typedef struct {
    const char *uri;
    const char *subprotocol;
    const char *headers;
    int clients;              /* connections at once */
    size_t max_fragment_size; /* outgoing fragmentation */
    size_t max_message_size;  /* incoming limit (1009 beyond); 0: none */
    int ping_interval_sec;
    int pingpong_timeout_sec; /* fail the connection when a ping gets no pong in this time (0: never) */
    int timeout_ms;           /* give up after this long */
    bool auto_reconnect;      /* reconnect after a disconnect until closed (off: one connection) */
    int reconnect_timeout_ms; /* wait this long before reconnecting (0: the default, 10 s) */
    int expect_connects;      /* exchange messages on this connection, counting reconnects (0 or 1: the first) */
    const char *cert_pem;     /* wss: PEM CA to verify the server with (ESP-IDF: NULL uses the CA bundle) */
    bool skip_cert_common_name_check;
    size_t buffer_size;       /* bytes per socket read and largest handshake response (0: the default, 1 KiB) */
    size_t long_bytes;        /* size of the long text message (0: 3000 bytes) */
} client_example_options_t;

/** Each client waits for its `expect_connects`-th connection, sends a text, a binary and a long (fragmented)
 *  text message, pings, waits for the echoes, then closes with 1000. Returns the number of clients that got
 *  there, got every echo back and closed cleanly. */
int client_example_run(const client_example_options_t *options);

#endif
