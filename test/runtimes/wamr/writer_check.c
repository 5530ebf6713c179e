/*
 * The C host's sends through the engine's writer (src/wsk_engine.c over the generated ABI), run by
 * writer.test.ts on every target: messages framed by the engine's message writer (opcode, continuations, FIN,
 * fragment sizes, every length form, payloads longer than the transmit area, a client's masking), and the
 * control and close limits the engine alone checks, mapped to the host's errors. Prints one "ok <name>" line
 * per check, "FAIL <name>" for each that fails, and exits 1 when any did.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsk_engine.h"
#include "wsk_platform.h"

static int failures;

static void check(const char *name, int passed)
{
    printf("%s %s\n", passed ? "ok" : "FAIL", name);
    if (!passed) failures++;
}

/* What the engine asked the host to write, appended, and how many writes that took. */
static struct {
    uint8_t *bytes;
    size_t len, cap;
    int writes;
} out;

static wsk_err_t capture(void *ctx, const uint8_t *bytes, size_t len)
{
    (void)ctx;
    if (out.len + len > out.cap) {
        out.cap = (out.len + len) * 2;
        out.bytes = realloc(out.bytes, out.cap);
        if (!out.bytes) return WSK_ERR_NO_MEM;
    }
    memcpy(out.bytes + out.len, bytes, len);
    out.len += len;
    out.writes++;
    return WSK_OK;
}

static void reset(void)
{
    out.len = 0;
    out.writes = 0;
}

/* True when what was written is exactly `hex`. */
static int wrote(const char *hex)
{
    size_t n = strlen(hex) / 2;
    if (n != out.len) return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned byte;
        if (sscanf(hex + 2 * i, "%2x", &byte) != 1 || out.bytes[i] != byte) return 0;
    }
    return 1;
}

int main(void)
{
    wsk_lock();
    check("engine loads", wsk_engine_acquire() == WSK_OK);
    int server = wsk_engine_open(WSK_ROLE_SERVER, 1 << 20);
    int client = wsk_engine_open(WSK_ROLE_CLIENT, 1 << 20);
    check("slots open", server >= 0 && client >= 0);

    reset();
    check("a fragmented text message is sent",
          wsk_engine_send_message(server, WSK_OP_TEXT, "Hello", 5, 3, capture, NULL) == WSK_OK);
    check("as the engine framed it: text, then a continuation with FIN (RFC 6455 5.7)",
          wrote("010348656c80026c6f") && out.writes == 2);

    reset();
    check("an empty binary message is one frame with FIN",
          wsk_engine_send_message(server, WSK_OP_BINARY, NULL, 0, 0, capture, NULL) == WSK_OK && wrote("8200"));

    /* Longer than the transmit area: one header, the payload in pieces, bytes intact. */
    enum { BIG = 70000 };
    uint8_t *big = malloc(BIG);
    if (!big) return 1;
    for (size_t i = 0; i < BIG; i++) big[i] = (uint8_t)(i * 7 + 3);
    reset();
    check("a 70000-byte message is sent",
          wsk_engine_send_message(server, WSK_OP_BINARY, big, BIG, 0, capture, NULL) == WSK_OK);
    check("with the 64-bit length form and every payload byte in order",
          out.len == 10 + BIG && memcmp(out.bytes, "\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70", 10) == 0 &&
              memcmp(out.bytes + 10, big, BIG) == 0);

    reset();
    check("fragments of 30000 bytes: three frames, FIN on the last only",
          wsk_engine_send_message(server, WSK_OP_BINARY, big, BIG, 30000, capture, NULL) == WSK_OK &&
              out.len == 3 * 4 + BIG && out.bytes[0] == 0x02 && out.bytes[4 + 30000] == 0x00 &&
              out.bytes[8 + 60000] == 0x80 && memcmp(out.bytes + 12 + 60000, big + 60000, BIG - 60000) == 0);

    reset();
    check("a ping opcode is no message",
          wsk_engine_send_message(server, WSK_OP_PING, "x", 1, 0, capture, NULL) == WSK_ERR_INVALID_ARG &&
              out.len == 0);

    static const char p125[126] = {0};
    reset();
    check("a 125-byte ping is sent with FIN",
          wsk_engine_send_control(server, WSK_OP_PING, p125, 125, capture, NULL) == WSK_OK && out.len == 127 &&
              out.bytes[0] == 0x89 && out.bytes[1] == 125);
    reset();
    check("a 126-byte ping is refused by the engine (invalid size), nothing written",
          wsk_engine_send_control(server, WSK_OP_PING, p125, 126, capture, NULL) == WSK_ERR_INVALID_SIZE &&
              out.len == 0);
    check("a control payload far past the staging room is refused unread",
          wsk_engine_send_control(server, WSK_OP_PONG, big, BIG, capture, NULL) == WSK_ERR_INVALID_SIZE &&
              out.len == 0);
    check("a text opcode is no control frame",
          wsk_engine_send_control(server, WSK_OP_TEXT, "x", 1, capture, NULL) == WSK_ERR_INVALID_ARG && out.len == 0);

    /* A client's message: a fresh masking key per frame, payload masked by the engine. */
    reset();
    check("a client message is sent",
          wsk_engine_send_message(client, WSK_OP_TEXT, "Hello", 5, 3, capture, NULL) == WSK_OK);
    int unmasked = out.len == 6 + 3 + 6 + 2 && out.bytes[0] == 0x01 && out.bytes[1] == 0x83 &&
                   out.bytes[9] == 0x80 && out.bytes[10] == 0x82;
    for (size_t i = 0; unmasked && i < 3; i++) unmasked = (out.bytes[6 + i] ^ out.bytes[2 + i % 4]) == "Hel"[i];
    for (size_t i = 0; unmasked && i < 2; i++) unmasked = (out.bytes[15 + i] ^ out.bytes[11 + i % 4]) == "lo"[i];
    check("masked, each frame with its key", unmasked && memcmp(out.bytes + 2, out.bytes + 11, 4) != 0);

    char reason[130];
    memset(reason, 'r', sizeof(reason));
    reason[124] = 0;
    reset();
    check("a 124-byte close reason is refused by the engine (invalid size)",
          wsk_engine_send_close(server, 1000, reason, capture, NULL) == WSK_ERR_INVALID_SIZE && out.len == 0);
    check("close code 1005 is refused (invalid argument)",
          wsk_engine_send_close(server, 1005, "", capture, NULL) == WSK_ERR_INVALID_ARG && out.len == 0);
    check("a reason that is not UTF-8 is refused",
          wsk_engine_send_close(server, 1000, "\xc3\x28", capture, NULL) == WSK_ERR_INVALID_ARG && out.len == 0);
    reason[123] = 0;
    check("a 123-byte reason is sent", wsk_engine_send_close(server, 1000, reason, capture, NULL) == WSK_OK &&
                                           out.len == 127 && out.bytes[0] == 0x88 && out.bytes[1] == 125);
    reset();
    check("after the close frame: no second close, no message",
          wsk_engine_send_close(server, 1000, "", capture, NULL) == WSK_ERR_INVALID_STATE &&
              wsk_engine_send_message(server, WSK_OP_TEXT, "x", 1, 0, capture, NULL) == WSK_ERR_INVALID_STATE &&
              out.len == 0);

    free(big);
    free(out.bytes);
    wsk_engine_close(server);
    wsk_engine_close(client);
    wsk_engine_release();
    wsk_unlock();
    printf("%s\n", failures ? "FAILED" : "PASSED");
    return failures ? 1 : 0;
}
