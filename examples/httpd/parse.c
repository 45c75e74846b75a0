/* HTTP/1.1 request head parser, chunked body decoder and path decoder.
 *
 * The head parser is one pass over whole lines and keeps no state between
 * calls: the connection loop calls it once it has seen the blank line that
 * ends a head (or once the buffer reaches the head limit), so a client
 * that dribbles bytes costs one scan for the blank line per read, not one
 * parse. Every byte is checked against RFC 9112's grammar before it is
 * trusted: tokens for methods and field names, visible ASCII for the
 * target, field values without control bytes. The fields that decide how
 * the message is framed (Content-Length, Transfer-Encoding) are read
 * strictly, since a lenient reading there is what request smuggling
 * exploits: both at once, differing lengths, or a coding other than
 * chunked are refused. */
#include "parse.h"

#include <string.h>

/* Character classes, one bit each (GNU range designators). */
#define C_TCHAR 0x1 /* token: ALPHA DIGIT !#$%&'*+-.^_`|~ */
#define C_VCHAR 0x2 /* visible ASCII 0x21..0x7e */
#define C_FIELD 0x4 /* field value: VCHAR SP HTAB obs-text */
#define C_VF (C_VCHAR | C_FIELD)
#define C_ALL (C_TCHAR | C_VF)

/* Later ranges deliberately override the VCHAR range for token bytes. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverride-init"
#ifdef __clang__
#pragma clang diagnostic ignored "-Winitializer-overrides"
#endif
static const unsigned char cls[256] = {
    ['\t'] = C_FIELD,
    [' '] = C_FIELD,
    [0x21 ... 0x7e] = C_VF,
    ['0' ... '9'] = C_ALL,
    ['a' ... 'z'] = C_ALL,
    ['A' ... 'Z'] = C_ALL,
    ['!'] = C_ALL, ['#'] = C_ALL, ['$'] = C_ALL, ['%'] = C_ALL, ['&'] = C_ALL,
    ['\''] = C_ALL, ['*'] = C_ALL, ['+'] = C_ALL, ['-'] = C_ALL, ['.'] = C_ALL,
    ['^'] = C_ALL, ['_'] = C_ALL, ['`'] = C_ALL, ['|'] = C_ALL, ['~'] = C_ALL,
    [0x80 ... 0xff] = C_FIELD,
};
#pragma GCC diagnostic pop

static inline int
is(unsigned char c, int mask)
{
    return cls[c] & mask;
}

static int
lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* s[0..n) equals the lower-case word w, ignoring ASCII case. */
static int
eq_nocase(const char *s, size_t n, const char *w)
{
    if (strlen(w) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower((unsigned char)s[i]) != w[i]) {
            return 0;
        }
    }
    return 1;
}

static enum http_method
method_of(const char *m, size_t n)
{
    static const struct {
        const char *name;
        enum http_method m;
    } known[] = {
        {"GET", HTTP_M_GET},       {"HEAD", HTTP_M_HEAD},     {"POST", HTTP_M_POST},
        {"PUT", HTTP_M_PUT},       {"DELETE", HTTP_M_DELETE}, {"OPTIONS", HTTP_M_OPTIONS},
    };
    for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        if (strlen(known[i].name) == n && memcmp(known[i].name, m, n) == 0) {
            return known[i].m;
        }
    }
    return HTTP_M_OTHER;
}

/* One line of buf[p..lim): sets *end (before CR LF or LF) and returns the
 * offset after the LF, or 0 if no LF is in. */
static size_t
next_line(const char *buf, size_t p, size_t lim, size_t *end)
{
    const char *nl = memchr(buf + p, '\n', lim - p);
    if (!nl) {
        return 0;
    }
    size_t e = (size_t)(nl - buf);
    *end = e > p && buf[e - 1] == '\r' ? e - 1 : e;
    return e + 1;
}

/* "HTTP/1.1" and friends: the minor version, -400 or -505. */
static int
parse_version(const char *v, size_t n)
{
    if (n != 8 || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
        v[7] < '0' || v[7] > '9') {
        return -400;
    }
    if (v[5] != '1') {
        return -505;
    }
    return v[7] == '0' ? 0 : 1; /* 1.2 and later minors are read as 1.1 */
}

