/*
 * What runs the engine module: WAMR (the .wasm loaded and interpreted) or wasm2c (the .wasm translated to C at
 * build time and compiled in). One instance, loaded once; everything here is called with the host lock held.
 * wsk_engine.c speaks the engine's ABI through this and nothing else.
 */
#ifndef WSK_BACKEND_H
#define WSK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "wsk_common.h"

/** The engine exports the host calls (assembly/index.ts), by number; wsk_fn_names holds their names. */
typedef enum {
    WSK_FN_RESULT_PTR,
    WSK_FN_EVENTS_PTR,
    WSK_FN_OUT_PTR,
    WSK_FN_ENTROPY_PTR,
    WSK_FN_HANDSHAKE_PTR,
    WSK_FN_BUILD_CONSTANT,
    WSK_FN_INIT,
    WSK_FN_OPEN,
    WSK_FN_ENTROPY_FILLED,
    WSK_FN_FEED,
    WSK_FN_WRITE_FRAME,
    WSK_FN_WRITE_HEADER,
    WSK_FN_MASK_CHUNK,
    WSK_FN_WRITE_CLOSE,
    WSK_FN_CONNECTION_STATE,
    WSK_FN_PARSE_REQUEST,
    WSK_FN_SELECT_PROTOCOL,
    WSK_FN_BUILD_RESPONSE,
    WSK_FN_BUILD_REJECTION,
    WSK_FN_BUILD_REQUEST,
    WSK_FN_PARSE_RESPONSE,
    WSK_FN_UNMASK,
    WSK_FN_IS_UTF8,
    WSK_FN_COUNT
} wsk_fn_t;

/** Export names, indexed by wsk_fn_t. */
extern const char *const wsk_fn_names[WSK_FN_COUNT];
/** The 32-bit argument cells each export takes (an f64 takes two); calls with another count are refused. */
extern const uint8_t wsk_fn_cells[WSK_FN_COUNT];

/** "wamr" or "wasm2c". */
extern const char *const wsk_backend_name;

/** Load and instantiate the module (WSK_ERR_ENGINE / WSK_ERR_NO_MEM on failure, with a log line). */
wsk_err_t wsk_backend_load(void);
/** Free the instance and anything the load allocated; a later load starts from fresh linear memory. */
void wsk_backend_unload(void);
/**
 * Call export `fn` with `argc` 32-bit cells in `argv` (an f64 argument takes two, in host byte order, as in
 * WAMR's wasm_runtime_call_wasm); its result, if any, replaces argv[0]. False when the call trapped, or
 * `argc` is not wsk_fn_cells[fn] (logged).
 */
bool wsk_backend_call(wsk_fn_t fn, uint32_t argc, uint32_t *argv);
/** Base and size of linear memory; the module never grows it, so both stay valid until unload. */
uint8_t *wsk_backend_memory(uint32_t *size);
/** Fill the back end's fields of `stats` (pool and module bytes; 0 where a back end has none). */
void wsk_backend_stats(wsk_stats_t *stats);

#endif
