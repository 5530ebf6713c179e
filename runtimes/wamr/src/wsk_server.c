/* The server host: accept, upgrade through the engine's handshake exports, feed frames, dispatch events. */
#include "wsk_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
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

static const char *TAG = "wsk_server";

/** Entries of the peer table beyond max_clients: connections still in their handshake, or refused. */
#define REJECT_BACKLOG 2
/*
 * Ms a released plain peer's socket lingers, half-closed, reading and dropping what the client still sends: a
 * socket closed with unread bytes makes the kernel send RST, and the client loses what it had not read yet
 * (our close frame, echoes, the 101 or a refusal). The hostile-peer fuzzer found it (test/vectors/hostile-cases.json).
 */
#define LINGER_MS 2000
/** Longest the loop sleeps in poll: how soon it sees wsk_server_stop. */
#define POLL_MS 100
/** Bytes read and dropped from a lingering socket per call: a peer that keeps writing cannot hold the loop. */
#define DISCARD_BYTES (16 * 1024)
/* Close reasons of the clients the server ends itself (what on_close reports with the code). */
#define HEARTBEAT_REASON "heartbeat timeout"
#define RECLAIM_REASON "server full"
#define STOP_REASON "server stopping"
#define QUEUE_FULL_REASON "send queue full"
#define SEND_TIMEOUT_REASON "send timeout"
#define ENGINE_REASON "engine error"

_Static_assert(CONFIG_WSK_HEARTBEAT_INTERVAL_MS >= 0 && CONFIG_WSK_HEARTBEAT_TIMEOUT_MS > 0,
               "CONFIG_WSK_HEARTBEAT_INTERVAL_MS must be >= 0 (0: off), CONFIG_WSK_HEARTBEAT_TIMEOUT_MS > 0");

/*
 * PEER_LINGER: released (no engine slot, no buffers). While its send queue holds bytes (its close frame last) it
 * drains them, for at most close_timeout_ms; then a plain socket is half-closed and lingers until the client's
 * FIN or LINGER_MS (a TLS one, or one ended by the heartbeat, is closed at once). A plain one is read throughout,
 * what it sends dropped.
 */
typedef enum { PEER_FREE, PEER_HANDSHAKE, PEER_OPEN, PEER_GONE, PEER_LINGER } peer_state_t;

/* Ordered by alignment, the widest first, so that no padding sits between fields (8 of these per 4 clients). */
typedef struct {
    wsk_conn_t conn;
    int64_t deadline;     /* handshake, close, drain, linger or heartbeat deadline */
    int64_t heard;        /* when we last read bytes from it (open peers; the heartbeat's clock); when it was
                             accepted (handshake) or upgraded (open, before it sends a byte): its grace's start */
    int64_t spoke;        /* ... the same, 0 until it sends a byte after its upgrade (LRU purge's order) */
    /* Bytes the socket (plain or TLS) did not take yet (0 bytes per idle peer), bounded by max_send_queue; the
       loop flushes them on POLLOUT instead of waiting on one socket. send_timeout_ms without progress drops it. */
    wsk_send_queue_t out;
    uint8_t *head;        /* handshake bytes so far (freed once open) */
    size_t head_len;
    uint8_t *message;     /* reassembly buffer */
    size_t message_len, message_cap;
    wsk_client_id_t id;
    int slot;
    uint16_t close_code;
    uint8_t state;        /* a peer_state_t */
    uint8_t message_opcode;
    uint8_t close_reason_len;
    bool tls_handshaking; /* wss: the TLS handshake is still under way */
    bool want_write;      /* ... and waits for the socket to become writable */
    bool closing;         /* we sent a close frame and wait for the client's */
    bool pinged;          /* the heartbeat pinged it and waits for any frame until `deadline` */
    bool abort;           /* once its bytes are out, close the socket without lingering (heartbeat timeout) */
    bool whole;           /* an app message is being framed: queued whole, past the bound (send_to checked it) */
    bool torn;            /* the queue ends inside a frame (no memory for the rest): no close frame after it */
    bool held;            /* in its handshake, request complete: waits for a place (FIFO, until its deadline) */
    char close_reason[WSK_MAX_CLOSE_REASON];
} peer_t;

struct wsk_server {
    wsk_server_config_t config;
    char *path;
    char *subprotocols;
    int listen_fd;
    wsk_tls_config_t *tls; /* wss: shared by every connection; NULL for ws */
    uint16_t port;
    bool stop;
    bool stopping;          /* the loop saw `stop`: no more accepts, open peers closed with 1001 */
    int64_t stop_deadline;  /* ... and it ends by this time, whoever is left */
    wsk_task_t task;
    wsk_client_id_t next_id;
    size_t peer_count;
    peer_t *peers;
};

static wsk_err_t peer_write(void *ctx, const uint8_t *bytes, size_t len);

static char *copy_string(const char *text)
{
    if (!text) return NULL;
    size_t len = strlen(text) + 1;
    char *copy = wsk_malloc(len);
    if (copy) memcpy(copy, text, len);
    return copy;
}

typedef struct {
    struct wsk_server *server;
    peer_t *peer;
} peer_ctx_t;

/* Mark a peer gone with a close code; the sweep closes its socket and reports it. */
static void peer_fail(peer_t *peer, uint16_t code)
{
    if (peer->state != PEER_HANDSHAKE && peer->state != PEER_OPEN) return;
    if (peer->close_code == 0) peer->close_code = code;
    peer->state = PEER_GONE;
}

/* End a peer ourselves with `code` and `reason`: its release sends them in a close frame (unless the engine sent
   one already) behind what is queued for it, and on_close reports them. */
static void peer_end(peer_t *peer, uint16_t code, const char *reason)
{
    if (peer->state != PEER_HANDSHAKE && peer->state != PEER_OPEN) return;
    peer->close_code = code;
    size_t len = strlen(reason); /* one of this file's reasons: at most WSK_MAX_CLOSE_REASON */
    peer->close_reason_len = (uint8_t)len;
    memcpy(peer->close_reason, reason, len);
    peer->state = PEER_GONE;
}

/* Read and drop what a plain socket holds now (at most DISCARD_BYTES); true once the client ended or failed. */
static bool discard_input(int fd)
{
    uint8_t sink[512];
    for (size_t read = 0; read < DISCARD_BYTES; read += sizeof(sink)) {
        ssize_t n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) return true;
        if (n < 0) return false;
    }
    return false;
}

