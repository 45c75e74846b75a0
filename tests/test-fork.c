/* fork() with a live runtime (RELIABILITY.md B3.1, src/core/fork.c): a
 * child forked from inside a task gets clear errors, never a hang or a
 * crash inside spindle, and may build a runtime of its own; the parent's
 * operations in flight all complete. */
#include "test.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#define FORK_READERS 64
#define FORK_ROUNDS SCALE(20)

static int fk_pipe[FORK_READERS][2];
static sp_runtime_t *fk_rt;

static intptr_t
fk_reader(void *arg)
{
    int i = (int)(intptr_t)arg;
    char c = 0;
    ssize_t r = sp_read(fk_pipe[i][0], &c, 1);
    return r == 1 && c == 'a' + i % 26 ? 0 : 1;
}

static intptr_t
fk_child_main(void *arg)
{
    return (intptr_t)arg + 1;
}

/* In the child: exit status 0 if every check held. */
static int
fk_child(void)
{
    char c;
    if (sp_sleep_ns(1000) != -EPERM || sp_read(fk_pipe[0][0], &c, 1) != -EPERM ||
        sp_task_yield() != -EPERM || sp_shard_id() != -1) {
        return 2;
    }
    intptr_t res = 0;
    if (sp_runtime_block_on(fk_rt, NULL, fk_child_main, NULL, &res) != -ECHILD ||
        sp_runtime_destroy(fk_rt) != -ECHILD) {
        return 3;
    }
    /* A runtime of its own works. */
    sp_config_t cfg;
    sp_config_init(&cfg);
    cfg.shards = 1;
    return sp_run(&cfg, fk_child_main, (void *)41) == 42 ? 0 : 4;
}

static intptr_t
fork_main(void *arg)
{
    (void)arg;
    fk_rt = sp_runtime_current();
    for (int round = 0; round < FORK_ROUNDS; round++) {
        sp_task_t t[FORK_READERS];
        for (int i = 0; i < FORK_READERS; i++) {
            ASSERT_OK(pipe2(fk_pipe[i], O_CLOEXEC));
            ASSERT_OK(sp_task_spawn(&t[i], NULL, fk_reader, (void *)(intptr_t)i));
        }
        ASSERT_OK(sp_sleep_ns(100 * SP_NSEC_PER_USEC)); /* reads in flight */
        pid_t pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            _exit(fk_child());
        }
        for (int i = 0; i < FORK_READERS; i++) {
            char c = (char)('a' + i % 26);
            ASSERT_EQ(sp_write(fk_pipe[i][1], &c, 1), 1);
        }
        for (int i = 0; i < FORK_READERS; i++) {
            intptr_t r = -1;
            ASSERT_OK(sp_task_join(t[i], &r));
            ASSERT_EQ(r, 0);
            ASSERT_OK(sp_close(fk_pipe[i][0]));
            ASSERT_OK(sp_close(fk_pipe[i][1]));
        }
        int status = 0;
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 0);
    }
    return 0;
}

int
test_fork_from_task(void)
{
#if defined(TEST_TSAN) || defined(TEST_ASAN)
    /* ThreadSanitizer cannot start threads in a child of a multi-threaded
     * fork; AddressSanitizer's allocator (gcc 12's libasan) takes no locks
     * around fork, so the child can hang in malloc. */
    return TEST_SKIP;
#endif
    sp_config_t cfg = test_config(2);
    return test_run_main(&cfg, fork_main, NULL);
}
