/*
 * WebSocket client example, like ESP-IDF's protocols/websocket example (esp_websocket_client): connect to an
 * echo server, send text and binary, log every event, close cleanly. Event lines are printed as
 * "EVENT <client> <NAME> ..." so the Linux build can be checked by a test.
 */
#include "client_example.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef ESP_PLATFORM
#include "esp_event.h"
#include "esp_netif.h"
#include "nvs_flash.h"
#include "esp_crt_bundle.h"
#include "protocol_examples_common.h"
#endif

#define LONG_TEXT_BYTES 3000

typedef struct {
    int index;
    wsk_client_handle_t handle;
    volatile int echoes;      /* messages that came back complete */
    volatile int connects;    /* CONNECTED events, reconnects included */
    volatile bool pong;
    volatile bool connected;
    volatile bool closed;
    volatile bool finished;
    size_t long_received;
    size_t long_bytes;        /* the long text's size: its echo counts when this many bytes came back */
} example_client_t;

static void on_event(void *args, wsk_client_event_id_t id, const wsk_event_data_t *data)
{
    example_client_t *ex = args;
    if (id == WSK_EVENT_DATA) {
        bool printable = data->op_code == WSK_OP_TEXT || data->op_code == WSK_OP_CONTINUATION;
        int shown = printable ? (data->data_len < 40 ? data->data_len : 40) : 0;
        printf("EVENT %d DATA op=%u len=%d payload_len=%d offset=%d fin=%d close=%u text=%.*s\n", ex->index,
               data->op_code, data->data_len, data->payload_len, data->payload_offset, data->fin, data->close_code,
               shown, data->data_ptr);
        if (data->op_code == WSK_OP_PONG) ex->pong = true;
        if (data->op_code == WSK_OP_TEXT || data->op_code == WSK_OP_CONTINUATION || data->op_code == WSK_OP_BINARY) {
            /* The long text arrives in chunks: count its bytes across them. */
            ex->long_received += (size_t)data->data_len;
            if (data->fin) {
                if (ex->long_received == 5 || ex->long_received == 3 || ex->long_received == ex->long_bytes)
                    ex->echoes++;
                ex->long_received = 0;
            }
        }
    } else {
        printf("EVENT %d %s error_type=%d close=%u status=%d errno=%d\n", ex->index, wsk_client_event_name(id), data->error_type,
               data->close_code, data->handshake_status, data->esp_transport_sock_errno);
    }
    fflush(stdout);
    if (id == WSK_EVENT_CONNECTED) {
        ex->connects++;
        ex->connected = true;
    }
    if (id == WSK_EVENT_DISCONNECTED || id == WSK_EVENT_CLOSED) ex->connected = false; /* stop waiting */
    if (id == WSK_EVENT_CLOSED) ex->closed = true;
    if (id == WSK_EVENT_FINISH) ex->finished = true;
}

static void send_all_kinds(example_client_t *ex)
{
    char *long_text = malloc(ex->long_bytes);
    wsk_client_send_text(ex->handle, "hello", 5, 1000);
    wsk_client_send_bin(ex->handle, "\x01\x02\x03", 3, 1000);
    if (long_text) {
        for (size_t i = 0; i < ex->long_bytes; i++) long_text[i] = (char)('a' + i % 26);
        wsk_client_send_text(ex->handle, long_text, (int)ex->long_bytes, 1000);
        free(long_text);
    }
    wsk_client_send_ping(ex->handle, "p", 1);
}

static void wait_until(volatile bool *flag, int64_t deadline_ms)
{
    for (int64_t waited = 0; !*flag && waited < deadline_ms; waited += 10) usleep(10 * 1000);
}

int client_example_run(const client_example_options_t *options)
{
    enum { MAX_CLIENTS = 8 };
    example_client_t clients[MAX_CLIENTS];
    int count = options->clients < MAX_CLIENTS ? options->clients : MAX_CLIENTS;
    memset(clients, 0, sizeof(clients));
    for (int i = 0; i < count; i++) {
        wsk_client_config_t config = WSK_CLIENT_DEFAULT_CONFIG();
        config.uri = options->uri;
        config.subprotocol = options->subprotocol;
        config.headers = options->headers;
        config.ping_interval_sec = options->ping_interval_sec;
        config.pingpong_timeout_sec = options->pingpong_timeout_sec;
        config.max_fragment_size = options->max_fragment_size;
        config.max_message_size = options->max_message_size;
        config.disable_auto_reconnect = !options->auto_reconnect;
        if (options->reconnect_timeout_ms > 0) config.reconnect_timeout_ms = options->reconnect_timeout_ms;
        if (options->buffer_size > 0) config.buffer_size = options->buffer_size;
        config.network_timeout_ms = options->timeout_ms;
        config.cert_pem = options->cert_pem;
        config.skip_cert_common_name_check = options->skip_cert_common_name_check;
#ifdef ESP_PLATFORM
        if (!options->cert_pem) config.crt_bundle_attach = esp_crt_bundle_attach; /* the public CAs */
#endif
        if (strncmp(options->uri, "wss:", 4) == 0) config.task_stack = 8192; /* mbedTLS's handshake */
        clients[i].index = i;
        clients[i].long_bytes = options->long_bytes > 0 ? options->long_bytes : LONG_TEXT_BYTES;
        clients[i].handle = wsk_client_init(&config);
        if (!clients[i].handle) {
            printf("EVENT %d INIT_FAILED\n", i);
            continue;
        }
        wsk_client_register_events(clients[i].handle, WSK_EVENT_ANY, on_event, &clients[i]);
        wsk_client_start(clients[i].handle);
    }
    int ok = 0;
    int want = options->expect_connects > 1 ? options->expect_connects : 1;
    for (int i = 0; i < count; i++) {
        example_client_t *ex = &clients[i];
        if (!ex->handle) continue;
        /* Earlier connections may be dropped by the server: the client task reconnects by itself. */
        for (int waited = 0; (!ex->connected || ex->connects < want) && !ex->finished && waited < options->timeout_ms;
             waited += 10)
            usleep(10 * 1000);
        if (ex->connected && ex->connects >= want) send_all_kinds(ex);
    }
    for (int i = 0; i < count; i++) {
        example_client_t *ex = &clients[i];
        if (!ex->handle) continue;
        for (int waited = 0; ex->connected && (ex->echoes < 3 || !ex->pong) && waited < options->timeout_ms; waited += 10)
            usleep(10 * 1000);
        if (ex->connected) wsk_client_close_with_code(ex->handle, WSK_CLOSE_NORMAL, "done", options->timeout_ms);
        wait_until(&ex->finished, options->timeout_ms);
        if (ex->connects >= want && ex->echoes == 3 && ex->pong && ex->closed) ok++;
        printf("RESULT %d connects=%d echoes=%d pong=%d closed=%d\n", i, ex->connects, ex->echoes, ex->pong,
               ex->closed);
        wsk_client_destroy(ex->handle);
    }
    fflush(stdout);
    return ok;
}

#ifdef ESP_PLATFORM
void app_main(void)
{
    ESP_ERROR_CHECK(nvs_flash_init());
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(example_connect());
    client_example_options_t options = {
        .uri = CONFIG_WEBSOCKET_URI,
        .clients = 1,
        .max_fragment_size = 1024,
        .ping_interval_sec = 10,
        .timeout_ms = 10000,
    };
    client_example_run(&options);
}
#endif
