/* One connection's protocol state, fed with the bytes it receives.
 *
 * The session is a state machine with no I/O of its own: kv_session_feed
 * consumes what it can (whole lines, data blocks as they arrive, swallowed
 * bytes of a rejected value) and appends replies to s->out. It never keeps
 * more than one line of input: a data block goes straight into the item
 * being built, and a rejected one is counted down, not stored. Lines are
 * bounded (KV_LINE_MAX, or line_max for retrievals); a longer one ends the
 * connection with "CLIENT_ERROR line too long", as memcached closes it.
 *
 * examples/kv/conn.c runs it over a socket; the tests and the fuzzer run it
 * over byte strings with the single-partition engine. */
#ifndef KV_SESSION_H
#define KV_SESSION_H

#include "engine.h"

enum kv_session_state {
    KV_S_LINE,      /* waiting for a command line */
    KV_S_VALUE,     /* filling a storage command's data block */
    KV_S_SWALLOW,   /* discarding a rejected data block */
    KV_S_CLOSE,     /* quit, or an unrecoverable error: flush and close */
};

struct kv_session {
    struct kv_engine *eng;
    struct kv_out out;
    int state;
    size_t line_max;             /* longest retrieval line */
    /* KV_S_VALUE: the item, how much of value + "\r\n" is in, the command */
    struct kv_item *item;
    size_t filled;
    int kind;
    int noreply;
    uint64_t cas;
    uint64_t swallow;            /* KV_S_SWALLOW: bytes still to discard */
    /* Called in the middle of a long multi-get once out holds flush_bytes
     * or more, to send it (may be NULL: replies just accumulate). */
    void (*flush)(struct kv_session *s, void *ctx);
    void *flush_ctx;
    size_t flush_bytes;
    uint64_t commands;           /* lines handled */
};

void kv_session_init(struct kv_session *s, struct kv_engine *eng, size_t line_max);
void kv_session_destroy(struct kv_session *s);

/* Consume input; returns the bytes consumed. Bytes not consumed are the
 * start of an incomplete line: present them again with more appended.
 * Stops early in KV_S_CLOSE. */
size_t kv_session_feed(struct kv_session *s, const char *buf, size_t len);

#endif
