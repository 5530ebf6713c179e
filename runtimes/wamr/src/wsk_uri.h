/* ws:// and wss:// URIs split into host, port and request target. */
#ifndef WSK_URI_H
#define WSK_URI_H

#include <stdbool.h>

#include "wsk_common.h"

typedef struct {
    bool tls;
    char host[128];  /**< without brackets for IPv6 literals */
    int port;        /**< explicit or the scheme's default (80 / 443) */
    char path[256];  /**< path and query; "/" when the URI has none */
} wsk_uri_t;

/** Parse `text`; WSK_ERR_INVALID_ARG for another scheme, userinfo, a bad port, or parts too long. */
wsk_err_t wsk_uri_parse(const char *text, wsk_uri_t *uri);

#endif
