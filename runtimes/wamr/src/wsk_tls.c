/*
 * TLS through mbedTLS (2.28 as Debian ships it, 3.x as ESP-IDF 5 ships it) over the host's non-blocking
 * sockets. Random bytes come from wsk_fill_random (getrandom / esp_fill_random), so no entropy or DRBG
 * context is kept. Without WSK_TLS the calls below report that TLS is not built in.
 *
 * Every call into mbedTLS here runs under the host lock (wsk_lock, recursive: the server's loop and a client's
 * connected loop already hold it). mbedTLS 3.x computes through PSA (TLS 1.3 always, everything with
 * MBEDTLS_USE_PSA_CRYPTO), whose key store and random generator are process-wide globals that nothing guards
 * unless mbedTLS is built with MBEDTLS_THREADING_C (ESP-IDF's CONFIG_MBEDTLS_THREADING_C, off by default). A
 * client runs its TLS handshake on its own task without the host lock, so two clients connecting at once raced
 * on those globals: handshakes failed with -0x0001 (a key lost with the key-slot array another task allocated
 * at the same moment) or -0x6e00, and the lost slots leaked. test/runtimes/wamr/tls.test.ts connects 8 clients
 * at once, 40 times.
 */
#include "wsk_tls.h"

#include <string.h>

#include "wsk_config.h"
#include "wsk_log.h"
#include "wsk_platform.h"

#if WSK_TLS

#include <errno.h>
#include <sys/socket.h>

#include "mbedtls/error.h"
#include "mbedtls/pk.h"
#include "mbedtls/ssl.h"
#include "mbedtls/version.h"
#include "mbedtls/x509_crt.h"
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
#include "psa/crypto.h"
#endif

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static const char *TAG = "wsk_tls";

/* mbedTLS's own "send/recv failed" codes (mbedtls/net_sockets.h), without needing its net module. */
#define TLS_ERR_SEND_FAILED (-0x004E)
#define TLS_ERR_RECV_FAILED (-0x004C)
#define TLS_ERR_RANDOM_FAILED (-0x003C)

struct wsk_tls_config {
    mbedtls_ssl_config ssl;
    mbedtls_x509_crt chain; /* server: its own chain; client: the CAs it trusts */
    mbedtls_pk_context key; /* server: its private key */
    bool client;
    bool skip_common_name_check;
};

struct wsk_tls_session {
    mbedtls_ssl_context ssl;
    int fd;
};

static void log_error(const char *what, int rc)
{
#if defined(MBEDTLS_ERROR_C)
    char text[96];
    mbedtls_strerror(rc, text, sizeof(text));
    WSK_LOGW(TAG, "%s: -0x%04x %s", what, (unsigned)-rc, text);
#else
    WSK_LOGW(TAG, "%s: -0x%04x", what, (unsigned)-rc);
#endif
}

static int random_bytes(void *ctx, unsigned char *out, size_t len)
{
    (void)ctx;
    return wsk_fill_random(out, len) == WSK_OK ? 0 : TLS_ERR_RANDOM_FAILED;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_WRITE;
    return TLS_ERR_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv(*(int *)ctx, buf, len, 0);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return MBEDTLS_ERR_SSL_WANT_READ;
    return TLS_ERR_RECV_FAILED;
}

/*
 * mbedTLS 3.x: TLS 1.3 always, and with MBEDTLS_USE_PSA_CRYPTO everything (key parsing, TLS 1.2), computes
 * through PSA, which must be initialised first. psa_crypto_init() may be called any number of times, and PSA
 * is never freed here: it is process-wide state the firmware's other TLS users (esp-tls) share.
 */
static wsk_err_t crypto_init(void)
{
#if MBEDTLS_VERSION_MAJOR >= 3 && defined(MBEDTLS_PSA_CRYPTO_C)
    psa_status_t status = psa_crypto_init();
    if (status != PSA_SUCCESS) {
        WSK_LOGE(TAG, "psa_crypto_init failed: %d", (int)status);
        return status == PSA_ERROR_INSUFFICIENT_MEMORY ? WSK_ERR_NO_MEM : WSK_FAIL;
    }
#endif
    return WSK_OK;
}

static wsk_err_t config_new(int endpoint, wsk_tls_config_t **out)
{
    wsk_err_t err = crypto_init();
    if (err != WSK_OK) return err;
    wsk_tls_config_t *config = wsk_calloc(1, sizeof(*config));
    if (!config) return WSK_ERR_NO_MEM;
    mbedtls_ssl_config_init(&config->ssl);
    mbedtls_x509_crt_init(&config->chain);
    mbedtls_pk_init(&config->key);
    int rc = mbedtls_ssl_config_defaults(&config->ssl, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
                                         MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) {
        log_error("ssl_config_defaults", rc);
        wsk_tls_config_free(config);
        return WSK_FAIL;
    }
    mbedtls_ssl_conf_rng(&config->ssl, random_bytes, NULL);
    config->client = endpoint == MBEDTLS_SSL_IS_CLIENT;
    *out = config;
    return WSK_OK;
}

