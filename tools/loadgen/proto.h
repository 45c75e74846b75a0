/* The protocol seam of the load generator: a protocol builds requests and
 * recognises complete responses; everything else (connections, pacing,
 * latency) is generic (tools/loadgen/run.c).
 *
 * To add a protocol: write proto_<name>.c defining a `const struct
 * lg_proto lg_proto_<name>`, and add it to the table in main.c. A
 * protocol keeps no per-connection state beyond what parse sees: requests
 * on a connection are answered in order, one response each. */
#ifndef LG_PROTO_H
#define LG_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* One request to build. */
struct lg_req {
    int write;              /* a write (memcached: set) or a read (get) */
    uint64_t key;           /* key number, 0 .. keys - 1 */
    size_t value_len;       /* writes: payload bytes */
};

enum lg_status {
    LG_HIT = 0,             /* a read that found its key / a write that succeeded */
    LG_MISS,                /* a read that found nothing */
    LG_ERROR,               /* the server answered with an error */
};

struct lg_proto {
    const char *name;
    /* A protocol option "name=value" from --opt (NULL if the protocol
     * takes none). 0 accepted, -1 unknown or invalid. */
    int (*option)(const char *name, const char *value);
    /* Append one request at buf (cap bytes free). Returns its length, or 0
     * if it does not fit (the caller sends what it has and retries). */
    size_t (*build)(const struct lg_req *req, char *buf, size_t cap);
    /* One complete response at the start of buf[0, len)? Returns its
     * length (> 0) and sets *status; 0 if more bytes are needed; -1 if the
     * bytes cannot be a response (the connection is dropped). */
    ssize_t (*parse)(const char *buf, size_t len, int *status);
    /* Default port when --port is not given. */
    int default_port;
};

extern const struct lg_proto lg_proto_memcache;
extern const struct lg_proto lg_proto_http;

#endif
