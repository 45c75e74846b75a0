/* HTTP/1.1 request parsing (RFC 9112): the request line and header block,
 * and the chunked transfer coding of request bodies.
 *
 * Pure functions over a byte buffer: no allocation, no I/O, no spindle.
 * That keeps the parser fuzzable on its own (tests/fuzz/http/) and lets
 * the connection loop (conn.c) call it again on a growing buffer until a
 * whole header block is in. Errors are returned as a negative HTTP status
 * code (-400, -431, ...), which is what the caller sends back. */
#ifndef HTTPD_PARSE_H
#define HTTPD_PARSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Methods the server knows by name; any other token is HTTP_M_OTHER. */
enum http_method {
    HTTP_M_GET,
    HTTP_M_HEAD,
    HTTP_M_POST,
    HTTP_M_PUT,
    HTTP_M_DELETE,
    HTTP_M_OPTIONS,
    HTTP_M_OTHER,
};

/* Most header fields one request may carry (more: 431). */
#define HTTP_MAX_FIELDS 100

/* A parsed request head. Pointers point into the caller's buffer and live
 * as long as it does. */
struct http_request {
    enum http_method method;
    const char *target;     /* origin-form path with query, not decoded */
    size_t target_len;
    int minor;              /* 0 for HTTP/1.0, 1 for HTTP/1.1 (or 1.x) */
    int keep_alive;         /* after defaults and Connection: */
    int chunked;            /* Transfer-Encoding: chunked */
    int64_t content_length; /* -1 when absent */
    size_t head_len;        /* bytes of request line + fields + blank line */
};

/* Parse the request head at the start of buf[0..len).
 * Returns head_len (> 0) when a whole head is in and valid; 0 when more
 * bytes are needed and len is still under max_head; or a negative status:
 *   -400 bad syntax (request line, field syntax, CTLs, bad or conflicting
 *        Content-Length, Transfer-Encoding with Content-Length or on 1.0,
 *        missing or repeated Host on 1.1, obs-fold, whitespace before ':'),
 *   -414 the request line alone does not fit in max_head,
 *   -431 the head does not fit in max_head, or too many fields,
 *   -501 a transfer coding other than chunked,
 *   -505 an HTTP major version other than 1.
 * Leading empty lines before the request line are skipped (RFC 9112 2.2);
 * lines may end in CRLF or a bare LF. */
int http_parse_request(const char *buf, size_t len, size_t max_head,
                       struct http_request *req);

/* Incremental decoder of a chunked body. Zero it to start. */
struct http_chunked {
    int state;          /* private */
    uint64_t remaining; /* private: data bytes left in the current chunk */
    size_t line;        /* private: bytes of the current size/trailer line */
};

/* Decode in[0..len): data bytes are appended at out + *out_len, which
 * must have room for len more bytes (the data never outgrows the input);
 * out_cap is the most the body may hold in all.
 * Returns the input bytes consumed (all of them unless the body ended
 * inside in: then the count up to its end), with *done set to 1 once the
 * last chunk and the trailer section are through; or a negative status:
 * -400 bad chunk syntax, -413 the data would pass out_cap. out may be NULL
 * with out_cap as a limit only (the data is counted, then dropped). */
ssize_t http_chunked_decode(struct http_chunked *c, const char *in, size_t len,
                            char *out, size_t out_cap, size_t *out_len, int *done);

/* Decode the path of a request target (up to '?' or '#') into out, a
 * NUL-terminated path relative to the served root without its leading
 * '/'. Rejects (-400) what could leave the root or confuse a file system:
 * a target not starting with '/', a "." or ".." segment, a percent-
 * encoded '.', '/', '\\' or NUL, a bad %XX, control bytes, a backslash.
 * Empty segments ("//") are squeezed. "/" gives "". Returns the length
 * written, -400, or -414 if it does not fit in out_size. */
int http_decode_path(const char *target, size_t len, char *out, size_t out_size);

#endif
