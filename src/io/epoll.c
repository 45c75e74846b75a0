/* The epoll backend: for kernels or sandboxes without io_uring. A shard
 * sleeps in epoll_pwait2 (nanosecond timeouts) on its eventfd doorbell,
 * which every waker writes, shard or not. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "io/io.h"
#include "sched/sched.h"

struct epoll_shard {
    int epfd;
};

static int
epoll_probe(const sp_config_t *cfg, const char **why)
{
    (void)cfg;
    *why = NULL;
    return 0;
}

static int
epoll_init(struct sp__shard *sh)
{
    struct epoll_shard *e = calloc(1, sizeof(*e));
    if (!e) {
        return -ENOMEM;
    }
    e->epfd = epoll_create1(EPOLL_CLOEXEC);
    sh->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (e->epfd < 0 || sh->wake_fd < 0 ||
        epoll_ctl(e->epfd, EPOLL_CTL_ADD, sh->wake_fd, &ev) < 0) {
        int err = -errno;
        if (e->epfd >= 0) {
            close(e->epfd);
        }
        if (sh->wake_fd >= 0) {
            close(sh->wake_fd);
            sh->wake_fd = -1; /* nobody may ring a number the app may reuse */
        }
        free(e);
        return err;
    }
    sh->ring_fd = -1;
    sh->backend = e;
    return 0;
}

static void
epoll_fini(struct sp__shard *sh)
{
    struct epoll_shard *e = sh->backend;
    if (!e) {
        return;
    }
    close(e->epfd);
    close(sh->wake_fd);
    sh->wake_fd = -1;
    free(e);
    sh->backend = NULL;
}

static void
epoll_poll(struct sp__shard *sh)
{
    (void)sh; /* no operations yet: readiness only matters when sleeping */
}

static void
epoll_wait_for(struct sp__shard *sh, uint64_t timeout_ns)
{
    struct epoll_shard *e = sh->backend;
    struct epoll_event evs[8];
    struct timespec ts, *tsp = NULL;
    if (timeout_ns != UINT64_MAX) {
        ts.tv_sec = (time_t)(timeout_ns / 1000000000ull);
        ts.tv_nsec = (long)(timeout_ns % 1000000000ull);
        tsp = &ts;
    }
    int n = epoll_pwait2(e->epfd, evs, 8, tsp, NULL);
    if (n < 0 && errno == ENOSYS) {
        /* NOTE: epoll_pwait2 needs Linux 5.11; before it, millisecond
         * timeouts rounded up (a timer may fire up to 1 ms late, never
         * early). */
        int ms = -1;
        if (timeout_ns != UINT64_MAX) {
            uint64_t t = (timeout_ns + 999999) / 1000000;
            ms = t > INT32_MAX ? INT32_MAX : (int)t;
        }
        n = epoll_wait(e->epfd, evs, 8, ms);
    }
    for (int i = 0; i < n; i++) {
        if (evs[i].data.ptr == NULL) {
            uint64_t v;
            while (read(sh->wake_fd, &v, sizeof(v)) < 0 && errno == EINTR) {
            }
        }
    }
}

static void
epoll_wake_from_shard(struct sp__shard *from, struct sp__shard *to)
{
    (void)from;
    sp__doorbell_ring(to->wake_fd);
}

static void
epoll_wake_from_thread(struct sp__shard *to)
{
    sp__doorbell_ring(to->wake_fd);
}

const struct sp__backend_ops sp__epoll_backend = {
    .name = "epoll",
    .probe = epoll_probe,
    .init = epoll_init,
    .fini = epoll_fini,
    .poll = epoll_poll,
    .wait = epoll_wait_for,
    .wake_from_shard = epoll_wake_from_shard,
    .wake_from_thread = epoll_wake_from_thread,
};
