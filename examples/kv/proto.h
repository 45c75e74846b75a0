/* The memcached text protocol: one command line parsed into a kv_cmd.
 *
 * Pure functions, no I/O and no allocation, so the parser can be unit-tested
 * and fuzzed alone. The line is given without its "\r\n" (or "\n"); tokens
 * are split on spaces only, as memcached does, and keys point into the line.
 * A storage command's data block is not part of the line: the caller reads
 * cmd.bytes + 2 more bytes (examples/kv/session.c). */
#ifndef KV_PROTO_H
#define KV_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define KV_KEY_MAX 250          /* memcached's KEY_MAX_LENGTH */
#define KV_LINE_MAX 2048        /* a non-retrieval line beyond this is an error */
#define KV_REL_EXPTIME_MAX (60 * 60 * 24 * 30) /* beyond: an absolute unix time */

enum kv_cmd_kind {
    KV_CMD_NONE = 0,
    KV_CMD_GET, KV_CMD_GETS, KV_CMD_GAT, KV_CMD_GATS,
    KV_CMD_SET, KV_CMD_ADD, KV_CMD_REPLACE, KV_CMD_APPEND, KV_CMD_PREPEND, KV_CMD_CAS,
    KV_CMD_DELETE, KV_CMD_INCR, KV_CMD_DECR, KV_CMD_TOUCH,
    KV_CMD_FLUSH_ALL, KV_CMD_STATS, KV_CMD_VERSION, KV_CMD_VERBOSITY, KV_CMD_QUIT,
};

/* How a line failed; kv_parse_error_reply gives the protocol's reply. */
enum kv_parse_err {
    KV_OK = 0,
    KV_ERR_UNKNOWN,     /* "ERROR": unknown command or wrong token count */
    KV_ERR_FORMAT,      /* "CLIENT_ERROR bad command line format" */
    KV_ERR_DELTA,       /* "CLIENT_ERROR invalid numeric delta argument" */
    KV_ERR_EXPTIME,     /* "CLIENT_ERROR invalid exptime argument" */
    KV_ERR_TOO_LARGE,   /* storage: bytes beyond the item limit; the data block
                         * must be swallowed (cmd.bytes is valid) */
};

struct kv_key {
    const char *p;
    uint8_t n;
};

struct kv_cmd {
    enum kv_cmd_kind kind;
    int noreply;
    struct kv_key key;          /* single-key commands; the first key of a retrieval */
    const char *keys;           /* retrievals: the keys' span, for kv_key_next */
    const char *keys_end;
    int nkeys;
    uint32_t flags;             /* storage */
    int64_t exptime;            /* storage, touch, gat, flush_all (delay) */
    uint64_t bytes;             /* storage: data block length without "\r\n" */
    uint64_t cas;               /* cas */
    uint64_t delta;             /* incr / decr */
    int verbosity;
    const char *arg;            /* stats: the rest of the line ("" if none) */
    size_t narg;
};

/* Parse one line (len bytes, no line terminator). item_max bounds a storage
 * command's bytes (KV_ERR_TOO_LARGE beyond it). Every key of a retrieval is
 * validated here; kv_key_next then walks them. Returns KV_OK or a
 * kv_parse_err. */
int kv_parse_line(const char *line, size_t len, uint64_t item_max, struct kv_cmd *cmd);

/* The next key in [*pos, end) into *k, advancing *pos; 0 when none is left. */
int kv_key_next(const char **pos, const char *end, struct kv_key *k);

/* The reply line for a parse error, with its "\r\n". */
const char *kv_parse_error_reply(int err);

/* Does a line that starts with these bytes name a retrieval command, whose
 * lines may be longer than KV_LINE_MAX? */
int kv_line_is_retrieval(const char *p, size_t len);

/* A valid key: 1..250 bytes, no control characters, no spaces. */
int kv_key_valid(const char *p, size_t n);

/* Unsigned decimal, whole token, no sign, no overflow. 0 or -1. */
int kv_parse_u64(const char *p, size_t n, uint64_t *out);

/* Signed decimal (a leading '-' allowed), whole token. 0 or -1. */
int kv_parse_i64(const char *p, size_t n, int64_t *out);

#endif
