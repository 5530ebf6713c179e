/*
 * The engine under WAMR: one runtime, one module instance shared by every server and client in the process
 * (its slot table holds all their connections), called with the host lock held. This file turns the engine's
 * numbers-only exports (docs/ENGINE.md) into C calls; it holds no protocol rules of its own.
 */
#ifndef WSK_ENGINE_H
#define WSK_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wsk_common.h"

/* Event types (WSK_EVENT_TYPE_*), Data flags (WSK_DATA_FLAG_*), roles (WSK_ROLE_*), connection flags
   (WSK_CONN_FLAG_*) and the rest of the engine's numbers come from the generated ABI. */
#include "wsk_abi.h"

/** The HTTP status (RFC 9110 §15.2.2) parseRequest/parseResponse return for an accepted upgrade. */
#define WSK_HTTP_SWITCHING_PROTOCOLS 101

/** One decoded event record; `data` points into engine memory and is valid until the next engine call. */
typedef struct {
    uint8_t type;
    uint8_t opcode;
    uint8_t flags;
    uint8_t reason;
    uint16_t code;
    uint8_t *data;
    uint32_t len;
    /** Error events: the number the error's message names (the opcode, length byte or close code), else 0. */
    uint32_t value;
    /** Data events: the frame's whole payload length when the frame is still incomplete, else 0. */
    uint64_t frame_length;
} wsk_event_t;

/** Where a connection's bytes go out; returns WSK_OK or an error that fails the connection. */
typedef wsk_err_t (*wsk_write_fn)(void *ctx, const uint8_t *bytes, size_t len);
/** Receives events; returns false to stop feeding (the connection was released inside). */
typedef bool (*wsk_event_fn)(void *ctx, const wsk_event_t *event);

/** Load the engine on first use (refcounted); every wsk_engine_* call below needs the host lock held. */
wsk_err_t wsk_engine_acquire(void);
/** Drop a reference; the last one unloads the instance, module and runtime. */
void wsk_engine_release(void);

/** Take a free slot and open it for `role`; returns the slot (>= 0) or -WSK_ERR_NO_SLOT / -WSK_ERR_ENGINE. */
int wsk_engine_open(int role, uint64_t max_payload);
/** Give the slot back. */
void wsk_engine_close(int slot);
/** ConnFlag bits of the slot (WSK_CONN_FLAG_*), 0 on failure. */
unsigned wsk_engine_flags(int slot);

/** The receive area: where the host reads socket bytes before wsk_engine_feed. */
uint8_t *wsk_engine_rx(size_t *size);
/**
 * Feed `len` bytes (at most the receive area's size) that are in the receive area to `slot`: replies go to
 * `write`, events to `on_event`, in order, until all bytes are consumed or on_event returns false.
 */
wsk_err_t wsk_engine_feed(int slot, size_t len, wsk_write_fn write, wsk_event_fn on_event, void *ctx);

/**
 * Copy `len` bytes from anywhere (a handshake buffer's tail) into the receive area, a receive area at a time,
 * and feed each piece as wsk_engine_feed does; stops early when on_event returns false.
 */
wsk_err_t wsk_engine_feed_bytes(int slot, const uint8_t *bytes, size_t len, wsk_write_fn write,
                                wsk_event_fn on_event, void *ctx);

/**
 * Send a ping or pong with `len` payload bytes (the engine's limit: WSK_ERR_INVALID_SIZE past it); the payload
 * may be anywhere.
 */
wsk_err_t wsk_engine_send_control(int slot, wsk_opcode_t opcode, const void *payload, size_t len,
                                  wsk_write_fn write, void *ctx);
/**
 * Send a text or binary message, in frames of at most `fragment_size` bytes (0: one frame), as the engine's
 * message writer frames it; a client's payload is masked in engine memory, a transmit area at a time.
 */
wsk_err_t wsk_engine_send_message(int slot, wsk_opcode_t opcode, const void *payload, size_t len,
                                  size_t fragment_size, wsk_write_fn write, void *ctx);
/**
 * Send a close frame (code 0: none); WSK_ERR_INVALID_STATE if one was sent already, WSK_ERR_INVALID_SIZE for a
 * reason past the engine's limit, WSK_ERR_INVALID_ARG for an invalid code or a reason that is not UTF-8.
 */
wsk_err_t wsk_engine_send_close(int slot, uint16_t code, const char *reason, wsk_write_fn write, void *ctx);

/** Server handshake: parse the head in `head` (copied into engine memory). */
typedef struct {
    int status;          /**< 0 incomplete, WSK_HTTP_SWITCHING_PROTOCOLS accept, else the HTTP status to refuse with */
    size_t head_length;  /**< bytes of the head; what follows is frames */
    char target[128];    /**< request target (path + query), NUL-terminated, truncated if longer */
} wsk_request_t;
wsk_err_t wsk_engine_parse_request(const uint8_t *head, size_t len, size_t max_head, wsk_request_t *request);
/**
 * After a 101 parse: choose a subprotocol from `supported` (comma-separated, NULL: none) and write the 101
 * response; `*response` points into engine memory.
 */
wsk_err_t wsk_engine_build_response(const char *supported, const uint8_t **response, size_t *response_len);
/** Write an error response for `status` (400, 404, 503, ...). */
wsk_err_t wsk_engine_build_rejection(int status, const uint8_t **response, size_t *response_len);

/** Client handshake: the upgrade request for `slot`; `*request` points into engine memory. */
wsk_err_t wsk_engine_build_request(int slot, const char *host, const char *path, const char *protocols,
                                   const char *extra_headers, const uint8_t **request, size_t *request_len);
/**
 * Parse the server's response in `head`: 0 incomplete, 101 accepted, the server's status, or a negative
 * HandshakeError. `head_length` gets the head's length, `protocol` the server's choice.
 */
int wsk_engine_parse_response(int slot, const uint8_t *head, size_t len, const char *protocols,
                              size_t *head_length, char *protocol, size_t protocol_size);

/** Bench hooks: copy `len` bytes into the receive area and call unmask / isUtf8 on them there. */
bool wsk_engine_unmask(size_t len, uint32_t key, uint32_t offset);
bool wsk_engine_is_utf8(size_t len, uint32_t *valid);

#endif