/* Skip "http://authority" in an absolute-form target, leaving its path
 * (or "/" when it has none). */
static void
strip_absolute(struct http_request *req)
{
    const char *t = req->target;
    size_t n = req->target_len, skip;
    if (n >= 7 && eq_nocase(t, 7, "http://")) {
        skip = 7;
    } else if (n >= 8 && eq_nocase(t, 8, "https://")) {
        skip = 8;
    } else {
        return;
    }
    const char *slash = memchr(t + skip, '/', n - skip);
    if (!slash) {
        req->target = "/";
        req->target_len = 1;
        return;
    }
    req->target_len = n - (size_t)(slash - t);
    req->target = slash;
}

/* The request line buf[p..e). 0 or a negative status. */
static int
parse_request_line(const char *buf, size_t p, size_t e, struct http_request *req)
{
    size_t m = p;
    while (m < e && is((unsigned char)buf[m], C_TCHAR)) {
        m++;
    }
    if (m == p || m == e || buf[m] != ' ') {
        return -400;
    }
    req->method = method_of(buf + p, m - p);
    size_t t = m + 1, u = t;
    while (u < e && is((unsigned char)buf[u], C_VCHAR)) {
        u++;
    }
    if (u == t || u == e || buf[u] != ' ') {
        return -400;
    }
    req->target = buf + t;
    req->target_len = u - t;
    int minor = parse_version(buf + u + 1, e - u - 1);
    if (minor < 0) {
        return minor;
    }
    req->minor = minor;
    if (req->target[0] != '/' && !(req->target_len == 1 && req->target[0] == '*')) {
        strip_absolute(req);
        if (req->target[0] != '/') {
            return -400;
        }
    }
    return 0;
}

/* What the framing and connection fields said, gathered over the head. */
struct fields {
    int hosts;
    int te;           /* Transfer-Encoding fields seen */
    int te_chunked;   /* the (single) coding is chunked */
    int conn_close;
    int conn_keep;
    int64_t length;   /* -1 none */
};

/* Content-Length: 1*DIGIT; a repeat must agree. */
static int
field_length(struct fields *f, const char *v, size_t n)
{
    if (n == 0) {
        return -400;
    }
    int64_t x = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9') {
            return -400;
        }
        if (x > (INT64_MAX - 9) / 10) {
            return -413; /* syntactically fine, and far too large */
        }
        x = x * 10 + (v[i] - '0');
    }
    if (f->length >= 0 && f->length != x) {
        return -400;
    }
    f->length = x;
    return 0;
}

/* Connection: a comma-separated list of tokens. */
static void
field_connection(struct fields *f, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) {
            i++;
        }
        size_t s = i;
        while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t') {
            i++;
        }
        if (eq_nocase(v + s, i - s, "close")) {
            f->conn_close = 1;
        } else if (eq_nocase(v + s, i - s, "keep-alive")) {
            f->conn_keep = 1;
        }
    }
}

static int
field_known(struct fields *f, const char *name, size_t nlen, const char *v, size_t vlen)
{
    switch (nlen) {
    case 4:
        if (eq_nocase(name, nlen, "host")) {
            f->hosts++;
        }
        return 0;
    case 10:
        if (eq_nocase(name, nlen, "connection")) {
            field_connection(f, v, vlen);
        }
        return 0;
    case 14:
        return eq_nocase(name, nlen, "content-length") ? field_length(f, v, vlen) : 0;
    case 17:
        if (eq_nocase(name, nlen, "transfer-encoding")) {
            if (f->te++) {
                return -400; /* "chunked" twice is invalid; more codings: 501 */
            }
            if (!eq_nocase(v, vlen, "chunked")) {
                return -501;
            }
            f->te_chunked = 1;
        }
        return 0;
    default:
        return 0;
    }
}

