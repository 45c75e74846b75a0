/*
 * park-wake-broken-no-steal-wake.pml -- mutation of park-wake.pml.
 *
 * A shard that pushes stealable work on its own deque does not wake a
 * sleeping shard. The pushing shard is then busy (its task waits for the
 * item to be stolen) and the other shard sleeps on: the runtime stalls with
 * runnable work, which is Go's golang/go#45867 in miniature.
 * tests/run-models.sh expects Spin to report an error.
 *
 * Run: tests/run-models.sh park-wake-broken-no-steal-wake
 * (or by hand: the commands in park-wake.pml, on this file).
 */
#define BROKEN_NO_STEAL_WAKE
#include "park-wake.pml"
