/*
 * The wasm2c back end: build/engine.firmware.wasm translated to C by wasm2c at build time (wsk_engine_w2c.c, never
 * committed) and compiled into the host, run by wsk_wasm_rt.c: linear memory is a static array, a trap
 * longjmps back here and fails the call. No interpreter, no module bytes in RAM.
 */
#include <setjmp.h>
#include <string.h>

#include "wsk_backend.h"
#include "wsk_engine_w2c.h"
#include "wsk_log.h"

static const char *TAG = "wsk_wasm2c";

const char *const wsk_backend_name = "wasm2c";

static Z_wsk_engine_instance_t s_instance;
static bool s_loaded;

static double f64_at(const uint32_t *cells)
{
    double value;
    memcpy(&value, cells, sizeof(value));
    return value;
}

static void put_f64(uint32_t *cells, double value)
{
    memcpy(cells, &value, sizeof(value));
}

/* The call itself; may longjmp out through wasm_rt_trap. One case per export of wsk_abi.h and no default, so
   an export added to the engine is a -Wswitch warning here (an error with WSK_WERROR). */
static void dispatch(Z_wsk_engine_instance_t *m, wsk_export_t fn, uint32_t *a)
{
    switch (fn) {
    case WSK_EXPORT_RESULT_PTR: a[0] = Z_wsk_engineZ_resultPtr(m); break;
    case WSK_EXPORT_EVENTS_PTR: a[0] = Z_wsk_engineZ_eventsPtr(m); break;
    case WSK_EXPORT_OUT_PTR: a[0] = Z_wsk_engineZ_outPtr(m); break;
    case WSK_EXPORT_ENTROPY_PTR: a[0] = Z_wsk_engineZ_entropyPtr(m); break;
    case WSK_EXPORT_HANDSHAKE_PTR: a[0] = Z_wsk_engineZ_handshakePtr(m); break;
    case WSK_EXPORT_BUILD_CONSTANT: a[0] = Z_wsk_engineZ_buildConstant(m, a[0]); break;
    case WSK_EXPORT_MEMORY_NEEDED: put_f64(a, Z_wsk_engineZ_memoryNeeded(m, a[0], a[1])); break;
    case WSK_EXPORT_INIT: a[0] = Z_wsk_engineZ_init(m, a[0], a[1]); break;
    case WSK_EXPORT_OPEN: a[0] = Z_wsk_engineZ_open(m, a[0], a[1], a[2], f64_at(&a[3])); break;
    case WSK_EXPORT_UNMASK: Z_wsk_engineZ_unmask(m, a[0], a[1], a[2], a[3]); break;
    case WSK_EXPORT_IS_UTF8: a[0] = Z_wsk_engineZ_isUtf8(m, a[0], a[1]); break;
    case WSK_EXPORT_UTF8_VALIDATE: a[0] = Z_wsk_engineZ_utf8Validate(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_CONNECTION_STATE: a[0] = Z_wsk_engineZ_connectionState(m, a[0]); break;
    case WSK_EXPORT_FRAME_PAYLOAD_LENGTH: put_f64(a, Z_wsk_engineZ_framePayloadLength(m, a[0])); break;
    case WSK_EXPORT_BEGIN_MESSAGE:
        a[0] = Z_wsk_engineZ_beginMessage(m, a[0], a[1], f64_at(&a[2]), a[4], a[5], a[6]);
        break;
    case WSK_EXPORT_NEXT_FRAME: a[0] = Z_wsk_engineZ_nextFrame(m, a[0], a[1]); break;
    case WSK_EXPORT_HEADER_BYTES: a[0] = Z_wsk_engineZ_headerBytes(m, a[0], f64_at(&a[1])); break;
    case WSK_EXPORT_MASK_CHUNK: a[0] = Z_wsk_engineZ_maskChunk(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_USE_MASK_KEY: a[0] = Z_wsk_engineZ_useMaskKey(m, a[0], a[1]); break;
    case WSK_EXPORT_WRITE_CONTROL: a[0] = Z_wsk_engineZ_writeControl(m, a[0], a[1], a[2], a[3], a[4]); break;
    case WSK_EXPORT_WRITE_CLOSE: a[0] = Z_wsk_engineZ_writeClose(m, a[0], a[1], a[2], a[3], a[4]); break;
    case WSK_EXPORT_CHECK_CONTROL: a[0] = Z_wsk_engineZ_checkControl(m, a[0], a[1]); break;
    case WSK_EXPORT_CHECK_CLOSE: a[0] = Z_wsk_engineZ_checkClose(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_TOKEN_LENGTH: a[0] = Z_wsk_engineZ_tokenLength(m, a[0], a[1]); break;
    case WSK_EXPORT_PARSE_REQUEST: a[0] = Z_wsk_engineZ_parseRequest(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_PARSE_CONNECT: a[0] = Z_wsk_engineZ_parseConnect(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_SELECT_PROTOCOL: a[0] = Z_wsk_engineZ_selectProtocol(m, a[0], a[1], a[2], a[3]); break;
    case WSK_EXPORT_BUILD_RESPONSE:
        a[0] = Z_wsk_engineZ_buildResponse(m, a[0], a[1], a[2], a[3], a[4], a[5], a[6]);
        break;
    case WSK_EXPORT_BUILD_REJECTION: a[0] = Z_wsk_engineZ_buildRejection(m, a[0], a[1]); break;
    case WSK_EXPORT_BUILD_REQUEST:
        a[0] = Z_wsk_engineZ_buildRequest(m, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
        break;
    case WSK_EXPORT_PARSE_RESPONSE: a[0] = Z_wsk_engineZ_parseResponse(m, a[0], a[1], a[2], a[3], a[4], a[5]); break;
    case WSK_EXPORT_ACCEPT_KEY: a[0] = Z_wsk_engineZ_acceptKey(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_SHA1: a[0] = Z_wsk_engineZ_sha1(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_BUILD_CONNECT_REQUEST:
        a[0] = Z_wsk_engineZ_buildConnectRequest(m, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]);
        break;
    case WSK_EXPORT_PARSE_CONNECT_RESPONSE:
        a[0] = Z_wsk_engineZ_parseConnectResponse(m, a[0], a[1], a[2], a[3], a[4]);
        break;
    case WSK_EXPORT_FEED: a[0] = Z_wsk_engineZ_feed(m, a[0], a[1], a[2]); break;
    case WSK_EXPORT_ENTROPY_FILLED: Z_wsk_engineZ_entropyFilled(m, a[0]); break;
    case WSK_EXPORT_COUNT: break;
    }
}

bool wsk_backend_call(wsk_export_t fn, uint32_t argc, uint32_t *argv)
{
    if ((unsigned)fn >= WSK_EXPORT_COUNT || argc != wsk_export_cells[fn] || !s_loaded) {
        WSK_LOGE(TAG, "bad call: export %d with %u cells", (int)fn, (unsigned)argc);
        return false;
    }
    jmp_buf target;
    int trap = setjmp(target);
    if (trap != 0) {
        wasm_rt_set_unwind_target(NULL);
        WSK_LOGE(TAG, "%s trapped: %s", wsk_export_names[fn], wasm_rt_strerror((wasm_rt_trap_t)trap));
        return false;
    }
    wasm_rt_set_unwind_target(&target);
    dispatch(&s_instance, fn, argv);
    wasm_rt_set_unwind_target(NULL);
    return true;
}

wsk_err_t wsk_backend_load(void)
{
    wasm_rt_init();
    Z_wsk_engine_init_module();
    /* Instantiating allocates linear memory and copies the data segments in, both checked: guard them too. */
    jmp_buf target;
    int trap = setjmp(target);
    if (trap != 0) {
        wasm_rt_set_unwind_target(NULL);
        WSK_LOGE(TAG, "instantiate trapped: %s", wasm_rt_strerror((wasm_rt_trap_t)trap));
        Z_wsk_engine_free(&s_instance);
        wasm_rt_free();
        return WSK_ERR_ENGINE;
    }
    wasm_rt_set_unwind_target(&target);
    Z_wsk_engine_instantiate(&s_instance);
    wasm_rt_set_unwind_target(NULL);
    /* The static array must hold everything below __heap_base: the module's data and its static pool. */
    uint32_t heap_base = *Z_wsk_engineZ___heap_base(&s_instance);
    if (heap_base > s_instance.w2c_memory.size) {
        WSK_LOGE(TAG, "linear memory %u bytes < __heap_base %u", (unsigned)s_instance.w2c_memory.size,
                 (unsigned)heap_base);
        Z_wsk_engine_free(&s_instance);
        wasm_rt_free();
        return WSK_ERR_NO_MEM;
    }
    s_loaded = true;
    return WSK_OK;
}

void wsk_backend_unload(void)
{
    if (!s_loaded) return;
    Z_wsk_engine_free(&s_instance);
    wasm_rt_free();
    memset(&s_instance, 0, sizeof(s_instance));
    s_loaded = false;
}

uint8_t *wsk_backend_memory(uint32_t *size)
{
    *size = s_loaded ? s_instance.w2c_memory.size : 0;
    return s_loaded ? s_instance.w2c_memory.data : NULL;
}

void wsk_backend_stats(wsk_stats_t *stats)
{
    (void)stats; /* no pool, no module in RAM: linear memory is all, and wsk_engine.c reports it */
}