/* Close a lingering peer's socket, dropping what it still had to send: its entry is free. The client's unread
   bytes are read first (some of them), since a socket closed with unread bytes resets the connection. */
static void linger_end(peer_t *peer)
{
    wsk_send_queue_clear(&peer->out);
    if (peer->conn.fd >= 0 && !peer->conn.tls) discard_input(peer->conn.fd);
    wsk_conn_close(&peer->conn);
    peer->state = PEER_FREE;
}

/* A released peer's bytes are all out: half-close a plain socket and read to the client's FIN, or close. */
static void linger_drained(peer_t *peer)
{
    if (peer->abort || peer->conn.tls || shutdown(peer->conn.fd, SHUT_WR) != 0) return linger_end(peer);
    peer->state = PEER_LINGER;
    peer->deadline = wsk_now_ms() + LINGER_MS;
}

static void send_failed(peer_t *peer)
{
    WSK_LOGW(TAG, "client %u: send failed (%s), dropping it", (unsigned)peer->id,
             peer->conn.tls ? "TLS" : strerror(errno));
    peer_fail(peer, WSK_CLOSE_ABNORMAL);
}

/* Send as much queued output as the socket takes; the queue is freed once empty. */
static void flush_output(peer_t *peer)
{
    if (wsk_send_queue_flush(&peer->out, &peer->conn) < 0) send_failed(peer);
}

/* Queue our close frame whole, past max_send_queue (a few bytes), behind what the peer has not taken yet. */
static wsk_err_t queue_close(void *ctx, const uint8_t *bytes, size_t len)
{
    peer_t *peer = ((peer_ctx_t *)ctx)->peer;
    return wsk_send_queue_write(&peer->out, &peer->conn, bytes, len);
}

/* Codes a close frame may carry (RFC 6455 §7.4.1: 1005, 1006 and 1015 are only reported, never sent). */
static bool sendable(uint16_t code)
{
    return code >= 1000 && code != WSK_CLOSE_NO_STATUS && code != WSK_CLOSE_ABNORMAL && code != 1015;
}

/*
 * Release a peer. An open one we ended gets its close frame with the code on_close reports, unless the engine sent
 * one already (a protocol error, the reply to the client's close). `linger`: what is still queued for it drains
 * (PEER_LINGER, up to close_timeout_ms), then a plain socket is half-closed and read to the client's FIN;
 * otherwise (the server stops) the socket closes now.
 */
static void peer_release(struct wsk_server *server, peer_t *peer, bool was_open, bool linger)
{
    uint16_t code = peer->close_code ? peer->close_code : WSK_CLOSE_ABNORMAL;
    char reason[sizeof(peer->close_reason) + 1];
    size_t reason_len = peer->close_reason_len;
    memcpy(reason, peer->close_reason, reason_len);
    reason[reason_len] = 0;
    bool broken = false;
    if (peer->conn.fd >= 0 && !peer->tls_handshaking) {
        peer_ctx_t pc = {server, peer};
        if (was_open && sendable(code) && !peer->torn)
            wsk_engine_send_close(peer->slot, code, reason, queue_close, &pc);
        broken = wsk_send_queue_flush(&peer->out, &peer->conn) < 0;
    }
    if (peer->slot >= 0) wsk_engine_close(peer->slot);
    wsk_free(peer->head);
    wsk_free(peer->message);
    wsk_client_id_t id = peer->id;
    wsk_conn_t conn = peer->conn;
    wsk_send_queue_t out = peer->out;
    bool abort = peer->abort;
    memset(peer, 0, sizeof(*peer));
    peer->conn = conn;
    peer->out = out;
    peer->abort = abort;
    peer->slot = -1;
    peer->state = PEER_LINGER;
    peer->deadline = wsk_now_ms() + server->config.close_timeout_ms;
    if (conn.fd < 0 || broken || !linger) linger_end(peer);
    else if (out.len == 0) linger_drained(peer);
    if (was_open && server->config.on_close)
        server->config.on_close(server, id, code, reason, reason_len, server->config.user_ctx);
}

/* Free gone peers; `slot >= 0` means it had been open (its on_open ran). */
static void sweep(struct wsk_server *server)
{
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state == PEER_GONE) peer_release(server, peer, peer->slot >= 0, true);
    }
}

static peer_t *find_open(struct wsk_server *server, wsk_client_id_t id)
{
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state == PEER_OPEN && peer->id == id) return peer;
    }
    return NULL;
}

/* A peer's send queue bound: max_send_queue, and never less than one echo of the largest message it may send
   (a peer that reads, slowly, must still get it). */
static size_t send_queue_limit(const struct wsk_server *server)
{
    size_t limit = server->config.max_send_queue ? server->config.max_send_queue : CONFIG_WSK_MAX_SEND_QUEUE;
    size_t one_message = server->config.max_message_size + WSK_MAX_HEADER_BYTES;
    return limit < one_message ? one_message : limit;
}

/* A peer that does not read: `len` more bytes would pass its queue's bound. It is ended with 1008, whose close
   frame goes behind the whole frames queued (the bytes refused are never part of a frame already begun). */
static wsk_err_t overflow(struct wsk_server *server, peer_t *peer, size_t len)
{
    WSK_LOGW(TAG, "client %u does not read: %u bytes to send > max_send_queue %u, ending it (1008)",
             (unsigned)peer->id, (unsigned)(peer->out.len + len), (unsigned)send_queue_limit(server));
    peer_end(peer, WSK_CLOSE_POLICY_VIOLATION, QUEUE_FULL_REASON);
    return WSK_ERR_INVALID_SIZE;
}

/*
 * Keep the `len` bytes the socket did not take. The engine's own frames (pongs, close replies) come whole, one
 * write each, and are refused past the bound; an app message was measured against it before its first byte
 * (send_to) and is queued whole (`whole`).
 */
static wsk_err_t queue_output(struct wsk_server *server, peer_t *peer, const uint8_t *bytes, size_t len)
{
    size_t limit = send_queue_limit(server);
    if (!peer->whole && peer->out.len + len > limit) return overflow(server, peer, len);
    if (wsk_send_queue_push(&peer->out, bytes, len, peer->whole ? SIZE_MAX : limit) != WSK_OK) {
        WSK_LOGE(TAG, "client %u: no memory to queue %u bytes, dropping it", (unsigned)peer->id, (unsigned)len);
        peer->torn = true;
        peer_fail(peer, WSK_CLOSE_INTERNAL_ERROR);
        return WSK_ERR_NO_MEM;
    }
    return WSK_OK;
}

