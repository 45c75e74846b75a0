/* examples/httpd: the request parser on good and bad input (every status
 * it can give), the chunked and path decoders, and the server started
 * in-process on an ephemeral port of 127.0.0.1: keep-alive, pipelining,
 * HTTP/1.0, Content-Length and chunked bodies, the status codes of
 * malformed requests end to end, static files and path-escape attempts,
 * header and idle timeouts (a slowloris client), the connection limit, and
 * the graceful stop. Runs on both backends, on two shards (one listener
 * each).
 *
 * Timeouts are asserted on their effect (the connection is closed, the
 * counter moved), never on elapsed time. */
#include "test.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../examples/httpd/httpd.h"
#include "../examples/httpd/parse.h"

/* --- the parser -------------------------------------------------------------- */

static int
parse(const char *s, struct http_request *req)
{
    return http_parse_request(s, strlen(s), 8192, req);
}

int
test_http_parse_good(void)
{
    struct http_request r;
    const char *a = "GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  z  \r\n\r\nGET /next";
    ASSERT_EQ(parse(a, &r), strstr(a, "GET /next") - a);
    ASSERT_EQ(r.method, HTTP_M_GET);
    ASSERT_EQ(r.target_len, 10);
    ASSERT_OK(memcmp(r.target, "/hello?x=1", 10));
    ASSERT_EQ(r.minor, 1);
    ASSERT_EQ(r.keep_alive, 1);
    ASSERT_EQ(r.content_length, -1);
    ASSERT_EQ(r.chunked, 0);
    /* HTTP/1.0: no keep-alive unless asked; no Host needed. */
    ASSERT_GT(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);
    ASSERT_EQ(r.minor, 0);
    ASSERT_EQ(r.keep_alive, 0);
    ASSERT_GT(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), 0);
    ASSERT_EQ(r.keep_alive, 1);
    ASSERT_GT(parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, close\r\n\r\n", &r), 0);
    ASSERT_EQ(r.keep_alive, 0);
    /* Bare LF, leading empty lines, absolute form, 1.x read as 1.1. */
    ASSERT_GT(parse("\r\n\nPOST http://h:1/p/q HTTP/1.2\nHost: h\nContent-Length: 5\n\n", &r), 0);
    ASSERT_EQ(r.method, HTTP_M_POST);
    ASSERT_EQ(r.minor, 1);
    ASSERT_EQ(r.content_length, 5);
    ASSERT_EQ(r.target_len, 4);
    ASSERT_OK(memcmp(r.target, "/p/q", 4));
    ASSERT_GT(parse("PUT / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n", &r), 0);
    ASSERT_EQ(r.chunked, 1);
    ASSERT_EQ(r.method, HTTP_M_PUT);
    ASSERT_GT(parse("BREW / HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n",
                    &r), 0);
    ASSERT_EQ(r.method, HTTP_M_OTHER);
    ASSERT_EQ(r.content_length, 7);
    ASSERT_GT(parse("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r), 0);
    /* Incomplete: 0, at every prefix of a good request. */
    const char *full = "GET /a HTTP/1.1\r\nHost: a\r\n\r\n";
    for (size_t n = 0; n < strlen(full); n++) {
        ASSERT_EQ(http_parse_request(full, n, 8192, &r), 0);
    }
    return 0;
}

int
test_http_parse_bad(void)
{
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET\r\n\r\n", -400},
        {"GET /\r\n\r\n", -400},
        {"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", -400},
        {"G(T / HTTP/1.1\r\nHost: a\r\n\r\n", -400},
        {"GET / HTTP/1.1 \r\nHost: a\r\n\r\n", -400},
        {"GET / http/1.1\r\nHost: a\r\n\r\n", -400},
        {"GET / HTTP/1.10\r\nHost: a\r\n\r\n", -400},
        {"GET x HTTP/1.1\r\nHost: a\r\n\r\n", -400},
        {"GET /a\x01 HTTP/1.1\r\nHost: a\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\n\r\n", -400},                              /* no Host */
        {"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", -400},         /* two */
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", -400},                   /* space before ':' */
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", -400},         /* obs-fold */
        {"GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1x\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
         -400},
        {"GET / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
         "Transfer-Encoding: chunked\r\n\r\n", -400},
        {"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", -413},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", -501},
        {"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", -501},
        {"GET / HTTP/2.0\r\nHost: a\r\n\r\n", -505},
        {"GET / HTTP/0.9\r\nHost: a\r\n\r\n", -505},
    };
    struct http_request r;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int got = parse(cases[i].req, &r);
        if (got != cases[i].status) {
            fprintf(stderr, "case %zu: %s\n", i, cases[i].req);
        }
        ASSERT_EQ(got, cases[i].status);
    }
    /* Limits: a request line longer than the head limit is 414; a head
     * too long or with too many fields is 431. */
    char big[600];
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    ASSERT_EQ(http_parse_request(big, sizeof(big), 512, &r), -414);
    char head[700];
    int n = snprintf(head, sizeof(head), "GET / HTTP/1.1\r\nHost: a\r\nX: ");
    memset(head + n, 'b', sizeof(head) - (size_t)n);
    ASSERT_EQ(http_parse_request(head, sizeof(head), 512, &r), -431);
    char many[4096];
    n = snprintf(many, sizeof(many), "GET / HTTP/1.1\r\nHost: a\r\n");
    for (int i = 0; i < HTTP_MAX_FIELDS; i++) {
        n += snprintf(many + n, sizeof(many) - (size_t)n, "X%d: y\r\n", i);
    }
    n += snprintf(many + n, sizeof(many) - (size_t)n, "\r\n");
    ASSERT_EQ(http_parse_request(many, (size_t)n, sizeof(many), &r), -431);
    return 0;
}

