/* libFuzzer target for the kv protocol: the bytes are one connection's
 * input, fed to a session over the single-partition engine in pieces
 * whose sizes come from the input itself, so line and data-block
 * boundaries fall everywhere. Checks that the session never consumes more
 * than it was given, that it holds at most one line of input, and that
 * the store's accounting stays consistent.
 *
 *   make fuzz-kv && build/fuzz/kv-fuzz tests/fuzz/kv/corpus
 * make test replays tests/fuzz/kv/corpus through tests/fuzz/replay.c. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../examples/kv/session.h"

#define CHECK(c)                                                                     \
    do {                                                                             \
        if (!(c)) {                                                                  \
            fprintf(stderr, "kv-fuzz: check failed: %s (line %d)\n", #c, __LINE__); \
            abort();                                                                 \
        }                                                                            \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct kv_engine_local eng;
    if (kv_engine_local_init(&eng, 1 << 20, 4096) < 0) {
        return 0;
    }
    struct kv_session s;
    kv_session_init(&s, &eng.e, 8192);
    char *buf = malloc(size + 1);
    size_t have = 0, pos = 0;
    unsigned step = size > 0 ? data[0] % 64 + 1 : 1;
    while (pos < size && s.state != KV_S_CLOSE) {
        size_t n = size - pos < step ? size - pos : step;
        memcpy(buf + have, data + pos, n);
        have += n;
        pos += n;
        size_t used = kv_session_feed(&s, buf, have);
        CHECK(used <= have);
        have -= used;
        memmove(buf, buf + used, have);
        CHECK(s.state != KV_S_LINE || have <= s.line_max + 1);
        s.out.len = 0; /* as if sent */
        step = step * 7 % 61 + 1;
    }
    struct kv_counters c;
    eng.e.counters(&eng.e, &c);
    CHECK(c.bytes <= c.limit_maxbytes);
    CHECK((c.curr_items == 0) == (c.bytes == 0));
    kv_session_destroy(&s);
    kv_engine_local_destroy(&eng);
    free(buf);
    return 0;
}