/*
 * A peer's outgoing bytes. The loop never waits on one socket, plain or TLS: what the socket does not take now
 * is queued behind what is queued already (with TLS, starting with the bytes of the record mbedTLS holds).
 */
static wsk_err_t peer_write(void *ctx, const uint8_t *bytes, size_t len)
{
    peer_ctx_t *pc = ctx;
    peer_t *peer = pc->peer;
    if (peer->state == PEER_GONE || peer->conn.fd < 0) return WSK_ERR_INVALID_STATE;
    ssize_t sent = peer->out.len == 0 ? wsk_send_queue_send_now(&peer->out, &peer->conn, bytes, len) : 0;
    if (sent >= 0 && (size_t)sent == len) return WSK_OK;
    if (sent >= 0) return queue_output(pc->server, peer, bytes + sent, len - (size_t)sent);
    send_failed(peer);
    return WSK_ERR_SOCKET;
}

/* A client silent for interval + timeout: close 1011 once what is queued for it is out, then its socket closes
   at once (no lingering for the FIN of a peer that has likely vanished). */
static void heartbeat_end(struct wsk_server *server, peer_t *peer)
{
    WSK_LOGW(TAG, "client %u silent for %d + %d ms: ending it (1011)", (unsigned)peer->id,
             server->config.heartbeat_interval_ms, server->config.heartbeat_timeout_ms);
    peer_end(peer, WSK_CLOSE_INTERNAL_ERROR, HEARTBEAT_REASON);
    peer->abort = true;
}

static void deliver_message(struct wsk_server *server, peer_t *peer, uint8_t opcode, const uint8_t *data,
                            size_t len)
{
    const wsk_server_config_t *c = &server->config;
    if (opcode == WSK_OP_TEXT && c->on_text) c->on_text(server, peer->id, (const char *)data, len, c->user_ctx);
    if (opcode == WSK_OP_BINARY && c->on_binary) c->on_binary(server, peer->id, data, len, c->user_ctx);
}

static void on_data(struct wsk_server *server, peer_t *peer, const wsk_event_t *event)
{
    bool first = event->flags & WSK_DATA_FLAG_MESSAGE_START, last = event->flags & WSK_DATA_FLAG_MESSAGE_END;
    const wsk_server_config_t *c = &server->config;
    if (first && last) return deliver_message(server, peer, event->opcode, event->data, event->len);
    if (c->on_fragment) {
        c->on_fragment(server, peer->id, (wsk_opcode_t)event->opcode, event->data, event->len, first, last,
                       c->user_ctx);
        return;
    }
    if (first) {
        peer->message_len = 0;
        peer->message_opcode = event->opcode;
    }
    /* The engine enforces max_message_size (1009), so this never grows past it. */
    if (peer->message_len + event->len > peer->message_cap) {
        size_t cap = peer->message_cap ? peer->message_cap : 256;
        while (cap < peer->message_len + event->len) cap *= 2;
        if (cap > c->max_message_size) cap = c->max_message_size;
        uint8_t *grown = wsk_realloc(peer->message, cap);
        if (!grown) {
            WSK_LOGE(TAG, "client %u: no memory for a %u-byte message", (unsigned)peer->id, (unsigned)cap);
            return peer_end(peer, WSK_CLOSE_INTERNAL_ERROR, "out of memory");
        }
        peer->message = grown;
        peer->message_cap = cap;
    }
    /* Empty fragments: no buffer may exist yet, and memcpy wants one even for 0 bytes (UBSan found this). */
    if (event->len > 0) memcpy(peer->message + peer->message_len, event->data, event->len);
    peer->message_len += event->len;
    if (!last) return;
    deliver_message(server, peer, peer->message_opcode, peer->message ? peer->message : event->data,
                    peer->message_len);
    /* Keep small buffers for the next message; give big ones back. */
    if (peer->message_cap > server->config.rx_buffer_size) {
        wsk_free(peer->message);
        peer->message = NULL;
        peer->message_cap = 0;
    }
}

static bool on_event(void *ctx, const wsk_event_t *event)
{
    peer_ctx_t *pc = ctx;
    struct wsk_server *server = pc->server;
    peer_t *peer = pc->peer;
    const wsk_server_config_t *c = &server->config;
    switch (event->type) {
    case WSK_EVENT_TYPE_DATA:
        on_data(server, peer, event);
        break;
    case WSK_EVENT_TYPE_PING:
        if (c->on_ping) c->on_ping(server, peer->id, event->data, event->len, c->user_ctx);
        break;
    case WSK_EVENT_TYPE_CLOSE:
        peer->close_code = event->code;
        peer->close_reason_len = (uint8_t)(event->len <= sizeof(peer->close_reason) ? event->len : 0);
        memcpy(peer->close_reason, event->data, peer->close_reason_len);
        break;
    case WSK_EVENT_TYPE_ERROR:
        WSK_LOGW(TAG, "client %u broke the protocol (reason %u): closing with %u", (unsigned)peer->id,
                 event->reason, event->code);
        peer_fail(peer, event->code);
        break;
    case WSK_EVENT_TYPE_CLOSED:
        peer_fail(peer, peer->close_code ? peer->close_code : WSK_CLOSE_NO_STATUS);
        break;
    default:
        break;
    }
    return peer->state == PEER_OPEN;
}

static void reject(struct wsk_server *server, peer_t *peer, int status)
{
    const uint8_t *response;
    size_t len;
    /* Never waits: the sweep at the end of this loop turn flushes what the socket did not take once more, then
       half-closes a plain socket and lets it linger (TLS ends with close_notify). */
    peer_ctx_t pc = {server, peer};
    if (wsk_engine_build_rejection(status, &response, &len) == WSK_OK) peer_write(&pc, response, len);
    peer->state = PEER_GONE;
}

static bool path_matches(const char *path, const char *target)
{
    if (!path) return true;
    size_t len = strcspn(target, "?");
    return strlen(path) == len && memcmp(path, target, len) == 0;
}

static size_t open_count(struct wsk_server *server)
{
    size_t n = 0;
    for (size_t i = 0; i < server->peer_count; i++)
        if (server->peers[i].state == PEER_OPEN) n++;
    return n;
}