/* Decode s in one piece and byte by byte; both must agree. */
static ssize_t
chunked(const char *s, char *out, size_t cap, size_t *len, int *done)
{
    struct http_chunked c = {0}, d = {0};
    char other[256];
    size_t olen = 0;
    int odone = 0;
    *len = 0;
    ssize_t r = http_chunked_decode(&c, s, strlen(s), out, cap, len, done), q = 0;
    for (size_t i = 0; s[i] && !odone; i++) {
        ssize_t k = http_chunked_decode(&d, s + i, 1, other, cap, &olen, &odone);
        if (k < 0) {
            q = k;
            break;
        }
        q += k;
    }
    if (q != r || (r >= 0 && (olen != *len || odone != *done || memcmp(out, other, olen)))) {
        return -1;
    }
    return r;
}

int
test_http_chunked(void)
{
    char out[256];
    size_t len;
    int done;
    const char *a = "5\r\nHello\r\n8;ext=1\r\n, World!\r\n0\r\nX-T: 1\r\n\r\nNEXT";
    ASSERT_EQ(chunked(a, out, sizeof(out), &len, &done), strlen(a) - 4);
    ASSERT_EQ(done, 1);
    ASSERT_EQ(len, 13);
    ASSERT_OK(memcmp(out, "Hello, World!", 13));
    ASSERT_EQ(chunked("A\nabcdefghij\n0\n\n", out, sizeof(out), &len, &done), 16);
    ASSERT_EQ(len, 10);
    ASSERT_EQ(chunked("3\r\nab", out, sizeof(out), &len, &done), 5); /* needs more */
    ASSERT_EQ(done, 0);
    ASSERT_EQ(chunked("x\r\n", out, sizeof(out), &len, &done), -400);
    ASSERT_EQ(chunked("3\r\nabcX\r\n", out, sizeof(out), &len, &done), -400);
    ASSERT_EQ(chunked("3\rX", out, sizeof(out), &len, &done), -400);
    ASSERT_EQ(chunked("0\r\n\rX", out, sizeof(out), &len, &done), -400);
    ASSERT_EQ(chunked("fffffffffffffffff\r\n", out, sizeof(out), &len, &done), -413);
    ASSERT_EQ(chunked("101\r\n", out, sizeof(out), &len, &done), -413); /* 257 > 256 */
    ASSERT_EQ(chunked("100\r\n", out, sizeof(out), &len, &done), 5);    /* 256 fits */
    return 0;
}

