/*
 * deque-broken-tail-before-slot.pml -- mutation of deque.pml.
 *
 * The owner publishes the new tail before it writes the slot. A thief (or
 * on weak hardware, any reader) can then take the slot's stale content: an
 * empty slot or an id from the previous lap. tests/run-models.sh expects
 * Spin to report an error.
 *
 * Run: tests/run-models.sh deque-broken-tail-before-slot
 * (or by hand: the commands in deque.pml, on this file).
 */
#define BROKEN_TAIL_BEFORE_SLOT
#include "deque.pml"
