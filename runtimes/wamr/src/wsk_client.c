/* The client host: connect, upgrade through the engine's handshake exports, feed frames, ping, reconnect. */
#include "wsk_client.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "wsk_config.h"
#include "wsk_engine.h"
#include "wsk_log.h"
#include "wsk_platform.h"
#include "wsk_send_queue.h"
#include "wsk_socket.h"
#include "wsk_transport.h"
#include "wsk_uri.h"

static const char *TAG = "wsk_client";

/*
 * Ms a finished plain connection stays half-closed, reading and dropping what the server still sends, until
 * the server's FIN (at most network_timeout_ms): a socket closed with bytes unread, or that receives more, makes
 * the kernel send RST, and a server still writing then loses what it had not read yet (our close frame, pongs).
 * RFC 6455 §7.1.1: the client waits for the server to close the TCP connection.
 */
#define LINGER_MS 2000

struct wsk_client {
    wsk_client_config_t config;
    char host[128];
    char host_header[140]; /* host[:port] as the Host header wants it */
    int port;
    bool tls_scheme;           /* wss:// */
    wsk_tls_config_t *tls;     /* its CA settings, shared by every reconnect */
    char *path;
    char *subprotocol;
    char *headers;
    wsk_event_handler_t handler;
    wsk_client_event_id_t handler_event;
    void *handler_args;
    wsk_task_t task;
    bool running;
    bool stop;
    bool close_requested;
    int64_t close_deadline;
    wsk_conn_t conn;
    int slot;
    bool connected;
    bool closed_clean;
    uint16_t close_code;
    int64_t next_ping;
    int64_t ping_sent_at;
    bool protocol_error;
    uint8_t frame_opcode;
    uint64_t frame_offset;
    uint8_t *buffer;
    /* Bytes the socket (plain or TLS) did not take yet, flushed when it is writable, so that no write waits with
       the host lock held (every other client and server would wait with it). An app message or close frame is
       queued whole (out_whole; the app waits for room before one); what is queued behind the last of them
       (pongs, pings: out.len - out_whole_end) is bounded by max_send_queue, beyond which the connection is
       dropped. */
    wsk_send_queue_t out;
    bool out_whole;
    size_t out_whole_end; /* queued bytes up to the end of the last whole message or close frame */
    bool dropped;   /* the send path gave up on the server (queue past its bound, or no progress) */
    int drop_errno; /* reported with the ERROR event of a drop */
    /* We end the connection with this close code and reason (0: none to send): the task sends the frame behind
       what is queued, unless the engine sent one already or the queue ends inside a frame (`torn`). */
    uint16_t end_code;
    const char *end_reason;
    bool torn;
    /* The server hung up (EOF or a socket error on a read or write) while the connection was open: reported as
       esp_websocket_client does, ERROR (TCP transport, the socket's errno; 0 for a FIN) then DISCONNECTED. */
    bool hung_up;
    int hangup_errno;
    /* The last ERROR of this connection attempt, repeated in its DISCONNECTED event (esp_websocket_client's
       DISCONNECTED carries the error handle of the failure that ended the connection). */
    wsk_client_error_type_t fail_type;
    int fail_errno;
    int fail_status;
};

static void emit(struct wsk_client *c, wsk_client_event_id_t id, wsk_event_data_t *data)
{
    if (!c->handler || (c->handler_event != WSK_EVENT_ANY && c->handler_event != id)) return;
    wsk_event_data_t empty;
    if (!data) {
        memset(&empty, 0, sizeof(empty));
        data = &empty;
    }
    data->client = c;
    data->user_context = c->config.user_context;
    c->handler(c->handler_args, id, data);
}

static void emit_error(struct wsk_client *c, wsk_client_error_type_t type, int sock_errno, int status, uint16_t code)
{
    c->fail_type = type;
    c->fail_errno = sock_errno;
    c->fail_status = status;
    wsk_event_data_t data = {.error_type = type, .esp_transport_sock_errno = sock_errno,
                             .handshake_status = status, .close_code = code};
    emit(c, WSK_EVENT_ERROR, &data);
}

/* DISCONNECTED with `code` and the error fields of the attempt's last ERROR (none: all 0). */
static void emit_disconnected(struct wsk_client *c, uint16_t code)
{
    wsk_event_data_t data = {.close_code = code, .error_type = c->fail_type,
                             .esp_transport_sock_errno = c->fail_errno, .handshake_status = c->fail_status};
    emit(c, WSK_EVENT_DISCONNECTED, &data);
}

static size_t send_queue_limit(const struct wsk_client *c)
{
    return c->config.max_send_queue ? c->config.max_send_queue : CONFIG_WSK_MAX_SEND_QUEUE;
}

