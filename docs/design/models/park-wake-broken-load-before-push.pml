/*
 * park-wake-broken-load-before-push.pml -- mutation of park-wake.pml.
 *
 * The waker reads sleeping before it pushes the item. If the shard has
 * already re-checked its inbox but not yet published sleeping when the
 * waker reads it, neither side sees the other: the shard blocks and the
 * item stays in the inbox. tests/run-models.sh expects Spin to report an
 * error.
 *
 * Run: tests/run-models.sh park-wake-broken-load-before-push
 * (or by hand: the commands in park-wake.pml, on this file).
 */
#define BROKEN_LOAD_BEFORE_PUSH
#include "park-wake.pml"
