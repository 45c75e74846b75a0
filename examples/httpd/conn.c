/* One HTTP/1.1 connection: read a request head, read (or drop) its body,
 * answer, repeat while the connection is kept alive.
 *
 * Buffers. Input lands in c->in; a head is parsed only once its blank
 * line is in (head_ready), so a client that sends a byte at a time costs a
 * scan per read, not a parse. Responses are appended to c->out and sent
 * only when the loop is about to wait for input (fill flushes first), so
 * the answers to pipelined requests leave in one send.
 *
 * Timeouts are the task's deadline, set before each wait: the idle timeout
 * while no byte of the next request is in, the header timeout from the
 * first byte of a request to its blank line (a slowloris client that
 * keeps trickling is still cut off), and the idle timeout again per body
 * read and per send. A timed-out connection is closed without a reply.
 *
 * Errors in the request head (400, 413, 414, 431, 501, 505) are answered
 * with Connection: close, since the framing of what follows cannot be
 * trusted, and the connection closes by lingering: shut down our side,
 * drain what the client still sends for a moment, then close, so that the
 * client reads the reply rather than a reset. Errors after a valid head
 * (404, 405, 403) keep the connection.
 *
 * Graceful stop: the stopper (server.c) sets sh->stopping and calls
 * conn_wake_idle, which shuts down the read side of every connection
 * waiting for a new request (c->idle). A connection in the middle of a
 * request finishes it, says Connection: close, and checks sh->stopping
 * before its next wait. Both run on the same shard, so c->idle and
 * sh->stopping need no atomics. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "httpd.h"
#include "parse.h"

struct conn {
    struct conn *prev, *next; /* sh->conns */
    struct httpd_shard *sh;
    int fd;
    int idle;       /* parked waiting for the first byte of a request */
    char *in;       /* input: in[off .. off + len) is unread */
    size_t in_off, in_len, in_cap;
    size_t scanned; /* bytes of the pending head searched for its end */
    struct obuf out;
    struct obuf body; /* the body kept for /echo */
};

enum { CONN_KEEP, CONN_CLOSE, CONN_LINGER };
enum { H_HELLO, H_ECHO, H_FILE };

#define IN_START 4096
#define OUT_SPARE 4096 /* obuf's first capacity: the size spares have */
#define FLUSH_AT (64 * 1024)          /* send queued responses past this */
#define INLINE_FILE_MAX (256 * 1024)  /* files up to this go out in one send */
#define FILE_CHUNK (64 * 1024)
#define LINGER_NS (2 * SP_NSEC_PER_SEC)
#define LINGER_BYTES (256 * 1024)

static const char hello[] = "Hello, World!";

struct conn *
conn_new(struct httpd_shard *sh, int fd)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c || !(c->in = malloc(IN_START))) {
        free(c);
        return NULL;
    }
    c->in_cap = IN_START;
    c->sh = sh;
    c->fd = fd;
    return c;
}

static void
conn_free(struct conn *c)
{
    obuf_free(&c->out);
    obuf_free(&c->body);
    free(c->in);
    free(c);
}

void
conn_wake_idle(struct httpd_shard *sh)
{
    for (struct conn *c = sh->conns; c; c = c->next) {
        if (c->idle) {
            shutdown(c->fd, SHUT_RD); /* its recv returns 0 */
        }
    }
}

static const struct httpd_config *
cfg_of(const struct conn *c)
{
    return &c->sh->srv->cfg;
}

static void
consume(struct conn *c, size_t n)
{
    c->in_off += n;
    c->in_len -= n;
}

/* Send what c->out holds. 0 or -errno. */
static int
flush(struct conn *c)
{
    if (c->out.len == 0) {
        return 0;
    }
    sp_task_set_deadline(sp_now_ns() + cfg_of(c)->idle_timeout_ns);
    ssize_t n = sp_sock_send_all(c->fd, c->out.data, c->out.len, NULL);
    if (n < 0) {
        c->sh->stats.timeouts += n == -ETIMEDOUT;
        return (int)n;
    }
    c->sh->stats.bytes_out += (uint64_t)n;
    c->out.len = 0;
    return 0;
}

/* Room at the end of c->in: move unread bytes to the front, or grow. */
static int
make_room(struct conn *c)
{
    if (c->in_len == 0) {
        c->in_off = 0;
    }
    if (c->in_cap - c->in_off - c->in_len >= 1024) {
        return 0;
    }
    if (c->in_off) {
        memmove(c->in, c->in + c->in_off, c->in_len);
        c->in_off = 0;
        if (c->in_cap - c->in_len >= 1024) {
            return 0;
        }
    }
    /* Only a head grows the buffer (to under twice max_head): head_ready
     * stops at max_head, and bodies are consumed as they arrive. */
    char *p = realloc(c->in, c->in_cap * 2);
    if (!p) {
        return -ENOMEM;
    }
    c->in = p;
    c->in_cap *= 2;
    return 0;
}

