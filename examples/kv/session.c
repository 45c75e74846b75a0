/* The protocol state machine of one connection (see session.h): lines in,
 * operations out to the engine, replies into s->out.
 *
 * The order inside a storage command follows memcached: the line is parsed
 * and checked first; a value too large for the item limit is answered at
 * once ("SERVER_ERROR object too large for cache"), the key's old value is
 * dropped (a failed set must not leave stale data), and the data block is
 * swallowed as it arrives; otherwise the block is read into a fresh item,
 * its "\r\n" checked ("CLIENT_ERROR bad data chunk"), and the item handed
 * to the engine, which links or frees it. */
#include "session.h"

#include <stdio.h>
#include <unistd.h>

#define VERSION_LINE "VERSION 1.6.0-spindle-kv\r\n"

void
kv_session_init(struct kv_session *s, struct kv_engine *eng, size_t line_max)
{
    memset(s, 0, sizeof(*s));
    s->eng = eng;
    s->line_max = line_max < KV_LINE_MAX ? KV_LINE_MAX : line_max;
    s->flush_bytes = 256 * 1024;
}

void
kv_session_destroy(struct kv_session *s)
{
    free(s->item);
    s->item = NULL;
    free(s->out.buf);
    s->out.buf = NULL;
    s->out.len = s->out.cap = 0;
}

static void
op_init(struct kv_op *op, int kind, const struct kv_key *k, struct kv_out *out, int64_t now)
{
    memset(op, 0, sizeof(*op));
    op->kind = kind;
    op->key = k->p;
    op->nkey = k->n;
    op->hash = kv_hash(k->p, k->n);
    op->out = out;
    op->now = now;
}

static void
run_retrieval(struct kv_session *s, const struct kv_cmd *cmd, int64_t now)
{
    const char *pos = cmd->keys;
    struct kv_key k;
    int64_t exptime = kv_exptime_abs(cmd->exptime, now);
    while (kv_key_next(&pos, cmd->keys_end, &k)) {
        struct kv_op op;
        op_init(&op, cmd->kind, &k, &s->out, now);
        op.exptime = exptime;
        s->eng->exec(s->eng, &op);
        if (s->flush != NULL && s->out.len >= s->flush_bytes) {
            s->flush(s, s->flush_ctx);
        }
    }
    kv_out_put(&s->out, "END\r\n", 5);
}

/* The data block is complete: check its end and hand the item over. */
static void
finish_store(struct kv_session *s)
{
    struct kv_item *it = s->item;
    s->item = NULL;
    s->state = KV_S_LINE;
    const char *end = kv_item_value(it) + it->nbytes;
    if (end[0] != '\r' || end[1] != '\n') {
        free(it);
        kv_out_str(&s->out, "CLIENT_ERROR bad data chunk\r\n");
        return;
    }
    struct kv_op op;
    struct kv_key k = {it->data, it->nkey};
    op_init(&op, s->kind, &k, &s->out, kv_now());
    op.hash = it->hash;
    op.item = it;
    op.cas = s->cas;
    op.noreply = s->noreply;
    s->eng->exec(s->eng, &op);
}

/* A storage line parsed: start its data block. Returns bytes of buf used. */
static size_t
start_store(struct kv_session *s, const struct kv_cmd *cmd, int err, const char *buf,
            size_t len)
{
    size_t total = (size_t)cmd->bytes + 2;
    int64_t now = kv_now();
    struct kv_item *it = NULL;
    if (err == KV_OK) {
        it = kv_item_new(cmd->key.p, cmd->key.n, cmd->flags,
                         kv_exptime_abs(cmd->exptime, now), (size_t)cmd->bytes);
    }
    if (it == NULL) {
        kv_out_str(&s->out, err == KV_OK ? "SERVER_ERROR out of memory storing object\r\n"
                                         : kv_parse_error_reply(err));
        if (cmd->kind == KV_CMD_SET) {
            struct kv_op op;
            op_init(&op, KV_OP_UNLINK, &cmd->key, &s->out, now);
            s->eng->exec(s->eng, &op);
        }
        s->state = KV_S_SWALLOW;
        s->swallow = total;
        return 0;
    }
    s->item = it;
    s->kind = cmd->kind;
    s->noreply = cmd->noreply;
    s->cas = cmd->cas;
    s->filled = len < total ? len : total;
    memcpy(kv_item_value(it), buf, s->filled);
    s->state = KV_S_VALUE;
    if (s->filled == total) {
        finish_store(s);
    }
    return s->filled;
}

