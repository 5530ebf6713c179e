/*
 * WebSocket server on the wasmsocket engine (WAMR): one task accepts on a port, upgrades requests for `path`,
 * and reports each client's messages through callbacks, like ESP-IDF's httpd WebSocket support.
 * Callbacks run in the server task with the host lock held: keep them short; sending from them is fine.
 */
#ifndef WSK_SERVER_H
#define WSK_SERVER_H

#include "wsk_common.h"

#ifdef ESP_PLATFORM
#include "sdkconfig.h"
#endif

/*
 * WSK_SERVER_DEFAULT_CONFIG()'s lru_purge_enable: Kconfig's WSK_LRU_PURGE_ENABLE (y by default; sdkconfig.h
 * leaves an `n` undefined) on ESP-IDF, 1 elsewhere unless the build defines it 0.
 */
#ifndef CONFIG_WSK_LRU_PURGE_ENABLE
#ifdef ESP_PLATFORM
#define CONFIG_WSK_LRU_PURGE_ENABLE 0
#else
#define CONFIG_WSK_LRU_PURGE_ENABLE 1
#endif
#endif

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsk_server *wsk_server_handle_t;

/** wsk_server_config_t.heartbeat_interval_ms: no heartbeat (silent clients are held until they leave). */
#define WSK_HEARTBEAT_OFF (-1)

/** A client's id: unique for the server's lifetime (not a socket number, never reused). */
typedef uint32_t wsk_client_id_t;

typedef struct {
    const char *bind_address;  /**< IPv4 address to listen on; NULL: all interfaces */
    uint16_t port;             /**< TCP port; 0 picks a free one (see wsk_server_get_port) */
    const char *path;          /**< request path to accept (query ignored); others get 404. NULL: any */
    uint8_t max_clients;       /**< open connections. A new client past them takes the place of one
                                    already closing, then of one that answers no heartbeat ping, then (with
                                    lru_purge_enable) of the least recently active; with none of these it
                                    gets 503. A new connection past the handshake table (max_clients + 2)
                                    takes the place of the oldest still in its handshake (which gets 503).
                                    Neither takes the place of a connection in its first
                                    new_client_grace_ms that has sent nothing yet: the newcomer waits (a
                                    complete request up to handshake_timeout_ms, then 503; a connection in
                                    the listen backlog) */
    uint8_t backlog_conn;      /**< listen backlog, as esp_http_server's: connections the TCP stack holds
                                    while the table has no entry for them; 0: CONFIG_WSK_BACKLOG_CONN (5
                                    on ESP-IDF, keep it below CONFIG_LWIP_TCP_ACCEPTMBOX_SIZE; 128 on Linux) */
    bool lru_purge_enable;     /**< as esp_http_server's: when max_clients are open and none is closing or
                                    silent after a heartbeat ping, end the least recently active one (close
                                    1013 "server full": one that has sent nothing since its upgrade first,
                                    the oldest first; else the one heard from longest ago) for the new
                                    client, rather than answer it 503. WSK_SERVER_DEFAULT_CONFIG(): on
                                    (Kconfig WSK_LRU_PURGE_ENABLE); false in a zeroed config */
    const char *subprotocols;  /**< comma-separated subprotocols the server speaks; NULL: none */
    size_t rx_buffer_size;     /**< per-client: largest handshake head, and bytes per socket read */
    size_t max_message_size;   /**< largest message (1009 beyond); reassembly buffer limit */
    size_t max_fragment_size;  /**< outgoing messages are split into frames of this many bytes (0: never) */
    int send_timeout_ms;       /**< a client that takes none of its queued bytes in this time is ended
                                    (close 1008 "send timeout", queued behind) */
    size_t max_send_queue;     /**< per-client bytes held while its socket is full (allocated only then);
                                    beyond it the client is ended (close 1008 "send queue full", queued
                                    behind). 0: CONFIG_WSK_MAX_SEND_QUEUE; never less than max_message_size
                                    + a frame header */
    int handshake_timeout_ms;  /**< a client that does not complete its upgrade in this time is dropped */
    int close_timeout_ms;      /**< wait this long for the client's close frame after ours; and at most this
                                    long for a peer we end to take the bytes still queued for it (its close
                                    frame last), and for wsk_server_stop's close handshakes */
    int heartbeat_interval_ms; /**< ms of silence from a client (no byte read) before the server pings it;
                                    0: CONFIG_WSK_HEARTBEAT_INTERVAL_MS (30 s); WSK_HEARTBEAT_OFF: no heartbeat */
    int heartbeat_timeout_ms;  /**< ms after that ping without any frame before the client is ended (close
                                    1011 "heartbeat timeout" behind what is queued for it, then the socket
                                    closed); 0: CONFIG_WSK_HEARTBEAT_TIMEOUT_MS (10 s) */
    int new_client_grace_ms;   /**< ms from its accept, or its upgrade, during which a connection that has
                                    sent nothing yet keeps its place (not refused 503, not ended 1013 for a
                                    newcomer, who waits instead); 0: CONFIG_WSK_NEW_CLIENT_GRACE_MS (100).
                                    Longer suits slow clients, but a burst of silent connections then goes
                                    through more slowly (about max_clients per grace) */
    const char *server_cert_pem; /**< wss://: the server's PEM certificate chain (NUL-terminated); NULL: ws:// */
    const char *server_key_pem;  /**< wss://: its PEM private key; both or neither */
    size_t task_stack_size;
    int task_priority;
    void *user_ctx;            /**< passed to every callback */

    /** A client completed the handshake. */
    void (*on_open)(wsk_server_handle_t server, wsk_client_id_t client, void *user_ctx);
    /** A whole text message (valid UTF-8, not NUL-terminated). */
    void (*on_text)(wsk_server_handle_t server, wsk_client_id_t client, const char *text, size_t len,
                    void *user_ctx);
    /** A whole binary message. */
    void (*on_binary)(wsk_server_handle_t server, wsk_client_id_t client, const uint8_t *data, size_t len,
                      void *user_ctx);
    /**
     * Optional: messages that do not arrive in one piece are streamed here as they come (opcode of the
     * message, first/last chunk) instead of being reassembled up to max_message_size.
     */
    void (*on_fragment)(wsk_server_handle_t server, wsk_client_id_t client, wsk_opcode_t opcode,
                        const uint8_t *data, size_t len, bool first, bool last, void *user_ctx);
    /** A ping (the pong was already sent). */
    void (*on_ping)(wsk_server_handle_t server, wsk_client_id_t client, const uint8_t *data, size_t len,
                    void *user_ctx);
    /**
     * The client is gone: `code` is its close code (1005 if none), the code we ended it with (1002, 1007,
     * 1009 from the engine; 1008 "send queue full" or "send timeout" for a client that does not read, 1011
     * "heartbeat timeout" for a silent one, 1013 "server full" when a new client took its place, 1001 "server
     * stopping"), or 1006 when the connection dropped without a close frame (or ours went unanswered).
     */
    void (*on_close)(wsk_server_handle_t server, wsk_client_id_t client, uint16_t code, const char *reason,
                     size_t reason_len, void *user_ctx);
} wsk_server_config_t;

