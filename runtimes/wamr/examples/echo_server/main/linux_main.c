/*
 * Linux entry point of the echo server example. Prints "ENGINE <back end>" and "PORT <n>" once listening.
 * SIGUSR1 prints a "STATS ..." line (WAMR pool and host heap in use); SIGINT/SIGTERM or stdin closing stop the server, which
 * then prints a final STATS line and exits 0.
 * Options: --port N (0: any) --bind ADDR --path P --max-clients N --backlog N (listen backlog)
 * --grace MS (new_client_grace_ms) --max-message BYTES --subprotocols a,b
 * --rx-buffer BYTES (rx_buffer_size) --send-timeout MS --max-send-queue BYTES --cert PEM-FILE --key PEM-FILE (wss)
 * --heartbeat INTERVAL_MS[,TIMEOUT_MS] or --heartbeat off (default: Kconfig's 30000,10000)
 * --lru-purge on|off (lru_purge_enable; default on) --close-timeout MS (close_timeout_ms; default 1000).
 * STATS also shows malloc_in_use: the whole process's heap (mallinfo2), which includes what mbedTLS allocates.
 */
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "echo_server.h"
#include "linux_read_file.h"

extern int wsk_log_level;

static volatile sig_atomic_t s_stop, s_stats;

/* "--heartbeat off" or "INTERVAL_MS[,TIMEOUT_MS]", both positive; false if it is neither. */
static bool parse_heartbeat(const char *text, echo_server_options_t *options)
{
    if (!strcmp(text, "off")) {
        options->heartbeat_interval_ms = WSK_HEARTBEAT_OFF;
        return true;
    }
    char *end;
    long interval = strtol(text, &end, 10), timeout = 0; /* 0: the default timeout */
    if (*end == ',' && ((timeout = strtol(end + 1, &end, 10)) <= 0 || timeout > INT_MAX)) return false;
    if (*end != 0 || interval <= 0 || interval > INT_MAX) return false;
    options->heartbeat_interval_ms = (int)interval;
    options->heartbeat_timeout_ms = (int)timeout;
    return true;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) s_stats = 1;
    else s_stop = 1;
}

static void print_stats(void)
{
    wsk_stats_t st;
    wsk_get_stats(&st);
    printf("STATS pool_used=%zu pool_highmark=%zu pool_bytes=%zu host_heap=%zu linear_memory=%zu module=%zu "
           "slots_used=%u slots_total=%u malloc_in_use=%zu\n",
           st.wamr_pool_used, st.wamr_pool_highmark, st.wamr_pool_bytes, st.host_heap_used, st.linear_memory_bytes,
           st.module_bytes, (unsigned)st.slots_used, (unsigned)st.slots_total,
           (size_t)mallinfo2().uordblks);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    echo_server_options_t options = {.bind_address = "127.0.0.1", .port = 0, .path = "/", .max_clients = 4,
                                     .max_message_size = 65536};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--port")) options.port = (uint16_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--bind")) options.bind_address = argv[i + 1];
        else if (!strcmp(argv[i], "--path")) options.path = argv[i + 1];
        else if (!strcmp(argv[i], "--max-clients")) options.max_clients = (uint8_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--backlog")) options.backlog_conn = (uint8_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--grace")) options.new_client_grace_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-message")) options.max_message_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--rx-buffer")) options.rx_buffer_size = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--send-timeout")) options.send_timeout_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--max-send-queue")) options.max_send_queue = (size_t)atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--subprotocols")) options.subprotocols = argv[i + 1];
        else if (!strcmp(argv[i], "--close-timeout")) options.close_timeout_ms = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--lru-purge")) {
            if (strcmp(argv[i + 1], "on") && strcmp(argv[i + 1], "off")) {
                fprintf(stderr, "--lru-purge takes on or off, not %s\n", argv[i + 1]);
                return 2;
            }
            options.no_lru_purge = !strcmp(argv[i + 1], "off");
        }
        else if (!strcmp(argv[i], "--heartbeat")) {
            if (!parse_heartbeat(argv[i + 1], &options)) {
                fprintf(stderr, "--heartbeat takes INTERVAL_MS[,TIMEOUT_MS] (both > 0) or off, not %s\n", argv[i + 1]);
                return 2;
            }
        }
        else if (!strcmp(argv[i], "--cert") || !strcmp(argv[i], "--key")) {
            char *pem = linux_read_file(argv[i + 1]);
            if (!pem) {
                fprintf(stderr, "cannot read %s\n", argv[i + 1]);
                return 2;
            }
            if (argv[i][2] == 'c') options.server_cert_pem = pem;
            else options.server_key_pem = pem;
        }
        else {
            fprintf(stderr, "unknown option %s\n", argv[i]);
            return 2;
        }
    }
    const char *level = getenv("WSK_LOG_LEVEL");
    if (level) wsk_log_level = atoi(level);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    wsk_server_handle_t server;
    wsk_err_t err = echo_server_start(&options, &server);
    if (err != WSK_OK) {
        fprintf(stderr, "echo_server: cannot start: %s\n", wsk_err_to_name(err));
        return 1;
    }
    wsk_stats_t started;
    wsk_get_stats(&started);
    printf("ENGINE %s\n", started.engine_backend); /* before PORT, so a test that waited for PORT has it */
    printf("PORT %u\n", wsk_server_get_port(server));
    print_stats();
    struct pollfd in = {.fd = STDIN_FILENO, .events = POLLIN};
    bool watch_stdin = !isatty(STDIN_FILENO);
    while (!s_stop) {
        if (s_stats) {
            s_stats = 0;
            print_stats();
        }
        if (watch_stdin && poll(&in, 1, 50) > 0) {
            char buf[64];
            if (read(STDIN_FILENO, buf, sizeof(buf)) <= 0) break;
        } else if (!watch_stdin) {
            usleep(50 * 1000);
        }
    }
    wsk_server_stop(server);
    print_stats();
    free((char *)options.server_cert_pem);
    free((char *)options.server_key_pem);
    return 0;
}
