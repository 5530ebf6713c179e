/*
 * unmask and UTF-8 validation in the engine on the build's back end (WAMR or wasm2c: the module's `unmask` and
 * `isUtf8` exports, on data in linear memory) beside the same loops in plain C, 16 B to 16 KiB (capped at the
 * engine's receive area); then frames per second: a receive area of small masked text frames fed to a server
 * slot (header, unmask, UTF-8, one event each: the whole receive path), beside a plain C loop doing the same
 * three steps. Prints MB/s (frames/s) and the C/engine ratio. Usage: wsk_bench [milliseconds per case]
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

/* Small frames as a client sends them: FIN text, masked, FRAME_PAYLOAD bytes of ASCII. */
#define FRAME_PAYLOAD 20
#define FRAME_BYTES (2 + 4 + FRAME_PAYLOAD)

static size_t make_frames(uint8_t *out, size_t room)
{
    size_t n = 0;
    for (; (n + 1) * FRAME_BYTES <= room; n++) {
        uint8_t *f = out + n * FRAME_BYTES;
        static const uint8_t key[4] = {0x12, 0x34, 0x56, 0x78};
        f[0] = 0x81;
        f[1] = 0x80 | FRAME_PAYLOAD;
        memcpy(f + 2, key, 4);
        for (size_t i = 0; i < FRAME_PAYLOAD; i++) f[6 + i] = (uint8_t)(('a' + (n + i) % 26) ^ key[i & 3]);
    }
    return n;
}

/* The plain C receive path for those frames: parse the 2-byte header and key, unmask, validate. */
static size_t c_frames(uint8_t *p, size_t len)
{
    size_t frames = 0;
    for (size_t at = 0; at + 6 <= len; frames++) {
        size_t payload = p[at + 1] & 0x7f;
        uint32_t key;
        memcpy(&key, p + at + 2, 4);
        c_unmask(p + at + 6, payload, key, 0);
        if ((p[at] & 0x0f) == 1 && !c_is_utf8(p + at + 6, payload)) return 0;
        at += 6 + payload;
    }
    return frames;
}

static bool count_event(void *ctx, const wsk_event_t *event)
{
    if (event->type == WSK_EVENT_TYPE_DATA) ++*(long *)ctx;
    return true;
}

static wsk_err_t discard(void *ctx, const uint8_t *bytes, size_t len)
{
    return WSK_OK;
}

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
    uint8_t frames[1024];
    size_t count = make_frames(frames, area < sizeof(frames) ? area : sizeof(frames));
    size_t bytes = count * FRAME_BYTES;
    int slot = wsk_engine_open(WSK_ROLE_SERVER, 1 << 20);
    if (slot < 0) return 1;
    long events = 0, n;
    int64_t t0, ms;
    for (n = 0, t0 = wsk_now_ms(); wsk_now_ms() - t0 < budget; n++)
        if (wsk_engine_feed_bytes(slot, frames, bytes, discard, count_event, &events) != WSK_OK) return 1;
    ms = wsk_now_ms() - t0;
    if (events != n * (long)count) {
        fprintf(stderr, "frames: %ld events for %ld frames\n", events, n * (long)count);
        return 1;
    }
    double engine_fps = ms > 0 ? (double)events * 1e3 / (double)ms : 0;
    long c_count = 0;
    for (n = 0, t0 = wsk_now_ms(); wsk_now_ms() - t0 < budget; n++) {
        memcpy(local, frames, bytes); /* as the engine's feed copies into its receive area */
        c_count += (long)c_frames(local, bytes);
    }
    ms = wsk_now_ms() - t0;
    double c_fps = ms > 0 ? (double)c_count * 1e3 / (double)ms : 0;
    printf("%-7s %6d %12.0f %12.0f %6.1fx   (frames/s, %zu frames of %d B per feed)\n", "frames", FRAME_BYTES,
           engine_fps, c_fps, engine_fps > 0 ? c_fps / engine_fps : 0, count, FRAME_BYTES);
    wsk_engine_close(slot);
    wsk_engine_release();
    wsk_unlock();
    return 0;
}