/* The spare output buffers. A connection waiting for its next request
 * (idle) has nothing to send: its output buffer goes to the shard's spares
 * (a grown one is freed) and the next request takes one back. So an idle
 * keep-alive connection holds its input buffer and its stack, not 4 KiB
 * more (10,000 idle connections: 17.7 -> 13.6 KB each). Connections are
 * pinned to their shard (SP_PLACE_LOCAL), so no lock. */
static void
out_release(struct conn *c)
{
    struct httpd_shard *sh = c->sh;
    int room = sh->nspare < (int)(sizeof(sh->spare) / sizeof(sh->spare[0]));
    if (c->out.data && c->out.cap == OUT_SPARE && room) {
        sh->spare[sh->nspare++] = c->out.data;
        c->out.data = NULL;
        c->out.cap = 0;
    } else {
        obuf_free(&c->out);
    }
}

static void
out_acquire(struct conn *c)
{
    struct httpd_shard *sh = c->sh;
    if (c->out.data == NULL && sh->nspare > 0) {
        c->out.data = sh->spare[--sh->nspare];
        c->out.cap = OUT_SPARE;
        c->out.len = 0;
    }
}

/* Flush, then receive more input, waiting until deadline. Returns the
 * byte count, 0 at end of stream (or when stopping and idle), -errno. */
static ssize_t
fill(struct conn *c, uint64_t deadline, int idle)
{
    if (flush(c) < 0) {
        return -EPIPE;
    }
    if (idle && c->sh->stopping) {
        return 0;
    }
    if (idle) {
        out_release(c);
    }
    if (make_room(c) < 0) {
        return -ENOMEM;
    }
    sp_task_set_deadline(deadline);
    c->idle = idle;
    size_t off = c->in_off + c->in_len;
    ssize_t n = sp_sock_recv(c->fd, c->in + off, c->in_cap - off, 0);
    c->idle = 0;
    if (n > 0) {
        out_acquire(c);
        c->in_len += (size_t)n;
        c->sh->stats.bytes_in += (uint64_t)n;
    } else if (n == -ETIMEDOUT) {
        c->sh->stats.timeouts++;
    }
    return n;
}

/* Is a whole head in (its blank line found), or is the head limit hit? */
static int
head_ready(struct conn *c)
{
    const char *p = c->in + c->in_off;
    size_t n = c->in_len, i = c->scanned > 2 ? c->scanned - 2 : 0;
    if (n >= cfg_of(c)->max_head) {
        return 1;
    }
    const char *nl;
    while ((nl = memchr(p + i, '\n', n - i)) != NULL) {
        size_t k = (size_t)(nl - p);
        if ((k + 1 < n && p[k + 1] == '\n') ||
            (k + 2 < n && p[k + 1] == '\r' && p[k + 2] == '\n')) {
            return 1;
        }
        i = k + 1;
    }
    c->scanned = n;
    return 0;
}

/* Wait for and parse the next head. Returns its length, 0 to close
 * quietly (end of stream, timeout, stop, I/O error), or -status. */
static int
read_head(struct conn *c, struct http_request *req)
{
    uint64_t deadline = 0;
    c->scanned = 0;
    for (;;) {
        const char *p = c->in + c->in_off;
        while (c->in_len && (p[0] == '\n' || (p[0] == '\r' && c->in_len > 1 && p[1] == '\n'))) {
            consume(c, 1); /* empty lines before a request line are allowed */
            p++;
            c->scanned = 0;
        }
        if (c->in_len) {
            if (!deadline) {
                deadline = sp_now_ns() + cfg_of(c)->header_timeout_ns;
            }
            if (head_ready(c)) {
                return http_parse_request(p, c->in_len, cfg_of(c)->max_head, req);
            }
        }
        int idle = c->in_len == 0;
        if (idle) {
            deadline = 0;
        }
        if (fill(c, idle ? sp_now_ns() + cfg_of(c)->idle_timeout_ns : deadline, idle) <= 0) {
            return 0;
        }
    }
}

/* A Content-Length body into keep (or dropped). 0, -status or -errno. */
static int
read_sized(struct conn *c, size_t left, struct obuf *keep)
{
    if (keep && obuf_reserve(keep, left) < 0) {
        return -500;
    }
    for (;;) {
        size_t n = left < c->in_len ? left : c->in_len;
        if (keep) {
            memcpy(keep->data + keep->len, c->in + c->in_off, n);
            keep->len += n;
        }
        consume(c, n);
        if ((left -= n) == 0) {
            return 0;
        }
        ssize_t r = fill(c, sp_now_ns() + cfg_of(c)->idle_timeout_ns, 0);
        if (r <= 0) {
            return r == 0 ? -EPIPE : (int)r;
        }
    }
}

