/*
 * task-wake-broken-park-before-switch.pml -- mutation of task-wake.pml.
 *
 * The task publishes PARKED itself, before it has switched off its stack.
 * A waker can then queue it and another shard switch to it while the first
 * shard still runs on that stack. tests/run-models.sh expects an error (the
 * onstack assertion).
 *
 * Run: tests/run-models.sh task-wake-broken-park-before-switch
 * (or by hand: the commands in task-wake.pml, on this file).
 */
#define BROKEN_PARK_BEFORE_SWITCH
#include "task-wake.pml"
