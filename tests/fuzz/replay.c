/* Replays a fuzz corpus without libFuzzer: each file in the directories
 * given on the command line goes through the target's
 * LLVMFuzzerTestOneInput once. Linked with one target (tests/fuzz/kv,
 * tests/fuzz/http); make test runs it in each mode over the committed
 * corpus. A failed check in the target aborts; otherwise the last line is
 * the summary mk/test-all.sh adds up: "1 passed, 0 failed, 0 skipped". */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *self = "fuzz-replay";

static int
replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return -1;
    }
    size_t cap = 1 << 16, n = 0, r;
    uint8_t *buf = malloc(cap);
    while (buf != NULL && (r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            uint8_t *b = realloc(buf, cap *= 2);
            if (b == NULL) {
                free(buf);
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

/* Replay every regular entry of dir; counts into *files and *bad. */
static void
replay_dir(const char *dir, int *files, int *bad)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "%s: cannot open %s\n", self, dir);
        (*bad)++;
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (replay_file(path) < 0) {
            fprintf(stderr, "%s: cannot read %s\n", self, path);
            (*bad)++;
        }
        (*files)++;
    }
    closedir(d);
}

int
main(int argc, char **argv)
{
    const char *slash = strrchr(argv[0], '/');
    self = slash ? slash + 1 : argv[0];
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR...\n", self);
        return 2;
    }
    int files = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        replay_dir(argv[i], &files, &bad);
    }
    int ok = bad == 0 && files > 0;
    printf("%s: %d inputs replayed\n", self, files);
    printf("%d passed, %d failed, 0 skipped\n", ok, !ok);
    return ok ? 0 : 1;
}