/* A chunked body into keep (or dropped). 0, -status or -errno. */
static int
read_chunked(struct conn *c, struct obuf *keep)
{
    struct http_chunked ch = {0};
    size_t dropped = 0;
    int done = 0;
    for (;;) {
        if (c->in_len) {
            if (keep && obuf_reserve(keep, c->in_len) < 0) {
                return -500;
            }
            ssize_t k = http_chunked_decode(&ch, c->in + c->in_off, c->in_len,
                                            keep ? keep->data : NULL, cfg_of(c)->max_body,
                                            keep ? &keep->len : &dropped, &done);
            if (k < 0) {
                return (int)k;
            }
            consume(c, (size_t)k);
            if (done) {
                return 0;
            }
        }
        ssize_t r = fill(c, sp_now_ns() + cfg_of(c)->idle_timeout_ns, 0);
        if (r <= 0) {
            return r == 0 ? -EPIPE : (int)r;
        }
    }
}

/* Which handler serves req, or -404 / -405 (*allow set). */
static int
route(const struct conn *c, const struct http_request *req, const char **allow)
{
    size_t n = req->target_len;
    const char *t = req->target;
    const char *q = memchr(t, '?', n);
    if (q) {
        n = (size_t)(q - t);
    }
    int get = req->method == HTTP_M_GET || req->method == HTTP_M_HEAD;
    if (n == 6 && memcmp(t, "/hello", 6) == 0) {
        *allow = "GET, HEAD";
        return get ? H_HELLO : -405;
    }
    if (n == 5 && memcmp(t, "/echo", 5) == 0) {
        *allow = "POST";
        return req->method == HTTP_M_POST ? H_ECHO : -405;
    }
    if (c->sh->srv->root.dirfd < 0) {
        return -404;
    }
    *allow = "GET, HEAD";
    return get ? H_FILE : -405;
}

static void
count(struct conn *c, int status)
{
    c->sh->stats.requests++;
    c->sh->stats.status[status / 100 % 6]++;
}

static int
reply_error(struct conn *c, int status, const struct http_request *req, int keep,
            const char *allow)
{
    count(c, status);
    int head_only = req && req->method == HTTP_M_HEAD;
    return http_write_error(&c->out, &c->sh->date, status, req ? req->minor : 1, keep,
                            head_only, allow);
}

static int
reply_body(struct conn *c, const struct http_request *req, int keep, const char *type,
           const void *body, size_t len)
{
    struct resp_head h = {200, req->minor, keep, type, (int64_t)len, NULL};
    count(c, 200);
    if (http_write_head(&c->out, &c->sh->date, &h) < 0) {
        return -ENOMEM;
    }
    return req->method == HTTP_M_HEAD ? 0 : obuf_put(&c->out, body, len);
}

/* Read len bytes of fd from off into c->out. 0, or -errno (a short file:
 * it shrank since fstat, and the promised length cannot be kept). */
static int
read_file_into_out(struct conn *c, int fd, off_t off, size_t len)
{
    if (obuf_reserve(&c->out, len) < 0) {
        return -ENOMEM;
    }
    while (len) {
        /* From the page cache without a suspension when the data is there
         * (RWF_NOWAIT fails with EAGAIN rather than wait for the disk);
         * otherwise through spindle, which parks only this task. */
        struct iovec iov = {c->out.data + c->out.len, len};
        ssize_t n = preadv2(fd, &iov, 1, off, RWF_NOWAIT);
        if (n <= 0 && len > 0) {
            n = sp_pread(fd, c->out.data + c->out.len, len, off);
        }
        if (n <= 0) {
            return n == 0 ? -EIO : (int)n;
        }
        c->out.len += (size_t)n;
        off += n;
        len -= (size_t)n;
    }
    return 0;
}

/* A static file: the head, then the file in one piece or in chunks.
 * Returns 0, -status (nothing was written), or -errno (the head went out
 * but the body failed: close). */
