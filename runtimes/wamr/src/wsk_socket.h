/* BSD socket helpers shared by the server and client: non-blocking sockets, connect, bounded waits. */
#ifndef WSK_SOCKET_H
#define WSK_SOCKET_H

#include <stddef.h>

#include "wsk_common.h"

/** Make `fd` non-blocking (and close-on-exec / no SIGPIPE where the platform has them). */
wsk_err_t wsk_socket_prepare(int fd);

/** Wait until `fd` is readable (1), the time ran out (0), or poll failed (-1). */
int wsk_socket_wait_readable(int fd, int timeout_ms);

/** Connect a new non-blocking TCP socket to host:port within `timeout_ms`; the fd or -1 (errno set). */
int wsk_socket_connect(const char *host, int port, int timeout_ms);

/** Close `*fd` if open and set it to -1. */
void wsk_socket_close(int *fd);

#endif