/*
 * Give up on the server from the send path (lock held): the task (at its next turn, within 100 ms) ends the
 * connection, sends `reason` with `code` if given, and reports `code`.
 */
static void drop_connection(struct wsk_client *c, uint16_t code, int sock_errno, const char *reason)
{
    if (c->dropped) return;
    c->dropped = true;
    c->drop_errno = sock_errno;
    c->close_code = code;
    if (reason) c->end_code = code;
    c->end_reason = reason;
}

/* End the connection ourselves (lock held, task): close frame `code` `reason`, reported as the close code. */
static bool end_connection(struct wsk_client *c, uint16_t code, const char *reason)
{
    c->close_code = c->end_code = code;
    c->end_reason = reason;
    return false;
}

/* The server hung up (a read's EOF or error, a failed send): the first cause is the one reported. */
static void note_hangup(struct wsk_client *c, int sock_errno)
{
    if (c->hung_up) return;
    c->hung_up = true;
    c->hangup_errno = sock_errno;
}

/* The server is gone (a send failed): the task sees the connection end. */
static void send_failed(struct wsk_client *c)
{
    note_hangup(c, c->conn.tls ? 0 : errno);
    WSK_LOGW(TAG, "send failed (%s)", c->conn.tls ? "TLS" : strerror(errno));
    shutdown(c->conn.fd, SHUT_RDWR);
}

/* Send as much of the queue as `conn` takes; -1 if the connection failed. */
static ssize_t flush_queue(struct wsk_client *c, wsk_conn_t *conn)
{
    ssize_t n = wsk_send_queue_flush(&c->out, conn);
    if (n > 0) c->out_whole_end = c->out_whole_end > (size_t)n ? c->out_whole_end - (size_t)n : 0;
    return n;
}

/* The task's or a sender's turn to flush the queue (lock held). */
static void flush_output(struct wsk_client *c)
{
    if (c->out.len == 0 || c->conn.fd < 0) return;
    if (flush_queue(c, &c->conn) < 0) send_failed(c);
}

/*
 * Every byte the client sends (lock held). No write waits: what the socket does not take now is queued behind
 * what is queued already (with TLS, starting with the bytes of the record mbedTLS holds).
 */
static wsk_err_t client_write(void *ctx, const uint8_t *bytes, size_t len)
{
    struct wsk_client *c = ctx;
    if (c->conn.fd < 0 || c->dropped) return WSK_ERR_INVALID_STATE;
    ssize_t taken = 0;
    if (c->out.len == 0) {
        taken = wsk_send_queue_send_now(&c->out, &c->conn, bytes, len);
        if (taken < 0) {
            send_failed(c);
            return WSK_ERR_SOCKET;
        }
        bytes += taken;
        len -= (size_t)taken;
        if (len == 0) return WSK_OK;
    }
    size_t limit = send_queue_limit(c);
    size_t behind = c->out.len - c->out_whole_end + len;
    if (!c->out_whole && behind > limit) {
        WSK_LOGW(TAG, "the server does not read: %u bytes to send > max_send_queue %u, ending the connection (1008)",
                 (unsigned)behind, (unsigned)limit);
        c->torn = taken > 0; /* a frame the socket took part of: nothing may follow it */
        drop_connection(c, WSK_CLOSE_POLICY_VIOLATION, ENOBUFS, "send queue full");
        return WSK_ERR_INVALID_SIZE;
    }
    /* A whole message queued a transmit area at a time may pass the bound: the buffer doubles past it. */
    if (wsk_send_queue_push(&c->out, bytes, len, c->out_whole ? SIZE_MAX : limit) != WSK_OK) {
        WSK_LOGE(TAG, "no memory to queue %u bytes, dropping the connection", (unsigned)len);
        drop_connection(c, WSK_CLOSE_INTERNAL_ERROR, ENOMEM, NULL);
        return WSK_ERR_NO_MEM;
    }
    if (c->out_whole) c->out_whole_end = c->out.len;
    return WSK_OK;
}

/* Our own close frame, queued whole behind what the server has not taken yet, whatever the bound. */
static wsk_err_t write_close(void *ctx, const uint8_t *bytes, size_t len)
{
    struct wsk_client *c = ctx;
    return wsk_send_queue_write(&c->out, &c->conn, bytes, len);
}

