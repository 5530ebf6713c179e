/*
 * What runs the engine module: WAMR (the .wasm loaded and interpreted) or wasm2c (the .wasm translated to C at
 * build time and compiled in). One instance, loaded once; everything here is called with the host lock held.
 * wsk_engine.c speaks the engine's ABI through this and nothing else.
 */
#ifndef WSK_BACKEND_H
#define WSK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "wsk_abi.h"
#include "wsk_common.h"

/** An engine export, by its ABI number (wsk_abi.h: WSK_EXPORT_*, generated from assembly/index.ts). */
typedef enum wsk_export wsk_export_t;

/** Export names, indexed by wsk_export_t (WSK_EXPORT_NAMES). */
extern const char *const wsk_export_names[WSK_EXPORT_COUNT];
/** The 32-bit argument cells each export takes (WSK_EXPORT_CELLS: an f64 takes two); calls with another count
    are refused. */
extern const uint8_t wsk_export_cells[WSK_EXPORT_COUNT];

/** "wamr" or "wasm2c". */
extern const char *const wsk_backend_name;

/** Load and instantiate the module (WSK_ERR_ENGINE / WSK_ERR_NO_MEM on failure, with a log line). */
wsk_err_t wsk_backend_load(void);
/** Free the instance and anything the load allocated; a later load starts from fresh linear memory. */
void wsk_backend_unload(void);
/**
 * Call export `fn` with `argc` 32-bit cells in `argv` (an f64 argument takes two, in host byte order, as in
 * WAMR's wasm_runtime_call_wasm); its result, if any, replaces argv[0] (an f64 one argv[0] and argv[1]). False
 * when the call trapped, or `argc` is not wsk_export_cells[fn] (logged).
 */
bool wsk_backend_call(wsk_export_t fn, uint32_t argc, uint32_t *argv);
/** Base and size of linear memory; the module never grows it, so both stay valid until unload. */
uint8_t *wsk_backend_memory(uint32_t *size);
/** Fill the back end's fields of `stats` (pool and module bytes; 0 where a back end has none). */
void wsk_backend_stats(wsk_stats_t *stats);

#endif
