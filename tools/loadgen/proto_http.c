/* HTTP/1.1 for the load generator, keep-alive and pipelined as the
 * connection's depth says: reads are "GET <path>", writes "POST <wpath>"
 * with value_len bytes of body. Options (--opt): path=/hello (default),
 * wpath=/echo, host=localhost (the Host field). A 2xx answer counts as a
 * hit, 404 as a miss, anything else as an error; responses must carry
 * Content-Length (chunked responses are not read). */
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "proto.h"

static char path[256] = "/hello";
static char wpath[256] = "/echo";
static char host[256] = "localhost";
static char payload[1 << 20];

static int
http_option(const char *name, const char *value)
{
    char *dst = strcmp(name, "path") == 0    ? path
                : strcmp(name, "wpath") == 0 ? wpath
                : strcmp(name, "host") == 0  ? host
                                             : NULL;
    if (!dst || strlen(value) >= sizeof(path) || strpbrk(value, " \r\n")) {
        return -1;
    }
    strcpy(dst, value);
    return 0;
}

static size_t
http_build(const struct lg_req *r, char *buf, size_t cap)
{
    size_t vlen = r->value_len > sizeof(payload) ? sizeof(payload) : r->value_len;
    size_t need = 64 + strlen(path) + strlen(wpath) + strlen(host) + (r->write ? vlen : 0);
    if (cap < need) {
        return 0;
    }
    int n;
    if (!r->write) {
        n = snprintf(buf, cap, "GET %s HTTP/1.1\r\nHost: %s\r\n\r\n", path, host);
        return (size_t)n;
    }
    n = snprintf(buf, cap, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %zu\r\n\r\n", wpath,
                 host, vlen);
    if (payload[0] == 0) {
        memset(payload, 'v', sizeof(payload));
    }
    memcpy(buf + n, payload, vlen);
    return (size_t)n + vlen;
}

/* The value of Content-Length in head[0, len), or -1. */
static long
content_length(const char *head, size_t len)
{
    static const char name[] = "\ncontent-length:";
    size_t n = sizeof(name) - 1;
    for (size_t i = 0; i + n <= len; i++) {
        if (head[i] == '\n' && strncasecmp(head + i, name, n) == 0) {
            char *end;
            long v = strtol(head + i + n, &end, 10);
            return end == head + i + n || v < 0 ? -1 : v;
        }
    }
    return -1;
}

static ssize_t
http_parse(const char *buf, size_t len, int *status)
{
    if (len < 12) {
        return 0;
    }
    if (memcmp(buf, "HTTP/1.", 7) != 0) {
        return -1;
    }
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (!end) {
        return len > 65536 ? -1 : 0;
    }
    size_t head = (size_t)(end - buf) + 4;
    long body = content_length(buf, head);
    if (body < 0) {
        return -1;
    }
    if (len < head + (size_t)body) {
        return 0;
    }
    int code = atoi(buf + 9);
    *status = code >= 200 && code < 300 ? LG_HIT : code == 404 ? LG_MISS : LG_ERROR;
    return (ssize_t)(head + (size_t)body);
}

const struct lg_proto lg_proto_http = {
    .name = "http",
    .option = http_option,
    .build = http_build,
    .parse = http_parse,
    .default_port = 8080,
};