static void on_data(struct wsk_client *c, const wsk_event_t *event)
{
    if (event->flags & WSK_DATA_FLAG_FRAME_START) {
        c->frame_opcode = (event->flags & WSK_DATA_FLAG_MESSAGE_START) ? event->opcode : WSK_OP_CONTINUATION;
        c->frame_offset = 0;
    }
    bool frame_end = event->flags & WSK_DATA_FLAG_FRAME_END;
    uint64_t frame_length = frame_end ? c->frame_offset + event->len : event->frame_length;
    wsk_event_data_t data = {
        .data_ptr = (const char *)event->data,
        .data_len = (int)event->len,
        .fin = (event->flags & WSK_DATA_FLAG_MESSAGE_END) != 0,
        .op_code = c->frame_opcode,
        .payload_len = (int)frame_length,
        .payload_offset = (int)c->frame_offset,
    };
    c->frame_offset += event->len;
    emit(c, WSK_EVENT_DATA, &data);
}

static bool on_event(void *ctx, const wsk_event_t *event)
{
    struct wsk_client *c = ctx;
    wsk_event_data_t data = {.data_ptr = (const char *)event->data, .data_len = (int)event->len, .fin = true};
    switch (event->type) {
    case WSK_EVENT_TYPE_DATA:
        on_data(c, event);
        break;
    case WSK_EVENT_TYPE_PING:
    case WSK_EVENT_TYPE_PONG:
        if (event->type == WSK_EVENT_TYPE_PONG) c->ping_sent_at = 0;
        data.op_code = event->type == WSK_EVENT_TYPE_PING ? WSK_OP_PING : WSK_OP_PONG;
        data.payload_len = (int)event->len;
        emit(c, WSK_EVENT_DATA, &data);
        break;
    case WSK_EVENT_TYPE_CLOSE:
        c->close_code = event->code;
        data.op_code = WSK_OP_CLOSE;
        data.payload_len = (int)event->len;
        data.close_code = event->code;
        emit(c, WSK_EVENT_DATA, &data);
        break;
    case WSK_EVENT_TYPE_ERROR:
        WSK_LOGW(TAG, "the server broke the protocol (reason %u): closed with %u", event->reason, event->code);
        c->close_code = event->code;
        c->protocol_error = true;
        emit_error(c, WSK_ERROR_TYPE_PROTOCOL, 0, 0, event->code);
        return false;
    case WSK_EVENT_TYPE_CLOSED:
        c->closed_clean = true;
        return false;
    default:
        break;
    }
    return true;
}

/* wss: run the TLS handshake on `conn` until done, failed, stopped, or `deadline`. */
static bool start_tls(struct wsk_client *c, wsk_conn_t *conn, int64_t deadline)
{
    if (wsk_tls_attach(conn, c->tls, c->host) != WSK_OK) return false;
    for (;;) {
        int step = wsk_tls_handshake(conn);
        if (step == WSK_OK) return true;
        if (step != WSK_TLS_WANT_READ && step != WSK_TLS_WANT_WRITE) return false;
        int64_t left = deadline - wsk_now_ms();
        if (left <= 0 || __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) return false;
        struct pollfd pfd = {.fd = conn->fd, .events = step == WSK_TLS_WANT_WRITE ? POLLOUT : POLLIN};
        if (poll(&pfd, 1, left > 100 ? 100 : (int)left) < 0 && errno != EINTR) return false;
    }
}

/*
 * The status code of a response head's status line ("HTTP/1.x NNN"), 0 if it has none: a head the engine
 * refused reports it, whatever else was wrong with it (a 101 with a wrong Sec-WebSocket-Accept
 * reports 101, as esp_websocket_client's esp_ws_handshake_status_code does).
 */
