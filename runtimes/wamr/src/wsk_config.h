/* Build-time limits. On ESP-IDF they come from Kconfig (sdkconfig.h); on Linux from -D flags or these defaults. */
#ifndef WSK_CONFIG_H
#define WSK_CONFIG_H

#ifdef ESP_PLATFORM
#include "sdkconfig.h"
#endif

/** Bytes of the static pool WAMR allocates everything from (module, instance, linear memory, stacks). */
#ifndef CONFIG_WSK_WAMR_POOL_SIZE
#if defined(__SIZEOF_POINTER__) && __SIZEOF_POINTER__ > 4
/* 64-bit hosts (Linux, never an ESP32): WAMR's fast interpreter keeps 81,672 bytes of the engine there, which
   80 KiB no longer holds with its allocator's own share (docs/FIRMWARE.md, Execution modes). */
#define CONFIG_WSK_WAMR_POOL_SIZE (96 * 1024)
#else
#define CONFIG_WSK_WAMR_POOL_SIZE (80 * 1024)
#endif
#endif
/** Engine connection slots, shared by every server and client in the firmware (WSK_SLOT_BYTES each). */
#ifndef CONFIG_WSK_MAX_CONNECTIONS
#define CONFIG_WSK_MAX_CONNECTIONS 8
#endif
/** Engine I/O area: half receive area, half transmit area. Slots + this must fit the firmware build's pool
    (WSK_FIRMWARE_POOL_BYTES; wsk_engine.c checks it at build time, test/runtimes/wamr/config.test.ts the Kconfig). */
#ifndef CONFIG_WSK_ENGINE_IO_BYTES
#define CONFIG_WSK_ENGINE_IO_BYTES 2048
#endif
/** WAMR operand/frame stack for calls into the engine. */
#ifndef CONFIG_WSK_WASM_STACK_SIZE
#define CONFIG_WSK_WASM_STACK_SIZE 2048
#endif
/**
 * How the WAMR back end's library runs the engine, which decides how the embedded module is loaded:
 *  - WSK_WAMR_FAST: fast interpreter, translates the bytecode into its pool; the module is read in place
 *    (flash) with wasm_binary_freeable, so WAMR keeps no pointer into it and writes nothing there.
 *  - WSK_WAMR_CLASSIC: classic interpreter, runs the bytecode where it was loaded and patches it: a RAM copy.
 *  - WSK_WAMR_AOT: wamrc's code; the loader reads the module in place and keeps pointers into it (its const
 *    data; with --xip its code too), which the const array outlives.
 * On ESP-IDF it follows the WAMR component's own Kconfig (a RAM copy unless its fast interpreter is chosen);
 * on Linux CMake sets it from WSK_WAMR_MODE.
 */
#define WSK_WAMR_FAST 0
#define WSK_WAMR_CLASSIC 1
#define WSK_WAMR_AOT 2
#ifndef WSK_WAMR_MODE
#if defined(CONFIG_WAMR_INTERP_FAST)
#define WSK_WAMR_MODE WSK_WAMR_FAST
#else
#define WSK_WAMR_MODE WSK_WAMR_CLASSIC
#endif
#endif
/** Stack of the server and client tasks. */
#ifndef CONFIG_WSK_TASK_STACK_SIZE
#define CONFIG_WSK_TASK_STACK_SIZE 4096
#endif
#ifndef CONFIG_WSK_TASK_PRIORITY
#define CONFIG_WSK_TASK_PRIORITY 5
#endif
/** Default per-client server send queue (wsk_server_config_t.max_send_queue): bytes a full socket may owe. */
#ifndef CONFIG_WSK_MAX_SEND_QUEUE
#define CONFIG_WSK_MAX_SEND_QUEUE 16384
#endif
/** Default server heartbeat (wsk_server_config_t.heartbeat_*_ms 0): ms of silence before a ping (0: no heartbeat),
    then ms without any frame before the client is ended. bindings/policies/config.ts `defaults.heartbeat`'s values
    (test/runtimes/wamr/config.test.ts checks them and the Kconfig). */
#ifndef CONFIG_WSK_HEARTBEAT_INTERVAL_MS
#define CONFIG_WSK_HEARTBEAT_INTERVAL_MS 30000
#endif
#ifndef CONFIG_WSK_HEARTBEAT_TIMEOUT_MS
#define CONFIG_WSK_HEARTBEAT_TIMEOUT_MS 10000
#endif
/** Default listen backlog of the server (wsk_server_config_t.backlog_conn 0): connections the TCP stack holds,
    handshake done, while the server's table has no entry for them. Linux keeps them in the kernel at no cost to
    the server: 128 (SOMAXCONN's old value; net.core.somaxconn caps it). lwIP (ESP-IDF, Kconfig WSK_BACKLOG_CONN)
    resets a connection that finds its accept mailbox full (CONFIG_LWIP_TCP_ACCEPTMBOX_SIZE, 6 by default) but
    drops the SYN past the backlog, so the client tries again: 5 there, as esp_http_server's backlog_conn. */
#ifndef CONFIG_WSK_BACKLOG_CONN
#ifdef __linux__
#define CONFIG_WSK_BACKLOG_CONN 128
#else
#define CONFIG_WSK_BACKLOG_CONN 5
#endif
#endif
/** Ms a new connection has to send its request, and a new client its first frame, before a newcomer may take
    its place (the handshake table's 503, LRU purge's 1013); meanwhile the newcomer waits. */
#ifndef CONFIG_WSK_NEW_CLIENT_GRACE_MS
#define CONFIG_WSK_NEW_CLIENT_GRACE_MS 100
#endif
/** wss:// through mbedTLS: CONFIG_WSK_TLS on ESP-IDF; on Linux CMake sets it when it finds mbedTLS. */
#ifndef WSK_TLS
#ifdef CONFIG_WSK_TLS
#define WSK_TLS 1
#else
#define WSK_TLS 0
#endif
#endif

#endif
