/* The memcached text protocol parser (see proto.h).
 *
 * Token counts, error classes and reply strings follow memcached 1.6's
 * proto_text.c: a wrong token count or an unknown command is "ERROR", a
 * malformed number or key is "CLIENT_ERROR bad command line format", and a
 * trailing "noreply" token is honoured wherever memcached honours it. The
 * parser never reads outside [line, line + len). */
#include "proto.h"

#include <string.h>

#define TOKENS_MAX 8 /* non-retrieval commands never need more */

struct tok {
    const char *p;
    size_t n;
};

/* Split on spaces (runs of spaces count as one). Returns the token count,
 * or max + 1 if there are more than max. */
static int
tokenize(const char *s, size_t len, struct tok *t, int max)
{
    int n = 0;
    size_t i = 0;
    while (i < len) {
        while (i < len && s[i] == ' ') {
            i++;
        }
        if (i == len) {
            break;
        }
        size_t start = i;
        while (i < len && s[i] != ' ') {
            i++;
        }
        if (n == max) {
            return max + 1;
        }
        t[n].p = s + start;
        t[n].n = i - start;
        n++;
    }
    return n;
}

static int
tok_is(const struct tok *t, const char *word)
{
    size_t n = strlen(word);
    return t->n == n && memcmp(t->p, word, n) == 0;
}