static int status_line_code(const uint8_t *head, size_t len)
{
    if (len < 12 || memcmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ') return 0;
    int code = 0;
    for (size_t i = 9; i < 12; i++) {
        if (head[i] < '0' || head[i] > '9') return 0;
        code = code * 10 + (head[i] - '0');
    }
    return code >= 100 ? code : 0;
}

/* Connect and complete the handshake; true when connected (c->conn, c->slot set). Lock not held. */
static bool open_connection(struct wsk_client *c)
{
    c->fail_type = WSK_ERROR_TYPE_NONE;
    c->fail_errno = c->fail_status = 0;
    emit(c, WSK_EVENT_BEFORE_CONNECT, NULL);
    int64_t deadline = wsk_now_ms() + c->config.network_timeout_ms;
    wsk_conn_t conn = {.fd = wsk_socket_connect(c->host, c->port, c->config.network_timeout_ms)};
    if (conn.fd < 0) {
        WSK_LOGW(TAG, "connect to %s:%d failed: %s", c->host, c->port, strerror(errno));
        emit_error(c, WSK_ERROR_TYPE_TCP_TRANSPORT, errno, 0, 0);
        return false;
    }
    int slot = -1;
    if (c->tls && !start_tls(c, &conn, deadline)) {
        /* Cut short by wsk_client_stop: the app's doing, not a failure to report. */
        if (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
            WSK_LOGW(TAG, "TLS with %s:%d failed", c->host, c->port);
            emit_error(c, WSK_ERROR_TYPE_TCP_TRANSPORT, 0, 0, 0);
        }
        goto fail;
    }
    wsk_lock();
    slot = wsk_engine_open(WSK_ROLE_CLIENT, c->config.max_message_size);
    const uint8_t *request;
    size_t request_len;
    wsk_err_t err = slot < 0 ? -slot
                             : wsk_engine_build_request(slot, c->host_header, c->path, c->subprotocol, c->headers,
                                                        &request, &request_len);
    if (err == WSK_OK) err = wsk_conn_send_all(&conn, request, request_len, c->config.network_timeout_ms);
    wsk_unlock();
    if (err != WSK_OK) {
        WSK_LOGW(TAG, "cannot send the upgrade request: %s", wsk_err_to_name(err));
        emit_error(c, WSK_ERROR_TYPE_TCP_TRANSPORT, errno, 0, 0);
        goto fail;
    }
    size_t have = 0, head_length = 0;
    int status = 0;
    while (status == 0) {
        int64_t left = deadline - wsk_now_ms();
        if (left <= 0 || have == c->config.buffer_size || __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) break;
        if (wsk_conn_wait_readable(&conn, left > 100 ? 100 : (int)left) <= 0) continue;
        ssize_t n = wsk_conn_recv(&conn, c->buffer + have, c->config.buffer_size - have);
        if (n == WSK_CONN_AGAIN) continue;
        if (n <= 0) break;
        have += (size_t)n;
        char protocol[64];
        wsk_lock();
        status = wsk_engine_parse_response(slot, c->buffer, have, c->subprotocol, &head_length, protocol,
                                           sizeof(protocol));
        wsk_unlock();
    }
    if (status != WSK_HTTP_SWITCHING_PROTOCOLS) {
        /* Cut short by wsk_client_stop while the 101 was awaited: no handshake error (before, one was reported,
           as if the server had failed the handshake). */
        if (status != 0 || !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
            WSK_LOGW(TAG, "handshake with %s failed: %d", c->host, status);
            int reported = status > 0 ? status : status < 0 ? status_line_code(c->buffer, have) : 0;
            emit_error(c, WSK_ERROR_TYPE_HANDSHAKE, 0, reported, 0);
        }
        goto fail;
    }
    wsk_lock();
    c->conn = conn;
    c->slot = slot;
    c->connected = true;
    c->closed_clean = false;
    c->protocol_error = false;
    c->hung_up = false;
    c->hangup_errno = 0;
    c->close_code = 0;
    c->ping_sent_at = 0;
    c->next_ping = wsk_now_ms() + (int64_t)c->config.ping_interval_sec * 1000;
    wsk_unlock();
    emit(c, WSK_EVENT_CONNECTED, NULL);
    if (have > head_length) {
        /* Frames that came with the 101: buffer_size may exceed the receive area, so feed them a piece at a time. */
        wsk_lock();
        wsk_err_t fed = wsk_engine_feed_bytes(c->slot, c->buffer + head_length, have - head_length, client_write,
                                              on_event, c);
        if (fed == WSK_ERR_ENGINE) end_connection(c, WSK_CLOSE_INTERNAL_ERROR, "engine error"); /* as service() */
        wsk_unlock();
    }
    return true;
fail:
    wsk_lock();
    if (slot >= 0) wsk_engine_close(slot);
    wsk_unlock();
    wsk_conn_close(&conn);
    return false;
}

/* One step of the connected loop with the lock held; false when the connection is over. */
static bool service(struct wsk_client *c, bool readable)
{
    /* e.g. a close that came with the 101 */
    if (c->closed_clean || c->protocol_error || c->dropped || c->end_code) return false;
    int64_t now = wsk_now_ms();
    if (c->out.len > 0) {
        flush_output(c);
        if (c->out.len > 0 && now - c->out.progress > c->config.network_timeout_ms) {
            WSK_LOGW(TAG, "the server took none of %u queued bytes in %d ms, dropping the connection",
                     (unsigned)c->out.len, c->config.network_timeout_ms);
            drop_connection(c, WSK_CLOSE_ABNORMAL, ETIMEDOUT, NULL);
            return false;
        }
    }
    /* TLS may hold decrypted bytes beyond one read: read while it has some. */
    for (bool more = readable; more; more = wsk_conn_pending(&c->conn) > 0) {
        size_t size;
        uint8_t *rx = wsk_engine_rx(&size);
        if (size > c->config.buffer_size) size = c->config.buffer_size;
        ssize_t n = wsk_conn_recv(&c->conn, rx, size);
        if (n == 0 || n == -1) {
            /* EOF (errno 0, as esp_websocket_client reports a FIN) or a socket error (ECONNRESET...) */
            note_hangup(c, n == 0 ? 0 : errno);
            return false;
        }
        if (n > 0) {
            wsk_err_t fed = wsk_engine_feed(c->slot, (size_t)n, client_write, on_event, c);
            if (fed == WSK_ERR_ENGINE) return end_connection(c, WSK_CLOSE_INTERNAL_ERROR, "engine error");
            if (fed != WSK_OK || c->closed_clean || c->protocol_error) return false;
        }
    }
    if (c->close_requested) return now < c->close_deadline;
    if (c->ping_sent_at && c->config.pingpong_timeout_sec > 0 &&
        now - c->ping_sent_at > (int64_t)c->config.pingpong_timeout_sec * 1000) {
        WSK_LOGW(TAG, "no pong in %d s: closing with 1011", c->config.pingpong_timeout_sec);
        emit_error(c, WSK_ERROR_TYPE_PONG_TIMEOUT, 0, 0, WSK_CLOSE_INTERNAL_ERROR);
        return end_connection(c, WSK_CLOSE_INTERNAL_ERROR, "heartbeat timeout");
    }
    if (c->config.ping_interval_sec > 0 && now >= c->next_ping) {
        c->next_ping = now + (int64_t)c->config.ping_interval_sec * 1000;
        if (!c->ping_sent_at) c->ping_sent_at = now;
        if (wsk_engine_send_control(c->slot, WSK_OP_PING, NULL, 0, client_write, c) != WSK_OK)
            return false;
    }
    return true;
}

/* Wait up to `ms` for the connection to be readable, or writable while the send queue holds bytes: the poll
   events that came (POLLIN when TLS holds decrypted bytes), 0 on timeout, -1 if poll failed. Task only. */
static int wait_ready(struct wsk_client *c, int ms)
{
    if (wsk_conn_pending(&c->conn) > 0) return POLLIN;
    wsk_lock();
    bool queued = c->out.len > 0 && !c->out.wants_read;
    wsk_unlock();
    struct pollfd pfd = {.fd = c->conn.fd, .events = (short)(POLLIN | (queued ? POLLOUT : 0))};
    int n = poll(&pfd, 1, ms);
    if (n < 0) return errno == EINTR ? 0 : -1;
    return n == 0 ? 0 : pfd.revents;
}

/*
 * Close a finished connection. Unless the send path gave up on the server without a close frame to send (no
 * progress), it first sends what its queue still holds (our close frame, maybe), then a plain socket is half-closed and read to the server's FIN (TLS ends with
 * close_notify); all within LINGER_MS (or network_timeout_ms if shorter) and cut short by wsk_client_stop. The
 * queue is freed. Only this task touches the connection and its queue by then.
 */
static void linger_close(struct wsk_client *c, wsk_conn_t *conn, bool dropped)
{
    int linger_ms = c->config.network_timeout_ms < LINGER_MS ? c->config.network_timeout_ms : LINGER_MS;
    int64_t deadline = wsk_now_ms() + linger_ms;
    bool flushed = !dropped;
    while (flushed && c->out.len > 0) {
        int64_t left = deadline - wsk_now_ms();
        struct pollfd pfd = {.fd = conn->fd, .events = c->out.wants_read ? POLLIN : POLLOUT};
        flushed = left > 0 && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE) &&
                  (poll(&pfd, 1, left > 100 ? 100 : (int)left) >= 0 || errno == EINTR) && flush_queue(c, conn) >= 0;
    }
    if (flushed && !conn->tls && shutdown(conn->fd, SHUT_WR) == 0) {
        for (;;) {
            int64_t left = deadline - wsk_now_ms();
            if (left <= 0 || __atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) break;
            int ready = wsk_conn_wait_readable(conn, left > 100 ? 100 : (int)left);
            if (ready < 0) break;
            if (ready == 0) continue;
            ssize_t n = wsk_conn_recv(conn, c->buffer, c->config.buffer_size);
            if (n != WSK_CONN_AGAIN && n <= 0) break;
        }
    }
    wsk_lock();
    wsk_send_queue_clear(&c->out);
    c->out_whole_end = 0;
    wsk_unlock();
    wsk_conn_close(conn);
}

