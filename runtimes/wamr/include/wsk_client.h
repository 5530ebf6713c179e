/*
 * WebSocket client on the wasmsocket engine (WAMR), shaped like ESP-IDF's esp_websocket_client: a config
 * struct, a task per client that connects, reconnects, pings, and reports events to a handler.
 * Handlers run in the client's task with the host lock held: keep them short; sending from them is fine.
 */
#ifndef WSK_CLIENT_H
#define WSK_CLIENT_H

#include "wsk_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wsk_client *wsk_client_handle_t;

/** Events, in the order esp_websocket_client names them. */
typedef enum {
    WSK_EVENT_ANY = -1,
    WSK_EVENT_ERROR = 0,      /**< connect, handshake, protocol, send or receive failure (the server's FIN or
                                   reset while open), then DISCONNECTED (error_type, close_code, errno, status) */
    WSK_EVENT_CONNECTED,      /**< the handshake completed */
    WSK_EVENT_DISCONNECTED,   /**< the connection is gone (a reconnect follows unless disabled); carries the
                                   error_type, errno and handshake_status of the ERROR before it (0: none) */
    WSK_EVENT_DATA,           /**< a chunk of a frame (text, binary, continuation), or a ping/pong/close */
    WSK_EVENT_CLOSED,         /**< the close handshake completed cleanly */
    WSK_EVENT_BEFORE_CONNECT, /**< about to connect */
    WSK_EVENT_BEGIN,          /**< the client task started */
    WSK_EVENT_FINISH,         /**< the client task is about to exit */
} wsk_client_event_id_t;

/** What failed, for WSK_EVENT_ERROR. */
typedef enum {
    WSK_ERROR_TYPE_NONE = 0,
    WSK_ERROR_TYPE_TCP_TRANSPORT,  /**< connect/send/recv failed (errno in esp_transport_sock_errno; 0 when the
                                        server's FIN ended an open connection) */
    WSK_ERROR_TYPE_HANDSHAKE,      /**< the server refused or answered wrongly (status / handshake_error) */
    WSK_ERROR_TYPE_PONG_TIMEOUT,   /**< no pong within pingpong_timeout_sec of a ping: we close with 1011
                                        "heartbeat timeout" (close_code) */
    WSK_ERROR_TYPE_PROTOCOL,       /**< the server broke RFC 6455; we closed with close_code */
} wsk_client_error_type_t;

/** Event payload, field for field like esp_websocket_event_data_t where they overlap. */
typedef struct {
    const char *data_ptr;        /**< this chunk (DATA), valid during the handler only */
    int data_len;                /**< bytes in this chunk */
    bool fin;                    /**< the frame's FIN bit (set on its last chunk only) */
    uint8_t op_code;             /**< frame opcode: 0 continuation, 1 text, 2 binary, 8 close, 9 ping, 10 pong */
    wsk_client_handle_t client;
    void *user_context;
    int payload_len;             /**< the whole frame's payload length */
    int payload_offset;          /**< where this chunk starts within the frame's payload */
    wsk_client_error_type_t error_type;
    uint16_t close_code;         /**< CLOSED / DISCONNECTED / ERROR: the close code involved */
    int esp_transport_sock_errno;
    int handshake_status;        /**< HTTP status of a refused handshake (0 if none); esp_ws_handshake_status_code */
} wsk_event_data_t;

typedef void (*wsk_event_handler_t)(void *handler_args, wsk_client_event_id_t event_id,
                                    const wsk_event_data_t *data);

