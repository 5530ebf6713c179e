/*
 * A test driver for the C client (include/wsk_client.h): many clients in one process, opened one command at a
 * time, every event they report printed as one line, so test/runtimes/wamr/client-driver.ts can judge what the
 * client delivered byte for byte (the hostile-server fuzzer, hostile-client.test.ts). Batching connections in
 * one long-lived process keeps a few thousand of them within seconds, sanitizers included.
 *
 * Commands, one per line on stdin:
 *   open ID PORT PATH BUFFER_SIZE MAX_MESSAGE MAX_FRAGMENT PING_INTERVAL_SEC PINGPONG_TIMEOUT_SEC RECONNECT_MS
 *        NETWORK_TIMEOUT_MS [CA_PEM_FILE]
 *       a client for ws://127.0.0.1:PORT/PATH (wss:// trusting CA_PEM_FILE when given), started at once; it
 *       reconnects after RECONNECT_MS when that is 0 or more, never when it is negative
 *   send ID text|binary LEN [TIMEOUT_MS]
 *       a message of LEN bytes ('a' + i % 26) from this thread (timeout_ms 1000 unless given); prints "ID SENT rc"
 *   close ID TIMEOUT_MS [CODE REASON_HEX]
 *       wsk_client_close (wsk_client_close_with_code with CODE and the reason's bytes in hex, "-" for none) on a
 *       thread of its own, so that its wait holds up no other command; prints "ID CLOSE_RETURNED err"
 *   stop ID                      wsk_client_stop (while a "close" of the client waits, too); prints
 *                                "ID STOP_RETURNED err"
 *   hold ID MS                   the client's next CLOSED or DISCONNECTED handler waits MS ms once its line is out
 *                                (its task ends that much later)
 *   stats                        prints "STATS heap=… slots=…"
 *   together N                   the next N clients opened wait in their BEFORE_CONNECT handler (on their own
 *                                tasks) until all N are there, at most 10 s, then connect at the same moment
 * Output, one line per event: "ID BEGIN", "ID BEFORE_CONNECT", "ID CONNECTED",
 *   "ID DATA op fin payload_len payload_offset close_code hex", "ID ERROR type close_code status errno",
 *   "ID CLOSED code type status errno", "ID DISCONNECTED code type status errno" (the error fields
 *   the event carries), "ID FINISH", then "ID DESTROYED err" once the main thread freed
 *   the client. At the end of stdin every client is waited for (at most 30 s) and freed, a last STATS line is
 *   printed ("STATS heap=… slots=… psa_keys=…"), and the exit status is 0 when the host holds no heap and no slot
 *   and, built against mbedTLS 3.x, PSA holds no key (every connection destroys its keys when it ends, however
 *   its handshake ended; a key left in PSA's key store stays reachable, so LeakSanitizer would not report it).
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "linux_read_file.h"
#include "wsk_client.h"

#if WSK_TLS
#define MBEDTLS_ALLOW_PRIVATE_ACCESS /* mbedtls_psa_stats_t's fields */
#include "mbedtls/version.h"
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#define WITH_PSA 1
#endif
#endif

/* Keys in PSA's key store (mbedTLS 3.x), 0 without PSA. Only once no client runs: nothing guards the store. */
static size_t psa_keys(void)
{
#ifdef WITH_PSA
    mbedtls_psa_stats_t st;
    mbedtls_psa_get_stats(&st);
    return st.volatile_slots + st.persistent_slots;
#else
    return 0;
#endif
}

extern int wsk_log_level;

#define MAX_CLIENTS 64

typedef struct {
    long id;
    wsk_client_handle_t handle;
    bool finished; /* set (under finished_lock) once the FINISH event was printed */
    bool together; /* waits for its group at BEFORE_CONNECT ("together N") */
    bool closing;  /* a "close" thread was started (`closer`) and not joined yet */
    bool closed;   /* that thread returned (under finished_lock) */
    int hold_ms;   /* "hold": the next CLOSED or DISCONNECTED handler waits this long (under finished_lock) */
    pthread_t closer;
    int close_timeout_ms;
    bool close_with_code; /* wsk_client_close_with_code(close_code, close_reason), else wsk_client_close */
    uint16_t close_code;
    char close_reason[256]; /* up to 255 bytes: longer than a close frame takes (123) */
} driven_t;

static driven_t clients[MAX_CLIENTS];
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
/* A mutex rather than atomics: Helgrind (tls.test.ts) sees the order a mutex makes, not the atomics'. */
static pthread_mutex_t finished_lock = PTHREAD_MUTEX_INITIALIZER;

