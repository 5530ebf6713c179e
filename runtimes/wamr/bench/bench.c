/*
 * unmask and UTF-8 validation in the engine on the build's back end (WAMR or wasm2c: the module's `unmask` and
 * `isUtf8` exports, on data in linear memory) beside the same loops in plain C, 16 B to 16 KiB (capped at the
 * engine's receive area). Prints MB/s and the C/engine ratio. Usage: wsk_bench [milliseconds per case]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsk_engine.h"
#include "wsk_platform.h"

static void c_unmask(uint8_t *p, size_t len, uint32_t key, uint32_t offset)
{
    uint8_t k[4];
    memcpy(k, &key, 4);
    for (size_t i = 0; i < len; i++) p[i] ^= k[(i + offset) & 3];
}

/* A plain branchy validator (RFC 3629), the usual C baseline. */
static int c_is_utf8(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        size_t n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : 1;
        if (c < 0xc2 || c > 0xf4 || i + n >= len + 0 + (i + n > len)) { if (c < 0xc2 || c > 0xf4 || i + n >= len + 1) return 0; }
        for (size_t j = 1; j <= n; j++) if ((s[i + j] & 0xc0) != 0x80) return 0;
        if (c == 0xe0 && s[i + 1] < 0xa0) return 0;
        if (c == 0xed && s[i + 1] > 0x9f) return 0;
        if (c == 0xf0 && s[i + 1] < 0x90) return 0;
        if (c == 0xf4 && s[i + 1] > 0x8f) return 0;
        i += n + 1;
    }
    return 1;
}

static volatile uint32_t sink;

static double rate(size_t len, long iterations, int64_t ms)
{
    return ms > 0 ? (double)len * (double)iterations / 1e3 / (double)ms : 0; /* MB/s */
}

int main(int argc, char **argv)
{
    int budget = argc > 1 ? atoi(argv[1]) : 200;
    wsk_lock();
    if (wsk_engine_acquire() != WSK_OK) return 1;
    size_t area;
    uint8_t *rx = wsk_engine_rx(&area);
    static uint8_t local[16384];
    wsk_stats_t stats;
    wsk_get_stats(&stats);
    printf("engine back end: %s\n", stats.engine_backend);
    printf("%-7s %6s %12s %12s %7s\n", "case", "bytes", "engine MB/s", "C MB/s", "C/engine");
    for (int kind = 0; kind < 3; kind++) {
        for (size_t len = 16; len <= 16384; len *= 4) {
            if (len > area) break;
            static const char mixed[] = "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93 "; /* 18 bytes of UTF-8 */
            const size_t mixed_len = sizeof(mixed) - 1;
            for (size_t i = 0; i < len; i++) local[i] = (uint8_t)('a' + i % 26);
            if (kind == 2)
                for (size_t i = 0; i + mixed_len <= len; i += mixed_len) memcpy(local + i, mixed, mixed_len);
            memcpy(rx, local, len);
            long n;
            int64_t t0;
            double wamr, c;
            for (n = 0, t0 = wsk_now_ms(); wsk_now_ms() - t0 < budget; n++) {
                if (kind == 0) wsk_engine_unmask(len, 0x12345678, 0);
                else { uint32_t v; wsk_engine_is_utf8(len, &v); sink += v; }
            }
            wamr = rate(len, n, wsk_now_ms() - t0);
            for (n = 0, t0 = wsk_now_ms(); wsk_now_ms() - t0 < budget; n++) {
                if (kind == 0) c_unmask(local, len, 0x12345678, 0);
                else sink += (uint32_t)c_is_utf8(local, len);
            }
            c = rate(len, n, wsk_now_ms() - t0);
            printf("%-7s %6zu %12.1f %12.1f %6.1fx\n", kind == 0 ? "unmask" : kind == 1 ? "utf8/a" : "utf8/m", len, wamr, c,
                   wamr > 0 ? c / wamr : 0);
        }
    }
    wsk_engine_release();
    wsk_unlock();
    return 0;
}
