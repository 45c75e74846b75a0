/* Replays the HTTP parser fuzz corpus without libFuzzer: each file in the given
 * directories (default tests/fuzz/http/corpus) through the fuzz target once.
 * A failed check aborts; otherwise it prints one summary line for
 * mk/test-all.sh: "httpfuzz: 1 passed, 0 failed, 0 skipped" (a prefix
 * without a hyphen: test-all.sh matches [A-Za-z]+). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    size_t r;
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (b == NULL) {
                free(buf);
                buf = NULL;
            }
            buf = b;
        }
    }
    fclose(f);
    if (buf == NULL) {
        return -1;
    }
    LLVMFuzzerTestOneInput(buf, n);
    free(buf);
    return 0;
}

int
main(int argc, char **argv)
{
    const char *def = "tests/fuzz/http/corpus";
    int files = 0, bad = 0;
    for (int i = argc > 1 ? 1 : 0; i < (argc > 1 ? argc : 1); i++) {
        const char *dir = argc > 1 ? argv[i] : def;
        DIR *d = opendir(dir);
        if (d == NULL) {
            fprintf(stderr, "http-fuzz-replay: cannot open %s\n", dir);
            bad++;
            continue;
        }
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.') {
                continue;
            }
            char path[4096];
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (replay_file(path) < 0) {
                fprintf(stderr, "http-fuzz-replay: cannot read %s\n", path);
                bad++;
            }
            files++;
        }
        closedir(d);
    }
    printf("http-fuzz-replay: %d inputs replayed\n", files);
    printf("httpfuzz: %d passed, %d failed, 0 skipped\n", bad == 0 && files > 0,
           bad != 0 || files == 0);
    return bad == 0 && files > 0 ? 0 : 1;
}