/* PEM text is parsed with its terminating NUL, as mbedTLS requires. */
static int parse_pem_chain(mbedtls_x509_crt *chain, const char *pem)
{
    return mbedtls_x509_crt_parse(chain, (const unsigned char *)pem, strlen(pem) + 1);
}

bool wsk_tls_available(void)
{
    return true;
}

static wsk_err_t server_config(const char *cert_pem, const char *key_pem, wsk_tls_config_t **out)
{
    wsk_tls_config_t *config = NULL;
    wsk_err_t err = config_new(MBEDTLS_SSL_IS_SERVER, &config);
    if (err != WSK_OK) return err;
    int rc = parse_pem_chain(&config->chain, cert_pem);
    if (rc != 0) log_error("server certificate", rc);
    if (rc == 0) {
        const unsigned char *key = (const unsigned char *)key_pem;
#if MBEDTLS_VERSION_MAJOR >= 3
        rc = mbedtls_pk_parse_key(&config->key, key, strlen(key_pem) + 1, NULL, 0, random_bytes, NULL);
#else
        rc = mbedtls_pk_parse_key(&config->key, key, strlen(key_pem) + 1, NULL, 0);
#endif
        if (rc != 0) log_error("server private key", rc);
    }
    if (rc == 0) rc = mbedtls_ssl_conf_own_cert(&config->ssl, &config->chain, &config->key);
    if (rc != 0) {
        wsk_tls_config_free(config);
        return WSK_ERR_INVALID_ARG;
    }
    *out = config;
    return WSK_OK;
}

wsk_err_t wsk_tls_server_config(const char *cert_pem, const char *key_pem, wsk_tls_config_t **out)
{
    if (!cert_pem || !key_pem || !out) return WSK_ERR_INVALID_ARG;
    wsk_lock();
    wsk_err_t err = server_config(cert_pem, key_pem, out);
    wsk_unlock();
    return err;
}

static wsk_err_t client_config(const char *ca_pem, wsk_err_t (*crt_bundle_attach)(void *conf),
                               bool skip_common_name_check, wsk_tls_config_t **out)
{
    wsk_tls_config_t *config = NULL;
    wsk_err_t err = config_new(MBEDTLS_SSL_IS_CLIENT, &config);
    if (err != WSK_OK) return err;
    config->skip_common_name_check = skip_common_name_check;
    mbedtls_ssl_conf_authmode(&config->ssl, MBEDTLS_SSL_VERIFY_REQUIRED);
    if (ca_pem) {
        int rc = parse_pem_chain(&config->chain, ca_pem);
        if (rc != 0) {
            log_error("CA certificate", rc);
            wsk_tls_config_free(config);
            return WSK_ERR_INVALID_ARG;
        }
        mbedtls_ssl_conf_ca_chain(&config->ssl, &config->chain, NULL);
    }
    if (crt_bundle_attach && crt_bundle_attach(&config->ssl) != WSK_OK) {
        WSK_LOGE(TAG, "crt_bundle_attach failed");
        wsk_tls_config_free(config);
        return WSK_ERR_INVALID_ARG;
    }
    *out = config;
    return WSK_OK;
}

wsk_err_t wsk_tls_client_config(const char *ca_pem, wsk_err_t (*crt_bundle_attach)(void *conf),
                                bool skip_common_name_check, wsk_tls_config_t **out)
{
    if (!out) return WSK_ERR_INVALID_ARG;
    if (!ca_pem && !crt_bundle_attach) {
        WSK_LOGE(TAG, "wss:// needs cert_pem or crt_bundle_attach to verify the server");
        return WSK_ERR_INVALID_ARG;
    }
    wsk_lock();
    wsk_err_t err = client_config(ca_pem, crt_bundle_attach, skip_common_name_check, out);
    wsk_unlock();
    return err;
}

void wsk_tls_config_free(wsk_tls_config_t *config)
{
    if (!config) return;
    wsk_lock();
    mbedtls_ssl_config_free(&config->ssl);
    mbedtls_x509_crt_free(&config->chain);
    mbedtls_pk_free(&config->key);
    wsk_unlock();
    wsk_free(config);
}

