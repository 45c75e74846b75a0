/* Connection loops of the load generator.
 *
 * Closed loop: each connection keeps `depth` requests in flight; when
 * responses arrive it records their latency (from when each was sent) and
 * sends as many new ones, in one send.
 *
 * Open loop: each connection has a sender and a receiver task, pinned to
 * the same shard so they share the ring of intended send times without
 * atomics. The sender draws Poisson arrivals (exponential gaps, rate / conns
 * per connection) and sends every request whose intended time has come;
 * the receiver records each latency from its request's *intended* time,
 * so a server that falls behind shows its queueing delay instead of
 * slowing the generator down (coordinated omission). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <spindle.h>

#include "loadgen.h"

/* Buffers hold at least one request or response with its payload. */
#define SBUF (64 * 1024 + c->o->value_len)
#define RBUF (64 * 1024 + c->o->value_len)

_Atomic int lg_recording;
_Atomic int lg_stopping;
struct lg_keys lg_keyspace;

int
lg_connect(const struct lg_opts *o)
{
    sp_addr_t a;
    int err = sp_addr_ip(&a, o->host, o->port);
    if (err < 0) {
        return err;
    }
    int fd = sp_tcp_connect(&a);
    if (fd >= 0) {
        sp_tcp_set_nodelay(fd, 1);
    }
    return fd;
}

static void
next_req(struct lg_conn *c, struct lg_req *r)
{
    r->write = lg_rand01(&c->rng) >= c->o->get_ratio;
    r->key = lg_keys_next(&lg_keyspace, &c->rng);
    r->value_len = c->o->value_len;
}

/* Parse every complete response in buf[0, len); for each, pop its start
 * time with pop(c) and record. Returns bytes consumed or -1. */
static ssize_t
take_responses(struct lg_conn *c, const char *buf, size_t len, uint64_t (*pop)(struct lg_conn *),
               int *count)
{
    size_t pos = 0;
    uint64_t now = sp_now_ns();
    int rec = atomic_load_explicit(&lg_recording, memory_order_relaxed);
    *count = 0;
    for (;;) {
        int st = LG_ERROR;
        ssize_t n = c->o->proto->parse(buf + pos, len - pos, &st);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            return (ssize_t)pos;
        }
        pos += (size_t)n;
        uint64_t t0 = pop(c);
        ++*count;
        if (rec) {
            lg_hist_add(&c->hist, now > t0 ? now - t0 : 0);
            atomic_store_explicit(&c->ops, atomic_load_explicit(&c->ops, memory_order_relaxed) + 1,
                                  memory_order_relaxed);
            st == LG_HIT ? c->hits++ : st == LG_MISS ? c->misses++ : c->errors++;
        }
    }
}

static uint64_t
ring_pop(struct lg_conn *c)
{
    uint64_t t = c->ring[c->ring_tail % c->ring_cap];
    c->ring_tail++;
    return t;
}

static void
ring_push(struct lg_conn *c, uint64_t t)
{
    c->ring[c->ring_head % c->ring_cap] = t;
    c->ring_head++;
}

intptr_t
lg_closed_loop(void *arg)
{
    struct lg_conn *c = arg;
    char *sbuf = malloc(SBUF), *rbuf = malloc(RBUF);
    size_t have = 0;
    int inflight = 0;
    while (sbuf != NULL && rbuf != NULL) {
        size_t slen = 0;
        uint64_t now = sp_now_ns();
        while (!atomic_load_explicit(&lg_stopping, memory_order_relaxed) &&
               inflight < c->o->depth) {
            struct lg_req r;
            next_req(c, &r);
            size_t n = c->o->proto->build(&r, sbuf + slen, SBUF - slen);
            if (n == 0) {
                break;
            }
            slen += n;
            ring_push(c, now);
            inflight++;
        }
        if (slen > 0 && sp_sock_send_all(c->fd, sbuf, slen, NULL) < 0) {
            c->failed = 1;
            break;
        }
        if (inflight == 0) {
            break; /* stopping and drained */
        }
        ssize_t n = sp_sock_recv(c->fd, rbuf + have, RBUF - have, 0);
        if (n <= 0) {
            c->failed = !atomic_load(&lg_stopping);
            break;
        }
        have += (size_t)n;
        int count;
        ssize_t used = take_responses(c, rbuf, have, ring_pop, &count);
        if (used < 0 || (used == 0 && have == RBUF)) {
            c->failed = 1;
            break;
        }
        inflight -= count;
        have -= (size_t)used;
        memmove(rbuf, rbuf + used, have);
    }
    free(sbuf);
    free(rbuf);
    return 0;
}