/* One field line buf[p..e). */
static int
parse_field(const char *buf, size_t p, size_t e, struct fields *f)
{
    size_t c = p;
    while (c < e && is((unsigned char)buf[c], C_TCHAR)) {
        c++;
    }
    if (c == p || c == e || buf[c] != ':') {
        return -400; /* obs-fold, empty name, space before ':', bad byte */
    }
    size_t v = c + 1, ve = e;
    while (v < ve && (buf[v] == ' ' || buf[v] == '\t')) {
        v++;
    }
    while (ve > v && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t')) {
        ve--;
    }
    for (size_t i = v; i < ve; i++) {
        if (!is((unsigned char)buf[i], C_FIELD)) {
            return -400;
        }
    }
    return field_known(f, buf + p, c - p, buf + v, ve - v);
}

/* The framing rules once every field is in. */
static int
finish(const struct fields *f, struct http_request *req)
{
    if (f->hosts > 1 || (req->minor == 1 && f->hosts == 0)) {
        return -400;
    }
    if (f->te && (f->length >= 0 || req->minor == 0)) {
        return -400;
    }
    req->chunked = f->te_chunked;
    req->content_length = f->length;
    req->keep_alive = req->minor == 1 ? !f->conn_close : f->conn_keep && !f->conn_close;
    return 0;
}

int
http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *req)
{
    size_t lim = len < max_head ? len : max_head, p = 0, e, next;
    int err;
    while (p < lim && (buf[p] == '\n' || (buf[p] == '\r' && p + 1 < lim && buf[p + 1] == '\n'))) {
        p++;
    }
    if (!(next = next_line(buf, p, lim, &e))) {
        return len >= max_head ? -414 : 0;
    }
    if ((err = parse_request_line(buf, p, e, req)) < 0) {
        return err;
    }
    struct fields f = {.length = -1};
    for (int n = 0;; n++) {
        p = next;
        if (!(next = next_line(buf, p, lim, &e))) {
            return len >= max_head ? -431 : 0;
        }
        if (e == p) {
            break;
        }
        if (n == HTTP_MAX_FIELDS) {
            return -431;
        }
        if ((err = parse_field(buf, p, e, &f)) < 0) {
            return err;
        }
    }
    if ((err = finish(&f, req)) < 0) {
        return err;
    }
    req->head_len = next;
    return (int)next;
}

/* --- chunked bodies -------------------------------------------------------- */

enum {
    CH_SIZE0,    /* first hex digit of a chunk size */
    CH_SIZE,     /* more hex digits, then ';' ext, CR or LF */
    CH_EXT,      /* chunk extension up to the line end */
    CH_SIZE_LF,  /* LF after the size line's CR */
    CH_DATA,     /* chunk data */
    CH_DATA_END, /* CR LF (or LF) after the data */
    CH_DATA_LF,
    CH_TR_START, /* start of a trailer line, or the final empty line */
    CH_TR_LINE,
    CH_TR_LF,
    CH_END_LF,
    CH_DONE,
};

#define CH_LINE_MAX 4096  /* a size line with its extensions */
#define CH_TRAILER_MAX 8192