int
test_http_path_decode(void)
{
    static const struct {
        const char *target;
        const char *path; /* NULL: rejected with status */
        int status;
    } cases[] = {
        {"/", "", 0},
        {"/a/b.txt?q=../..", "a/b.txt", 0},
        {"//a///b/", "a/b/", 0},
        {"/%41%20b", "A b", 0},
        {"/a..b/c.", "a..b/c.", 0},
        {"/..", NULL, -400},
        {"/a/../../etc/passwd", NULL, -400},
        {"/a/./b", NULL, -400},
        {"/%2e%2e/x", NULL, -400},
        {"/.%2e/x", NULL, -400},
        {"/a%2fb", NULL, -400},
        {"/a%2F..%2Fb", NULL, -400},
        {"/a%00b", NULL, -400},
        {"/a%5cb", NULL, -400},
        {"/a\\b", NULL, -400},
        {"/a%zz", NULL, -400},
        {"/a%2", NULL, -400},
        {"a", NULL, -400},
    };
    char out[64];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int r = http_decode_path(cases[i].target, strlen(cases[i].target), out, sizeof(out));
        if (cases[i].path) {
            ASSERT_GE(r, 0);
            ASSERT_STR_EQ(out, cases[i].path);
        } else {
            ASSERT_EQ(r, cases[i].status);
        }
    }
    char longp[100];
    memset(longp, 'a', sizeof(longp));
    longp[0] = '/';
    ASSERT_EQ(http_decode_path(longp, sizeof(longp), out, sizeof(out)), -414);
    return 0;
}

/* --- a client -------------------------------------------------------------- */

struct client {
    int fd;
    size_t len;
    char buf[16384];
};

struct response {
    int status;
    int close;       /* Connection: close */
    long length;
    char allow[64];
    char body[8192];
};

static struct client *
client_open(int port)
{
    sp_addr_t a;
    if (sp_addr_ip(&a, "127.0.0.1", port) < 0) {
        return NULL;
    }
    struct client *c = calloc(1, sizeof(*c));
    if (!c || (c->fd = sp_tcp_connect(&a)) < 0) {
        free(c);
        return NULL;
    }
    return c;
}

static void
client_close(struct client *c)
{
    if (c) {
        sp_close(c->fd);
        free(c);
    }
}

static int
client_send(struct client *c, const char *s)
{
    size_t n = strlen(s);
    return sp_sock_send_all(c->fd, s, n, NULL) == (ssize_t)n ? 0 : -1;
}

/* Receive more; 0 at end of stream (or reset): the server closed. */
static ssize_t
client_fill(struct client *c)
{
    if (c->len == sizeof(c->buf)) {
        return -ENOBUFS;
    }
    ssize_t n = sp_sock_recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n == -ECONNRESET) {
        return 0;
    }
    if (n > 0) {
        c->len += (size_t)n;
    }
    return n;
}

/* Is the connection closed by the server (after any bytes it sent)? */
static int
client_sees_close(struct client *c)
{
    ssize_t n;
    while ((n = client_fill(c)) > 0) {
        c->len = 0;
    }
    return n == 0;
}

static const char *
find_field(const char *head, const char *name)
{
    const char *p = strcasestr(head, name);
    return p ? p + strlen(name) : NULL;
}