intptr_t
lg_open_sender(void *arg)
{
    struct lg_conn *c = arg;
    char *sbuf = malloc(SBUF);
    double mean = 1e9 * c->o->conns / c->o->rate;
    uint64_t next = sp_now_ns() + lg_exp_ns(&c->rng, mean);
    while (sbuf != NULL && !atomic_load_explicit(&lg_stopping, memory_order_relaxed)) {
        uint64_t now = sp_now_ns();
        if (next > now && sp_sleep_until(next) < 0) {
            break;
        }
        now = sp_now_ns();
        size_t slen = 0;
        while (next <= now && c->ring_head - c->ring_tail < c->ring_cap) {
            struct lg_req r;
            next_req(c, &r);
            size_t n = c->o->proto->build(&r, sbuf + slen, SBUF - slen);
            if (n == 0) {
                break;
            }
            slen += n;
            ring_push(c, next); /* the intended time, not now */
            next += lg_exp_ns(&c->rng, mean);
        }
        if (slen > 0 && sp_sock_send_all(c->fd, sbuf, slen, NULL) < 0) {
            c->failed = 1;
            break;
        }
        if (slen == 0 && next <= now) {
            sp_sleep_ns(20 * SP_NSEC_PER_USEC); /* ring full: the server is far behind */
        }
    }
    c->sender_done = 1;
    free(sbuf);
    return 0;
}

intptr_t
lg_open_receiver(void *arg)
{
    struct lg_conn *c = arg;
    char *rbuf = malloc(RBUF);
    size_t have = 0;
    while (rbuf != NULL) {
        if (c->sender_done && c->ring_head == c->ring_tail) {
            break;
        }
        ssize_t n = sp_sock_recv(c->fd, rbuf + have, RBUF - have, 0);
        if (n <= 0) {
            c->failed = n < 0 && !atomic_load(&lg_stopping);
            break;
        }
        have += (size_t)n;
        int count;
        ssize_t used = take_responses(c, rbuf, have, ring_pop, &count);
        if (used < 0 || (used == 0 && have == RBUF)) {
            c->failed = 1;
            break;
        }
        have -= (size_t)used;
        memmove(rbuf, rbuf + used, have);
    }
    free(rbuf);
    return 0;
}

int
lg_preload(const struct lg_opts *o, uint64_t from, uint64_t to)
{
    int fd = lg_connect(o);
    if (fd < 0) {
        return fd;
    }
    struct lg_conn one = {.o = o}, *c = &one;
    char *sbuf = malloc(SBUF), *rbuf = malloc(RBUF);
    size_t have = 0;
    int err = sbuf && rbuf ? 0 : -ENOMEM;
    uint64_t k = from, answered = from;
    while (err == 0 && answered < to) {
        size_t slen = 0;
        while (k < to && k - answered < 64) {
            struct lg_req r = {1, k, o->value_len};
            size_t n = o->proto->build(&r, sbuf + slen, SBUF - slen);
            if (n == 0) {
                break;
            }
            slen += n;
            k++;
        }
        ssize_t s = slen ? sp_sock_send_all(fd, sbuf, slen, NULL) : 0;
        ssize_t n = s < 0 ? s : sp_sock_recv(fd, rbuf + have, RBUF - have, 0);
        if (n <= 0) {
            err = n < 0 ? (int)n : -ECONNRESET;
            break;
        }
        have += (size_t)n;
        size_t pos = 0;
        int st;
        ssize_t m;
        while ((m = o->proto->parse(rbuf + pos, have - pos, &st)) > 0) {
            pos += (size_t)m;
            answered++;
        }
        if (m < 0) {
            err = -EPROTO;
        }
        have -= pos;
        memmove(rbuf, rbuf + pos, have);
    }
    free(sbuf);
    free(rbuf);
    sp_close(fd);
    return err;
}