static int
hexval(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    c = lower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The size line ended: go to the data, or to the trailer after size 0. */
static int
size_line_done(struct http_chunked *c, size_t out_len, size_t out_cap)
{
    c->line = 0;
    if (c->remaining == 0) {
        c->state = CH_TR_START;
        return 0;
    }
    if (c->remaining > out_cap - out_len) {
        return -413;
    }
    c->state = CH_DATA;
    return 0;
}

/* One byte of anything but chunk data. */
static int
chunk_byte(struct http_chunked *c, unsigned char b, size_t out_len, size_t out_cap)
{
    int h;
    switch (c->state) {
    case CH_SIZE0:
        if ((h = hexval(b)) < 0) {
            return -400;
        }
        c->remaining = (uint64_t)h;
        c->state = CH_SIZE;
        return 0;
    case CH_SIZE:
        if ((h = hexval(b)) >= 0) {
            if (c->remaining >> 56) {
                return -413;
            }
            c->remaining = c->remaining * 16 + (uint64_t)h;
            return 0;
        }
        if (b == ';' || b == ' ' || b == '\t') {
            c->state = CH_EXT;
            return 0;
        }
        /* fall through */
    case CH_EXT:
        if (b == '\r') {
            c->state = CH_SIZE_LF;
            return 0;
        }
        if (b == '\n') {
            return size_line_done(c, out_len, out_cap);
        }
        if (c->state != CH_EXT || (b < 0x20 && b != '\t') || b == 0x7f ||
            ++c->line > CH_LINE_MAX) {
            return -400;
        }
        return 0;
    case CH_SIZE_LF:
        return b == '\n' ? size_line_done(c, out_len, out_cap) : -400;
    case CH_DATA_END:
        c->state = b == '\r' ? CH_DATA_LF : CH_SIZE0;
        return b == '\r' || b == '\n' ? 0 : -400;
    case CH_DATA_LF:
        c->state = CH_SIZE0;
        return b == '\n' ? 0 : -400;
    case CH_TR_START:
        if (b == '\r' || b == '\n') {
            c->state = b == '\r' ? CH_END_LF : CH_DONE;
            return 0;
        }
        c->state = CH_TR_LINE;
        /* fall through */
    case CH_TR_LINE:
        if (++c->line > CH_TRAILER_MAX || b == 0) {
            return -400;
        }
        if (b == '\r' || b == '\n') {
            c->state = b == '\r' ? CH_TR_LF : CH_TR_START;
        }
        return 0;
    case CH_TR_LF:
        c->state = CH_TR_START;
        return b == '\n' ? 0 : -400;
    case CH_END_LF:
        c->state = CH_DONE;
        return b == '\n' ? 0 : -400;
    default:
        return -400;
    }
}

ssize_t
http_chunked_decode(struct http_chunked *c, const char *in, size_t len, char *out,
                    size_t out_cap, size_t *out_len, int *done)
{
    size_t i = 0;
    *done = c->state == CH_DONE;
    while (i < len && c->state != CH_DONE) {
        if (c->state == CH_DATA) {
            size_t n = len - i < c->remaining ? len - i : (size_t)c->remaining;
            if (out) {
                memcpy(out + *out_len, in + i, n);
            }
            *out_len += n;
            c->remaining -= n;
            i += n;
            if (c->remaining == 0) {
                c->state = CH_DATA_END;
            }
            continue;
        }
        int err = chunk_byte(c, (unsigned char)in[i++], *out_len, out_cap);
        if (err < 0) {
            return err;
        }
    }
    *done = c->state == CH_DONE;
    return (ssize_t)i;
}

/* --- paths ----------------------------------------------------------------- */

/* The segment out[s..o) is "." or "..". */
static int
dot_segment(const char *out, size_t s, size_t o)
{
    return (o - s == 1 && out[s] == '.') || (o - s == 2 && out[s] == '.' && out[s + 1] == '.');
}

int
http_decode_path(const char *t, size_t len, char *out, size_t size)
{
    if (len == 0 || t[0] != '/' || size == 0) {
        return -400;
    }
    size_t o = 0, seg = 0;
    for (size_t i = 1; i < len && t[i] != '?' && t[i] != '#'; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '/') {
            if (dot_segment(out, seg, o)) {
                return -400;
            }
            if (o == seg) {
                continue; /* "//": squeeze */
            }
            c = '/';
        } else if (c == '%') {
            int hi = i + 2 < len ? hexval((unsigned char)t[i + 1]) : -1;
            int lo = hi >= 0 ? hexval((unsigned char)t[i + 2]) : -1;
            if (lo < 0) {
                return -400;
            }
            c = (unsigned char)(hi * 16 + lo);
            i += 2;
            if (c == '.' || c == '/' || c == '\\' || c < 0x20 || c == 0x7f) {
                return -400;
            }
        } else if (c < 0x21 || c > 0x7e || c == '\\') {
            return -400;
        }
        if (o + 1 >= size) {
            return -414;
        }
        out[o++] = (char)c;
        if (c == '/') {
            seg = o;
        }
    }
    if (dot_segment(out, seg, o)) {
        return -400;
    }
    out[o] = '\0';
    return (int)o;
}