/* Read one response (head_only: a reply to HEAD, no body). 0 or -1. */
static int
client_response(struct client *c, struct response *r, int head_only)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        if (client_fill(c) <= 0) {
            return -1;
        }
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    char head[4096];
    if (hlen >= sizeof(head) || sscanf(c->buf, "HTTP/1.1 %d", &r->status) != 1) {
        return -1;
    }
    memcpy(head, c->buf, hlen);
    head[hlen] = '\0';
    const char *v = find_field(head, "\r\nContent-Length: ");
    r->length = v ? atol(v) : -1;
    v = find_field(head, "\r\nConnection: ");
    r->close = v && strncmp(v, "close", 5) == 0;
    v = find_field(head, "\r\nAllow: ");
    r->allow[0] = '\0';
    if (v) {
        snprintf(r->allow, sizeof(r->allow), "%.*s", (int)strcspn(v, "\r"), v);
    }
    size_t blen = head_only || r->length < 0 ? 0 : (size_t)r->length;
    if (blen >= sizeof(r->body)) {
        return -1;
    }
    while (c->len < hlen + blen) {
        if (client_fill(c) <= 0) {
            return -1;
        }
    }
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return 0;
}

/* One request on a fresh connection; the response's status. */
static int
status_of(int port, const char *req)
{
    struct client *c = client_open(port);
    struct response *r = malloc(sizeof(*r));
    int st = -1;
    if (c && r && client_send(c, req) == 0 && client_response(c, r, 0) == 0) {
        st = r->status;
    }
    free(r);
    client_close(c);
    return st;
}

/* --- the server ------------------------------------------------------------ */

static struct httpd_config
test_http_config(void)
{
    struct httpd_config cfg;
    httpd_config_init(&cfg);
    cfg.ip = "127.0.0.1";
    cfg.port = 0;
    cfg.quiet = 1;
    return cfg;
}

struct server_test {
    struct httpd_config cfg;
    int (*body)(struct httpd *srv, struct server_test *t);
    struct httpd_stats stats;
    char root[PATH_MAX];
};

static intptr_t
server_main(void *arg)
{
    struct server_test *t = arg;
    struct httpd *srv;
    ASSERT_OK(httpd_start(&srv, &t->cfg));
    ASSERT_GT(httpd_port(srv), 0);
    int r = t->body(srv, t);
    httpd_stop(srv);
    httpd_wait(srv, &t->stats);
    return r;
}

static int
run_server_test(struct server_test *t)
{
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, server_main, t);
}

#define REQ(path) "GET " path " HTTP/1.1\r\nHost: t\r\n\r\n"

