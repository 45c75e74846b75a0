/*
 * deque-broken-read-after-cas.pml -- mutation of deque.pml.
 *
 * The thief copies the slots after its CAS on head instead of before
 * (ssbl/concurrent-deque#2). Once head has moved, the owner may wrap around
 * and overwrite those slots, so the thief takes a newer id twice and loses
 * the old one. tests/run-models.sh expects Spin to report an error.
 *
 * Run: tests/run-models.sh deque-broken-read-after-cas
 * (or by hand: the commands in deque.pml, on this file).
 */
#define BROKEN_READ_AFTER_CAS
#include "deque.pml"
