/*
 * A connection's send queue: the bytes its socket did not take yet, so that no write waits on a socket (the
 * server's poll loop serves every peer, and a client's writes run with the host lock held). Allocated only while
 * it holds bytes. One per server peer and per client; the caller bounds it and flushes it when the socket is
 * writable (or readable, when TLS must read first: wants_read).
 */
#ifndef WSK_SEND_QUEUE_H
#define WSK_SEND_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wsk_common.h"
#include "wsk_transport.h"

typedef struct {
    uint8_t *bytes;
    size_t head, len, cap; /* the unsent bytes are bytes[head, head + len) of cap allocated */
    size_t tls_retry;      /* TLS: mbedTLS made a record of the first tls_retry bytes: send exactly those next */
    bool wants_read;       /* TLS: the next write waits for the socket to become readable, not writable */
    int64_t progress;      /* when the queue last shrank, or began */
} wsk_send_queue_t;

/**
 * Hand `bytes` to `conn` without waiting (TLS: a record at a time): the count taken (maybe 0), or -1 if the
 * connection failed. A TLS write that did not go through leaves its length in tls_retry: its bytes must then head
 * the queue (mbedTLS made a record of them, and the next write must pass the same bytes and length).
 */
ssize_t wsk_send_queue_send_now(wsk_send_queue_t *q, wsk_conn_t *conn, const uint8_t *bytes, size_t len);

/** Send as much of the queue as `conn` takes now: the count sent, or -1. Freed once empty. */
ssize_t wsk_send_queue_flush(wsk_send_queue_t *q, wsk_conn_t *conn);

/**
 * Append `len` bytes. The buffer grows rarely (doubling, no further than `growth_limit` unless more is needed),
 * never once per write, which made a large queue quadratic. WSK_OK or WSK_ERR_NO_MEM.
 */
wsk_err_t wsk_send_queue_push(wsk_send_queue_t *q, const uint8_t *bytes, size_t len, size_t growth_limit);

/**
 * A frame that must go out whole whatever the bound (a close frame, a few bytes): sent now if nothing is queued
 * ahead of it and the socket takes it, the rest queued. WSK_OK, WSK_ERR_SOCKET or WSK_ERR_NO_MEM.
 */
wsk_err_t wsk_send_queue_write(wsk_send_queue_t *q, wsk_conn_t *conn, const uint8_t *bytes, size_t len);

/** Drop what the queue holds and free it. */
void wsk_send_queue_clear(wsk_send_queue_t *q);

#endif