/*
 * Whether a peer is still within its grace, new_client_grace_ms from its accept (a connection the server has read
 * nothing from yet) or from its upgrade (a client that has sent nothing since). No newcomer takes its place then:
 * in a burst of connections larger than the table, a client that sends its request, then its first frame, as
 * soon as it can was otherwise pushed out by the next ones before it had the time to.
 */
static bool in_grace(const struct wsk_server *server, const peer_t *peer, int64_t now)
{
    if (now - peer->heard >= server->config.new_client_grace_ms) return false;
    if (peer->state == PEER_HANDSHAKE) return peer->head_len == 0;
    return peer->state == PEER_OPEN && peer->spoke == 0;
}

/*
 * The open peer least worth keeping when a new client needs its place: one already closing (its close frame
 * sent; the soonest deadline first), then one that has not answered a heartbeat ping (the oldest ping first), then,
 * with lru_purge_enable, the least recently active: one that has sent nothing since its upgrade before any
 * other, the oldest upgrade first, else the one heard from longest ago. One that has sent nothing is not taken
 * within its grace, and while one is in it no peer that has spoken is taken either: NULL with `*later` set, the
 * newcomer waits for that grace to end. NULL without `*later` when none may go.
 */
static peer_t *least_worth_keeping(struct wsk_server *server, bool *later)
{
    int64_t now = wsk_now_ms();
    peer_t *best = NULL;
    int best_rank = 0;
    int64_t best_key = 0;
    *later = false;
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state != PEER_OPEN) continue;
        int rank = peer->closing ? 0 : peer->pinged ? 1 : peer->spoke == 0 ? 2 : 3;
        if (rank >= 2 && !server->config.lru_purge_enable) continue;
        if (rank == 2 && in_grace(server, peer, now)) {
            *later = true;
            continue;
        }
        int64_t key = rank < 2 ? peer->deadline : rank == 2 ? peer->heard : peer->spoke;
        bool after = best && rank == best_rank && (key > best_key || (key == best_key && peer->id > best->id));
        if (best && (rank > best_rank || after)) continue;
        best = peer;
        best_rank = rank;
        best_key = key;
    }
    if (best && best_rank == 3 && *later) return NULL;
    if (best) *later = false;
    return best;
}

typedef enum { ROOM_MADE, ROOM_LATER, ROOM_NONE } room_t;

/* Make room for a new client by ending the open peer least worth keeping (close 1013). ROOM_LATER: one may go
   once a grace ends; ROOM_NONE: none may go. */
static room_t reclaim_open(struct wsk_server *server)
{
    bool later;
    peer_t *victim = least_worth_keeping(server, &later);
    if (!victim) return later ? ROOM_LATER : ROOM_NONE;
    const char *why = victim->closing ? "closing" : victim->pinged ? "silent after a ping" : "least recently active";
    WSK_LOGW(TAG, "no room for a new client: ending client %u (%s) with 1013", (unsigned)victim->id, why);
    /* One already closing has its close frame: it ends as a close timeout would (1006). */
    if (victim->closing) peer_fail(victim, WSK_CLOSE_ABNORMAL);
    else peer_end(victim, WSK_CLOSE_TRY_AGAIN_LATER, RECLAIM_REASON);
    peer_release(server, victim, true, true);
    return ROOM_MADE;
}

/* The held peer accepted first, or NULL. */
static peer_t *first_held(struct wsk_server *server)
{
    peer_t *first = NULL;
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state == PEER_HANDSHAKE && peer->held && (!first || peer->id < first->id)) first = peer;
    }
    return first;
}

/* A complete request with no place for it yet keeps its entry and waits (admit_held); 503 at its deadline. */
static void hold(peer_t *peer)
{
    if (!peer->held) WSK_LOGD(TAG, "client %u waits for a place", (unsigned)peer->id);
    peer->held = true;
}

static void upgrade(struct wsk_server *server, peer_t *peer, const wsk_request_t *request)
{
    if (!path_matches(server->path, request->target)) return reject(server, peer, 404);
    /* First come, first served: behind a client already waiting, this one waits too. */
    peer_t *first = first_held(server);
    if (first && first != peer) return hold(peer);
    room_t room = open_count(server) >= server->config.max_clients ? reclaim_open(server) : ROOM_MADE;
    if (room == ROOM_LATER) return hold(peer);
    if (room == ROOM_NONE) {
        WSK_LOGW(TAG, "max_clients (%u) open, none to end: 503", (unsigned)server->config.max_clients);
        return reject(server, peer, 503);
    }
    uint64_t max_payload = server->config.max_message_size ? server->config.max_message_size : UINT64_MAX;
    int slot = wsk_engine_open(WSK_ROLE_SERVER, max_payload);
    if (slot < 0) {
        /* Slots are shared with every server and client of the firmware: free ours that ended, then reclaim. */
        sweep(server);
        slot = wsk_engine_open(WSK_ROLE_SERVER, max_payload);
        if (slot < 0) room = reclaim_open(server);
        if (slot < 0 && room == ROOM_MADE) slot = wsk_engine_open(WSK_ROLE_SERVER, max_payload);
        if (slot < 0 && room == ROOM_LATER) return hold(peer);
    }
    if (slot < 0) {
        WSK_LOGW(TAG, "no engine slot free (CONFIG_WSK_MAX_CONNECTIONS=%d): 503", CONFIG_WSK_MAX_CONNECTIONS);
        return reject(server, peer, 503);
    }
    peer->slot = slot;
    peer->held = false;
    const uint8_t *response;
    size_t len;
    peer_ctx_t pc = {server, peer};
    wsk_err_t err = wsk_engine_build_response(server->subprotocols, &response, &len);
    if (err == WSK_OK) err = peer_write(&pc, response, len); /* queued if the socket does not take it all */
    if (err != WSK_OK) {
        peer->state = PEER_GONE;
        peer->slot = -1;
        wsk_engine_close(slot);
        return;
    }
    /* Frames may follow the head in the same read: keep them for the engine. */
    size_t rest = peer->head_len - request->head_length;
    peer->state = PEER_OPEN;
    peer->heard = wsk_now_ms();
    if (rest > 0) peer->spoke = peer->heard;
    WSK_LOGI(TAG, "client %u open (%s)", (unsigned)peer->id, request->target);
    if (server->config.on_open) server->config.on_open(server, peer->id, server->config.user_ctx);
    if (rest > 0 && peer->state == PEER_OPEN) {
        /* rx_buffer_size may exceed the receive area: the engine gets them a piece at a time. */
        if (wsk_engine_feed_bytes(peer->slot, peer->head + request->head_length, rest, peer_write, on_event,
                                  &pc) == WSK_ERR_ENGINE)
            peer_end(peer, WSK_CLOSE_INTERNAL_ERROR, ENGINE_REASON);
    }
    wsk_free(peer->head);
    peer->head = NULL;
}

