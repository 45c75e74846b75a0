/* Shard sleep and doorbells: the park/wake handshake of
 * docs/design/park-wake.md, in the numbered steps used there.
 *
 * Parker (this shard, nothing runnable):
 *   1. spin for cfg.spin_ns, polling for work without sleeping;
 *   2. store sleeping = 1 (seq_cst), count itself in rt->sleepers;
 *   3. re-check the inbox, its own queues, stealable work and stop;
 *   4. if something turned up, withdraw (exchange sleeping = 0) and return;
 *   5. else sleep in the backend until a completion, a doorbell or the
 *      nearest timer; then withdraw and return.
 * Waker (any thread, after publishing work for shard `to`):
 *   1. load to->sleeping (seq_cst); if set, exchange it to 0;
 *   2. the one waker whose exchange returned 1 rings the doorbell.
 * Step 2 of the parker and step 1 of the waker form a Dekker pair: with
 * both sides seq_cst, either the parker's re-check sees the work or the
 * waker sees sleeping = 1. */
#include "io/io.h"
#include "sched/sched.h"

/* What one trashed stack costs to unmap (munmap plus the TLB shootdown it
 * sends the other shards), with room to spare: an idle shard unmaps only
 * as many as fit before its next timer. */
#define TRASH_NS_PER_STACK (20 * 1000)

static int
work_visible(struct sp__shard *sh)
{
    return sp__runq_has_work(sh) || sp__steal_visible(sh) ||
           sp_load_seqcst(&sh->rt->stop);
}

static int
spin_for_work(struct sp__shard *sh)
{
    uint64_t budget = sh->rt->cfg.spin_ns;
    if (budget == 0) {
        return 0;
    }
    uint64_t until = sp__now() + budget;
    uint64_t next_timer = sp__timer_next(&sh->timers);
    if (next_timer < until) {
        until = next_timer;
    }
    do {
        /* pause takes ~10 ns here: 4 of them keep the poll interval near
         * 50 ns, small against a cross-core cache-line transfer. */
        for (int i = 0; i < 4; i++) {
            sp_cpu_relax();
        }
        /* Completions count as work: a shard whose tasks wait for I/O
         * would otherwise spin out its budget and only see them after a
         * sleep (cross-shard echo round trip 190 -> 48 us). Costs nothing
         * with nothing in flight; with I/O in flight it is a syscall per
         * step, on a CPU that is idle anyway. */
        sh->rt->be->poll(sh);
        if (work_visible(sh)) {
            return 1;
        }
    } while (sp__now() < until);
    return 0;
}

static void
withdraw(struct sp__shard *sh)
{
    sp_xchg_seqcst(&sh->sleeping, 0);
    sp_fetch_add_seqcst(&sh->rt->sleepers, -1);
}

/* How many trashed stacks this idle moment can unmap: up to a chunk, and
 * no more than fit before the next timer (10,000 sleepers due 0-20 ms apart
 * never leave a quiet millisecond, and waiting for one let the trash grow
 * until a 8,000-stack flush on the busy path: mean lateness 1.7 ms). */
static unsigned
trash_budget(struct sp__shard *sh)
{
    uint64_t next = sp__timer_next(&sh->timers);
    if (next == UINT64_MAX) {
        return SP_STACK_TRASH_CHUNK;
    }
    uint64_t now = sp__now();
    uint64_t fit = next > now ? (next - now) / TRASH_NS_PER_STACK : 0;
    return fit < SP_STACK_TRASH_CHUNK ? (unsigned)fit : SP_STACK_TRASH_CHUNK;
}

void
sp__park_idle(struct sp__shard *sh)
{
    struct sp_runtime *rt = sh->rt;
    if (spin_for_work(sh)) {
        return;
    }
    if (sh->trash_n && trash_budget(sh) > 0) {
        /* Idle: the time to pay for unmapping, as much as fits before the
         * next timer. Look for work again after, since it took a while. */
        sp__stack_trash_flush(sh, trash_budget(sh));
        return;
    }
    sp_store_seqcst(&sh->sleeping, 1);
    sp_fetch_add_seqcst(&rt->sleepers, 1);
    if (work_visible(sh)) {
        withdraw(sh);
        return;
    }
    uint64_t timeout = UINT64_MAX;
    uint64_t next_timer = sp__timer_next(&sh->timers);
    if (next_timer != UINT64_MAX) {
        uint64_t now = sp__now();
        timeout = next_timer > now ? next_timer - now : 0;
    }
    sp_counter_add(&sh->stats.parks, 1);
    rt->be->wait(sh, timeout);
    withdraw(sh);
    rt->be->poll(sh);
}

int
sp__park_notify(struct sp__shard *to)
{
    if (!sp_load_seqcst(&to->sleeping) || !sp_xchg_seqcst(&to->sleeping, 0)) {
        return 0;
    }
    struct sp__shard *cur = sp__shard_current();
    if (cur && cur->rt == to->rt) {
        sp_counter_add(&cur->stats.wakes_sent, 1);
        to->rt->be->wake_from_shard(cur, to);
    } else {
        to->rt->be->wake_from_thread(to);
    }
    return 1;
}

void
sp__park_notify_idle(struct sp_runtime *rt)
{
    if (sp_load_seqcst(&rt->sleepers) == 0) {
        return;
    }
    for (int i = 0; i < rt->nshards; i++) {
        /* Try each sleeper until one is rung: another waker may have
         * claimed the first one we see. */
        if (sp__park_notify(rt->shards[i])) {
            return;
        }
    }
}