/**
 * Defaults: port 80, path "/", 4 clients, 1 KiB receive buffer, 16 KiB messages, 5 s timeouts; the heartbeat
 * fields left 0 take Kconfig's CONFIG_WSK_HEARTBEAT_INTERVAL_MS / _TIMEOUT_MS (30 s, then 10 s); LRU purge
 * as Kconfig's WSK_LRU_PURGE_ENABLE (on).
 */
#define WSK_SERVER_DEFAULT_CONFIG()                                                                        \
    {                                                                                                      \
        .bind_address = NULL, .port = 80, .path = "/", .max_clients = 4, .subprotocols = NULL,             \
        .rx_buffer_size = 1024, .max_message_size = 16384, .max_fragment_size = 0, .send_timeout_ms = 5000, \
        .handshake_timeout_ms = 5000, .close_timeout_ms = 1000, .task_stack_size = 4096, .task_priority = 5, \
        .lru_purge_enable = CONFIG_WSK_LRU_PURGE_ENABLE,                                                   \
    }

/** Load the engine (first user), listen, and start the server task. */
wsk_err_t wsk_server_start(const wsk_server_config_t *config, wsk_server_handle_t *server);
/** The port the server listens on (useful with port 0). */
uint16_t wsk_server_get_port(wsk_server_handle_t server);
/** Send a text message to one client. */
wsk_err_t wsk_server_send_text(wsk_server_handle_t server, wsk_client_id_t client, const char *text, size_t len);
/** Send a binary message to one client. */
wsk_err_t wsk_server_send_bin(wsk_server_handle_t server, wsk_client_id_t client, const void *data, size_t len);
/** Send a ping (≤ 125 bytes) to one client. */
wsk_err_t wsk_server_send_ping(wsk_server_handle_t server, wsk_client_id_t client, const void *data, size_t len);
/** Send a message to every open client; returns the first error, after trying all. */
wsk_err_t wsk_server_broadcast(wsk_server_handle_t server, wsk_opcode_t opcode, const void *data, size_t len);
/** Start the close handshake with a client (code 0: none); it is dropped if it does not answer in time. */
wsk_err_t wsk_server_disconnect(wsk_server_handle_t server, wsk_client_id_t client, uint16_t code,
                                const char *reason);
/** Write up to `*count` open clients' ids to `ids`; `*count` becomes the number of open clients. */
wsk_err_t wsk_server_list_clients(wsk_server_handle_t server, wsk_client_id_t *ids, size_t *count);
/**
 * Stop accepting, close every client (1001 "server stopping"; one still in its handshake gets 503) and wait up to
 * close_timeout_ms for their close replies and for what is queued for them to go out; then close what is left,
 * stop the task, free everything. Not from a callback.
 */
wsk_err_t wsk_server_stop(wsk_server_handle_t server);

#ifdef __cplusplus
}
#endif

#endif