static void read_handshake(struct wsk_server *server, peer_t *peer)
{
    size_t size = server->config.rx_buffer_size;
    if (peer->head_len >= size) return; /* a held request and frames sent behind it fill the buffer */
    ssize_t n = wsk_conn_recv(&peer->conn, peer->head + peer->head_len, size - peer->head_len);
    if (n == WSK_CONN_AGAIN) return;
    if (n <= 0) {
        peer->state = PEER_GONE;
        return;
    }
    peer->head_len += (size_t)n;
    wsk_request_t request;
    if (wsk_engine_parse_request(peer->head, peer->head_len, size - 1, &request) != WSK_OK)
        return reject(server, peer, 500);
    if (request.status == 0) return;
    if (request.status != WSK_HTTP_SWITCHING_PROTOCOLS) {
        WSK_LOGI(TAG, "refused an upgrade request with %d", request.status);
        return reject(server, peer, request.status);
    }
    upgrade(server, peer, &request);
}

static void read_frames(struct wsk_server *server, peer_t *peer)
{
    size_t size;
    uint8_t *rx = wsk_engine_rx(&size);
    if (size > server->config.rx_buffer_size) size = server->config.rx_buffer_size;
    ssize_t n = wsk_conn_recv(&peer->conn, rx, size);
    if (n == WSK_CONN_AGAIN) return;
    if (n <= 0) return peer_fail(peer, WSK_CLOSE_ABNORMAL);
    peer->heard = peer->spoke = wsk_now_ms(); /* any byte is life: the heartbeat starts over */
    peer->pinged = false;
    peer_ctx_t pc = {server, peer};
    if (wsk_engine_feed(peer->slot, (size_t)n, peer_write, on_event, &pc) == WSK_ERR_ENGINE)
        peer_end(peer, WSK_CLOSE_INTERNAL_ERROR, ENGINE_REASON);
}

/*
 * The table entry a new connection would take: a free one, else a lingering one (one only waiting for its client's
 * FIN before one still draining), else the oldest peer in its handshake whose request is still incomplete and
 * which had its grace (in_grace: a slowloris peer cannot hold the table, and a connection accepted in the same
 * burst is read before a newer one may take its place). A complete request waiting for a place (held) keeps it.
 * NULL when there is none: new connections then wait in the listen backlog.
 */
static peer_t *free_entry(struct wsk_server *server)
{
    int64_t now = wsk_now_ms();
    peer_t *lingering = NULL, *draining = NULL, *handshaking = NULL;
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state == PEER_FREE) return peer;
        if (peer->state == PEER_LINGER && peer->out.len == 0 && !lingering) lingering = peer;
        if (peer->state == PEER_LINGER && peer->out.len > 0 && !draining) draining = peer;
        if (peer->state == PEER_HANDSHAKE && !peer->held && !in_grace(server, peer, now) &&
            (!handshaking || peer->id < handshaking->id))
            handshaking = peer;
    }
    return lingering ? lingering : draining ? draining : handshaking;
}

/* Empty the entry free_entry chose: a lingering peer is closed now, one in its handshake refused with 503. */
static void take_entry(struct wsk_server *server, peer_t *peer)
{
    if (peer->state == PEER_HANDSHAKE) {
        WSK_LOGW(TAG, "no room for a new connection: refusing client %u, the oldest in its handshake (503)",
                 (unsigned)peer->id);
        if (peer->tls_handshaking) peer->state = PEER_GONE;
        else reject(server, peer, 503);
        peer_release(server, peer, false, true);
    }
    if (peer->state == PEER_LINGER) linger_end(peer);
}

/* Accept while the table has an entry for the connection; the others stay in the listen backlog, unanswered. */
static void accept_clients(struct wsk_server *server)
{
    for (;;) {
        peer_t *peer = free_entry(server);
        if (!peer) return;
        int fd = accept(server->listen_fd, NULL, NULL);
        if (fd < 0) return;
        take_entry(server, peer);
        uint8_t *head = wsk_malloc(server->config.rx_buffer_size);
        if (!head || wsk_socket_prepare(fd) != WSK_OK) {
            WSK_LOGW(TAG, "dropping a connection: no memory");
            wsk_free(head);
            close(fd);
            continue;
        }
        memset(peer, 0, sizeof(*peer));
        peer->conn = (wsk_conn_t){.fd = fd};
        if (server->tls && wsk_tls_attach(&peer->conn, server->tls, NULL) != WSK_OK) {
            WSK_LOGW(TAG, "dropping a connection: no memory for TLS");
            wsk_free(head);
            wsk_conn_close(&peer->conn);
            continue;
        }
        peer->tls_handshaking = server->tls != NULL;
        peer->state = PEER_HANDSHAKE;
        peer->id = ++server->next_id;
        peer->slot = -1;
        peer->head = head;
        peer->heard = wsk_now_ms(); /* its grace starts */
        peer->deadline = peer->heard + server->config.handshake_timeout_ms;
    }
}

/* Advance a wss peer's TLS handshake; true once it is done. */
static bool advance_tls(peer_t *peer)
{
    int step = wsk_tls_handshake(&peer->conn);
    peer->want_write = step == WSK_TLS_WANT_WRITE;
    if (step == WSK_OK) peer->tls_handshaking = false;
    else if (step != WSK_TLS_WANT_READ && step != WSK_TLS_WANT_WRITE) peer->state = PEER_GONE;
    return step == WSK_OK;
}

