/*
 * park-wake-broken-recheck-first.pml -- mutation of park-wake.pml.
 *
 * The parker looks for work before it publishes sleeping = 1. A waker that
 * pushes between the look and the publish reads sleeping == 0 and rings no
 * doorbell, and the shard then blocks with work queued: a lost wakeup.
 * tests/run-models.sh expects Spin to report an error (safety: the
 * quiescence assertion; liveness: an acceptance cycle).
 *
 * Run: tests/run-models.sh park-wake-broken-recheck-first
 * (or by hand: the commands in park-wake.pml, on this file).
 */
#define BROKEN_RECHECK_FIRST
#include "park-wake.pml"
