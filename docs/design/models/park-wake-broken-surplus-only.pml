/*
 * park-wake-broken-surplus-only.pml -- mutation of park-wake.pml.
 *
 * The pusher of stealable work wakes a sleeping shard only when its deque
 * holds more than one item, assuming that it will run a single item itself
 * soon. That ignores the task that is running: a task that spawns one
 * child and then waits for it without yielding (a spin barrier) keeps its
 * shard busy, the child sits in the deque, and the other shard sleeps on.
 * src/sched/runq.c (deque_push) applied this test when this model was
 * written; see docs/design/park-wake.md. tests/run-models.sh expects an
 * error.
 *
 * Run: tests/run-models.sh park-wake-broken-surplus-only
 * (or by hand: the commands in park-wake.pml, on this file).
 */
#define BROKEN_SURPLUS_ONLY
#include "park-wake.pml"
