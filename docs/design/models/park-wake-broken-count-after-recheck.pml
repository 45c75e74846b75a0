/*
 * park-wake-broken-count-after-recheck.pml -- mutation of park-wake.pml.
 *
 * The parker stores sleeping = 1 but adds itself to the sleeper count only
 * after its re-check. For stealable work the Dekker pair is the deque's
 * tail against the sleeper count, not against sleeping: a push that lands
 * after the re-check reads sleepers == 0 and wakes nobody, and the shard
 * sleeps beside stealable work. tests/run-models.sh expects an error.
 *
 * Run: tests/run-models.sh park-wake-broken-count-after-recheck
 * (or by hand: the commands in park-wake.pml, on this file).
 */
#define BROKEN_COUNT_AFTER_RECHECK
#include "park-wake.pml"
