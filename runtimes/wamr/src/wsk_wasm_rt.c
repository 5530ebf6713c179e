/*
 * The runtime wasm2c's output needs (wasm-rt.h), written for the engine rather than taken from wabt's
 * wasm-rt-impl.c, which reserves gigabytes with mmap and catches out-of-bounds accesses with guard pages and
 * signals: nothing a microcontroller has. Here linear memory is one static array (the engine never grows it),
 * every access is bounds-checked in software (WASM_RT_MEMCHECK_SIGNAL_HANDLER=0), call depth is counted, and
 * a trap longjmps to the target the caller set with wasm_rt_set_unwind_target (wsk_backend_wasm2c.c).
 * One module instance at a time, called with the host lock held.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "wasm-rt.h"
#include "wsk_engine_w2c_memory.h"

#if WASM_RT_MEMCHECK_SIGNAL_HANDLER
#error "build the engine with -DWASM_RT_MEMCHECK_SIGNAL_HANDLER=0: this runtime has no guard pages"
#endif
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#error "the host reads linear memory in place: little-endian targets only"
#endif

/** Linear memory: __heap_base of the translated module (wsk_engine_w2c_memory.h), which is all it uses. */
static uint8_t s_memory[WSK_W2C_MEMORY_BYTES] __attribute__((aligned(16)));
static bool s_memory_used;
static bool s_initialized;
static WASM_RT_UNWIND_TARGET *s_unwind_target;

uint32_t wasm_rt_call_stack_depth;

void wasm_rt_init(void)
{
    s_initialized = true;
    wasm_rt_call_stack_depth = 0;
}

bool wasm_rt_is_initialized(void)
{
    return s_initialized;
}

void wasm_rt_free(void)
{
    s_initialized = false;
}

WASM_RT_UNWIND_TARGET *wasm_rt_get_unwind_target(void)
{
    return s_unwind_target;
}

void wasm_rt_set_unwind_target(WASM_RT_UNWIND_TARGET *target)
{
    s_unwind_target = target;
}

void wasm_rt_trap(wasm_rt_trap_t trap)
{
    wasm_rt_call_stack_depth = 0;
    /* A trap outside a guarded call is a host bug: there is nowhere sane to return to. */
    if (!s_unwind_target) abort();
    WASM_RT_UNWIND_TARGET *target = s_unwind_target;
    s_unwind_target = NULL;
    longjmp(*target, trap == WASM_RT_TRAP_NONE ? -1 : (int)trap);
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap)
{
    switch (trap) {
    case WASM_RT_TRAP_NONE: return "no error";
    case WASM_RT_TRAP_OOB: return "out-of-bounds access in linear memory";
    case WASM_RT_TRAP_INT_OVERFLOW: return "integer overflow";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "invalid conversion to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "unreachable executed (the engine aborted)";
    case WASM_RT_TRAP_CALL_INDIRECT: return "invalid call_indirect";
    case WASM_RT_TRAP_EXHAUSTION: return "call stack exhausted";
    default: return "unknown trap";
    }
}

/*
 * Function types, for call_indirect's signature check: equal signatures get equal numbers, as wabt's runtime
 * gives. One u32 per type the module declares (WSK_W2C_FUNC_TYPES, counted in the translation; 26 in the
 * engine, the largest with 11 parameters and a result): the parameter count in bits 0-3, the result count in
 * bits 4-7, then 2 bits per value type (i32, i64, f32, f64). 104 bytes of RAM, where one byte per value was ~450.
 */
enum { MAX_FUNC_TYPE_VALUES = 12 };
static uint32_t s_func_types[WSK_W2C_FUNC_TYPES];
static uint32_t s_func_type_count;

uint32_t wasm_rt_register_func_type(uint32_t params, uint32_t results, ...)
{
    /* A module beyond these limits is not the engine: fail loudly rather than compare signatures wrongly. */
    if (params + results > MAX_FUNC_TYPE_VALUES) abort();
    uint32_t signature = params | results << 4;
    va_list args;
    va_start(args, results);
    for (uint32_t i = 0; i < params + results; i++) {
        int type = va_arg(args, int);
        if (type < WASM_RT_I32 || type > WASM_RT_F64) abort(); /* no references or SIMD in the engine */
        signature |= (uint32_t)type << (8 + 2 * i);
    }
    va_end(args);
    for (uint32_t i = 0; i < s_func_type_count; i++)
        if (s_func_types[i] == signature) return i;
    if (s_func_type_count == WSK_W2C_FUNC_TYPES) abort();
    s_func_types[s_func_type_count] = signature;
    return s_func_type_count++;
}

void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages)
{
    (void)max_pages;
    /* One instance: a second memory, or a module whose data lies above the array, cannot be served. */
    if (s_memory_used) wasm_rt_trap(WASM_RT_TRAP_OOB);
    s_memory_used = true;
    memset(s_memory, 0, sizeof(s_memory));
    memory->data = s_memory;
    memory->pages = initial_pages;
    memory->max_pages = initial_pages; /* never grown */
    /* Like WAMR for a module without memory.grow: only the bytes below __heap_base exist; past them, accesses trap. */
    memory->size = (uint32_t)sizeof(s_memory);
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory)
{
    if (memory->data == s_memory) s_memory_used = false;
    memory->data = NULL;
    memory->size = 0;
    memory->pages = 0;
}