wsk_err_t wsk_tls_attach(wsk_conn_t *conn, wsk_tls_config_t *config, const char *hostname)
{
    wsk_tls_session_t *session = wsk_calloc(1, sizeof(*session));
    if (!session) return WSK_ERR_NO_MEM;
    wsk_lock();
    mbedtls_ssl_init(&session->ssl);
    int rc = mbedtls_ssl_setup(&session->ssl, &config->ssl);
    /* The name is both SNI and what the certificate must match; skipping the check sends no SNI (as esp-tls). */
    if (rc == 0 && config->client)
        rc = mbedtls_ssl_set_hostname(&session->ssl, config->skip_common_name_check ? NULL : hostname);
    if (rc != 0) {
        log_error("ssl_setup", rc);
        mbedtls_ssl_free(&session->ssl);
        wsk_unlock();
        wsk_free(session);
        return rc == MBEDTLS_ERR_SSL_ALLOC_FAILED ? WSK_ERR_NO_MEM : WSK_ERR_INVALID_ARG;
    }
    wsk_unlock();
    session->fd = conn->fd;
    mbedtls_ssl_set_bio(&session->ssl, &session->fd, bio_send, bio_recv, NULL);
    conn->tls = session;
    return WSK_OK;
}

int wsk_tls_handshake(wsk_conn_t *conn)
{
    wsk_lock();
    int rc = mbedtls_ssl_handshake(&conn->tls->ssl);
    wsk_unlock();
    if (rc == 0) return WSK_OK;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return WSK_TLS_WANT_READ;
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return WSK_TLS_WANT_WRITE;
    log_error("handshake", rc);
    uint32_t flags = mbedtls_ssl_get_verify_result(&conn->tls->ssl);
    if (flags != 0 && flags != (uint32_t)-1) {
        char text[160];
        mbedtls_x509_crt_verify_info(text, sizeof(text), "", flags);
        WSK_LOGW(TAG, "certificate not accepted: %s", text);
    }
    return WSK_ERR_HANDSHAKE;
}

ssize_t wsk_tls_recv(wsk_conn_t *conn, void *buf, size_t len)
{
    wsk_lock();
    int rc = mbedtls_ssl_read(&conn->tls->ssl, buf, len);
    wsk_unlock();
    if (rc > 0) return rc;
    if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) return 0;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ || rc == MBEDTLS_ERR_SSL_WANT_WRITE) return WSK_CONN_AGAIN;
#ifdef MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
    if (rc == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) return WSK_CONN_AGAIN;
#endif
    log_error("read", rc);
    return -1;
}

/*
 * After WANT_WRITE mbedTLS holds the record it made of `buf` (partly sent) and WANT_READ means it must read
 * first: either way the caller repeats the call with the same bytes and length.
 */
ssize_t wsk_tls_send(wsk_conn_t *conn, const void *buf, size_t len)
{
    wsk_lock();
    int rc = mbedtls_ssl_write(&conn->tls->ssl, buf, len);
    wsk_unlock();
    if (rc >= 0) return rc;
    if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) return WSK_CONN_AGAIN;
    if (rc == MBEDTLS_ERR_SSL_WANT_READ) return WSK_CONN_WANT_READ;
    log_error("write", rc);
    return -1;
}

size_t wsk_tls_pending(const wsk_conn_t *conn)
{
    return mbedtls_ssl_get_bytes_avail(&conn->tls->ssl);
}

void wsk_tls_detach(wsk_conn_t *conn)
{
    wsk_tls_session_t *session = conn->tls;
    wsk_lock();
    mbedtls_ssl_close_notify(&session->ssl); /* best effort: a full socket just goes without it */
    mbedtls_ssl_free(&session->ssl);
    wsk_unlock();
    wsk_free(session);
    conn->tls = NULL;
}

#else /* !WSK_TLS */

bool wsk_tls_available(void)
{
    return false;
}

wsk_err_t wsk_tls_server_config(const char *cert_pem, const char *key_pem, wsk_tls_config_t **out)
{
    WSK_LOGE("wsk_tls", "this build has no TLS (WSK_TLS=0): wss:// is not available");
    return WSK_ERR_NOT_SUPPORTED;
}

wsk_err_t wsk_tls_client_config(const char *ca_pem, wsk_err_t (*crt_bundle_attach)(void *conf),
                                bool skip_common_name_check, wsk_tls_config_t **out)
{
    WSK_LOGE("wsk_tls", "this build has no TLS (WSK_TLS=0): wss:// is not available");
    return WSK_ERR_NOT_SUPPORTED;
}

void wsk_tls_config_free(wsk_tls_config_t *config) {}

wsk_err_t wsk_tls_attach(wsk_conn_t *conn, wsk_tls_config_t *config, const char *hostname)
{
    return WSK_ERR_NOT_SUPPORTED;
}

int wsk_tls_handshake(wsk_conn_t *conn)
{
    return WSK_ERR_HANDSHAKE;
}

ssize_t wsk_tls_recv(wsk_conn_t *conn, void *buf, size_t len)
{
    return -1;
}

ssize_t wsk_tls_send(wsk_conn_t *conn, const void *buf, size_t len)
{
    return -1;
}

size_t wsk_tls_pending(const wsk_conn_t *conn)
{
    return 0;
}

void wsk_tls_detach(wsk_conn_t *conn)
{
    conn->tls = NULL;
}

#endif
