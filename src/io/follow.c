/* A stealable task that receives from a socket moves to the shard whose
 * CPU feeds that socket (docs/design/scheduler.md, "Following a socket").
 *
 * Completions belong to the ring (or epoll set) an operation was started
 * on, so a task that does little but I/O rarely sits in a deque where
 * another shard could take it. Two stealable tasks talking over a socket
 * (both ends in one process, as in a proxy's tests or a sidecar) that
 * landed on different shards would then cross cores with every message.
 * The kernel knows who fed a socket: SO_INCOMING_CPU is the CPU that last
 * processed its incoming packets, which for loopback TCP is the sender's
 * CPU (the receive path runs in the sender's softirq) and for a NIC the
 * one that took the interrupt (RSS). At its first receive and every
 * SP__FOLLOW_EVERY-th after, a task asks, and if another shard's thread
 * runs on that CPU and holds no more queued stealable work than this one,
 * the task moves there: its next operations go to that shard's ring, next
 * to the peer that feeds it.
 *
 * A heuristic, never a correctness matter: the CPU of a shard is what its
 * thread saw at the top of its last loop iteration (sp__shard->cpu), and
 * the move is one inbox post. The load check keeps tasks from piling onto
 * one shard when one CPU takes every interrupt; stealing still spreads
 * what queues up there. */
#include <sched.h>
#include <sys/socket.h>

#include "core/core.h"
#include "io/io.h"
#include "sched/sched.h"

#ifndef SO_INCOMING_CPU
#define SO_INCOMING_CPU 49
#endif

void
sp__io_follow_slow(struct sp__task *t, int fd)
{
    int cpu = -1;
    socklen_t len = sizeof(cpu);
    if (getsockopt(fd, SOL_SOCKET, SO_INCOMING_CPU, &cpu, &len) < 0 || cpu < 0) {
        return; /* not an inet socket, or nothing received yet */
    }
    struct sp__shard *sh = sp__shard_current();
    if (sp_load_relaxed(&sh->cpu) == cpu) {
        return;
    }
    struct sp_runtime *rt = t->rt;
    for (int i = 0; i < rt->nshards; i++) {
        struct sp__shard *o = rt->shards[i];
        if (o == sh || sp_load_relaxed(&o->cpu) != cpu) {
            continue;
        }
        if (sp__deque_len(&o->deque) > sp__deque_len(&sh->deque)) {
            return;
        }
        sp_counter_add(&sh->stats.follows, 1);
        t->move_target = i;
        sp__shard_switch_out(sh, t, YIELD_MOVE);
        return;
    }
}
