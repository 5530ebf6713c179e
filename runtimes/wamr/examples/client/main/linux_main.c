/*
 * Linux entry point of the client example. Options: --uri ws://127.0.0.1:8080/ --clients N
 * --fragment BYTES --subprotocol P --header "Name: value" --timeout MS. Exit status 0 when every client
 * got all its echoes and closed cleanly; a final "STATS ..." line shows the memory left in use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_example.h"

extern int wsk_log_level;

int main(int argc, char **argv)
{
    client_example_options_t options = {.uri = "ws://127.0.0.1:8080/", .clients = 1, .timeout_ms = 5000};
    static char headers[512];
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--uri")) options.uri = argv[i + 1];
        else if (!strcmp(argv[i], "--clients")) options.clients = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--fragment")) options.max_fragment_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--subprotocol")) options.subprotocol = argv[i + 1];
        else if (!strcmp(argv[i], "--timeout")) options.timeout_ms = atoi(argv[i + 1]);
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
    return ok == options.clients ? 0 : 1;
}
