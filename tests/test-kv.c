/* examples/kv: the protocol parser, the store's semantics through a session
 * over one partition (no runtime), and the server end to end on an
 * ephemeral loopback port in both architectures with two shards, so that
 * keys live on both shards (sharded: cross-shard calls; shared: two
 * threads on the striped table).
 *
 * Each script step is bytes in, exact bytes out, as memcached 1.6 answers
 * them. Expiry is tested by moving the store's clock (kv_clock_advance),
 * never by sleeping; the idle-timeout test waits for the server's reaper,
 * bounded by a deadline whose expiry means the reaper failed. */
#include "test.h"

#include <sys/socket.h>

#include "../examples/kv/server.h"
#include "../examples/kv/session.h"

/* --- parser ----------------------------------------------------------------- */

static int
parse(const char *line, struct kv_cmd *cmd)
{
    return kv_parse_line(line, strlen(line), 1024, cmd);
}

int
test_kv_parse_commands(void)
{
    struct kv_cmd c;
    ASSERT_EQ(parse("set k 5 10 3", &c), KV_OK);
    ASSERT_EQ(c.kind, KV_CMD_SET);
    ASSERT_EQ(c.flags, 5);
    ASSERT_EQ(c.exptime, 10);
    ASSERT_EQ(c.bytes, 3);
    ASSERT_EQ(c.noreply, 0);
    ASSERT_EQ(parse("  set   k 0 -1 3   noreply ", &c), KV_OK);
    ASSERT_EQ(c.noreply, 1);
    ASSERT_EQ(c.exptime, -1);
    ASSERT_EQ(parse("cas k 0 0 3 77", &c), KV_OK);
    ASSERT_EQ(c.cas, 77);
    ASSERT_EQ(parse("set k 0 0 2000", &c), KV_ERR_TOO_LARGE);
    ASSERT_EQ(c.bytes, 2000);
    ASSERT_EQ(parse("set k 0 0", &c), KV_ERR_UNKNOWN);
    ASSERT_EQ(parse("set k 0 0 3 noreply extra", &c), KV_ERR_UNKNOWN);
    ASSERT_EQ(parse("set k x 0 3", &c), KV_ERR_FORMAT);
    ASSERT_EQ(parse("set k 4294967296 0 3", &c), KV_ERR_FORMAT);
    ASSERT_EQ(parse("set k 0 0 -1", &c), KV_ERR_FORMAT);
    char longkey[300];
    memset(longkey, 'k', sizeof(longkey));
    memcpy(longkey, "get ", 4);
    longkey[4 + 251] = '\0';
    ASSERT_EQ(parse(longkey, &c), KV_ERR_FORMAT);
    longkey[4 + 250] = '\0';
    ASSERT_EQ(parse(longkey, &c), KV_OK);
    ASSERT_EQ(parse("get a\tb", &c), KV_ERR_FORMAT);
    ASSERT_EQ(parse("get a b  c", &c), KV_OK);
    ASSERT_EQ(c.nkeys, 3);
    ASSERT_EQ(parse("get", &c), KV_ERR_UNKNOWN);
    ASSERT_EQ(parse("gat 10 a b", &c), KV_OK);
    ASSERT_EQ(c.exptime, 10);
    ASSERT_EQ(c.nkeys, 2);
    ASSERT_EQ(parse("gat x a", &c), KV_ERR_EXPTIME);
    ASSERT_EQ(parse("incr k x", &c), KV_ERR_DELTA);
    ASSERT_EQ(parse("incr k 18446744073709551616", &c), KV_ERR_DELTA);
    ASSERT_EQ(parse("incr k 18446744073709551615", &c), KV_OK);
    ASSERT_EQ(parse("touch k x", &c), KV_ERR_EXPTIME);
    ASSERT_EQ(parse("delete k 0 noreply", &c), KV_OK);
    ASSERT_EQ(c.noreply, 1);
    ASSERT_EQ(parse("delete k 5", &c), KV_ERR_FORMAT);
    ASSERT_EQ(parse("flush_all 10 noreply", &c), KV_OK);
    ASSERT_EQ(c.exptime, 10);
    ASSERT_EQ(parse("flush_all x", &c), KV_ERR_FORMAT);
    ASSERT_EQ(parse("verbosity", &c), KV_ERR_UNKNOWN);
    ASSERT_EQ(parse("version", &c), KV_OK);
    ASSERT_EQ(parse("", &c), KV_ERR_UNKNOWN);
    ASSERT_EQ(parse("GET k", &c), KV_ERR_UNKNOWN);
    ASSERT(kv_line_is_retrieval(" gets a", 7));
    ASSERT(!kv_line_is_retrieval("set a", 5));
    return TEST_PASS;
}