/* Handle a ready peer; TLS may hold decrypted bytes beyond one read, so read while it has some. */
static void service_peer(struct wsk_server *server, peer_t *peer)
{
    if (peer->state == PEER_LINGER) {
        /* Flush what is queued; read and drop at most DISCARD_BYTES per turn (a peer that keeps writing cannot
           hold the loop, nor make the final close a reset that would cost it the bytes it has not read yet). It
           ends at its deadline, or at the client's FIN. */
        if (peer->out.len > 0) {
            if (wsk_send_queue_flush(&peer->out, &peer->conn) < 0) return linger_end(peer);
            if (peer->out.len == 0) linger_drained(peer);
            if (peer->conn.tls || peer->state != PEER_LINGER) return; /* TLS is never read raw */
        }
        if (discard_input(peer->conn.fd)) linger_end(peer);
        return;
    }
    do {
        if (peer->state == PEER_HANDSHAKE) {
            if (peer->tls_handshaking && !advance_tls(peer)) return;
            read_handshake(server, peer);
        } else if (peer->state == PEER_OPEN) {
            read_frames(server, peer);
        }
    } while (((peer->state == PEER_HANDSHAKE && !peer->held) || peer->state == PEER_OPEN) &&
             wsk_conn_pending(&peer->conn) > 0);
}

/*
 * Upgrade the held requests, first come first served, while there is room; the first that must wait holds the
 * others back. Its head is parsed again: the engine keeps one request's parse at a time.
 */
static void admit_held(struct wsk_server *server)
{
    for (peer_t *peer = first_held(server); peer; peer = first_held(server)) {
        wsk_request_t request;
        size_t size = server->config.rx_buffer_size;
        if (wsk_engine_parse_request(peer->head, peer->head_len, size - 1, &request) != WSK_OK ||
            request.status != WSK_HTTP_SWITCHING_PROTOCOLS) {
            reject(server, peer, 500); /* it parsed before: the engine failed */
            continue;
        }
        upgrade(server, peer, &request);
        if (peer->state == PEER_HANDSHAKE) return;
        /* TLS may hold bytes it decrypted behind the request (frames sent before our 101). */
        if (peer->state == PEER_OPEN && wsk_conn_pending(&peer->conn) > 0) service_peer(server, peer);
    }
}

static void check_deadlines(struct wsk_server *server)
{
    int64_t now = wsk_now_ms();
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        bool waiting = peer->state == PEER_HANDSHAKE || (peer->state == PEER_OPEN && peer->closing);
        /* A queue the peer did not take in close_timeout_ms is dropped (the close frame with it): a plain socket
           then half-closes behind what the kernel holds and lingers, as a drained one does. */
        if (peer->state == PEER_LINGER && now >= peer->deadline && peer->out.len > 0 && !peer->conn.tls) {
            wsk_send_queue_clear(&peer->out);
            linger_drained(peer);
        } else if (peer->state == PEER_LINGER && now >= peer->deadline) {
            linger_end(peer);
        }
        if (peer->state == PEER_OPEN && peer->out.len > 0 &&
            now - peer->out.progress >= server->config.send_timeout_ms) {
            WSK_LOGW(TAG, "client %u took none of its %u queued bytes in %d ms: ending it (1008)", (unsigned)peer->id,
                     (unsigned)peer->out.len, server->config.send_timeout_ms);
            peer_end(peer, WSK_CLOSE_POLICY_VIOLATION, SEND_TIMEOUT_REASON);
        }
        if (waiting && now >= peer->deadline && peer->state == PEER_HANDSHAKE && peer->held) {
            WSK_LOGW(TAG, "client %u found no place within its handshake timeout (503)", (unsigned)peer->id);
            reject(server, peer, 503);
        } else if (waiting && now >= peer->deadline) {
            WSK_LOGW(TAG, "client %u timed out", (unsigned)peer->id);
            peer_fail(peer, WSK_CLOSE_ABNORMAL);
        }
        if (peer->state != PEER_OPEN || peer->closing || server->config.heartbeat_interval_ms <= 0) continue;
        if (peer->pinged && now >= peer->deadline) {
            heartbeat_end(server, peer);
        } else if (!peer->pinged && now - peer->heard >= server->config.heartbeat_interval_ms) {
            peer->pinged = true;
            peer->deadline = now + server->config.heartbeat_timeout_ms;
            peer_ctx_t pc = {server, peer};
            wsk_engine_send_control(peer->slot, WSK_OP_PING, NULL, 0, peer_write, &pc);
        }
    }
}

/* Ms until the earliest deadline of any peer (the poll's timeout), at most POLL_MS. */
static int next_wakeup(struct wsk_server *server)
{
    int64_t now = wsk_now_ms(), soonest = now + POLL_MS;
    const wsk_server_config_t *c = &server->config;
    for (size_t i = 0; i < server->peer_count; i++) {
        const peer_t *peer = &server->peers[i];
        int64_t at = soonest;
        if (peer->state == PEER_HANDSHAKE || peer->state == PEER_LINGER) at = peer->deadline;
        if (peer->state == PEER_OPEN) {
            if (peer->closing || peer->pinged) at = peer->deadline;
            else if (c->heartbeat_interval_ms > 0) at = peer->heard + c->heartbeat_interval_ms;
            if (peer->out.len > 0 && peer->out.progress + c->send_timeout_ms < at)
                at = peer->out.progress + c->send_timeout_ms;
        }
        /* The end of a grace may give a waiting connection or request its place. */
        if (in_grace(server, peer, now) && peer->heard + c->new_client_grace_ms < at)
            at = peer->heard + c->new_client_grace_ms;
        if (at < soonest) soonest = at;
    }
    if (server->stopping && server->stop_deadline < soonest) soonest = server->stop_deadline;
    return soonest <= now ? 0 : (int)(soonest - now);
}

/*
 * wsk_server_stop was called: close the listening socket, start the close handshake (1001) with every open
 * peer and refuse those in their handshake (503); the loop goes on until they are gone or close_timeout_ms.
 */
static void begin_stop(struct wsk_server *server)
{
    server->stopping = true;
    server->stop_deadline = wsk_now_ms() + server->config.close_timeout_ms;
    wsk_socket_close(&server->listen_fd);
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state == PEER_HANDSHAKE && peer->tls_handshaking) peer->state = PEER_GONE;
        else if (peer->state == PEER_HANDSHAKE) reject(server, peer, 503);
        if (peer->state != PEER_OPEN || peer->closing) continue;
        peer_ctx_t pc = {server, peer};
        if (wsk_engine_send_close(peer->slot, WSK_CLOSE_GOING_AWAY, STOP_REASON, peer_write, &pc) != WSK_OK) continue;
        peer->closing = true;
        peer->deadline = server->stop_deadline;
    }
}

/* Whether a stopping server is done: every peer gone, or its time is up. */
static bool stopped(struct wsk_server *server)
{
    if (wsk_now_ms() >= server->stop_deadline) return true;
    for (size_t i = 0; i < server->peer_count; i++)
        if (server->peers[i].state != PEER_FREE) return false;
    return true;
}

