/*
 * Checks of the engine back end itself (src/wsk_backend.h), on whichever back end the build chose, run by
 * backend.test.ts on every target: a call that makes the module touch memory past its end traps and fails
 * only that call; calls work again after a trap; a call with the wrong number of cells is refused; unloading
 * and loading again gives fresh, zeroed linear memory. Prints one "ok <name>" line per check, "FAIL <name>"
 * and exit status 1 on the first that fails.
 */
#include <stdio.h>
#include <string.h>

#include "wsk_backend.h"

extern int wsk_log_level;

static int failures;

static void check(const char *name, int passed)
{
    printf("%s %s\n", passed ? "ok" : "FAIL", name);
    if (!passed) failures++;
}

int main(void)
{
    check("load", wsk_backend_load() == WSK_OK);
    uint32_t size = 0;
    uint8_t *memory = wsk_backend_memory(&size);
    printf("backend %s, linear memory %u bytes\n", wsk_backend_name, (unsigned)size);
    check("linear memory is there", memory != NULL && size >= 4096);

    uint32_t argv[4] = {0};
    check("resultPtr answers inside linear memory", wsk_backend_call(WSK_EXPORT_RESULT_PTR, 0, argv) && argv[0] < size);

    argv[0] = 0;
    check("a call with too few cells is refused", !wsk_backend_call(WSK_EXPORT_IS_UTF8, 1, argv));

    /* isUtf8(ptr, len) reads len bytes at ptr: from 16 bytes before the end, PAST bytes run past it (WAMR
       rounds the memory it allocates up, so a few bytes past the end it reports may still be inside). */
    enum { PAST = 8192 };
    memset(memory + size - 16, 'a', 16);
    argv[0] = size - 16;
    argv[1] = PAST;
    check("a read past the end of linear memory traps and fails the call", !wsk_backend_call(WSK_EXPORT_IS_UTF8, 2, argv));
    argv[0] = size - 16;
    argv[1] = 16;
    check("the next call works: the last 16 bytes are ASCII",
          wsk_backend_call(WSK_EXPORT_IS_UTF8, 2, argv) && argv[0] == 1);
    memory[size - 1] = 0xff;
    argv[0] = size - 16;
    argv[1] = 16;
    check("and sees a byte written by the host (0xff is not UTF-8)",
          wsk_backend_call(WSK_EXPORT_IS_UTF8, 2, argv) && argv[0] == 0);
    /* unmask(ptr, len, key, offset) writes: a write past the end traps too. */
    uint32_t unmask[4] = {size - 8, PAST, 0x01020304, 0};
    check("a write past the end of linear memory traps", !wsk_backend_call(WSK_EXPORT_UNMASK, 4, unmask));
    int level = wsk_log_level;
    wsk_log_level = 0; /* each trap logs a line */
    for (int i = 0; i < 1000; i++) {
        argv[0] = size - 4;
        argv[1] = PAST;
        if (wsk_backend_call(WSK_EXPORT_IS_UTF8, 2, argv)) break;
    }
    wsk_log_level = level;
    argv[0] = size - 16;
    argv[1] = 15;
    check("1,000 traps in a row leave calls working (no call depth or stack left behind)",
          wsk_backend_call(WSK_EXPORT_IS_UTF8, 2, argv) && argv[0] == 1);

    wsk_backend_unload();
    check("load again", wsk_backend_load() == WSK_OK);
    memory = wsk_backend_memory(&size);
    check("fresh linear memory is zeroed", memory != NULL && memory[size - 1] == 0);
    wsk_backend_unload();
    printf("%s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}
