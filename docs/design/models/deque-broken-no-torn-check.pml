/*
 * deque-broken-no-torn-check.pml -- mutation of deque.pml.
 *
 * The thief drops the "n > CAP/2: retry" test. head and tail are two loads,
 * so the pair can be torn: the owner may pop and push in between, and
 * tail - head then exceeds CAP. The thief would copy more than CAP/2 slots
 * into its half-ring buffer before its CAS fails (a buffer overrun in C; an
 * array index error in Spin). tests/run-models.sh expects Spin to report an
 * error.
 *
 * Run: tests/run-models.sh deque-broken-no-torn-check
 * (or by hand: the commands in deque.pml, on this file).
 */
#define BROKEN_NO_TORN_CHECK
#include "deque.pml"