static void serve(void *arg)
{
    struct wsk_server *server = arg;
    struct pollfd *fds = wsk_calloc(server->peer_count + 1, sizeof(*fds));
    peer_t **owners = wsk_calloc(server->peer_count + 1, sizeof(*owners));
    if (!fds || !owners) {
        WSK_LOGE(TAG, "no memory for the poll set: server task exits");
        wsk_free(fds);
        wsk_free(owners);
        return;
    }
    for (;;) {
        size_t n = 0;
        wsk_lock();
        if (!server->stopping && __atomic_load_n(&server->stop, __ATOMIC_ACQUIRE)) begin_stop(server);
        if (server->stopping && stopped(server)) {
            wsk_unlock();
            break;
        }
        /* -1 once stopping: ignored. With no entry for a new connection, they wait in the listen backlog. */
        fds[n++] = (struct pollfd){.fd = free_entry(server) ? server->listen_fd : -1, .events = POLLIN};
        for (size_t i = 0; i < server->peer_count; i++) {
            peer_t *peer = &server->peers[i];
            if (peer->state != PEER_HANDSHAKE && peer->state != PEER_OPEN && peer->state != PEER_LINGER) continue;
            owners[n] = peer;
            short events = peer->want_write ? POLLOUT : POLLIN;
            /* A held request whose buffer is full is not read (POLLHUP and POLLERR still come). */
            if (peer->held && peer->head_len >= server->config.rx_buffer_size) events = 0;
            if (peer->out.len > 0 && !peer->out.wants_read) events |= POLLOUT;
            /* A draining TLS peer waits only on its queue (its records are never read raw). */
            if (peer->state == PEER_LINGER && peer->conn.tls) events = peer->out.wants_read ? POLLIN : POLLOUT;
            fds[n++] = (struct pollfd){.fd = peer->conn.fd, .events = events};
        }
        int timeout = next_wakeup(server);
        wsk_unlock();
        int ready = poll(fds, n, timeout);
        wsk_lock();
        if (ready > 0 && (fds[0].revents & POLLIN)) accept_clients(server);
        for (size_t i = 1; ready > 0 && i < n; i++) {
            peer_t *peer = owners[i];
            if (!fds[i].revents || peer->conn.fd != fds[i].fd) continue;
            if (peer->out.len > 0 && peer->state == PEER_OPEN) flush_output(peer);
            service_peer(server, peer);
        }
        check_deadlines(server);
        sweep(server);
        admit_held(server);
        sweep(server); /* peers admit_held ended for the held requests, or refused */
        wsk_unlock();
    }
    wsk_free(fds);
    wsk_free(owners);
}

static wsk_err_t listen_on(struct wsk_server *server)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return WSK_ERR_SOCKET;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(server->config.port)};
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (server->config.bind_address && inet_pton(AF_INET, server->config.bind_address, &addr.sin_addr) != 1) {
        close(fd);
        return WSK_ERR_INVALID_ARG;
    }
    socklen_t len = sizeof(addr);
    int backlog = server->config.backlog_conn ? server->config.backlog_conn : CONFIG_WSK_BACKLOG_CONN;
    if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, backlog) != 0 ||
        wsk_socket_prepare(fd) != WSK_OK || getsockname(fd, (struct sockaddr *)&addr, &len) != 0) {
        WSK_LOGE(TAG, "cannot listen on port %u: %s", server->config.port, strerror(errno));
        close(fd);
        return WSK_ERR_SOCKET;
    }
    server->listen_fd = fd;
    server->port = ntohs(addr.sin_port);
    return WSK_OK;
}

/* Free the server; peers still there (a stop's close_timeout_ms ran out) are closed now: an open one with 1001,
   one whose close went unanswered as a close timeout (1006). */
static void destroy(struct wsk_server *server, bool engine_held)
{
    if (server->peers) {
        for (size_t i = 0; i < server->peer_count; i++) {
            peer_t *peer = &server->peers[i];
            if (peer->state == PEER_FREE) continue;
            if (peer->state == PEER_LINGER) {
                linger_end(peer);
                continue;
            }
            if (peer->state == PEER_OPEN && peer->closing) peer_fail(peer, WSK_CLOSE_ABNORMAL);
            else if (peer->state == PEER_OPEN && !peer->close_code) peer_end(peer, WSK_CLOSE_GOING_AWAY, STOP_REASON);
            peer_release(server, peer, peer->slot >= 0, false);
        }
    }
    wsk_socket_close(&server->listen_fd);
    wsk_tls_config_free(server->tls);
    if (engine_held) wsk_engine_release();
    wsk_free(server->peers);
    wsk_free(server->path);
    wsk_free(server->subprotocols);
    wsk_free(server);
}

