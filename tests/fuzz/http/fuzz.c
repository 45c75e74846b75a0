/* libFuzzer target for the HTTP request parser (examples/httpd/parse.c):
 * the head parser, the chunked decoder and the path decoder, with their
 * invariants checked on every input:
 *   - a parsed head lies inside the input, its target starts with '/' (or
 *     is "*"), and a chunked request never has a Content-Length;
 *   - the result of parsing the whole input is the same at any larger
 *     head limit once complete, and a prefix never gives an error that the
 *     whole input does not (so reading in pieces cannot change a verdict);
 *   - the chunked decoder gives the same bytes, count and verdict fed all
 *     at once and one byte at a time;
 *   - a decoded path has no "." or ".." segment, no backslash, no control
 *     byte, and no leading '/'.
 * Build: make fuzz-http (clang). make test replays tests/fuzz/http/corpus
 * through tests/fuzz/replay.c in each build mode. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../../examples/httpd/parse.h"

#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            abort();                                                                 \
        }                                                                            \
    } while (0)

static void
check_path(const char *target, size_t len)
{
    char out[512];
    int n = http_decode_path(target, len, out, sizeof(out));
    if (n < 0) {
        CHECK(n == -400 || n == -414);
        return;
    }
    CHECK((size_t)n == strlen(out));
    CHECK(n == 0 || out[0] != '/');
    for (int i = 0; i < n; i++) {
        unsigned char c = (unsigned char)out[i];
        CHECK(c >= 0x20 && c != 0x7f && c != '\\');
        int start = i == 0 || out[i - 1] == '/';
        if (start && c == '.') {
            int end1 = i + 1 == n || out[i + 1] == '/';
            int end2 = i + 1 < n && out[i + 1] == '.' && (i + 2 == n || out[i + 2] == '/');
            CHECK(!end1 && !end2);
        }
    }
}

static void
check_chunked(const char *in, size_t len)
{
    size_t cap = 1024;
    char *a = malloc(len + 1), *b = malloc(len + 1);
    struct http_chunked ca = {0}, cb = {0};
    size_t la = 0, lb = 0;
    int da = 0, db = 0;
    ssize_t ra = http_chunked_decode(&ca, in, len, a, cap, &la, &da);
    ssize_t rb = 0;
    for (size_t i = 0; i < len && !db; i++) {
        ssize_t r = http_chunked_decode(&cb, in + i, 1, b, cap, &lb, &db);
        if (r < 0) {
            rb = r;
            break;
        }
        rb += r;
    }
    CHECK((ra < 0) == (rb < 0));
    if (ra < 0) {
        CHECK(ra == rb && (ra == -400 || ra == -413));
    } else {
        CHECK(ra == rb && da == db && la == lb && la <= cap && memcmp(a, b, la) == 0);
        CHECK((size_t)ra <= len && (da || (size_t)ra == len));
    }
    free(a);
    free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so reading past the end is caught. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    struct http_request req;
    int r = http_parse_request(buf, size, 4096, &req);
    if (r > 0) {
        CHECK((size_t)r <= size && (size_t)r == req.head_len);
        CHECK(req.target >= buf || req.target_len == 1); /* "/" of absolute-form */
        CHECK(req.target_len > 0);
        CHECK(req.target[0] == '/' || (req.target_len == 1 && req.target[0] == '*'));
        CHECK(req.content_length >= -1);
        CHECK(!(req.chunked && req.content_length >= 0));
        CHECK(req.minor == 0 || req.minor == 1);
        struct http_request again;
        CHECK(http_parse_request(buf, size, 1 << 20, &again) == r);
        check_path(req.target, req.target_len);
        check_chunked(buf + r, size - (size_t)r);
    } else if (r < 0) {
        CHECK(r == -400 || r == -413 || r == -414 || r == -431 || r == -501 || r == -505);
    }
    /* Every prefix: "need more" or the same verdict class, never a
     * different error than the whole input (a complete prefix may
     * legitimately succeed, e.g. before trailing bytes). */
    if (size <= 2048) {
        for (size_t n = 0; n < size; n += 1 + n / 8) {
            struct http_request p;
            int rp = http_parse_request(buf, n, 4096, &p);
            CHECK(rp == 0 || rp > 0 || rp == r);
        }
    }
    check_path(buf, size);
    check_chunked(buf, size);
    free(buf);
    return 0;
}
