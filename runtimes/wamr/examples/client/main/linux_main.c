/*
 * Linux entry point of the client example. Options: --uri ws://127.0.0.1:8080/ --clients N
 * --fragment BYTES --max-message BYTES --ping-interval S --pong-timeout S --subprotocol P --header "Name: value" --timeout MS --ca PEM-FILE (wss: the CA to trust)
 * --skip-cn-check 1 (wss: verify the chain only) --auto-reconnect 1 (off by default) --reconnect-ms MS
 * --expect-connects N (exchange messages on the Nth connection) --buffer-size BYTES (the client's buffer_size)
 * --long BYTES (size of the long text message, 3000 by default). Exit status 0 when every client
 * got all its echoes and closed cleanly; a final "STATS ..." line shows the memory left in use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_example.h"
#include "linux_read_file.h"

extern int wsk_log_level;

int main(int argc, char **argv)
{
    client_example_options_t options = {.uri = "ws://127.0.0.1:8080/", .clients = 1, .timeout_ms = 5000};
    static char headers[512];
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--uri")) options.uri = argv[i + 1];
        else if (!strcmp(argv[i], "--clients")) options.clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fragment")) options.max_fragment_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-message")) options.max_message_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--ping-interval")) options.ping_interval_sec = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--pong-timeout")) options.pingpong_timeout_sec = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--subprotocol")) options.subprotocol = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout")) options.timeout_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--auto-reconnect")) options.auto_reconnect = atoi(argv[i + 1]) != 0;
        else if (!strcmp(argv[i], "--reconnect-ms")) options.reconnect_timeout_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--expect-connects")) options.expect_connects = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--buffer-size")) options.buffer_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--long")) options.long_bytes = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--skip-cn-check")) options.skip_cert_common_name_check = atoi(argv[i + 1]) != 0;
        else if (!strcmp(argv[i], "--ca")) {
            free((char *)options.cert_pem);
            options.cert_pem = linux_read_file(argv[i + 1]);
            if (!options.cert_pem) {
                fprintf(stderr, "cannot read %s\n", argv[i + 1]);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--header")) {
            size_t at = strlen(headers);
            snprintf(headers + at, sizeof(headers) - at, "%s\r\n", argv[i + 1]);
            options.headers = headers;
        } else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    const char *level = getenv("WSK_LOG_LEVEL");
    if (level) wsk_log_level = atoi(level);
    int ok = client_example_run(&options);
    wsk_stats_t st;
    wsk_get_stats(&st);
    printf("STATS pool_used=%zu host_heap=%zu ok=%d/%d\n", st.wamr_pool_used, st.host_heap_used, ok,
           options.clients);
    free((char *)options.cert_pem);
    return ok == options.clients ? 0 : 1;
}