static int
serve_file(struct conn *c, const struct http_request *req, int keep, const char *rel)
{
    struct stat st;
    const char *type;
    int fd = static_open(&c->sh->srv->root, rel, &st, &type);
    if (fd < 0) {
        return fd;
    }
    struct resp_head h = {200, req->minor, keep, type, (int64_t)st.st_size, NULL};
    int err = http_write_head(&c->out, &c->sh->date, &h);
    count(c, 200);
    size_t size = (size_t)st.st_size;
    off_t off = 0;
    while (err == 0 && req->method != HTTP_M_HEAD && off < st.st_size) {
        size_t n = size - (size_t)off;
        if (size > INLINE_FILE_MAX && n > FILE_CHUNK) {
            n = FILE_CHUNK;
        }
        if ((err = read_file_into_out(c, fd, off, n)) == 0) {
            off += (off_t)n;
            if (off < st.st_size) {
                err = flush(c);
            }
        }
    }
    sp_close(fd);
    return err < 0 ? -EIO : 0;
}

/* Answer an error in the head: Connection: close, then linger. */
static int
head_error(struct conn *c, int status)
{
    reply_error(c, status, NULL, 0, NULL);
    flush(c);
    return CONN_LINGER;
}

/* The response to a valid head whose body has been read. */
static int
respond(struct conn *c, const struct http_request *req, int handler, int keep,
        const char *rel)
{
    switch (handler) {
    case H_HELLO:
        return reply_body(c, req, keep, "text/plain", hello, sizeof(hello) - 1);
    case H_ECHO:
        return reply_body(c, req, keep, "application/octet-stream", c->body.data,
                          c->body.len);
    default: {
        int r = serve_file(c, req, keep, rel);
        return r <= -400 ? reply_error(c, -r, req, keep, NULL) : r;
    }
    }
}

/* One request. */
static int
serve_one(struct conn *c)
{
    struct http_request req;
    int r = read_head(c, &req);
    if (r <= 0) {
        return r == 0 ? CONN_CLOSE : head_error(c, -r);
    }
    const char *allow = NULL;
    char rel[PATH_MAX];
    int handler = route(c, &req, &allow);
    if (handler == H_FILE) {
        int n = http_decode_path(req.target, req.target_len, rel, sizeof(rel));
        handler = n < 0 ? n : handler;
    }
    if (req.content_length > (int64_t)cfg_of(c)->max_body) {
        return head_error(c, 413);
    }
    consume(c, (size_t)r); /* req.target is not used past here */
    c->body.len = 0;
    int b = req.chunked ? read_chunked(c, handler == H_ECHO ? &c->body : NULL)
            : req.content_length > 0
                ? read_sized(c, (size_t)req.content_length, handler == H_ECHO ? &c->body : NULL)
                : 0;
    if (b < 0) {
        return b <= -400 ? head_error(c, -b) : CONN_CLOSE;
    }
    int keep = req.keep_alive && !c->sh->stopping; /* a stop may have come meanwhile */
    r = handler < 0 ? reply_error(c, -handler, &req, keep, allow)
                    : respond(c, &req, handler, keep, rel);
    if (r < 0) {
        return CONN_CLOSE;
    }
    if (!keep) {
        return flush(c) < 0 ? CONN_CLOSE : c->in_len ? CONN_LINGER : CONN_CLOSE;
    }
    return c->out.len >= FLUSH_AT && flush(c) < 0 ? CONN_CLOSE : CONN_KEEP;
}

/* Shut our side, drain the client's for a moment, so it reads our last
 * reply instead of a reset caused by unread data. */
static void
linger(struct conn *c)
{
    shutdown(c->fd, SHUT_WR);
    sp_task_set_deadline(sp_now_ns() + LINGER_NS);
    size_t total = 0;
    ssize_t n;
    while (total < LINGER_BYTES && (n = sp_sock_recv(c->fd, c->in, c->in_cap, 0)) > 0) {
        total += (size_t)n;
    }
}

static void
link_conn(struct conn *c)
{
    struct httpd_shard *sh = c->sh;
    c->next = sh->conns;
    if (sh->conns) {
        sh->conns->prev = c;
    }
    sh->conns = c;
}

static void
unlink_conn(struct conn *c)
{
    if (c->prev) {
        c->prev->next = c->next;
    } else {
        c->sh->conns = c->next;
    }
    if (c->next) {
        c->next->prev = c->prev;
    }
}

intptr_t
conn_main(void *arg)
{
    struct conn *c = arg;
    struct httpd *srv = c->sh->srv;
    link_conn(c);
    sp_tcp_set_nodelay(c->fd, 1);
    int r;
    while ((r = serve_one(c)) == CONN_KEEP) {
    }
    if (r == CONN_LINGER) {
        linger(c);
    }
    sp_task_set_deadline(SP_DEADLINE_NONE);
    sp_close(c->fd);
    unlink_conn(c);
    conn_free(c);
    sp_sem_release(&srv->limit, 1);
    sp_waitgroup_done(&srv->conns_wg); /* last touch of srv: httpd_wait may free it */
    return 0;
}
