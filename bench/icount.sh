#!/bin/sh
# icount.sh [uring|epoll]...: user-space instructions per TCP echo round
# trip of spindle's shard thread (bench/net_echo, net_echo_rtt_256b on one
# shard), for each backend named (default: both).
#
# net_echo runs twice under tools/stepcount, which single-steps every
# thread: with 512 and with 128 (-q) round trips. The difference of the
# busiest thread's counts, over 384, leaves out start-up and shutdown.
# Instructions do not move with the machine's speed, so a change of 1%
# shows, where timing needs a dozen interleaved invocations to show it.
# Single-stepping is slow (about 15 s per run) and dilates time: clocked
# code (the stall watchdog's thread) runs more often than it would, which
# is why only the shard thread counts. Build first: make bench-c tools.
set -eu
build=${BUILD:-build/release}
prog=$build/bench/net_echo
step=$build/tools/stepcount
full=512 quick=128 # bench/net_echo.c, rounds_of()
for f in "$prog" "$step"; do
    if [ ! -x "$f" ]; then
        echo "icount.sh: $f not built (make bench-c tools)" >&2
        exit 2
    fi
done
# The largest per-thread count of one stepcount run of the given case.
busiest() {
    c=$1
    shift
    "$step" "$prog" -r 1 -w 0 -f "net_echo_rtt_256b/$c\$" "$@" 2>&1 >/dev/null |
        awk '/^stepcount: thread/ { if ($4 > max) max = $4 } END { print max + 0 }'
}
for backend in ${*:-uring epoll}; do
    case $backend in
    uring) case=pinned-1shard ;;
    epoll) case=pinned-1shard-epoll ;;
    *)
        echo "icount.sh: unknown backend '$backend' (uring or epoll)" >&2
        exit 2
        ;;
    esac
    a=$(busiest "$case")
    b=$(busiest "$case" -q)
    if [ "$a" -le "$b" ]; then
        echo "icount.sh: no count for $backend ($a, $b)" >&2
        exit 1
    fi
    echo "$(((a - b) / (full - quick))) instructions per round trip ($backend, shard thread)"
done
