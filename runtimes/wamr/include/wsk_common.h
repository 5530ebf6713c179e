/*
 * wasmsocket WAMR host: return codes, opcodes and memory statistics shared by the server and client APIs.
 * Error values mirror ESP-IDF's esp_err_t ones where they mean the same thing, so firmware can mix them.
 */
#ifndef WSK_COMMON_H
#define WSK_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Return code of every wsk_* call: WSK_OK or one of the WSK_ERR_* values below. */
typedef int wsk_err_t;

#define WSK_OK 0
#define WSK_FAIL -1
#define WSK_ERR_NO_MEM 0x101        /**< an allocation failed (same value as ESP_ERR_NO_MEM) */
#define WSK_ERR_INVALID_ARG 0x102   /**< a NULL handle, an unknown client, a bad URI or option */
#define WSK_ERR_INVALID_STATE 0x103 /**< not connected, already started, already closing */
#define WSK_ERR_INVALID_SIZE 0x104  /**< a payload, header or buffer is too large for the configured sizes */
#define WSK_ERR_NOT_FOUND 0x105     /**< no such client id */
#define WSK_ERR_NOT_SUPPORTED 0x106 /**< wss:// in a build without TLS (same value as ESP_ERR_NOT_SUPPORTED) */
#define WSK_ERR_TIMEOUT 0x107       /**< a socket did not become writable/connected in time */
#define WSK_ERR_ENGINE 0x7001       /**< the Wasm engine failed to load, or trapped */
#define WSK_ERR_SOCKET 0x7002       /**< socket(), bind(), connect() or send() failed (see errno) */
#define WSK_ERR_HANDSHAKE 0x7003    /**< the peer's HTTP upgrade was refused or invalid */
#define WSK_ERR_NO_SLOT 0x7004      /**< every engine connection slot is in use */

/** Name of a return code ("WSK_ERR_NO_MEM"), like esp_err_to_name. */
const char *wsk_err_to_name(wsk_err_t err);

/** Frame opcodes (RFC 6455 §5.2). */
typedef enum {
    WSK_OP_CONTINUATION = 0x0,
    WSK_OP_TEXT = 0x1,
    WSK_OP_BINARY = 0x2,
    WSK_OP_CLOSE = 0x8,
    WSK_OP_PING = 0x9,
    WSK_OP_PONG = 0xA,
} wsk_opcode_t;

/** Close codes the host itself uses (RFC 6455 §7.4.1; 1013 from IANA's WebSocket Close Code Number Registry). */
#define WSK_CLOSE_NORMAL 1000
#define WSK_CLOSE_GOING_AWAY 1001
#define WSK_CLOSE_NO_STATUS 1005
#define WSK_CLOSE_ABNORMAL 1006
#define WSK_CLOSE_POLICY_VIOLATION 1008
#define WSK_CLOSE_INTERNAL_ERROR 1011
#define WSK_CLOSE_TRY_AGAIN_LATER 1013

/** Memory the engine uses, for budgets and leak checks. */
typedef struct {
    const char *engine_backend;  /**< what runs the engine: "wasm2c" or "wamr" */
    size_t wamr_pool_bytes;      /**< size of the static pool WAMR allocates from (0 with wasm2c) */
    size_t wamr_pool_used;       /**< bytes of that pool in use now (module, instance, memory, stack) */
    size_t wamr_pool_highmark;   /**< most bytes of the pool ever in use */
    size_t module_bytes;         /**< WAMR: the embedded module's size (.wasm or .aot; host_heap holds its RAM copy under the classic interpreter); wasm2c: 0 */
    size_t linear_memory_bytes;  /**< the instance's linear memory (WAMR shrinks it; wasm2c: a static array) */
    size_t host_heap_used;       /**< bytes the host malloc'd and has not freed (connections, buffers) */
    uint32_t slots_total;        /**< engine connection slots */
    uint32_t slots_used;         /**< slots held by open connections */
} wsk_stats_t;

/** Fill `stats`; the engine need not be loaded (then its figures are 0). */
wsk_err_t wsk_get_stats(wsk_stats_t *stats);

#ifdef __cplusplus
}
#endif

#endif