/* --- scripts ---------------------------------------------------------------- */

struct step {
    const char *in;
    const char *out;
    int64_t advance;     /* move the store's clock first, seconds */
};

/* Replies that do not depend on cas values or timing; run by the session
 * test and by the end-to-end tests. */
static const struct step script[] = {
    {"set a 5 0 3\r\nabc\r\n", "STORED\r\n", 0},
    {"get a\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n", 0},
    {"get a missing a\n", "VALUE a 5 3\r\nabc\r\nVALUE a 5 3\r\nabc\r\nEND\r\n", 0},
    {"add a 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 0},
    {"add b 0 0 1\r\nx\r\n", "STORED\r\n", 0},
    {"replace c 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 0},
    {"replace b 7 0 2\r\nyy\r\n", "STORED\r\n", 0},
    {"append b 0 0 2\r\nzz\r\nprepend b 0 0 1\r\n_\r\nget b\r\n",
     "STORED\r\nSTORED\r\nVALUE b 7 5\r\n_yyzz\r\nEND\r\n", 0},
    {"append nope 0 0 1\r\nx\r\n", "NOT_STORED\r\n", 0},
    {"cas nope 0 0 1 1\r\nx\r\n", "NOT_FOUND\r\n", 0},
    {"cas a 0 0 1 1\r\nx\r\n", "EXISTS\r\n", 0},
    {"delete b\r\ndelete b\r\n", "DELETED\r\nNOT_FOUND\r\n", 0},
    {"set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\ndecr n 100\r\n",
     "STORED\r\n15\r\n12\r\n0\r\n", 0},
    {"set n 0 0 20\r\n18446744073709551615\r\nincr n 2\r\n", "STORED\r\n1\r\n", 0},
    {"incr a 1\r\n", "CLIENT_ERROR cannot increment or decrement non-numeric value\r\n", 0},
    {"incr nope 1\r\n", "NOT_FOUND\r\n", 0},
    {"incr n abc\r\n", "CLIENT_ERROR invalid numeric delta argument\r\n", 0},
    {"set q 0 0 1 noreply\r\nq\r\nget q\r\n", "VALUE q 0 1\r\nq\r\nEND\r\n", 0},
    {"delete q noreply\r\nincr q 1 noreply\r\nget q\r\n", "END\r\n", 0},
    {"touch a 100\r\ntouch nope 100\r\n", "TOUCHED\r\nNOT_FOUND\r\n", 0},
    {"gat 0 a nope\r\n", "VALUE a 5 3\r\nabc\r\nEND\r\n", 0},
    /* expiry: relative, negative, absolute in the past */
    {"set e 0 2 1\r\ne\r\nget e\r\n", "STORED\r\nVALUE e 0 1\r\ne\r\nEND\r\n", 0},
    {"get e\r\n", "END\r\n", 3},
    {"set e 0 -1 1\r\ne\r\nget e\r\n", "STORED\r\nEND\r\n", 0},
    {"set e 0 2592001 1\r\ne\r\nget e\r\n", "STORED\r\nEND\r\n", 0},
    {"set e 0 100 1\r\ne\r\ntouch e 1\r\n", "STORED\r\nTOUCHED\r\n", 0},
    {"get e\r\n", "END\r\n", 2},
    /* malformed input: the connection stays usable */
    {"bogus\r\n\r\nGET a\r\n", "ERROR\r\nERROR\r\nERROR\r\n", 0},
    {"set a 0 0\r\n", "ERROR\r\n", 0},
    {"set a x 0 1\r\n", "CLIENT_ERROR bad command line format\r\n", 0},
    {"get a\tb\r\n", "CLIENT_ERROR bad command line format\r\n", 0},
    {"set d 0 0 2\r\nabcd\r\n", "CLIENT_ERROR bad data chunk\r\nERROR\r\n", 0},
    {"touch a x\r\n", "CLIENT_ERROR invalid exptime argument\r\n", 0},
    {"delete a 5\r\n", "CLIENT_ERROR bad command line format\r\n", 0},
    /* a value over the item limit (1024 here) is refused, swallowed, and
     * the old value dropped */
    {"set big 0 0 1\r\nb\r\nset big 0 0 5000\r\n", "STORED\r\nSERVER_ERROR object too large for cache\r\n", 0},
    {NULL, NULL, 5000}, /* 5000 + 2 bytes of value, sent by the runner */
    {"get big\r\n", "END\r\n", 0},
    {"verbosity 1\r\nverbosity 1 noreply\r\nversion\r\n",
     "OK\r\nVERSION 1.6.0-spindle-kv\r\n", 0},
    {"flush_all\r\nget a n\r\n", "OK\r\nEND\r\n", 0},
    {"set f 0 0 1\r\nf\r\nflush_all 10\r\nget f\r\n", "STORED\r\nOK\r\nVALUE f 0 1\r\nf\r\nEND\r\n", 0},
    {"get f\r\n", "END\r\n", 11},
    {"stats nonsense\r\n", "ERROR\r\n", 0},
};

#define NSTEPS (sizeof(script) / sizeof(script[0]))

/* The big value's bytes: 5000 'v' then "\r\n". */
static char big_value[5002];

static void
fill_big(void)
{
    memset(big_value, 'v', 5000);
    memcpy(big_value + 5000, "\r\n", 2);
}

/* Feed in into a session in pieces of `chunk` bytes; append the replies. */
static int
feed(struct kv_session *s, const char *in, size_t len, size_t chunk, char *pending,
     size_t *npending)
{
    for (size_t pos = 0; pos < len;) {
        size_t n = len - pos < chunk ? len - pos : chunk;
        memcpy(pending + *npending, in + pos, n);
        *npending += n;
        pos += n;
        size_t used = kv_session_feed(s, pending, *npending);
        ASSERT(used <= *npending);
        *npending -= used;
        memmove(pending, pending + used, *npending);
    }
    return 0;
}

static int
run_session_script(size_t chunk)
{
    struct kv_engine_local eng;
    ASSERT_OK(kv_engine_local_init(&eng, 1 << 20, 1024));
    struct kv_session s;
    kv_session_init(&s, &eng.e, 8192);
    char pending[16384];
    size_t npending = 0;
    for (size_t i = 0; i < NSTEPS; i++) {
        kv_clock_advance(script[i].advance * (script[i].in != NULL));
        const char *in = script[i].in ? script[i].in : big_value;
        size_t len = script[i].in ? strlen(in) : sizeof(big_value);
        ASSERT_OK(feed(&s, in, len, chunk, pending, &npending));
        const char *want = script[i].out ? script[i].out : "";
        if (s.out.len != strlen(want) || memcmp(s.out.buf, want, s.out.len) != 0) {
            fprintf(stderr, "step %zu (chunk %zu): sent %.40s\n got \"%.*s\"\n want \"%s\"\n",
                    i, chunk, in, (int)s.out.len, s.out.buf ? s.out.buf : "", want);
            return TEST_FAIL;
        }
        s.out.len = 0;
    }
    ASSERT_EQ(npending, 0);
    ASSERT_EQ(s.state, KV_S_LINE);
    /* quit closes; a line past the limit closes with an error */
    ASSERT_OK(feed(&s, "quit\r\n", 6, chunk, pending, &npending));
    ASSERT_EQ(s.state, KV_S_CLOSE);
    kv_session_destroy(&s);
    kv_engine_local_destroy(&eng);
    return TEST_PASS;
}

int
test_kv_session_script(void)
{
    fill_big();
    size_t chunks[] = {1, 3, 7, 64, 100000};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        TEST_CHECK(run_session_script(chunks[i]));
    }
    return TEST_PASS;
}

int
test_kv_session_limits(void)
{
    struct kv_engine_local eng;
    ASSERT_OK(kv_engine_local_init(&eng, 1 << 20, 1024));
    struct kv_session s;
    kv_session_init(&s, &eng.e, 4096);
    /* A non-retrieval line past KV_LINE_MAX without its end: closed with an
     * error before it is complete (nothing unbounded is kept). */
    static char line[8192];
    memset(line, 'x', sizeof(line));
    memcpy(line, "set ", 4);
    ASSERT_EQ(kv_session_feed(&s, line, KV_LINE_MAX + 1), 0);
    ASSERT_EQ(s.state, KV_S_CLOSE);
    ASSERT_EQ(s.out.len, strlen("CLIENT_ERROR line too long\r\n"));
    kv_session_destroy(&s);
    /* A get line may be longer, up to line_max. */
    kv_session_init(&s, &eng.e, 4096);
    memcpy(line, "get ", 4);
    for (int i = 4; i < 3000; i += 2) {
        line[i] = 'k';
        line[i + 1] = ' ';
    }
    memcpy(line + 3000, "\r\n", 2);
    ASSERT_EQ(kv_session_feed(&s, line, 3002), 3002);
    ASSERT_EQ(s.state, KV_S_LINE);
    ASSERT_EQ(s.out.len, 5); /* END */
    s.out.len = 0;
    memset(line + 3000, 'k', 2000); /* no line end within 4096 bytes */
    ASSERT_EQ(kv_session_feed(&s, line, 4097), 0);
    ASSERT_EQ(s.state, KV_S_CLOSE);
    kv_session_destroy(&s);
    /* A huge declared value is swallowed as it arrives, not stored. */
    kv_session_init(&s, &eng.e, 4096);
    const char *cmd = "set h 0 0 100000000\r\n";
    ASSERT_EQ(kv_session_feed(&s, cmd, strlen(cmd)), strlen(cmd));
    ASSERT_EQ(s.state, KV_S_SWALLOW);
    for (int i = 0; i < 100000000 / 8192; i++) {
        ASSERT_EQ(kv_session_feed(&s, line, sizeof(line)), sizeof(line));
    }
    ASSERT_EQ(s.state, KV_S_SWALLOW);
    kv_session_destroy(&s);
    kv_engine_local_destroy(&eng);
    return TEST_PASS;
}

/* LRU eviction under a memory limit: the least recently used go first. */
int
test_kv_store_lru(void)
{
    struct kv_part p;
    size_t one = kv_item_size(3, 100);
    ASSERT_OK(kv_part_init(&p, 0, one * 10));
    struct kv_out out = {0};
    int64_t now = kv_now();
    char key[16];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "k%02d", i); /* three bytes: i < 10 */
        struct kv_op op = {.kind = KV_CMD_SET, .key = key, .nkey = 3, .now = now,
                           .out = &out, .hash = kv_hash(key, 3)};
        op.item = kv_item_new(key, 3, 0, 0, 100);
        memcpy(kv_item_value(op.item) + 100, "\r\n", 2);
        kv_part_exec(&p, &op);
    }
    ASSERT_EQ(p.c.curr_items, 10);
    ASSERT_EQ(p.c.evictions, 0);
    /* Touch k00 so k01 is now the oldest, then add one more. */
    struct kv_op get = {.kind = KV_CMD_GET, .key = "k00", .nkey = 3, .now = now, .out = &out,
                        .hash = kv_hash("k00", 3)};
    kv_part_exec(&p, &get);
    struct kv_op set = {.kind = KV_CMD_SET, .key = "new", .nkey = 3, .now = now, .out = &out,
                        .hash = kv_hash("new", 3)};
    set.item = kv_item_new("new", 3, 0, 0, 100);
    memcpy(kv_item_value(set.item) + 100, "\r\n", 2);
    kv_part_exec(&p, &set);
    ASSERT_EQ(p.c.evictions, 1);
    ASSERT_EQ(p.c.curr_items, 10);
    out.len = 0;
    get.key = "k01";
    get.hash = kv_hash("k01", 3);
    kv_part_exec(&p, &get);
    ASSERT_EQ(out.len, 0); /* evicted */
    get.key = "k00";
    get.hash = kv_hash("k00", 3);
    kv_part_exec(&p, &get);
    ASSERT_GT(out.len, 0); /* kept */
    ASSERT(p.used <= p.limit);
    /* Many items: the table grows and every one is found again. */
    kv_part_destroy(&p);
    ASSERT_OK(kv_part_init(&p, 0, 64u << 20));
    for (int i = 0; i < 20000; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "key%d", i);
        struct kv_op op = {.kind = KV_CMD_SET, .key = k, .nkey = (uint8_t)n, .now = now,
                           .out = &out, .hash = kv_hash(k, (size_t)n)};
        op.item = kv_item_new(k, (size_t)n, 0, 0, 1);
        memcpy(kv_item_value(op.item), "x\r\n", 3);
        kv_part_exec(&p, &op);
    }
    ASSERT_GT(p.mask + 1, 1024);
    for (int i = 0; i < 20000; i++) {
        char k[16];
        int n = snprintf(k, sizeof(k), "key%d", i);
        out.len = 0;
        struct kv_op op = {.kind = KV_CMD_GET, .key = k, .nkey = (uint8_t)n, .now = now,
                           .out = &out, .hash = kv_hash(k, (size_t)n)};
        kv_part_exec(&p, &op);
        ASSERT_GT(out.len, 0);
    }
    free(out.buf);
    kv_part_destroy(&p);
    return TEST_PASS;
}

