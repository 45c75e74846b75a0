/* Response heads, error responses and the cached Date header.
 *
 * A head is built with memcpy and a hand-rolled decimal conversion rather
 * than snprintf: on a keep-alive hello response it is most of the work the
 * server does besides the two socket calls. */
#include "response.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int
obuf_reserve(struct obuf *b, size_t n)
{
    if (b->cap - b->len >= n) {
        return 0;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p) {
        return -ENOMEM;
    }
    b->data = p;
    b->cap = cap;
    return 0;
}

int
obuf_put(struct obuf *b, const void *p, size_t n)
{
    if (obuf_reserve(b, n) < 0) {
        return -ENOMEM;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void
obuf_free(struct obuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

const char *
http_date_now(struct http_date *d)
{
    time_t now = time(NULL);
    if (now != d->sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(d->text, sizeof(d->text), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        d->sec = now;
    }
    return d->text;
}

const char *
http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
    }
}

/* Append a string. The caller reserved room. */
static char *
put(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static char *
put_u64(char *p, uint64_t v)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) {
        *p++ = tmp[--n];
    }
    return p;
}

int
http_write_head(struct obuf *b, struct http_date *d, const struct resp_head *h)
{
    const char *reason = http_reason(h->status);
    size_t need = 160 + strlen(reason) + (h->type ? strlen(h->type) : 0) +
                  (h->extra ? strlen(h->extra) : 0);
    if (obuf_reserve(b, need) < 0) {
        return -ENOMEM;
    }
    char *p = b->data + b->len;
    p = put(p, "HTTP/1.1 ");
    p = put_u64(p, (uint64_t)h->status);
    *p++ = ' ';
    p = put(p, reason);
    p = put(p, "\r\nServer: spindle\r\nDate: ");
    p = put(p, http_date_now(d));
    if (h->type) {
        p = put(p, "\r\nContent-Type: ");
        p = put(p, h->type);
    }
    p = put(p, "\r\nContent-Length: ");
    p = put_u64(p, (uint64_t)h->length);
    p = put(p, h->keep_alive ? "\r\nConnection: keep-alive\r\n" : "\r\nConnection: close\r\n");
    if (h->extra) {
        p = put(p, h->extra);
    }
    p = put(p, "\r\n");
    b->len = (size_t)(p - b->data);
    return 0;
}

int
http_write_error(struct obuf *b, struct http_date *d, int status, int minor, int keep_alive,
                 int head_only, const char *allow)
{
    char body[96], extra[64];
    const char *reason = http_reason(status);
    size_t n = strlen(reason);
    if (n > sizeof(body) - 16) {
        n = sizeof(body) - 16;
    }
    int len = (int)(n + 5);
    body[0] = (char)('0' + status / 100);
    body[1] = (char)('0' + status / 10 % 10);
    body[2] = (char)('0' + status % 10);
    body[3] = ' ';
    memcpy(body + 4, reason, n);
    body[4 + n] = '\n';
    struct resp_head h = {status, minor, keep_alive, "text/plain", len, NULL};
    if (status == 405) {
        strcpy(extra, "Allow: ");
        strncat(extra, allow ? allow : "GET, HEAD", sizeof(extra) - 10);
        strcat(extra, "\r\n");
        h.extra = extra;
    }
    if (http_write_head(b, d, &h) < 0) {
        return -ENOMEM;
    }
    return head_only ? 0 : obuf_put(b, body, (size_t)len);
}
