/* HTTP/1.1 response heads and error responses, written into a growable
 * output buffer that the connection loop sends in one call (so pipelined
 * responses leave together). Also the Date header, formatted once a
 * second per shard. No I/O here. */
#ifndef HTTPD_RESPONSE_H
#define HTTPD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A byte buffer that grows by doubling. */
struct obuf {
    char *data;
    size_t len;
    size_t cap;
};

/* Make room for n more bytes; 0 or -ENOMEM. */
int obuf_reserve(struct obuf *b, size_t n);
/* Append n bytes (reserving first); 0 or -ENOMEM. */
int obuf_put(struct obuf *b, const void *p, size_t n);
void obuf_free(struct obuf *b);

/* The Date header's value, cached for the current second. */
struct http_date {
    time_t sec;
    char text[32]; /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};
const char *http_date_now(struct http_date *d);

/* The reason phrase of a status code ("OK", "Not Found"; "" if unknown). */
const char *http_reason(int status);

/* What a response head says besides its status. */
struct resp_head {
    int status;
    int minor;              /* the request's HTTP/1.x minor version */
    int keep_alive;         /* 0 adds "Connection: close" */
    const char *type;       /* Content-Type, or NULL for none */
    int64_t length;         /* Content-Length */
    const char *extra;      /* more header lines, each ending "\r\n", or NULL */
};

/* Append the status line and header block. 0 or -ENOMEM. */
int http_write_head(struct obuf *b, struct http_date *d, const struct resp_head *h);

/* Append a whole error response: a head and a one-line text body (none
 * for HEAD). 405 gets "Allow: GET, HEAD" (or allow, if not NULL).
 * 0 or -ENOMEM. */
int http_write_error(struct obuf *b, struct http_date *d, int status, int minor,
                     int keep_alive, int head_only, const char *allow);

#endif