static int
keepalive_body(struct httpd *srv, struct server_test *t)
{
    (void)t;
    struct client *c = client_open(httpd_port(srv));
    struct response *r = malloc(sizeof(*r));
    ASSERT_NOT_NULL(c);
    ASSERT_NOT_NULL(r);
    /* Three requests in one send, answered in order on one connection. */
    ASSERT_OK(client_send(c, REQ("/hello") "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n"
                             REQ("/hello?again")));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->length, 13);
    ASSERT_STR_EQ(r->body, "Hello, World!");
    ASSERT_EQ(r->close, 0);
    ASSERT_OK(client_response(c, r, 1));
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->length, 13);
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_STR_EQ(r->body, "Hello, World!");
    /* Many more, pipelined 50 deep, then a sequential one. */
    char *many = malloc(50 * 40 + 1);
    many[0] = '\0';
    for (int i = 0; i < 50; i++) {
        strcat(many, REQ("/hello"));
    }
    ASSERT_OK(client_send(c, many));
    free(many);
    for (int i = 0; i < 50; i++) {
        ASSERT_OK(client_response(c, r, 0));
        ASSERT_EQ(r->status, 200);
    }
    ASSERT_OK(client_send(c, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->close, 1);
    ASSERT(client_sees_close(c));
    client_close(c);
    /* HTTP/1.0: closed after one response unless keep-alive is asked. */
    c = client_open(httpd_port(srv));
    ASSERT_OK(client_send(c, "GET /hello HTTP/1.0\r\n\r\n"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->close, 1);
    ASSERT(client_sees_close(c));
    client_close(c);
    c = client_open(httpd_port(srv));
    ASSERT_OK(client_send(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                             "GET /hello HTTP/1.0\r\n\r\n"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->close, 0);
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->close, 1);
    ASSERT(client_sees_close(c));
    client_close(c);
    free(r);
    return 0;
}

int
test_http_keepalive_pipeline(void)
{
    struct server_test t = {.cfg = test_http_config(), .body = keepalive_body};
    TEST_CHECK(run_server_test(&t));
    ASSERT_U64_EQ(t.stats.requests, 57);
    ASSERT_U64_EQ(t.stats.status[2], 57);
    return 0;
}

static int
bodies_body(struct httpd *srv, struct server_test *t)
{
    (void)t;
    struct client *c = client_open(httpd_port(srv));
    struct response *r = malloc(sizeof(*r));
    ASSERT_NOT_NULL(c);
    /* Content-Length, sent in two pieces. */
    ASSERT_OK(client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello"));
    ASSERT_OK(client_send(c, " world"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 200);
    ASSERT_STR_EQ(r->body, "hello world");
    /* Chunked, with an extension and a trailer, pipelined with a GET. */
    ASSERT_OK(client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\nT: 1\r\n\r\n" REQ("/hello")));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_STR_EQ(r->body, "Wikipedia");
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_STR_EQ(r->body, "Hello, World!");
    /* A body on a method the resource refuses: read, 405, still usable. */
    ASSERT_OK(client_send(c, "POST /hello HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc"
                             "PUT /hello HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nabc\r\n0\r\n\r\n" REQ("/echo") REQ("/hello")));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 405);
    ASSERT_STR_EQ(r->allow, "GET, HEAD");
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 405);
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 405);
    ASSERT_STR_EQ(r->allow, "POST");
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->close, 0);
    /* Too large (max_body is 64 here): 413 and closed, by length or by
     * the chunks themselves. */
    ASSERT_OK(client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 65\r\n\r\n"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 413);
    ASSERT_EQ(r->close, 1);
    ASSERT(client_sees_close(c));
    client_close(c);
    c = client_open(httpd_port(srv));
    ASSERT_OK(client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "40\r\n"));
    char chunk[65];
    memset(chunk, 'x', 64);
    chunk[64] = '\0';
    ASSERT_OK(client_send(c, chunk));
    ASSERT_OK(client_send(c, "\r\n1\r\ny\r\n0\r\n\r\n"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 413);
    ASSERT(client_sees_close(c));
    client_close(c);
    c = client_open(httpd_port(srv));
    ASSERT_OK(client_send(c, "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "zz\r\n"));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 400);
    ASSERT(client_sees_close(c));
    client_close(c);
    free(r);
    return 0;
}

int
test_http_bodies(void)
{
    struct server_test t = {.cfg = test_http_config(), .body = bodies_body};
    t.cfg.max_body = 64;
    return run_server_test(&t);
}

static int
statuses_body(struct httpd *srv, struct server_test *t)
{
    (void)t;
    int port = httpd_port(srv);
    ASSERT_EQ(status_of(port, "GET /hello HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET /hello HTTP/1.1\r\nHost: a\r\n b\r\n\r\n"), 400);
    ASSERT_EQ(status_of(port, "GET /nothing HTTP/1.1\r\nHost: a\r\n\r\n"), 404);
    ASSERT_EQ(status_of(port, "DELETE /hello HTTP/1.1\r\nHost: a\r\n\r\n"), 405);
    ASSERT_EQ(status_of(port, "GET /hello HTTP/3.0\r\nHost: a\r\n\r\n"), 505);
    ASSERT_EQ(status_of(port, "GET /hello HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n"),
              501);
    ASSERT_EQ(status_of(port, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n"),
              413);
    /* A head past max_head (1 KiB here), sent in pieces: 431; a request
     * line alone past it: 414. */
    struct client *c = client_open(port);
    struct response *r = malloc(sizeof(*r));
    ASSERT_OK(client_send(c, "GET /hello HTTP/1.1\r\nHost: a\r\n"));
    for (int i = 0; i < 40; i++) {
        ASSERT_OK(client_send(c, "X-Padding: 0123456789012345678901234567890123456789\r\n"));
    }
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 431);
    ASSERT_EQ(r->close, 1);
    ASSERT(client_sees_close(c));
    client_close(c);
    char line[1200];
    memset(line, 'a', sizeof(line));
    memcpy(line, "GET /", 5);
    line[sizeof(line) - 1] = '\0';
    ASSERT_EQ(status_of(port, line), 414);
    free(r);
    return 0;
}

int
test_http_status_codes(void)
{
    struct server_test t = {.cfg = test_http_config(), .body = statuses_body};
    t.cfg.max_head = 1024;
    TEST_CHECK(run_server_test(&t));
    ASSERT_U64_EQ(t.stats.status[4], 7);
    ASSERT_U64_EQ(t.stats.status[5], 2);
    return 0;
}

/* --- static files ------------------------------------------------------------ */

static int
make_root(char *root, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, size, "%s/spindle-http-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(root)) {
        return -1;
    }
    char p[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/www", root);
    mkdir(p, 0755);
    snprintf(p, sizeof(p), "%s/www/sub", root);
    mkdir(p, 0755);
    static const struct {
        const char *name, *text;
    } files[] = {
        {"secret.txt", "outside\n"},
        {"www/index.html", "<p>index</p>\n"},
        {"www/a.txt", "plain text\n"},
        {"www/sub/b.css", "b{}\n"},
        {"www/.hidden", "dot\n"},
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", root, files[i].name);
        FILE *f = fopen(p, "w");
        if (!f) {
            return -1;
        }
        fputs(files[i].text, f);
        fclose(f);
    }
    char target[PATH_MAX + 64];
    snprintf(p, sizeof(p), "%s/www/out", root);
    snprintf(target, sizeof(target), "%s/secret.txt", root);
    if (symlink(target, p) < 0) { /* absolute, out of the root */
        return -1;
    }
    snprintf(p, sizeof(p), "%s/www/up", root);
    if (symlink("../secret.txt", p) < 0) { /* relative, out of the root */
        return -1;
    }
    snprintf(p, sizeof(p), "%s/www/updir", root);
    if (symlink("..", p) < 0) {
        return -1;
    }
    snprintf(p, sizeof(p), "%s/www/in", root);
    if (symlink("sub/b.css", p) < 0) { /* stays inside: served */
        return -1;
    }
    snprintf(p, sizeof(p), "%s/www", root);
    strcat(root, "/www");
    return 0;
}

static void
remove_root(const char *www)
{
    char cmd[PATH_MAX + 32];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s/..'", www);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", www);
    }
}

static int
static_body(struct httpd *srv, struct server_test *t)
{
    (void)t;
    int port = httpd_port(srv);
    struct client *c = client_open(port);
    struct response *r = malloc(sizeof(*r));
    ASSERT_NOT_NULL(c);
    ASSERT_OK(client_send(c, REQ("/a.txt") REQ("/") REQ("/sub/b.css") REQ("/in")
                             "HEAD /a.txt HTTP/1.1\r\nHost: t\r\n\r\n" REQ("/sub")));
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 200);
    ASSERT_STR_EQ(r->body, "plain text\n");
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_STR_EQ(r->body, "<p>index</p>\n");
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_STR_EQ(r->body, "b{}\n");
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_STR_EQ(r->body, "b{}\n");
    ASSERT_OK(client_response(c, r, 1));
    ASSERT_EQ(r->length, 11);
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 404); /* a directory without index.html */
    client_close(c);
    /* Escapes: every one refused, none reads secret.txt. */
    static const struct {
        const char *path;
        int status;
    } esc[] = {
        {"/../secret.txt", 400},       {"/sub/../../secret.txt", 400},
        {"/%2e%2e/secret.txt", 400},   {"/%2E%2e%2fsecret.txt", 400},
        {"/sub%2f..%2f..%2fsecret.txt", 400}, {"/a.txt%00.html", 400},
        {"/..%5csecret.txt", 400},     {"/out", 404},
        {"/up", 404},                  {"/updir/secret.txt", 404},
        {"/.hidden", 404},             {"/nope.txt", 404},
    };
    for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
        char req[256];
        snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: t\r\n\r\n", esc[i].path);
        int st = status_of(port, req);
        if (st != esc[i].status) {
            fprintf(stderr, "path %s\n", esc[i].path);
        }
        ASSERT_EQ(st, esc[i].status);
    }
    ASSERT_EQ(status_of(port, "POST /a.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"), 405);
    free(r);
    return 0;
}