int
kv_parse_u64(const char *p, size_t n, uint64_t *out)
{
    if (n == 0 || n > 20) {
        return -1;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9) {
            return -1;
        }
        if (v > (UINT64_MAX - d) / 10) {
            return -1;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int
kv_parse_i64(const char *p, size_t n, int64_t *out)
{
    int neg = n > 0 && p[0] == '-';
    uint64_t v;
    if (kv_parse_u64(p + neg, n - (size_t)neg, &v) < 0 ||
        v > (uint64_t)INT64_MAX + (uint64_t)neg) {
        return -1;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

int
kv_key_valid(const char *p, size_t n)
{
    if (n == 0 || n > KV_KEY_MAX) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c <= ' ' || c == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static int
set_key(struct kv_cmd *cmd, const struct tok *t)
{
    if (!kv_key_valid(t->p, t->n)) {
        return KV_ERR_FORMAT;
    }
    cmd->key.p = t->p;
    cmd->key.n = (uint8_t)t->n;
    return KV_OK;
}

/* "noreply" as the last of n tokens, where n may be base or base + 1. */
static int
want_tokens(struct kv_cmd *cmd, const struct tok *t, int n, int base)
{
    if (n == base + 1 && tok_is(&t[base], "noreply")) {
        cmd->noreply = 1;
        return 1;
    }
    return n == base;
}

/* set/add/replace/append/prepend <key> <flags> <exptime> <bytes> [noreply]
 * cas <key> <flags> <exptime> <bytes> <cas unique> [noreply] */
static int
parse_storage(struct kv_cmd *cmd, const struct tok *t, int n, uint64_t item_max)
{
    int base = cmd->kind == KV_CMD_CAS ? 6 : 5;
    if (!want_tokens(cmd, t, n, base)) {
        return KV_ERR_UNKNOWN;
    }
    uint64_t flags;
    int r = set_key(cmd, &t[1]);
    if (r != KV_OK || kv_parse_u64(t[2].p, t[2].n, &flags) < 0 || flags > UINT32_MAX ||
        kv_parse_i64(t[3].p, t[3].n, &cmd->exptime) < 0 ||
        kv_parse_u64(t[4].p, t[4].n, &cmd->bytes) < 0 || cmd->bytes > INT32_MAX - 2) {
        return KV_ERR_FORMAT;
    }
    cmd->flags = (uint32_t)flags;
    if (cmd->kind == KV_CMD_CAS && kv_parse_u64(t[5].p, t[5].n, &cmd->cas) < 0) {
        return KV_ERR_FORMAT;
    }
    return cmd->bytes > item_max ? KV_ERR_TOO_LARGE : KV_OK;
}

int
kv_key_next(const char **pos, const char *end, struct kv_key *k)
{
    const char *s = *pos;
    while (s < end && *s == ' ') {
        s++;
    }
    if (s == end) {
        *pos = s;
        return 0;
    }
    const char *e = s;
    while (e < end && *e != ' ') {
        e++;
    }
    k->p = s;
    k->n = (uint8_t)(e - s > KV_KEY_MAX ? 0 : e - s); /* validated by the parser */
    *pos = e;
    return 1;
}

/* get/gets <key>*; gat/gats <exptime> <key>*. Keys stay in place: a long
 * multi-get needs no token array. */
static int
parse_retrieval(struct kv_cmd *cmd, const char *s, size_t len)
{
    struct tok t;
    if (cmd->kind == KV_CMD_GAT || cmd->kind == KV_CMD_GATS) {
        if (tokenize(s, len, &t, 1) == 0) {
            return KV_ERR_UNKNOWN;
        }
        if (kv_parse_i64(t.p, t.n, &cmd->exptime) < 0) {
            return KV_ERR_EXPTIME;
        }
        len -= (size_t)(t.p + t.n - s);
        s = t.p + t.n;
    }
    cmd->keys = s;
    cmd->keys_end = s + len;
    cmd->nkeys = 0;
    const char *pos = s;
    struct kv_key k;
    while (pos < s + len) {
        const char *start = pos;
        if (!kv_key_next(&pos, s + len, &k)) {
            break;
        }
        size_t n = (size_t)(pos - start);
        while (*start == ' ') {
            start++;
            n--;
        }
        if (!kv_key_valid(start, n)) {
            return KV_ERR_FORMAT;
        }
        if (cmd->nkeys++ == 0) {
            cmd->key = k;
        }
    }
    return cmd->nkeys == 0 ? KV_ERR_UNKNOWN : KV_OK;
}

/* delete <key> [0] [noreply] */
static int
parse_delete(struct kv_cmd *cmd, const struct tok *t, int n)
{
    if (n < 2 || n > 4) {
        return KV_ERR_UNKNOWN;
    }
    int r = set_key(cmd, &t[1]);
    if (r != KV_OK) {
        return r;
    }
    int zero = n > 2 && tok_is(&t[2], "0");
    int noreply = tok_is(&t[n - 1], "noreply");
    if ((n == 3 && !zero && !noreply) || (n == 4 && !(zero && noreply))) {
        return KV_ERR_FORMAT;
    }
    cmd->noreply = n > 2 && noreply;
    return KV_OK;
}

/* incr/decr <key> <delta> [noreply] */
static int
parse_delta(struct kv_cmd *cmd, const struct tok *t, int n)
{
    if (!want_tokens(cmd, t, n, 3)) {
        return KV_ERR_UNKNOWN;
    }
    int r = set_key(cmd, &t[1]);
    if (r != KV_OK) {
        return r;
    }
    return kv_parse_u64(t[2].p, t[2].n, &cmd->delta) < 0 ? KV_ERR_DELTA : KV_OK;
}

/* touch <key> <exptime> [noreply] */
static int
parse_touch(struct kv_cmd *cmd, const struct tok *t, int n)
{
    if (!want_tokens(cmd, t, n, 3)) {
        return KV_ERR_UNKNOWN;
    }
    int r = set_key(cmd, &t[1]);
    if (r != KV_OK) {
        return r;
    }
    return kv_parse_i64(t[2].p, t[2].n, &cmd->exptime) < 0 ? KV_ERR_EXPTIME : KV_OK;
}

/* flush_all [delay] [noreply] */
static int
parse_flush(struct kv_cmd *cmd, const struct tok *t, int n)
{
    if (n > 3) {
        return KV_ERR_UNKNOWN;
    }
    cmd->exptime = 0;
    if (n > 1 && tok_is(&t[n - 1], "noreply")) {
        cmd->noreply = 1;
        n--;
    }
    if (n == 2 && kv_parse_i64(t[1].p, t[1].n, &cmd->exptime) < 0) {
        return KV_ERR_FORMAT;
    }
    return n <= 2 ? KV_OK : KV_ERR_FORMAT;
}

/* verbosity <level> [noreply] */
static int
parse_verbosity(struct kv_cmd *cmd, const struct tok *t, int n)
{
    if (!want_tokens(cmd, t, n, 2)) {
        return KV_ERR_UNKNOWN;
    }
    uint64_t v = 0;
    (void)kv_parse_u64(t[1].p, t[1].n, &v); /* memcached ignores junk here */
    cmd->verbosity = v > 9 ? 9 : (int)v;
    return KV_OK;
}

static const struct {
    const char *name;
    enum kv_cmd_kind kind;
} commands[] = {
    {"get", KV_CMD_GET},         {"gets", KV_CMD_GETS},       {"gat", KV_CMD_GAT},
    {"gats", KV_CMD_GATS},       {"set", KV_CMD_SET},         {"add", KV_CMD_ADD},
    {"replace", KV_CMD_REPLACE}, {"append", KV_CMD_APPEND},   {"prepend", KV_CMD_PREPEND},
    {"cas", KV_CMD_CAS},         {"delete", KV_CMD_DELETE},   {"incr", KV_CMD_INCR},
    {"decr", KV_CMD_DECR},       {"touch", KV_CMD_TOUCH},     {"flush_all", KV_CMD_FLUSH_ALL},
    {"stats", KV_CMD_STATS},     {"version", KV_CMD_VERSION}, {"verbosity", KV_CMD_VERBOSITY},
    {"quit", KV_CMD_QUIT},
};

static enum kv_cmd_kind
lookup(const struct tok *t)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (tok_is(t, commands[i].name)) {
            return commands[i].kind;
        }
    }
    return KV_CMD_NONE;
}

int
kv_line_is_retrieval(const char *p, size_t len)
{
    while (len > 0 && *p == ' ') {
        p++;
        len--;
    }
    return (len >= 4 && (memcmp(p, "get ", 4) == 0 || memcmp(p, "gat ", 4) == 0)) ||
           (len >= 5 && (memcmp(p, "gets ", 5) == 0 || memcmp(p, "gats ", 5) == 0));
}

int
kv_parse_line(const char *line, size_t len, uint64_t item_max, struct kv_cmd *cmd)
{
    memset(cmd, 0, sizeof(*cmd));
    struct tok t[TOKENS_MAX];
    if (tokenize(line, len, t, 1) == 0) {
        return KV_ERR_UNKNOWN;
    }
    cmd->kind = lookup(&t[0]);
    const char *rest = t[0].p + t[0].n;
    size_t nrest = len - (size_t)(rest - line);
    switch (cmd->kind) {
    case KV_CMD_GET: case KV_CMD_GETS: case KV_CMD_GAT: case KV_CMD_GATS:
        return parse_retrieval(cmd, rest, nrest);
    case KV_CMD_STATS:
        while (nrest > 0 && *rest == ' ') {
            rest++;
            nrest--;
        }
        cmd->arg = rest;
        cmd->narg = nrest;
        return KV_OK;
    case KV_CMD_NONE:
        return KV_ERR_UNKNOWN;
    default:
        break;
    }
    int n = tokenize(line, len, t, TOKENS_MAX);
    switch (cmd->kind) {
    case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
    case KV_CMD_PREPEND: case KV_CMD_CAS:
        return parse_storage(cmd, t, n, item_max);
    case KV_CMD_DELETE:
        return parse_delete(cmd, t, n);
    case KV_CMD_INCR: case KV_CMD_DECR:
        return parse_delta(cmd, t, n);
    case KV_CMD_TOUCH:
        return parse_touch(cmd, t, n);
    case KV_CMD_FLUSH_ALL:
        return parse_flush(cmd, t, n);
    case KV_CMD_VERBOSITY:
        return parse_verbosity(cmd, t, n);
    case KV_CMD_VERSION: case KV_CMD_QUIT:
        return n == 1 ? KV_OK : KV_ERR_UNKNOWN;
    default:
        return KV_ERR_UNKNOWN;
    }
}

const char *
kv_parse_error_reply(int err)
{
    switch (err) {
    case KV_ERR_FORMAT:
        return "CLIENT_ERROR bad command line format\r\n";
    case KV_ERR_DELTA:
        return "CLIENT_ERROR invalid numeric delta argument\r\n";
    case KV_ERR_EXPTIME:
        return "CLIENT_ERROR invalid exptime argument\r\n";
    case KV_ERR_TOO_LARGE:
        return "SERVER_ERROR object too large for cache\r\n";
    default:
        return "ERROR\r\n";
    }
}