static void run_connection(struct wsk_client *c)
{
    bool alive = true;
    while (alive && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        int ready = wait_ready(c, 100);
        wsk_lock();
        alive = ready >= 0 && service(c, (ready & (POLLIN | POLLHUP | POLLERR)) != 0);
        wsk_unlock();
    }
    wsk_lock();
    /* Ended by us (a pong timeout, a full queue, an engine failure): our close frame, unless the engine sent one. */
    bool ended = c->end_code != 0;
    bool closing = c->end_code && !c->torn && !c->closed_clean && !c->protocol_error &&
                   wsk_engine_send_close(c->slot, c->end_code, c->end_reason, write_close, c) == WSK_OK;
    c->end_code = 0;
    c->torn = false;
    wsk_engine_close(c->slot);
    c->slot = -1;
    wsk_conn_t conn = c->conn; /* no send reaches it from here on: only this task touches the queue now */
    c->conn = (wsk_conn_t){.fd = -1};
    c->connected = false;
    bool clean = c->closed_clean, dropped = c->dropped;
    /* Hung up on us while open (or while our close awaited its answer), not after an ending of ours. */
    bool hung_up = c->hung_up && !clean && !dropped && !c->protocol_error && !ended;
    uint16_t code = c->close_code ? c->close_code : WSK_CLOSE_ABNORMAL;
    int drop_errno = c->drop_errno, hangup_errno = c->hangup_errno;
    c->dropped = false;
    c->hung_up = false;
    wsk_unlock();
    if (dropped) emit_error(c, WSK_ERROR_TYPE_TCP_TRANSPORT, drop_errno, 0, code);
    else if (hung_up) emit_error(c, WSK_ERROR_TYPE_TCP_TRANSPORT, hangup_errno, 0, code);
    if (clean) {
        wsk_event_data_t data = {.close_code = code};
        emit(c, WSK_EVENT_CLOSED, &data);
    } else
        emit_disconnected(c, code);
    linger_close(c, &conn, dropped && !closing);
}