int
test_http_static_files(void)
{
    struct server_test t = {.cfg = test_http_config(), .body = static_body};
    if (make_root(t.root, sizeof(t.root)) < 0) {
        fprintf(stderr, "cannot make a root directory\n");
        return TEST_FAIL;
    }
    t.cfg.root = t.root;
    int r = run_server_test(&t);
    remove_root(t.root);
    return r;
}

/* --- timeouts, limit, stop ------------------------------------------------------ */

static int
timeouts_body(struct httpd *srv, struct server_test *t)
{
    (void)t;
    int port = httpd_port(srv);
    /* Idle: a connection that never sends is closed. */
    struct client *idle = client_open(port);
    ASSERT_NOT_NULL(idle);
    /* Header: half a request, then nothing. */
    struct client *half = client_open(port);
    ASSERT_OK(client_send(half, "GET /hello HTTP/1.1\r\nHo"));
    /* Slowloris: a byte of header at a time, well inside the idle timeout
     * each, never ending the head: the header timeout still cuts it. */
    struct client *slow = client_open(port);
    ASSERT_OK(client_send(slow, "GET /hello HTTP/1.1\r\n"));
    for (;;) {
        sp_sleep_ns(20 * SP_NSEC_PER_MSEC);
        if (sp_sock_send(slow->fd, "X", 1, 0) != 1) {
            break; /* -EPIPE / -ECONNRESET: cut off */
        }
        struct pollfd pf = {slow->fd, POLLIN | POLLRDHUP, 0};
        if (poll(&pf, 1, 0) == 1) {
            break; /* closed (or reset) by the server */
        }
    }
    ASSERT(client_sees_close(slow));
    ASSERT(client_sees_close(half));
    ASSERT(client_sees_close(idle));
    /* A keep-alive connection after one answer: idle again, then closed. */
    struct client *ka = client_open(port);
    struct response *r = malloc(sizeof(*r));
    ASSERT_OK(client_send(ka, REQ("/hello")));
    ASSERT_OK(client_response(ka, r, 0));
    ASSERT_EQ(r->status, 200);
    ASSERT(client_sees_close(ka));
    client_close(idle);
    client_close(half);
    client_close(slow);
    client_close(ka);
    free(r);
    return 0;
}

