/* Sanitizer canary (RELIABILITY.md B4.3): a heap overflow inside a task must
 * be reported by ASan with the task's own frames. That proves the fiber
 * annotations on every switch work: without them ASan loses track of the
 * stack it is on and reports nothing useful, or worse. Skipped outside
 * ASan builds. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test.h"

#if defined(__SANITIZE_ADDRESS__)
#define CANARY_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CANARY_ASAN 1
#endif
#endif

#ifdef CANARY_ASAN
static volatile size_t canary_size = 16;

__attribute__((noinline)) static int
canary_overflow_write(void)
{
    /* The size comes from a volatile so that UBSan's object-size check
     * cannot see the overflow first: this test is about ASan. */
    size_t size = canary_size;
    char *p = malloc(size);
    p[size] = 1; /* one byte past the block */
    int r = p[0];
    free(p);
    return r;
}

static intptr_t
canary_task(void *arg)
{
    (void)arg;
    sp_task_yield(); /* report from a task that has been switched out and back */
    return canary_overflow_write();
}

static void
canary_child(void *arg)
{
    (void)arg;
    sp_config_t cfg = test_config(1);
    sp_runtime_t *rt;
    if (sp_runtime_create(&rt, &cfg) != 0) {
        _exit(TEST_SKIP);
    }
    intptr_t res;
    sp_runtime_block_on(rt, NULL, canary_task, NULL, &res);
    fprintf(stderr, "canary child: the overflow was not reported\n");
    _exit(3);
}
#endif

int
test_sanitizer_asan_reports_task_frames(void)
{
#ifndef CANARY_ASAN
    printf("skip: not an ASan build\n");
    return TEST_SKIP;
#else
    static char out[65536];
    int status = 0;
    ASSERT_OK(test_run_child(canary_child, NULL, out, sizeof(out), &status));
    if (WIFEXITED(status) && WEXITSTATUS(status) == TEST_SKIP) {
        printf("skip: runtime unavailable in the child\n");
        return TEST_SKIP;
    }
    /* The child's report is not echoed: the runner fails any test whose
     * own output mentions the sanitizer. */
    int reported = strstr(out, "heap-buffer-overflow") != NULL;
    int confused = strstr(out, "ignoring requested __asan_handle_no_return") != NULL;
    /* Symbolized (llvm-symbolizer present): the task's frames by name.
     * Otherwise: at least the frames of the write and of its callers. */
    int frames = strstr(out, "canary_overflow_write") != NULL ||
                 (strstr(out, "#0 ") && strstr(out, "#2 "));
    printf("child %s %d: reported %d, confused %d, frames %d\n",
           WIFSIGNALED(status) ? "signal" : "exit",
           WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), reported,
           confused, frames);
    ASSERT(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    ASSERT(reported);
    ASSERT(!confused);
    ASSERT(frames);
    return 0;
#endif
}