static void client_task(void *arg)
{
    struct wsk_client *c = arg;
    emit(c, WSK_EVENT_BEGIN, NULL);
    while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) {
        if (open_connection(c)) run_connection(c);
        else emit_disconnected(c, 0);
        wsk_lock();
        bool close_requested = c->close_requested; /* set by wsk_client_close on another task */
        wsk_unlock();
        if (c->config.disable_auto_reconnect || close_requested) break;
        int64_t wake = wsk_now_ms() + c->config.reconnect_timeout_ms;
        while (wsk_now_ms() < wake && !__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE)) usleep(20 * 1000);
    }
    emit(c, WSK_EVENT_FINISH, NULL);
    __atomic_store_n(&c->running, false, __ATOMIC_RELEASE);
}

static char *copy_string(const char *text, bool *failed)
{
    if (!text) return NULL;
    size_t len = strlen(text) + 1;
    char *copy = wsk_malloc(len);
    if (copy) memcpy(copy, text, len);
    else *failed = true;
    return copy;
}

static void free_client(struct wsk_client *c)
{
    wsk_free(c->path);
    wsk_free(c->subprotocol);
    wsk_free(c->headers);
    wsk_free(c->buffer);
    wsk_tls_config_free(c->tls);
    wsk_free(c);
}

wsk_client_handle_t wsk_client_init(const wsk_client_config_t *config)
{
    if (!config || (!config->uri && !config->host)) return NULL;
    wsk_uri_t uri = {.port = 80, .path = "/"};
    if (config->uri && wsk_uri_parse(config->uri, &uri) != WSK_OK) {
        WSK_LOGE(TAG, "bad URI: %s", config->uri);
        return NULL;
    }
    /* DATA events report payload_len and payload_offset as ints (as esp_websocket_client does). */
    if (config->max_message_size > INT_MAX) {
        WSK_LOGE(TAG, "max_message_size %zu is more than DATA events' payload_len can report (INT_MAX, %d): lower it",
                 config->max_message_size, INT_MAX);
        return NULL;
    }
    struct wsk_client *c = wsk_calloc(1, sizeof(*c));
    if (!c) return NULL;
    c->config = *config;
    if (c->config.max_message_size == 0) c->config.max_message_size = INT_MAX;
    if (c->config.buffer_size < 256) c->config.buffer_size = 256;
    if (c->config.network_timeout_ms <= 0) c->config.network_timeout_ms = 10000;
    c->conn.fd = -1;
    c->slot = -1;
    c->tls_scheme = config->uri ? uri.tls : false;
    c->handler_event = WSK_EVENT_ANY;
    snprintf(c->host, sizeof(c->host), "%s", config->host ? config->host : uri.host);
    c->port = config->port > 0 ? config->port : uri.port;
    bool ipv6 = strchr(c->host, ':') != NULL;
    bool default_port = c->port == (c->tls_scheme ? 443 : 80);
    snprintf(c->host_header, sizeof(c->host_header), ipv6 ? "[%s]" : "%s", c->host);
    if (!default_port) {
        size_t at = strlen(c->host_header);
        snprintf(c->host_header + at, sizeof(c->host_header) - at, ":%d", c->port);
    }
    bool failed = false;
    c->path = copy_string(config->path ? config->path : uri.path, &failed);
    c->subprotocol = copy_string(config->subprotocol, &failed);
    c->headers = copy_string(config->headers, &failed);
    c->buffer = wsk_malloc(c->config.buffer_size);
    if (failed || !c->buffer) {
        free_client(c);
        return NULL;
    }
    if (c->tls_scheme && wsk_tls_client_config(config->cert_pem, config->crt_bundle_attach,
                                               config->skip_cert_common_name_check, &c->tls) != WSK_OK) {
        free_client(c);
        return NULL;
    }
    wsk_lock();
    wsk_err_t err = wsk_engine_acquire();
    wsk_unlock();
    if (err != WSK_OK) {
        free_client(c);
        return NULL;
    }
    return c;
}

