/* The memcached text protocol for the load generator: reads are
 * "get <key>", writes "set <key> 0 0 <n>" with n bytes of payload. Keys
 * are "key:<number>". */
#include <string.h>

#include "proto.h"

static char payload[1 << 20];

static size_t
fmt_u64(char *p, uint64_t v)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++) {
        p[i] = tmp[n - 1 - i];
    }
    return n;
}

static size_t
mc_build(const struct lg_req *r, char *buf, size_t cap)
{
    size_t vlen = r->value_len > sizeof(payload) ? sizeof(payload) : r->value_len;
    size_t need = 4 + 4 + 20 + 8 + 20 + 2 + (r->write ? vlen + 2 : 0);
    if (cap < need) {
        return 0;
    }
    char *p = buf;
    memcpy(p, r->write ? "set key:" : "get key:", 8);
    p += 8;
    p += fmt_u64(p, r->key);
    if (!r->write) {
        memcpy(p, "\r\n", 2);
        return (size_t)(p + 2 - buf);
    }
    memcpy(p, " 0 0 ", 5);
    p += 5;
    p += fmt_u64(p, vlen);
    memcpy(p, "\r\n", 2);
    p += 2;
    if (payload[0] == 0) {
        memset(payload, 'v', sizeof(payload));
    }
    memcpy(p, payload, vlen);
    p += vlen;
    memcpy(p, "\r\n", 2);
    return (size_t)(p + 2 - buf);
}

static int
starts(const char *b, size_t n, const char *lit)
{
    size_t l = strlen(lit);
    return n >= l && memcmp(b, lit, l) == 0;
}

/* "VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n", "END\r\n", "STORED\r\n",
 * or an error line. */
static ssize_t
mc_parse(const char *buf, size_t len, int *status)
{
    const char *nl = memchr(buf, '\n', len);
    if (nl == NULL) {
        return len > 4096 ? -1 : 0;
    }
    size_t line = (size_t)(nl - buf) + 1;
    if (starts(buf, len, "VALUE ")) {
        const char *p = nl - 1; /* back over "\r", then the last number */
        while (p > buf && (*p == '\r' || *p == ' ')) {
            p--;
        }
        const char *e = p + 1;
        while (p > buf && *p >= '0' && *p <= '9') {
            p--;
        }
        /* with gets a cas field follows bytes; this client sends plain get */
        size_t bytes = 0;
        for (const char *q = p + 1; q < e; q++) {
            bytes = bytes * 10 + (size_t)(*q - '0');
        }
        size_t total = line + bytes + 2 + 5;
        if (len < total) {
            return 0;
        }
        if (memcmp(buf + line + bytes, "\r\nEND\r\n", 7) != 0) {
            return -1;
        }
        *status = LG_HIT;
        return (ssize_t)total;
    }
    if (starts(buf, len, "END\r\n")) {
        *status = LG_MISS;
    } else if (starts(buf, len, "STORED\r\n")) {
        *status = LG_HIT;
    } else if (starts(buf, len, "ERROR") || starts(buf, len, "CLIENT_ERROR") ||
               starts(buf, len, "SERVER_ERROR") || starts(buf, len, "NOT_STORED")) {
        *status = LG_ERROR;
    } else {
        return -1;
    }
    return (ssize_t)line;
}

const struct lg_proto lg_proto_memcache = {
    .name = "memcache",
    .option = NULL,
    .build = mc_build,
    .parse = mc_parse,
    .default_port = 11211,
};
