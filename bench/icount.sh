#!/bin/sh
# icount.sh [PROGRAM]: user-space instructions per echo round trip of
# spindle's epoll backend, from bench/unix_echo run twice under callgrind
# (full and quick sizes; the difference leaves out start-up and
# shutdown). Instructions do not move with the machine's speed, so a
# change of 1% shows, where timing needs a dozen interleaved invocations
# to see it. The io_uring backend cannot be counted this way: valgrind
# hangs on io_uring. Needs valgrind (apt-get install valgrind).
set -eu
prog=${1:-build/release/bench/unix_echo}
full=100000 quick=10000 # bench/unix_echo.c, rounds()
if ! command -v valgrind >/dev/null 2>&1; then
    echo "icount.sh: valgrind not found (apt-get install valgrind)" >&2
    exit 2
fi
if [ ! -x "$prog" ]; then
    echo "icount.sh: $prog not built (make bench-c)" >&2
    exit 2
fi
count() {
    out=$(mktemp)
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$prog" -r 1 -w 0 \
        -f 'unix_echo_rtt_256b/pinned-1shard-epoll$' "$@" 2>"$out" >/dev/null
    awk '/Collected :/ {print $NF}' "$out"
    rm -f "$out"
}
a=$(count)
b=$(count -q)
if [ -z "$a" ] || [ -z "$b" ]; then
    echo "icount.sh: callgrind printed no count" >&2
    exit 1
fi
echo "$(( (a - b) / (full - quick) )) instructions per round trip (spindle, epoll, $prog)"