wsk_err_t wsk_client_register_events(wsk_client_handle_t c, wsk_client_event_id_t event,
                                     wsk_event_handler_t handler, void *handler_args)
{
    if (!c) return WSK_ERR_INVALID_ARG;
    c->handler = handler;
    c->handler_event = event;
    c->handler_args = handler_args;
    return WSK_OK;
}

wsk_err_t wsk_client_start(wsk_client_handle_t c)
{
    if (!c) return WSK_ERR_INVALID_ARG;
    if (__atomic_load_n(&c->running, __ATOMIC_ACQUIRE)) return WSK_ERR_INVALID_STATE;
    if (c->task) wsk_task_join(c->task); /* a finished earlier run */
    c->task = NULL;
    c->stop = false;
    c->close_requested = false;
    c->running = true;
    wsk_err_t err = wsk_task_start(&c->task, "wsk_client", c->config.task_stack, c->config.task_prio, client_task, c);
    if (err != WSK_OK) c->running = false;
    return err;
}

bool wsk_client_is_connected(wsk_client_handle_t c)
{
    if (!c) return false;
    wsk_lock();
    bool connected = c->connected && !c->close_requested;
    wsk_unlock();
    return connected;
}

/*
 * Room for an app message (lock held on entry and return): the send queue at or below max_send_queue, flushed
 * meanwhile. Another task waits for it up to timeout_ms, releasing the host lock while it waits; a handler (the
 * client's own task, inside a read) never waits. WSK_OK, WSK_ERR_TIMEOUT, or WSK_ERR_INVALID_STATE when the
 * connection is not open (or closing).
 */
/* Called from the client's own task (an event handler): what would wait for that task must not. */
static bool on_own_task(struct wsk_client *c)
{
    return wsk_task_is_current(__atomic_load_n(&c->task, __ATOMIC_ACQUIRE));
}

static wsk_err_t wait_for_room(struct wsk_client *c, int timeout_ms)
{
    int64_t deadline = wsk_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    bool own_task = on_own_task(c);
    for (;;) {
        if (!c->connected || c->close_requested || c->dropped) return WSK_ERR_INVALID_STATE;
        flush_output(c);
        if (c->out.len <= send_queue_limit(c)) return WSK_OK;
        if (own_task || wsk_now_ms() >= deadline) return WSK_ERR_TIMEOUT;
        wsk_unlock();
        usleep(5 * 1000);
        wsk_lock();
    }
}

/* Frame an app message or control frame whole (lock held): what the socket does not take is queued. */
static wsk_err_t send_whole(struct wsk_client *c, wsk_opcode_t opcode, const void *data, size_t len)
{
    c->out_whole = true;
    wsk_err_t err = opcode == WSK_OP_TEXT || opcode == WSK_OP_BINARY
                        ? wsk_engine_send_message(c->slot, opcode, data, len, c->config.max_fragment_size,
                                                  client_write, c)
                        : wsk_engine_send_control(c->slot, opcode, data, len, client_write, c);
    c->out_whole = false;
    return err;
}

static int send_message(wsk_client_handle_t c, wsk_opcode_t opcode, const char *data, int len, int timeout_ms)
{
    if (!c || len < 0 || (!data && len)) return -1;
    wsk_lock();
    wsk_err_t err = wait_for_room(c, timeout_ms);
    if (err == WSK_OK) err = send_whole(c, opcode, data, (size_t)len);
    wsk_unlock();
    return err == WSK_OK ? len : -1;
}

int wsk_client_send_text(wsk_client_handle_t c, const char *data, int len, int timeout_ms)
{
    return send_message(c, WSK_OP_TEXT, data, len, timeout_ms);
}