/* --- end to end ------------------------------------------------------------- */

/* Send in; read exactly strlen(want) bytes and compare. */
static int
exchange(int fd, const char *in, size_t len, const char *want)
{
    ASSERT_EQ(sp_sock_send_all(fd, in, len, NULL), len);
    size_t n = strlen(want);
    char got[8192];
    ASSERT(n < sizeof(got));
    if (n == 0) {
        return 0;
    }
    ASSERT_EQ(sp_sock_recv_exact(fd, got, n, NULL), n);
    if (memcmp(got, want, n) != 0) {
        fprintf(stderr, "sent %.60s\n got \"%.*s\"\n want \"%s\"\n", in, (int)n, got, want);
        return 1;
    }
    return 0;
}

static int
connect_to(int port)
{
    sp_addr_t a;
    sp_addr_ip(&a, "127.0.0.1", port);
    return sp_tcp_connect(&a);
}

/* One client running the script; its keys are prefixed so clients can run
 * at once without sharing keys (flush_all aside: run alone). */
static intptr_t
run_script_client(void *arg)
{
    int port = (int)(intptr_t)arg;
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    for (size_t i = 0; i < NSTEPS; i++) {
        kv_clock_advance(script[i].in != NULL ? script[i].advance : 0);
        const char *in = script[i].in ? script[i].in : big_value;
        size_t len = script[i].in ? strlen(in) : sizeof(big_value);
        if (exchange(fd, in, len, script[i].out ? script[i].out : "") != 0) {
            fprintf(stderr, "(step %zu)\n", i);
            return 1;
        }
    }
    /* gets then cas with the value it reported */
    ASSERT_OK(exchange(fd, "set c 0 0 1\r\n1\r\n", 16, "STORED\r\n"));
    ASSERT_EQ(sp_sock_send_all(fd, "gets c\r\n", 8, NULL), 8);
    char buf[128];
    size_t have = 0;
    while (have < 5 || memcmp(buf + have - 5, "END\r\n", 5) != 0) {
        ssize_t n = sp_sock_recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
        ASSERT_GT(n, 0);
        have += (size_t)n;
    }
    buf[have] = '\0';
    unsigned long long cas;
    ASSERT_EQ(sscanf(buf, "VALUE c 0 1 %llu", &cas), 1);
    char cmd[96];
    int n = snprintf(cmd, sizeof(cmd), "cas c 0 0 1 %llu\r\n2\r\ncas c 0 0 1 %llu\r\n3\r\n", cas,
                     cas);
    ASSERT_OK(exchange(fd, cmd, (size_t)n, "STORED\r\nEXISTS\r\n"));
    /* multi-get across both shards */
    const char *keys = "set k1 0 0 1\r\n1\r\nset k2 0 0 1\r\n2\r\nset k3 0 0 1\r\n3\r\n"
                       "set k4 0 0 1\r\n4\r\nget k1 k2 k3 k4\r\n";
    ASSERT_OK(exchange(fd, keys, strlen(keys),
                       "STORED\r\nSTORED\r\nSTORED\r\nSTORED\r\nVALUE k1 0 1\r\n1\r\n"
                       "VALUE k2 0 1\r\n2\r\nVALUE k3 0 1\r\n3\r\nVALUE k4 0 1\r\n4\r\nEND\r\n"));
    /* stats answers, quit closes */
    ASSERT_EQ(sp_sock_send_all(fd, "stats\r\nquit\r\n", 13, NULL), 13);
    have = 0;
    static char st[16384];
    for (;;) {
        ssize_t r = sp_sock_recv(fd, st + have, sizeof(st) - 1 - have, 0);
        ASSERT_GE(r, 0);
        if (r == 0) {
            break;
        }
        have += (size_t)r;
    }
    st[have] = '\0';
    ASSERT_NOT_NULL(strstr(st, "STAT curr_items "));
    ASSERT_NOT_NULL(strstr(st, "STAT threads 2\r\n"));
    ASSERT_EQ(memcmp(st + have - 5, "END\r\n", 5), 0);
    ASSERT_OK(sp_close(fd));
    return 0;
}

