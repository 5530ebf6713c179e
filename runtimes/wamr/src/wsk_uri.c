#include "wsk_uri.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool copy_part(char *dst, size_t size, const char *src, size_t len)
{
    if (len >= size) return false;
    memcpy(dst, src, len);
    dst[len] = 0;
    return true;
}

wsk_err_t wsk_uri_parse(const char *text, wsk_uri_t *uri)
{
    if (!text || !uri) return WSK_ERR_INVALID_ARG;
    memset(uri, 0, sizeof(*uri));
    const char *rest;
    if (strncasecmp(text, "ws://", 5) == 0) rest = text + 5;
    else if (strncasecmp(text, "wss://", 6) == 0) rest = text + 6, uri->tls = true;
    else return WSK_ERR_INVALID_ARG;
    size_t authority = strcspn(rest, "/?#");
    const char *end = rest + authority;
    if (memchr(rest, '@', authority)) return WSK_ERR_INVALID_ARG;
    const char *port = NULL;
    const char *host = rest;
    size_t host_len = authority;
    if (*rest == '[') {
        const char *close = memchr(rest, ']', authority);
        if (!close) return WSK_ERR_INVALID_ARG;
        host = rest + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < end && close[1] == ':') port = close + 2;
        else if (close + 1 != end) return WSK_ERR_INVALID_ARG;
    } else {
        const char *colon = memchr(rest, ':', authority);
        if (colon) {
            host_len = (size_t)(colon - rest);
            port = colon + 1;
        }
    }
    if (host_len == 0 || !copy_part(uri->host, sizeof(uri->host), host, host_len)) return WSK_ERR_INVALID_ARG;
    uri->port = uri->tls ? 443 : 80;
    if (port) {
        char *stop;
        long value = strtol(port, &stop, 10);
        if (stop != end || port == end || value < 1 || value > 65535) return WSK_ERR_INVALID_ARG;
        uri->port = (int)value;
    }
    size_t path_len = strcspn(end, "#");
    if (path_len == 0) return copy_part(uri->path, sizeof(uri->path), "/", 1) ? WSK_OK : WSK_ERR_INVALID_ARG;
    if (*end == '?') {
        /* "ws://host?q" means "/?q" */
        if (path_len + 1 >= sizeof(uri->path)) return WSK_ERR_INVALID_ARG;
        uri->path[0] = '/';
        return copy_part(uri->path + 1, sizeof(uri->path) - 1, end, path_len) ? WSK_OK : WSK_ERR_INVALID_ARG;
    }
    return copy_part(uri->path, sizeof(uri->path), end, path_len) ? WSK_OK : WSK_ERR_INVALID_ARG;
}
