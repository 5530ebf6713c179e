/*
 * The WAMR back end: runtime from a static pool, one instance, exports by index. The embedded module is a .wasm
 * (interpreted) or, built with WSK_WAMR_MODE=aot, wamrc's .aot; wsk_config.h says how each mode loads it.
 */
#include <string.h>

#include "wasm_export.h"
#include "wsk_backend.h"
#include "wsk_config.h"
#include "wsk_engine_wasm.h"
#include "wsk_log.h"
#include "wsk_platform.h"

static const char *TAG = "wsk_wamr";

const char *const wsk_backend_name = "wamr";

static struct {
    bool initialized;      /* wasm_runtime_full_init succeeded */
    uint8_t *module_bytes; /* classic interpreter: the RAM copy it runs and patches, kept until unload */
    wasm_module_t module;
    wasm_module_inst_t inst;
    wasm_exec_env_t env;
    wasm_function_inst_t fn[WSK_EXPORT_COUNT];
    uint8_t *base;
    uint32_t memory_size;
} W;

static uint8_t s_pool[CONFIG_WSK_WAMR_POOL_SIZE] __attribute__((aligned(8)));

/* The 32-bit argument cells `fn` takes, from its parameter types: what wasm_runtime_call_wasm reads. */
static uint32_t cells_of(wasm_function_inst_t fn)
{
    wasm_valkind_t types[16];
    uint32_t count = wasm_func_get_param_count(fn, W.inst);
    if (count > sizeof(types)) return UINT32_MAX;
    wasm_func_get_param_types(fn, W.inst, types);
    uint32_t cells = 0;
    for (uint32_t i = 0; i < count; i++) cells += types[i] == WASM_I64 || types[i] == WASM_F64 ? 2 : 1;
    return cells;
}

static wsk_err_t instantiate(void)
{
    char error[128];
    LoadArgs load;
    memset(&load, 0, sizeof(load));
    load.name = (char *)"wsk_engine";
#if WSK_WAMR_MODE != WSK_WAMR_CLASSIC
    /* Read only (a write would fault on the const array); the fast interpreter must not keep pointers into it. */
    load.wasm_binary_freeable = WSK_WAMR_MODE == WSK_WAMR_FAST;
    uint8_t *bytes = (uint8_t *)(uintptr_t)wsk_engine_wasm;
#else
    W.module_bytes = wsk_malloc(wsk_engine_wasm_len);
    if (!W.module_bytes) return WSK_ERR_NO_MEM;
    memcpy(W.module_bytes, wsk_engine_wasm, wsk_engine_wasm_len);
    uint8_t *bytes = W.module_bytes;
#endif
    W.module = wasm_runtime_load_ex(bytes, (uint32_t)wsk_engine_wasm_len, &load, error, sizeof(error));
    if (!W.module) {
        WSK_LOGE(TAG, "load: %s", error);
        return WSK_ERR_ENGINE;
    }
    /* heap 0: no app heap appended to linear memory, where it would hide out-of-bounds writes. */
    W.inst = wasm_runtime_instantiate(W.module, CONFIG_WSK_WASM_STACK_SIZE, 0, error, sizeof(error));
    if (!W.inst) {
        WSK_LOGE(TAG, "instantiate: %s", error);
        return WSK_ERR_ENGINE;
    }
    W.env = wasm_runtime_create_exec_env(W.inst, CONFIG_WSK_WASM_STACK_SIZE);
    if (!W.env) return WSK_ERR_NO_MEM;
    for (int i = 0; i < WSK_EXPORT_COUNT; i++) {
        W.fn[i] = wasm_runtime_lookup_function(W.inst, wsk_export_names[i]);
        if (!W.fn[i]) {
            WSK_LOGE(TAG, "the module has no export %s", wsk_export_names[i]);
            return WSK_ERR_ENGINE;
        }
        if (cells_of(W.fn[i]) != wsk_export_cells[i]) {
            WSK_LOGE(TAG, "export %s takes %u cells, wsk_abi.h says %u: module and header differ",
                     wsk_export_names[i], (unsigned)cells_of(W.fn[i]), (unsigned)wsk_export_cells[i]);
            return WSK_ERR_ENGINE;
        }
    }
    wasm_memory_inst_t memory = wasm_runtime_get_default_memory(W.inst);
    if (!memory) return WSK_ERR_ENGINE;
    W.base = wasm_memory_get_base_address(memory);
    W.memory_size = (uint32_t)(wasm_memory_get_cur_page_count(memory) * wasm_memory_get_bytes_per_page(memory));
    return WSK_OK;
}

wsk_err_t wsk_backend_load(void)
{
    RuntimeInitArgs args;
    memset(&args, 0, sizeof(args));
    args.mem_alloc_type = Alloc_With_Pool;
    args.mem_alloc_option.pool.heap_buf = s_pool;
    args.mem_alloc_option.pool.heap_size = sizeof(s_pool);
    if (!wasm_runtime_full_init(&args)) {
        WSK_LOGE(TAG, "wasm_runtime_full_init failed (pool of %u bytes)", (unsigned)sizeof(s_pool));
        return WSK_ERR_ENGINE;
    }
    W.initialized = true;
    wsk_err_t err = instantiate();
    if (err != WSK_OK) wsk_backend_unload();
    return err;
}

void wsk_backend_unload(void)
{
    if (W.env) wasm_runtime_destroy_exec_env(W.env);
    if (W.inst) wasm_runtime_deinstantiate(W.inst);
    if (W.module) wasm_runtime_unload(W.module);
    wsk_free(W.module_bytes);
    if (W.initialized) wasm_runtime_destroy();
    memset(&W, 0, sizeof(W));
}

bool wsk_backend_call(wsk_export_t fn, uint32_t argc, uint32_t *argv)
{
    /* WAMR reads as many cells as the function has parameters, whatever argc says: check it here. */
    if ((unsigned)fn >= WSK_EXPORT_COUNT || argc != wsk_export_cells[fn] || !W.inst) {
        WSK_LOGE(TAG, "bad call: export %d with %u cells", (int)fn, (unsigned)argc);
        return false;
    }
    if (wasm_runtime_call_wasm(W.env, W.fn[fn], argc, argv)) return true;
    WSK_LOGE(TAG, "%s trapped: %s", wsk_export_names[fn], wasm_runtime_get_exception(W.inst));
    wasm_runtime_clear_exception(W.inst);
    return false;
}

uint8_t *wsk_backend_memory(uint32_t *size)
{
    *size = W.memory_size;
    return W.base;
}

void wsk_backend_stats(wsk_stats_t *stats)
{
    stats->wamr_pool_bytes = sizeof(s_pool);
    stats->module_bytes = wsk_engine_wasm_len;
    mem_alloc_info_t info;
    if (W.initialized && wasm_runtime_get_mem_alloc_info(&info)) {
        stats->wamr_pool_used = info.total_size - info.total_free_size;
        stats->wamr_pool_highmark = info.highmark_size;
    }
}
