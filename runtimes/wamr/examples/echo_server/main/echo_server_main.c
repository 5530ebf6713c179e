/*
 * Echo server, like ESP-IDF's protocols/http_server/ws_echo_server: every text or binary message comes back
 * to its sender. A few text commands exercise the rest of the API:
 *   "broadcast:<text>"  sends <text> to every client
 *   "clients"           answers with the open clients' ids
 *   "close:<code>"      the server starts the close handshake with that code
 * On ESP-IDF, app_main connects to Wi-Fi (protocol_examples_common) and starts it on port 80.
 */
#include "echo_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef ESP_PLATFORM
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "nvs_flash.h"
#include "protocol_examples_common.h"
#ifdef CONFIG_ECHO_SERVER_TLS
/* main/certs/servercert.pem and prvtkey.pem, embedded by main/CMakeLists.txt (see Kconfig.projbuild). */
extern const char servercert_pem[] asm("_binary_servercert_pem_start");
extern const char prvtkey_pem[] asm("_binary_prvtkey_pem_start");
#endif
#define LOG(fmt, ...) ESP_LOGI("echo_server", fmt, ##__VA_ARGS__)
#else
#define LOG(fmt, ...) fprintf(stderr, "echo_server: " fmt "\n", ##__VA_ARGS__)
#endif

static bool starts_with(const char *text, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(text, prefix, n) == 0;
}

static void on_open(wsk_server_handle_t server, wsk_client_id_t client, void *ctx)
{
    LOG("client %u connected", (unsigned)client);
}

static void on_text(wsk_server_handle_t server, wsk_client_id_t client, const char *text, size_t len, void *ctx)
{
    if (starts_with(text, len, "broadcast:")) {
        wsk_server_broadcast(server, WSK_OP_TEXT, text + 10, len - 10);
        return;
    }
    if (starts_with(text, len, "close:") && len < 16) {
        char code[16];
        memcpy(code, text + 6, len - 6);
        code[len - 6] = 0;
        wsk_server_disconnect(server, client, (uint16_t)atoi(code), "bye");
        return;
    }
    if (len == 7 && memcmp(text, "clients", 7) == 0) {
        wsk_client_id_t ids[16];
        size_t count = 16;
        char reply[200] = "clients:";
        wsk_server_list_clients(server, ids, &count);
        for (size_t i = 0; i < count && i < 16; i++) {
            size_t at = strlen(reply);
            snprintf(reply + at, sizeof(reply) - at, "%s%u", i ? "," : "", (unsigned)ids[i]);
        }
        wsk_server_send_text(server, client, reply, strlen(reply));
        return;
    }
    wsk_server_send_text(server, client, text, len);
}

static void on_binary(wsk_server_handle_t server, wsk_client_id_t client, const uint8_t *data, size_t len,
                      void *ctx)
{
    wsk_server_send_bin(server, client, data, len);
}

static void on_close(wsk_server_handle_t server, wsk_client_id_t client, uint16_t code, const char *reason,
                     size_t reason_len, void *ctx)
{
    LOG("client %u closed: %u %.*s", (unsigned)client, code, (int)reason_len, reason);
}

wsk_err_t echo_server_start(const echo_server_options_t *options, wsk_server_handle_t *server)
{
    wsk_server_config_t config = WSK_SERVER_DEFAULT_CONFIG();
    config.bind_address = options->bind_address;
    config.port = options->port;
    config.path = options->path;
    config.max_clients = options->max_clients;
    config.backlog_conn = options->backlog_conn;
    config.new_client_grace_ms = options->new_client_grace_ms;
    config.subprotocols = options->subprotocols;
    config.max_message_size = options->max_message_size;
    if (options->rx_buffer_size > 0) config.rx_buffer_size = options->rx_buffer_size;
    if (options->send_timeout_ms > 0) config.send_timeout_ms = options->send_timeout_ms;
    if (options->close_timeout_ms > 0) config.close_timeout_ms = options->close_timeout_ms;
    config.max_send_queue = options->max_send_queue;
    config.heartbeat_interval_ms = options->heartbeat_interval_ms;
    config.heartbeat_timeout_ms = options->heartbeat_timeout_ms;
    if (options->no_lru_purge) config.lru_purge_enable = false;
    config.server_cert_pem = options->server_cert_pem;
    config.server_key_pem = options->server_key_pem;
    /* mbedTLS's handshake needs more stack than the plain server's 4 KiB. */
    if (options->server_cert_pem) config.task_stack_size = 8192;
    config.on_open = on_open;
    config.on_text = on_text;
    config.on_binary = on_binary;
    config.on_close = on_close;
    return wsk_server_start(&config, server);
}

#ifdef ESP_PLATFORM
void app_main(void)
{
    ESP_ERROR_CHECK(nvs_flash_init());
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(example_connect());
    echo_server_options_t options = {
        .port = CONFIG_ECHO_SERVER_PORT,
        .path = "/ws",
        .max_clients = CONFIG_ECHO_SERVER_MAX_CLIENTS,
        .max_message_size = 4096,
#ifdef CONFIG_ECHO_SERVER_TLS
        .server_cert_pem = servercert_pem,
        .server_key_pem = prvtkey_pem,
#endif
    };
    wsk_server_handle_t server;
    wsk_err_t err = echo_server_start(&options, &server);
    if (err != WSK_OK) {
        ESP_LOGE("echo_server", "cannot start: %s", wsk_err_to_name(err));
        return;
    }
    wsk_stats_t stats;
    wsk_get_stats(&stats);
    LOG("%s://<this device>:%u/ws  (engine on %s: linear memory %u, WAMR pool %u/%u bytes)",
        options.server_cert_pem ? "wss" : "ws", wsk_server_get_port(server), stats.engine_backend,
        (unsigned)stats.linear_memory_bytes, (unsigned)stats.wamr_pool_used, (unsigned)stats.wamr_pool_bytes);
}
#endif