int wsk_client_send_bin(wsk_client_handle_t c, const char *data, int len, int timeout_ms)
{
    return send_message(c, WSK_OP_BINARY, data, len, timeout_ms);
}

wsk_err_t wsk_client_send_ping(wsk_client_handle_t c, const void *data, size_t len)
{
    if (!c) return WSK_ERR_INVALID_ARG;
    wsk_lock();
    wsk_err_t err = wait_for_room(c, 0);
    if (err == WSK_OK) err = send_whole(c, WSK_OP_PING, data, len);
    wsk_unlock();
    return err;
}

wsk_err_t wsk_client_stop(wsk_client_handle_t c)
{
    if (!c) return WSK_ERR_INVALID_ARG;
    if (on_own_task(c)) return WSK_ERR_INVALID_STATE;
    __atomic_store_n(&c->stop, true, __ATOMIC_RELEASE);
    /* One caller joins the task. Another at the same time (the app's stop on one task while wsk_client_close
       waits on another, and stops the client itself at its timeout) waits for the task to end: before, both
       joined the same thread, and the second join never returned (or freed the task twice). */
    wsk_task_t task = __atomic_exchange_n(&c->task, NULL, __ATOMIC_ACQ_REL);
    if (task) wsk_task_join(task);
    else
        while (__atomic_load_n(&c->running, __ATOMIC_ACQUIRE)) usleep(10 * 1000);
    return WSK_OK;
}

wsk_err_t wsk_client_close_with_code(wsk_client_handle_t c, uint16_t code, const char *reason, int timeout_ms)
{
    if (!c) return WSK_ERR_INVALID_ARG;
    if (on_own_task(c)) return WSK_ERR_INVALID_STATE;
    wsk_lock();
    wsk_err_t err = WSK_ERR_INVALID_STATE;
    if (c->connected && !c->close_requested && !c->dropped) {
        c->out_whole = true; /* queued whole, whatever the queue holds */
        err = wsk_engine_send_close(c->slot, code, reason, client_write, c);
        c->out_whole = false;
        /* Refused by the engine (a code no close frame may carry, a reason past 123 bytes or not UTF-8, a close
           frame sent already): nothing was sent and nothing changes. Before, the client was marked closing all
           the same: the app's next close was refused and the connection dropped at this one's timeout. */
        bool refused = err == WSK_ERR_INVALID_ARG || err == WSK_ERR_INVALID_SIZE || err == WSK_ERR_INVALID_STATE;
        if (!refused) {
            c->close_requested = true;
            c->close_deadline = wsk_now_ms() + timeout_ms;
        } else if (err != WSK_ERR_INVALID_STATE)
            WSK_LOGE(TAG, "close code %u with a %u-byte reason refused (%s): send 1000-1003, 1007-1014 or 3000-4999 "
                          "(0: none, with no reason), with at most 123 bytes of UTF-8",
                     code, reason ? (unsigned)strlen(reason) : 0u, wsk_err_to_name(err));
    }
    wsk_unlock();
    if (err != WSK_OK) return err;
    int64_t deadline = wsk_now_ms() + timeout_ms;
    while (__atomic_load_n(&c->running, __ATOMIC_ACQUIRE) && wsk_now_ms() < deadline) usleep(10 * 1000);
    wsk_client_stop(c);
    return WSK_OK;
}

wsk_err_t wsk_client_close(wsk_client_handle_t c, int timeout_ms)
{
    return wsk_client_close_with_code(c, WSK_CLOSE_NORMAL, NULL, timeout_ms);
}

wsk_err_t wsk_client_destroy(wsk_client_handle_t c)
{
    if (!c) return WSK_ERR_INVALID_ARG;
    if (__atomic_load_n(&c->task, __ATOMIC_ACQUIRE)) {
        wsk_err_t err = wsk_client_stop(c);
        if (err != WSK_OK) return err;
    }
    wsk_lock();
    wsk_engine_release();
    wsk_unlock();
    free_client(c);
    return WSK_OK;
}

const char *wsk_client_event_name(wsk_client_event_id_t event)
{
    switch (event) {
    case WSK_EVENT_ANY: return "ANY";
    case WSK_EVENT_ERROR: return "ERROR";
    case WSK_EVENT_CONNECTED: return "CONNECTED";
    case WSK_EVENT_DISCONNECTED: return "DISCONNECTED";
    case WSK_EVENT_DATA: return "DATA";
    case WSK_EVENT_CLOSED: return "CLOSED";
    case WSK_EVENT_BEFORE_CONNECT: return "BEFORE_CONNECT";
    case WSK_EVENT_BEGIN: return "BEGIN";
    case WSK_EVENT_FINISH: return "FINISH";
    }
    return "UNKNOWN";
}