typedef struct {
    const char *uri;                 /**< ws:// or wss://host[:port]/path?query */
    const char *host;                /**< overrides the URI's host */
    int port;                        /**< overrides the URI's port (0: keep) */
    const char *path;                /**< overrides the URI's path and query */
    const char *subprotocol;         /**< comma-separated protocols to offer */
    const char *headers;             /**< extra request header lines, each "Name: value\r\n" */
    int ping_interval_sec;           /**< ping this often, whatever else the connection carries (0: never) */
    int pingpong_timeout_sec;        /**< end the connection (close 1011 "heartbeat timeout") if no pong within
                                          this of a ping (0: never); any pong answers, whatever its payload
                                          (RFC 6455 lets a pong come unasked) */
    int reconnect_timeout_ms;        /**< wait before reconnecting */
    bool disable_auto_reconnect;
    int network_timeout_ms;          /**< connect and handshake timeout; queued bytes that make no progress for
                                          this long drop the connection (1006); wss:// sends wait at most this */
    size_t buffer_size;              /**< bytes per socket read and largest handshake response */
    size_t max_message_size;         /**< largest incoming message (1009 beyond), at most INT_MAX (what
                                          payload_len reports); 0: INT_MAX */
    size_t max_fragment_size;        /**< outgoing messages are split into frames of this size (0: never) */
    size_t max_send_queue;           /**< bytes kept while a ws:// socket is full (allocated only then); an app
                                          send waits for the queue to drop to this, then queues its message whole;
                                          pongs or pings past it end the connection (close 1008 "send queue
                                          full", queued behind). 0: CONFIG_WSK_MAX_SEND_QUEUE */
    size_t task_stack;
    int task_prio;
    void *user_context;
    const char *cert_pem;            /**< wss://: PEM CA certificate(s) to verify the server (NUL-terminated) */
    /** wss://: installs trusted CAs into an mbedtls_ssl_config (ESP-IDF: esp_crt_bundle_attach) */
    wsk_err_t (*crt_bundle_attach)(void *conf);
    bool skip_cert_common_name_check; /**< wss://: verify the chain but not the host name (no SNI either) */
} wsk_client_config_t;

/** Defaults: 10 s ping, 10 s reconnect, 10 s network timeout, 1 KiB buffer. */
#define WSK_CLIENT_DEFAULT_CONFIG()                                                                          \
    {                                                                                                        \
        .ping_interval_sec = 10, .pingpong_timeout_sec = 0, .reconnect_timeout_ms = 10000,                   \
        .network_timeout_ms = 10000, .buffer_size = 1024, .max_message_size = 0, .task_stack = 4096,         \
        .task_prio = 5,                                                                                      \
    }

/** Create a client (parses the URI; nothing connects until wsk_client_start). NULL on bad config / no memory. */
wsk_client_handle_t wsk_client_init(const wsk_client_config_t *config);
/** Register the handler for one event id or WSK_EVENT_ANY (one handler per client). */
wsk_err_t wsk_client_register_events(wsk_client_handle_t client, wsk_client_event_id_t event,
                                     wsk_event_handler_t handler, void *handler_args);
/** Start the client task: connect, and reconnect after reconnect_timeout_ms unless disabled. */
wsk_err_t wsk_client_start(wsk_client_handle_t client);
/** True between CONNECTED and DISCONNECTED/CLOSED. */
bool wsk_client_is_connected(wsk_client_handle_t client);
/**
 * Send a text message: written to the socket, what it does not take queued (max_send_queue). Waits at most
 * timeout_ms (without holding the host lock) for the queue to drop to max_send_queue first; from a handler it
 * never waits. Returns len, or -1 (not connected, closing, no room in time).
 */
int wsk_client_send_text(wsk_client_handle_t client, const char *data, int len, int timeout_ms);
/** Send a binary message, as wsk_client_send_text; returns len or -1. */
int wsk_client_send_bin(wsk_client_handle_t client, const char *data, int len, int timeout_ms);
/** Send a ping with up to 125 bytes (WSK_ERR_TIMEOUT when the send queue is past max_send_queue). */
wsk_err_t wsk_client_send_ping(wsk_client_handle_t client, const void *data, size_t len);
/**
 * Start the close handshake and wait up to timeout_ms for it to finish; no reconnect afterwards. `code` 0 sends
 * an empty close frame (no reason allowed). WSK_ERR_INVALID_ARG for a code no close frame may carry or a reason
 * not UTF-8, WSK_ERR_INVALID_SIZE for a reason past 123 bytes, WSK_ERR_INVALID_STATE when not connected or a
 * close frame was sent already: then nothing is sent and the connection goes on as it was.
 */
wsk_err_t wsk_client_close_with_code(wsk_client_handle_t client, uint16_t code, const char *reason,
                                     int timeout_ms);
wsk_err_t wsk_client_close(wsk_client_handle_t client, int timeout_ms);
/**
 * Stop the task without a close handshake (the socket is just closed). Not from a handler. From another task
 * while wsk_client_close waits, too: both return once the task is gone.
 */
wsk_err_t wsk_client_stop(wsk_client_handle_t client);
/** Stop if running and free the client. Not from a handler. */
wsk_err_t wsk_client_destroy(wsk_client_handle_t client);
/** The event's name without its prefix ("CONNECTED", "DATA"...), for logs; "UNKNOWN" for another value. */
const char *wsk_client_event_name(wsk_client_event_id_t event);

#ifdef __cplusplus
}
#endif

#endif
