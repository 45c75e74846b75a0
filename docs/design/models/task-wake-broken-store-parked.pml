/*
 * task-wake-broken-store-parked.pml -- mutation of task-wake.pml.
 *
 * The scheduler tests NOTIFY and then stores PARKED with a plain store, not
 * a CAS. A wake that sets NOTIFY between the test and the store is erased:
 * the task stays PARKED for ever although its events are set.
 * tests/run-models.sh expects Spin to report an error.
 *
 * Run: tests/run-models.sh task-wake-broken-store-parked
 * (or by hand: the commands in task-wake.pml, on this file).
 */
#define BROKEN_STORE_PARKED
#include "task-wake.pml"