int
test_http_timeouts(void)
{
    struct server_test t = {.cfg = test_http_config(), .body = timeouts_body};
    /* Short, but long enough that a request sent at once is always
     * answered within them, even in a sanitized build on a busy machine. */
#ifdef SP_TEST_SANITIZED
    uint64_t unit = 1000 * SP_NSEC_PER_MSEC;
#else
    uint64_t unit = 250 * SP_NSEC_PER_MSEC;
#endif
    t.cfg.header_timeout_ns = unit * 3 / 2;
    t.cfg.idle_timeout_ns = unit;
    TEST_CHECK(run_server_test(&t));
    ASSERT_U64_GE(t.stats.timeouts, 4);
    return 0;
}

static int
limit_body(struct httpd *srv, struct server_test *t)
{
    (void)t;
    int port = httpd_port(srv);
    struct response *r = malloc(sizeof(*r));
    struct client *a = client_open(port), *b = client_open(port);
    ASSERT_NOT_NULL(a);
    ASSERT_NOT_NULL(b);
    /* Both are being served once each has an answer. */
    ASSERT_OK(client_send(a, REQ("/hello")));
    ASSERT_OK(client_response(a, r, 0));
    ASSERT_OK(client_send(b, REQ("/hello")));
    ASSERT_OK(client_response(b, r, 0));
    /* A third is accepted, told 503, and closed. */
    struct client *c = client_open(port);
    ASSERT_NOT_NULL(c);
    ASSERT_OK(client_response(c, r, 0));
    ASSERT_EQ(r->status, 503);
    ASSERT(client_sees_close(c));
    client_close(c);
    /* a and b are still served. */
    ASSERT_OK(client_send(a, REQ("/hello")));
    ASSERT_OK(client_response(a, r, 0));
    ASSERT_EQ(r->status, 200);
    /* Once a closes (the server sees it and frees its permit: wait for
     * the close to be seen from our side first), a new one is served. */
    ASSERT_OK(client_send(a, "GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"));
    ASSERT_OK(client_response(a, r, 0));
    ASSERT(client_sees_close(a));
    client_close(a);
    int served = 0;
    for (int i = 0; i < 1000 && !served; i++) {
        c = client_open(port);
        ASSERT_NOT_NULL(c);
        (void)client_send(c, REQ("/hello")); /* a 503 may reset it first */
        if (client_response(c, r, 0) == 0 && r->status == 200) {
            served = 1;
        } else {
            sp_sleep_ns(SP_NSEC_PER_MSEC); /* the server has not freed a's permit yet */
        }
        client_close(c);
    }
    ASSERT(served);
    client_close(b);
    free(r);
    return 0;
}