static void
reply_stats(struct kv_session *s, const struct kv_cmd *cmd)
{
    struct kv_out *o = &s->out;
    if (cmd->narg == 5 && memcmp(cmd->arg, "reset", 5) == 0) {
        s->eng->reset_stats(s->eng);
        kv_out_str(o, "RESET\r\n");
        return;
    }
    if (cmd->narg != 0) {
        kv_out_str(o, "ERROR\r\n");
        return;
    }
    if (s->eng->server_stats != NULL) {
        s->eng->server_stats(s->eng, o);
    }
    struct kv_counters c;
    s->eng->counters(s->eng, &c);
#define KV_STAT_(name) kv_out_str(o, "STAT " #name " "); kv_out_u64(o, c.name); \
    kv_out_put(o, "\r\n", 2);
    KV_STAT_FIELDS(KV_STAT_)
#undef KV_STAT_
    kv_out_str(o, "STAT item_size_max ");
    kv_out_u64(o, s->eng->item_max);
    kv_out_str(o, "\r\nEND\r\n");
}

static void
reply_unless_noreply(struct kv_session *s, const struct kv_cmd *cmd, const char *msg)
{
    if (!cmd->noreply) {
        kv_out_str(&s->out, msg);
    }
}

/* One complete line (terminator stripped). Returns the bytes of the data
 * block that follows it in [rest, rest + nrest) that were used. */
static size_t
run_line(struct kv_session *s, const char *line, size_t n, const char *rest, size_t nrest)
{
    struct kv_cmd cmd;
    int err = kv_parse_line(line, n, s->eng->item_max, &cmd);
    s->commands++;
    if (err == KV_OK || err == KV_ERR_TOO_LARGE) {
        switch (cmd.kind) {
        case KV_CMD_SET: case KV_CMD_ADD: case KV_CMD_REPLACE: case KV_CMD_APPEND:
        case KV_CMD_PREPEND: case KV_CMD_CAS:
            return start_store(s, &cmd, err, rest, nrest);
        default:
            break;
        }
    }
    if (err != KV_OK) {
        kv_out_str(&s->out, kv_parse_error_reply(err));
        return 0;
    }
    int64_t now = kv_now();
    struct kv_op op;
    switch (cmd.kind) {
    case KV_CMD_GET: case KV_CMD_GETS: case KV_CMD_GAT: case KV_CMD_GATS:
        run_retrieval(s, &cmd, now);
        break;
    case KV_CMD_DELETE: case KV_CMD_INCR: case KV_CMD_DECR: case KV_CMD_TOUCH:
        op_init(&op, cmd.kind, &cmd.key, &s->out, now);
        op.noreply = cmd.noreply;
        op.delta = cmd.delta;
        op.exptime = kv_exptime_abs(cmd.exptime, now);
        s->eng->exec(s->eng, &op);
        break;
    case KV_CMD_FLUSH_ALL:
        s->eng->flush(s->eng, cmd.exptime > 0 ? kv_exptime_abs(cmd.exptime, now) : now, now);
        reply_unless_noreply(s, &cmd, "OK\r\n");
        break;
    case KV_CMD_STATS:
        reply_stats(s, &cmd);
        break;
    case KV_CMD_VERSION:
        kv_out_str(&s->out, VERSION_LINE);
        break;
    case KV_CMD_VERBOSITY:
        s->eng->verbosity = cmd.verbosity;
        reply_unless_noreply(s, &cmd, "OK\r\n");
        break;
    case KV_CMD_QUIT:
        s->state = KV_S_CLOSE;
        break;
    default:
        kv_out_str(&s->out, "ERROR\r\n");
        break;
    }
    return 0;
}

/* In KV_S_LINE: one line if complete. Returns bytes consumed (0: need more). */
static size_t
feed_line(struct kv_session *s, const char *buf, size_t len)
{
    const char *nl = memchr(buf, '\n', len);
    size_t n = nl != NULL ? (size_t)(nl - buf) : len;
    if (n > s->line_max || (n > KV_LINE_MAX && !kv_line_is_retrieval(buf, n))) {
        kv_out_str(&s->out, "CLIENT_ERROR line too long\r\n");
        s->state = KV_S_CLOSE;
        return 0;
    }
    if (nl == NULL) {
        return 0;
    }
    size_t used = n + 1;
    if (n > 0 && buf[n - 1] == '\r') {
        n--;
    }
    return used + run_line(s, buf, n, buf + used, len - used);
}

size_t
kv_session_feed(struct kv_session *s, const char *buf, size_t len)
{
    size_t pos = 0;
    for (;;) {
        size_t left = len - pos, used;
        switch (s->state) {
        case KV_S_LINE:
            used = feed_line(s, buf + pos, left);
            if (used == 0) {
                return pos;
            }
            break;
        case KV_S_VALUE: {
            size_t total = (size_t)s->item->nbytes + 2;
            used = total - s->filled < left ? total - s->filled : left;
            memcpy(kv_item_value(s->item) + s->filled, buf + pos, used);
            s->filled += used;
            if (s->filled == total) {
                finish_store(s);
            }
            break;
        }
        case KV_S_SWALLOW:
            used = s->swallow < left ? (size_t)s->swallow : left;
            s->swallow -= used;
            if (s->swallow == 0) {
                s->state = KV_S_LINE;
            }
            break;
        default:
            return pos;
        }
        pos += used;
        if (pos == len && s->state == KV_S_LINE) {
            return pos;
        }
        if (used == 0) {
            return pos;
        }
    }
}