/* "together N": clients opened while `together_left` > 0 join the current group; the group's BEFORE_CONNECT
   handlers wait until `together_arrived` reaches `together_size`. */
static pthread_mutex_t together_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t together_cond = PTHREAD_COND_INITIALIZER;
static int together_left, together_size, together_arrived;
static unsigned together_group;

/* One whole line on stdout, never interleaved with another task's. */
static void emit_line(const char *line)
{
    pthread_mutex_lock(&out_lock);
    fputs(line, stdout);
    fputc('\n', stdout);
    fflush(stdout);
    pthread_mutex_unlock(&out_lock);
}

/* A client of a "together" group: wait for the group's other clients (at most 10 s), then go with them. */
static void wait_together(void)
{
    pthread_mutex_lock(&together_lock);
    unsigned group = together_group;
    if (++together_arrived == together_size) {
        together_group++;
        together_arrived = 0;
        pthread_cond_broadcast(&together_cond);
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    while (group == together_group)
        if (pthread_cond_timedwait(&together_cond, &together_lock, &until) != 0) break;
    pthread_mutex_unlock(&together_lock);
}

static void on_event(void *args, wsk_client_event_id_t id, const wsk_event_data_t *data)
{
    driven_t *d = args;
    char head[160];
    if (id == WSK_EVENT_DATA) {
        size_t len = data->data_len > 0 ? (size_t)data->data_len : 0;
        size_t at = (size_t)snprintf(head, sizeof(head), "%ld DATA %u %d %d %d %u ", d->id, data->op_code,
                                     data->fin ? 1 : 0, data->payload_len, data->payload_offset, data->close_code);
        char *line = malloc(at + 2 * len + 1);
        if (!line) abort();
        memcpy(line, head, at);
        static const char digits[] = "0123456789abcdef";
        const unsigned char *bytes = (const unsigned char *)data->data_ptr;
        for (size_t i = 0; i < len; i++) {
            line[at + 2 * i] = digits[bytes[i] >> 4];
            line[at + 2 * i + 1] = digits[bytes[i] & 15];
        }
        line[at + 2 * len] = 0;
        emit_line(line);
        free(line);
        return;
    }
    if (id == WSK_EVENT_ERROR)
        snprintf(head, sizeof(head), "%ld ERROR %d %u %d %d", d->id, data->error_type, data->close_code,
                 data->handshake_status, data->esp_transport_sock_errno);
    else if (id == WSK_EVENT_CLOSED || id == WSK_EVENT_DISCONNECTED)
        snprintf(head, sizeof(head), "%ld %s %u %d %d %d", d->id, wsk_client_event_name(id), data->close_code,
                 data->error_type, data->handshake_status, data->esp_transport_sock_errno);
    else
        snprintf(head, sizeof(head), "%ld %s", d->id, wsk_client_event_name(id));
    emit_line(head);
    if (id == WSK_EVENT_CLOSED || id == WSK_EVENT_DISCONNECTED) {
        pthread_mutex_lock(&finished_lock);
        int hold_ms = d->hold_ms;
        d->hold_ms = 0;
        pthread_mutex_unlock(&finished_lock);
        if (hold_ms > 0) usleep((useconds_t)hold_ms * 1000);
    }
    if (id == WSK_EVENT_BEFORE_CONNECT && d->together) {
        d->together = false;
        wait_together();
    }
    if (id == WSK_EVENT_FINISH) {
        pthread_mutex_lock(&finished_lock);
        d->finished = true;
        pthread_mutex_unlock(&finished_lock);
    }
}

static driven_t *find(long id)
{
    for (int i = 0; i < MAX_CLIENTS; i++)
        if (clients[i].handle && clients[i].id == id) return &clients[i];
    return NULL;
}

static void print_stats(void)
{
    wsk_stats_t st;
    wsk_get_stats(&st);
    char line[128];
    snprintf(line, sizeof(line), "STATS heap=%zu slots=%u", st.host_heap_used, (unsigned)st.slots_used);
    emit_line(line);
}

static void open_client(long id, int port, const char *path, size_t buffer_size, size_t max_message,
                        size_t max_fragment, int ping_interval, int pingpong_timeout, int reconnect_ms,
                        int network_timeout_ms, const char *ca_file)
{
    char line[96];
    driven_t *d = NULL;
    for (int i = 0; i < MAX_CLIENTS && !d; i++)
        if (!clients[i].handle) d = &clients[i];
    char uri[300];
    snprintf(uri, sizeof(uri), "%s://127.0.0.1:%d%s", ca_file ? "wss" : "ws", port, path);
    char *ca = ca_file ? linux_read_file(ca_file) : NULL;
    wsk_client_config_t config = WSK_CLIENT_DEFAULT_CONFIG();
    config.uri = uri;
    config.cert_pem = ca; /* copied by wsk_client_init */
    if (ca) config.task_stack = 8192;
    config.buffer_size = buffer_size;
    config.max_message_size = max_message;
    config.max_fragment_size = max_fragment;
    config.ping_interval_sec = ping_interval;
    config.pingpong_timeout_sec = pingpong_timeout;
    config.network_timeout_ms = network_timeout_ms;
    config.disable_auto_reconnect = reconnect_ms < 0;
    config.reconnect_timeout_ms = reconnect_ms < 0 ? 0 : reconnect_ms;
    wsk_client_handle_t handle = d && (!ca_file || ca) ? wsk_client_init(&config) : NULL;
    free(ca);
    if (!handle) {
        snprintf(line, sizeof(line), "%ld INIT_FAILED", id);
        emit_line(line);
        return;
    }
    d->id = id;
    d->finished = false;
    d->closing = false;
    d->closed = false;
    d->hold_ms = 0;
    d->handle = handle;
    d->together = together_left > 0;
    if (d->together) together_left--;
    wsk_client_register_events(handle, WSK_EVENT_ANY, on_event, d);
    wsk_err_t err = wsk_client_start(handle);
    if (err != WSK_OK) {
        snprintf(line, sizeof(line), "%ld START_FAILED %s", id, wsk_err_to_name(err));
        emit_line(line);
        wsk_client_destroy(handle);
        d->handle = NULL;
    }
}

/* Free every client whose task finished (the handler cannot free its own client). */
static void reap(void)
{
    for (int i = 0; i < MAX_CLIENTS; i++) {
        driven_t *d = &clients[i];
        pthread_mutex_lock(&finished_lock);
        bool finished = d->finished;
        pthread_mutex_unlock(&finished_lock);
        if (!d->handle || !finished) continue;
        if (d->closing) pthread_join(d->closer, NULL); /* it returns once the task is gone */
        d->closing = false;
        wsk_err_t err = wsk_client_destroy(d->handle);
        d->handle = NULL;
        char line[64];
        snprintf(line, sizeof(line), "%ld DESTROYED %d", d->id, err);
        emit_line(line);
    }
}

static void send_message(long id, const char *kind, long len, int timeout_ms)
{
    driven_t *d = find(id);
    char *payload = malloc(len > 0 ? (size_t)len : 1);
    if (!payload) abort();
    for (long i = 0; i < len; i++) payload[i] = (char)('a' + i % 26);
    int rc = -1;
    if (d && !strcmp(kind, "text")) rc = wsk_client_send_text(d->handle, payload, (int)len, timeout_ms);
    else if (d) rc = wsk_client_send_bin(d->handle, payload, (int)len, timeout_ms);
    free(payload);
    char line[64];
    snprintf(line, sizeof(line), "%ld SENT %d", id, rc);
    emit_line(line);
}

static void *close_thread(void *arg)
{
    driven_t *d = arg;
    wsk_err_t err = d->close_with_code ? wsk_client_close_with_code(d->handle, d->close_code,
                                                                    d->close_reason[0] ? d->close_reason : NULL,
                                                                    d->close_timeout_ms)
                                       : wsk_client_close(d->handle, d->close_timeout_ms);
    /* Returned before its line is out: a "close" or "stop" sent on seeing the line finds this thread done. */
    pthread_mutex_lock(&finished_lock);
    d->closed = true;
    pthread_mutex_unlock(&finished_lock);
    char line[64];
    snprintf(line, sizeof(line), "%ld CLOSE_RETURNED %d", d->id, err);
    emit_line(line);
    return NULL;
}

/* Join the client's "close" thread if it returned; true when none is left running. */
static bool join_closer(driven_t *d)
{
    pthread_mutex_lock(&finished_lock);
    bool closed = d->closed;
    pthread_mutex_unlock(&finished_lock);
    if (d->closing && closed) pthread_join(d->closer, NULL);
    if (closed) d->closing = false;
    return !d->closing;
}

/* "close ID TIMEOUT_MS [CODE REASON_HEX]": the close runs on its own thread (joined by reap). */
static void close_client(long id, int timeout_ms, bool with_code, unsigned code, const char *reason_hex)
{
    driven_t *d = find(id);
    size_t hex = strcmp(reason_hex, "-") ? strlen(reason_hex) : 0;
    if (!d || !join_closer(d) || code > 65535 || hex % 2 || hex / 2 >= sizeof(d->close_reason)) {
        char line[64];
        snprintf(line, sizeof(line), "%ld CLOSE_RETURNED -1", id);
        emit_line(line);
        return;
    }
    for (size_t i = 0; i < hex / 2; i++) {
        unsigned byte;
        if (sscanf(reason_hex + 2 * i, "%2x", &byte) != 1) byte = '?';
        d->close_reason[i] = (char)byte;
    }
    d->close_reason[hex / 2] = 0;
    d->close_with_code = with_code;
    d->close_code = (uint16_t)code;
    d->close_timeout_ms = timeout_ms;
    d->closed = false;
    d->closing = pthread_create(&d->closer, NULL, close_thread, d) == 0;
    if (!d->closing) abort();
}

static void run_command(char *line)
{
    long id, len;
    unsigned long long buffer_size, max_message, max_fragment;
    int port, ping_interval, pingpong_timeout, reconnect_ms, timeout = 1000;
    unsigned code = 0;
    char path[256], kind[16], ca[256], reason[600] = "-";
    int fields = sscanf(line, "open %ld %d %255s %llu %llu %llu %d %d %d %d %255s", &id, &port, path, &buffer_size,
                        &max_message, &max_fragment, &ping_interval, &pingpong_timeout, &reconnect_ms, &timeout, ca);
    if (fields >= 10)
        open_client(id, port, path, (size_t)buffer_size, (size_t)max_message, (size_t)max_fragment, ping_interval,
                    pingpong_timeout, reconnect_ms, timeout, fields == 11 ? ca : NULL);
    else if (sscanf(line, "send %ld %15s %ld %d", &id, kind, &len, &timeout) >= 3)
        send_message(id, kind, len, timeout);
    else if ((fields = sscanf(line, "close %ld %d %u %599s", &id, &timeout, &code, reason)) >= 2)
        close_client(id, timeout, fields >= 3, code, reason);
    else if (sscanf(line, "stop %ld", &id) == 1) {
        driven_t *d = find(id);
        char out[64];
        /* While a "close" thread waits in wsk_client_close too: stopping a client whose close waits is allowed. */
        snprintf(out, sizeof(out), "%ld STOP_RETURNED %d", id, d ? wsk_client_stop(d->handle) : -1);
        emit_line(out);
    } else if (sscanf(line, "hold %ld %d", &id, &timeout) == 2) {
        driven_t *d = find(id);
        pthread_mutex_lock(&finished_lock);
        if (d) d->hold_ms = timeout;
        pthread_mutex_unlock(&finished_lock);
    } else if (sscanf(line, "together %d", &timeout) == 1) {
        pthread_mutex_lock(&together_lock);
        together_left = together_size = timeout;
        together_arrived = 0;
        pthread_mutex_unlock(&together_lock);
    } else if (!strcmp(line, "stats"))
        print_stats();
    else {
        fprintf(stderr, "unknown command: %s\n", line);
        exit(2);
    }
}

int main(void)
{
    const char *level = getenv("WSK_LOG_LEVEL");
    wsk_log_level = level ? atoi(level) : 1; /* errors only: the fuzzer makes every warning happen */
    char buffer[4096];
    size_t have = 0;
    for (;;) {
        reap();
        struct pollfd pfd = {.fd = 0, .events = POLLIN};
        if (poll(&pfd, 1, 5) <= 0) continue;
        ssize_t n = read(0, buffer + have, sizeof(buffer) - 1 - have);
        if (n <= 0) break;
        have += (size_t)n;
        buffer[have] = 0;
        char *start = buffer;
        for (char *end; (end = strchr(start, '\n')) != NULL; start = end + 1) {
            *end = 0;
            run_command(start);
        }
        have = strlen(start);
        memmove(buffer, start, have);
        if (have == sizeof(buffer) - 1) {
            fprintf(stderr, "command line too long\n");
            return 2;
        }
    }
    /* stdin ended: every client finishes (its server hangs up or its network timeout passes), then is freed. */
    struct timespec started;
    clock_gettime(CLOCK_MONOTONIC, &started);
    for (bool left = true; left;) {
        reap();
        left = false;
        for (int i = 0; i < MAX_CLIENTS; i++) left = left || clients[i].handle != NULL;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (left && now.tv_sec - started.tv_sec > 30) {
            fprintf(stderr, "clients still running 30 s after the end of input\n");
            return 1;
        }
        if (left) usleep(5 * 1000);
    }
    wsk_stats_t st;
    wsk_get_stats(&st);
    size_t keys = psa_keys();
    char line[160];
    snprintf(line, sizeof(line), "STATS heap=%zu slots=%u psa_keys=%zu", st.host_heap_used, (unsigned)st.slots_used,
             keys);
    emit_line(line);
    return st.host_heap_used == 0 && st.slots_used == 0 && keys == 0 ? 0 : 1;
}