struct e2e {
    enum kv_arch arch;
};

static intptr_t
e2e_main(void *arg)
{
    struct e2e *e = arg;
    struct kv_config cfg;
    kv_config_init(&cfg);
    cfg.host = "127.0.0.1";
    cfg.port = 0;
    cfg.arch = e->arch;
    cfg.item_max = 1024;
    cfg.mem_limit = 4u << 20;
    cfg.idle_timeout_ns = 300 * SP_NSEC_PER_MSEC;
    struct kv_server *srv;
    ASSERT_OK(kv_server_start(&srv, &cfg));
    int port = kv_server_port(srv);
    ASSERT_GT(port, 0);
    fill_big();
    ASSERT_OK(run_script_client((void *)(intptr_t)port));

    /* A line too long closes the connection after the error. */
    int fd = connect_to(port);
    ASSERT_GE(fd, 0);
    static char line[4096];
    memset(line, 'x', sizeof(line));
    memcpy(line, "set ", 4);
    ASSERT_EQ(sp_sock_send_all(fd, line, sizeof(line), NULL), sizeof(line));
    char buf[64];
    const char *tl = "CLIENT_ERROR line too long\r\n";
    ASSERT_EQ(sp_sock_recv_exact(fd, buf, strlen(tl), NULL), strlen(tl));
    ASSERT_OK(memcmp(buf, tl, strlen(tl)));
    ASSERT_EQ(sp_sock_recv(fd, buf, sizeof(buf), 0), 0);
    ASSERT_OK(sp_close(fd));

    /* Half a request, then silence: the idle timeout closes it. */
    fd = connect_to(port);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(sp_sock_send_all(fd, "set k 0 0 10\r\nabc", 17, NULL), 17);
    sp_task_set_deadline(sp_now_ns() + 20 * SP_NSEC_PER_SEC); /* reaper failed */
    ASSERT_EQ(sp_sock_recv(fd, buf, sizeof(buf), 0), 0);
    sp_task_set_deadline(SP_DEADLINE_NONE);
    ASSERT_OK(sp_close(fd));

    /* Graceful stop with a client connected and one request answered
     * just before: the client sees its reply, then the end. */
    fd = connect_to(port);
    ASSERT_GE(fd, 0);
    ASSERT_OK(exchange(fd, "set z 0 0 1\r\nz\r\n", 16, "STORED\r\n"));
    kv_server_stop(srv, NULL);
    ASSERT_EQ(sp_sock_recv(fd, buf, sizeof(buf), 0), 0);
    ASSERT_OK(sp_close(fd));
    return 0;
}

int
test_kv_e2e_sharded(void)
{
    struct e2e e = {KV_ARCH_SHARDED};
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, e2e_main, &e);
}

int
test_kv_e2e_shared(void)
{
    struct e2e e = {KV_ARCH_SHARED};
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, e2e_main, &e);
}