wsk_err_t wsk_server_start(const wsk_server_config_t *config, wsk_server_handle_t *out)
{
    if (!config || !out || config->max_clients == 0 || config->rx_buffer_size < 64) return WSK_ERR_INVALID_ARG;
    // Every open connection holds an engine slot: more clients than slots could never be served.
    if (config->max_clients > CONFIG_WSK_MAX_CONNECTIONS) {
        WSK_LOGE(TAG, "max_clients %u exceeds the engine's %u connection slots (CONFIG_WSK_MAX_CONNECTIONS)",
                 (unsigned)config->max_clients, (unsigned)CONFIG_WSK_MAX_CONNECTIONS);
        return WSK_ERR_INVALID_ARG;
    }
    if (config->heartbeat_timeout_ms < 0) {
        WSK_LOGE(TAG, "heartbeat_timeout_ms %d: give 0 (CONFIG_WSK_HEARTBEAT_TIMEOUT_MS) or more",
                 config->heartbeat_timeout_ms);
        return WSK_ERR_INVALID_ARG;
    }
    if (config->new_client_grace_ms < 0) {
        WSK_LOGE(TAG, "new_client_grace_ms %d: give 0 (CONFIG_WSK_NEW_CLIENT_GRACE_MS) or more",
                 config->new_client_grace_ms);
        return WSK_ERR_INVALID_ARG;
    }
    struct wsk_server *server = wsk_calloc(1, sizeof(*server));
    if (!server) return WSK_ERR_NO_MEM;
    server->config = *config;
    /* From here on: heartbeat_interval_ms 0 means off, and the timeout and the grace are set. */
    wsk_server_config_t *c = &server->config;
    if (c->heartbeat_interval_ms == 0) c->heartbeat_interval_ms = CONFIG_WSK_HEARTBEAT_INTERVAL_MS;
    else if (c->heartbeat_interval_ms < 0) c->heartbeat_interval_ms = 0;
    if (c->heartbeat_timeout_ms == 0) c->heartbeat_timeout_ms = CONFIG_WSK_HEARTBEAT_TIMEOUT_MS;
    if (c->new_client_grace_ms == 0) c->new_client_grace_ms = CONFIG_WSK_NEW_CLIENT_GRACE_MS;
    server->listen_fd = -1;
    server->peer_count = (size_t)config->max_clients + REJECT_BACKLOG;
    server->peers = wsk_calloc(server->peer_count, sizeof(peer_t));
    server->path = copy_string(config->path);
    server->subprotocols = copy_string(config->subprotocols);
    if (!server->peers || (config->path && !server->path) || (config->subprotocols && !server->subprotocols)) {
        destroy(server, false);
        return WSK_ERR_NO_MEM;
    }
    for (size_t i = 0; i < server->peer_count; i++) {
        server->peers[i].conn.fd = -1;
        server->peers[i].slot = -1;
    }
    if (config->server_cert_pem || config->server_key_pem) {
        wsk_err_t err = wsk_tls_server_config(config->server_cert_pem, config->server_key_pem, &server->tls);
        if (err != WSK_OK) {
            destroy(server, false);
            return err;
        }
    }
    wsk_lock();
    wsk_err_t err = wsk_engine_acquire();
    wsk_unlock();
    if (err != WSK_OK) {
        destroy(server, false);
        return err;
    }
    err = listen_on(server);
    if (err == WSK_OK)
        err = wsk_task_start(&server->task, "wsk_server", config->task_stack_size, config->task_priority, serve,
                             server);
    if (err != WSK_OK) {
        wsk_lock();
        destroy(server, true);
        wsk_unlock();
        return err;
    }
    WSK_LOGI(TAG, "listening on port %u (%s)", server->port, server->tls ? "wss" : "ws");
    *out = server;
    return WSK_OK;
}

uint16_t wsk_server_get_port(wsk_server_handle_t server)
{
    return server ? server->port : 0;
}

static wsk_err_t send_to(wsk_server_handle_t server, wsk_client_id_t id, int opcode, const void *data, size_t len)
{
    if (!server || (!data && len)) return WSK_ERR_INVALID_ARG;
    wsk_lock();
    peer_t *peer = find_open(server, id);
    wsk_err_t err = WSK_ERR_NOT_FOUND;
    /* Its frames' size at most: a header per fragment. Behind queued bytes, past the bound, it is not framed. */
    size_t fragment = server->config.max_fragment_size;
    size_t framed = len + (fragment && len > fragment ? (len - 1) / fragment + 1 : 1) * WSK_MAX_HEADER_BYTES;
    if (peer && peer->out.len > 0 && peer->out.len + framed > send_queue_limit(server)) {
        err = overflow(server, peer, framed);
    } else if (peer) {
        peer_ctx_t pc = {server, peer};
        peer->whole = true;
        if (opcode == WSK_OP_PING)
            err = wsk_engine_send_control(peer->slot, WSK_OP_PING, data, len, peer_write, &pc);
        else
            err = wsk_engine_send_message(peer->slot, (wsk_opcode_t)opcode, data, len, fragment, peer_write, &pc);
        peer->whole = false;
    }
    wsk_unlock();
    return err;
}

wsk_err_t wsk_server_send_text(wsk_server_handle_t server, wsk_client_id_t client, const char *text, size_t len)
{
    return send_to(server, client, WSK_OP_TEXT, text, len);
}

wsk_err_t wsk_server_send_bin(wsk_server_handle_t server, wsk_client_id_t client, const void *data, size_t len)
{
    return send_to(server, client, WSK_OP_BINARY, data, len);
}

wsk_err_t wsk_server_send_ping(wsk_server_handle_t server, wsk_client_id_t client, const void *data, size_t len)
{
    return send_to(server, client, WSK_OP_PING, data, len);
}

wsk_err_t wsk_server_broadcast(wsk_server_handle_t server, wsk_opcode_t opcode, const void *data, size_t len)
{
    if (!server) return WSK_ERR_INVALID_ARG;
    wsk_err_t first = WSK_OK;
    wsk_lock();
    for (size_t i = 0; i < server->peer_count; i++) {
        peer_t *peer = &server->peers[i];
        if (peer->state != PEER_OPEN || peer->closing) continue;
        wsk_err_t err = send_to(server, peer->id, opcode, data, len);
        if (first == WSK_OK) first = err;
    }
    wsk_unlock();
    return first;
}

wsk_err_t wsk_server_disconnect(wsk_server_handle_t server, wsk_client_id_t client, uint16_t code,
                                const char *reason)
{
    if (!server) return WSK_ERR_INVALID_ARG;
    wsk_lock();
    peer_t *peer = find_open(server, client);
    wsk_err_t err = WSK_ERR_NOT_FOUND;
    if (peer) {
        peer_ctx_t pc = {server, peer};
        err = wsk_engine_send_close(peer->slot, code, reason, peer_write, &pc);
        if (err == WSK_OK && peer->state == PEER_OPEN) {
            peer->closing = true;
            peer->deadline = wsk_now_ms() + server->config.close_timeout_ms;
        }
    }
    wsk_unlock();
    return err;
}

wsk_err_t wsk_server_list_clients(wsk_server_handle_t server, wsk_client_id_t *ids, size_t *count)
{
    if (!server || !count || (!ids && *count)) return WSK_ERR_INVALID_ARG;
    size_t n = 0;
    wsk_lock();
    for (size_t i = 0; i < server->peer_count; i++) {
        if (server->peers[i].state != PEER_OPEN) continue;
        if (n < *count) ids[n] = server->peers[i].id;
        n++;
    }
    wsk_unlock();
    *count = n;
    return WSK_OK;
}

wsk_err_t wsk_server_stop(wsk_server_handle_t server)
{
    if (!server) return WSK_ERR_INVALID_ARG;
    if (wsk_task_is_current(server->task)) return WSK_ERR_INVALID_STATE;
    __atomic_store_n(&server->stop, true, __ATOMIC_RELEASE);
    wsk_task_join(server->task);
    wsk_lock();
    destroy(server, true);
    wsk_unlock();
    return WSK_OK;
}