int
test_http_conn_limit(void)
{
    struct server_test t = {.cfg = test_http_config(), .body = limit_body};
    t.cfg.max_conns = 2;
    TEST_CHECK(run_server_test(&t));
    ASSERT_U64_GE(t.stats.refused, 1);
    return 0;
}

/* The graceful stop: an idle connection is closed, a request in flight is
 * finished with Connection: close, no new connection is accepted. */
struct stop_test {
    struct httpd *srv;
    sp_event_t stopping;
};

static intptr_t
stop_task(void *arg)
{
    struct stop_test *s = arg;
    httpd_stop(s->srv);
    sp_event_set(&s->stopping);
    return 0;
}

static intptr_t
stop_main(void *arg)
{
    struct server_test *t = arg;
    struct httpd *srv;
    struct stop_test s;
    ASSERT_OK(httpd_start(&srv, &t->cfg));
    int port = httpd_port(srv);
    struct response *r = malloc(sizeof(*r));
    struct client *idle = client_open(port), *busy = client_open(port);
    ASSERT_OK(client_send(idle, REQ("/hello")));
    ASSERT_OK(client_response(idle, r, 0)); /* served, now idle */
    ASSERT_OK(client_send(busy, "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nab"));
    sp_sleep_ns(20 * SP_NSEC_PER_MSEC); /* let the server read the head (not needed to pass) */
    s.srv = srv;
    sp_event_init(&s.stopping);
    sp_task_t h;
    ASSERT_OK(sp_task_spawn(&h, NULL, stop_task, &s));
    ASSERT_OK(sp_event_wait(&s.stopping));
    ASSERT(client_sees_close(idle));
    /* The listeners are closed: a new connection is refused. */
    sp_addr_t a;
    sp_addr_ip(&a, "127.0.0.1", port);
    int fd = sp_tcp_connect(&a);
    ASSERT_LT(fd, 0);
    /* The request in flight completes, and then the connection closes. */
    ASSERT_OK(client_send(busy, "cd"));
    int ok = client_response(busy, r, 0);
    if (ok == 0) {
        ASSERT_STR_EQ(r->body, "abcd");
        ASSERT_EQ(r->close, 1);
    }
    ASSERT(client_sees_close(busy));
    ASSERT_OK(sp_task_join(h, NULL));
    httpd_wait(srv, &t->stats);
    sp_event_destroy(&s.stopping);
    client_close(idle);
    client_close(busy);
    free(r);
    return 0;
}

int
test_http_graceful_stop(void)
{
    struct server_test t = {.cfg = test_http_config()};
    sp_config_t cfg = test_config(2);
    TEST_CHECK(test_run_main(&cfg, stop_main, &t));
    ASSERT_U64_EQ(t.stats.accepted, 2);
    return 0;
}
