#!/bin/sh
# The benchmark suite: spindle against tokio, Go and the raw baselines, one
# table, a CSV and an SVG chart. "make bench" builds everything and runs it;
# docs/benchmarks.md explains the workloads and the latest results.
#
#   bench/suite.sh [-n rounds] [-q] [-k]
#
#   -n N   rounds (default 5; 3 with -q)
#   -q     quick mode: smaller sizes (BENCH_QUICK=1), a smoke run
#   -k     keep going when checksums differ (default: the run fails)
#
# Builds nothing: it runs build/release/bench/<program> (spindle and the
# raw baselines, bench/*.c) and the peers in build/peers/ (bench/peers/,
# built by bench/peers/build.sh). Rounds are interleaved: each round runs
# every program once (one untimed warm-up, one timed repetition of each of
# its cases), the order reversed every other round, so a slow phase of the
# machine hits every runtime alike (A B A B ...). A row's median and
# min-max are over the rounds.
#
# Output, in bench/results/ (git-ignored), named suite-<date>:
#   .txt  every RESULT line, with the settings and load averages as comments
#   .csv  the table, one line per row
#   .svg  the ratios peer/spindle, one bar group per row, a line at 1.0
# The table goes to standard output. Checksums (checksum= fields) must be
# equal across every runtime of a workload, or the run fails.
set -u

ROUNDS=
QUICK=0
KEEP=0
while getopts "n:qkh" opt; do
    case $opt in
    n) ROUNDS=$OPTARG ;;
    q) QUICK=1 ;;
    k) KEEP=1 ;;
    h)
        sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *) exit 2 ;;
    esac
done
if [ -z "$ROUNDS" ]; then
    ROUNDS=5
    [ "$QUICK" = 1 ] && ROUNDS=3
fi
case $ROUNDS in '' | *[!0-9]* | 0) echo "suite.sh: bad -n '$ROUNDS'" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT" || exit 1

BIN=build/release/bench
SPINDLE_PROGS="spawn_join yield_pingpong chan_pingpong mutex_contended fanout_fanin steady cold_start timer_storm net_echo net_hotspot fs_read"
PEERS="build/peers/tokio/release/spindle-peer-tokio build/peers/go/spindle-peer-go"

PROGS=
for p in $SPINDLE_PROGS; do
    if [ -x "$BIN/$p" ]; then
        PROGS="$PROGS $BIN/$p"
    else
        echo "suite.sh: $BIN/$p not built (make MODE=release bench-build); skipped" >&2
    fi
done
for p in $PEERS; do
    if [ -x "$p" ]; then
        PROGS="$PROGS $p"
    else
        echo "suite.sh: $p not built (sh bench/peers/build.sh); its columns read NA" >&2
    fi
done
[ -n "$PROGS" ] || { echo "suite.sh: nothing to run" >&2; exit 1; }

mkdir -p bench/results
STAMP=$(date +%Y-%m-%d-%H%M%S)
BASE=bench/results/suite-$STAMP
OUT=$BASE.txt
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
{
    echo "# spindle benchmark suite, $STAMP"
    echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "$(git diff --quiet HEAD -- src include 2>/dev/null || echo '(src or include modified)')"
    echo "# host $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs," \
        "$(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo 2>/dev/null | head -n 1)"
    echo "# rounds=$ROUNDS quick=$QUICK spindle spin_ns=${SPINDLE_SPIN_NS:-default}"
    echo "# loadavg at start: $LOAD0"
} >"$OUT"

QFLAG=
[ "$QUICK" = 1 ] && QFLAG=-q
status=0
T0=$(date +%s)
r=1
while [ "$r" -le "$ROUNDS" ]; do
    order=$PROGS
    if [ $((r % 2)) = 0 ]; then # reversed every other round
        order=$(printf '%s\n' $PROGS | sed -n '1!G;h;$p')
    fi
    for p in $order; do
        printf 'round %d/%d: %s\n' "$r" "$ROUNDS" "${p##*/}" >&2
        # shellcheck disable=SC2086
        if ! "$p" -r 1 -w 1 $QFLAG >"$OUT.tmp" 2>"$OUT.err"; then
            echo "suite.sh: ${p##*/} exited with an error (round $r):" >&2
            tail -n 5 "$OUT.err" >&2
            status=1
        fi
        grep '^RESULT ' "$OUT.tmp" | sed "s/\$/ round=$r/" >>"$OUT"
    done
    r=$((r + 1))
done
rm -f "$OUT.tmp" "$OUT.err"
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)
echo "# loadavg at end: $LOAD1" >>"$OUT"
echo "# wall time: $(($(date +%s) - T0)) s" >>"$OUT"

# The rows of the table. Each cell names a RESULT as workload/variant, or
# runtime:workload/variant for the raw column; "-" for none. A peer column
# whose RESULT is missing reads NA. Regime: where a row crosses threads,
# busy (both sides have other work) or idle (a side sleeps; spindle's
# spin-before-park setting named).
ROWS='
spawn_join_batch1k - spawn_join_batch1k/local-2shard spawn_join_batch1k/stealable-2shard spawn_join_batch1k/mt-2workers spawn_join_batch1k/current-thread spawn_join_batch1k/gomaxprocs2 -
spawn_join_alive1m - spawn_join_alive1m/local-2shard spawn_join_alive1m/stealable-2shard spawn_join_alive1m/mt-2workers spawn_join_alive1m/current-thread spawn_join_alive1m/gomaxprocs2 -
yield_pingpong 1-thread yield_pingpong/pinned yield_pingpong/stealable yield_pingpong/mt-2workers yield_pingpong/current-thread yield_pingpong/gomaxprocs1 -
chan_pingpong_same 1-thread chan_pingpong/same-pinned chan_pingpong/same-stealable chan_pingpong/mt-2workers chan_pingpong/current-thread chan_pingpong/gomaxprocs1 -
chan_pingpong_xshard idle,spin50us chan_pingpong/xshard-idle-spin50us - chan_pingpong_xshard_idle/mt-2workers chan_pingpong_xshard_idle/2rt-2threads chan_pingpong_xshard_idle/gomaxprocs2 -
chan_pingpong_xshard idle,spin0 chan_pingpong/xshard-idle-spin0 - - - - -
chan_pingpong_xshard busy chan_pingpong/xshard-busy - chan_pingpong_xshard_busy/mt-2workers chan_pingpong_xshard_busy/2rt-2threads chan_pingpong_xshard_busy/gomaxprocs2 -
mutex_contended - mutex_contended/4tasks-pinned-1shard mutex_contended/4tasks-stealable-2shard mutex_contended/mt-2workers mutex_contended/current-thread mutex_contended/gomaxprocs2 pthread:mutex_contended/4threads
fanout_fanin_balanced idle,spin50us fanout_fanin_balanced/pinned-only fanout_fanin_balanced/stealable fanout_fanin_balanced/mt-2workers fanout_fanin_balanced/current-thread fanout_fanin_balanced/gomaxprocs2 -
fanout_fanin_skewed idle,spin50us fanout_fanin_skewed/pinned-only fanout_fanin_skewed/stealable fanout_fanin_skewed/mt-2workers fanout_fanin_skewed/current-thread fanout_fanin_skewed/gomaxprocs2 -
steady_ping_pong_rtt idle,spin50us steady_ping_pong_rtt/pinned-only steady_ping_pong_rtt/stealable steady_ping_pong_rtt/mt-2workers steady_ping_pong_rtt/current-thread steady_ping_pong_rtt/gomaxprocs2 -
steady_one_way_send_drain idle,spin50us steady_one_way_send_drain/pinned-only steady_one_way_send_drain/stealable steady_one_way_send_drain/mt-2workers steady_one_way_send_drain/current-thread steady_one_way_send_drain/gomaxprocs2 -
cold_start_ping_pong idle,spin50us cold_start_ping_pong/pinned-only cold_start_ping_pong/stealable cold_start_ping_pong/mt-2workers cold_start_ping_pong/current-thread cold_start_ping_pong/gomaxprocs2 -
net_echo_rtt_256b 2-threads net_echo_rtt_256b/pinned-2shard net_echo_rtt_256b/stealable-2shard net_echo_rtt_256b/mt-2workers - net_echo_rtt_256b/gomaxprocs2 blocking-syscalls:net_echo_rtt_256b/2threads
net_echo_rtt_256b 1-thread net_echo_rtt_256b/pinned-1shard - - net_echo_rtt_256b/current-thread - liburing-raw:net_echo_rtt_256b/1thread
net_echo_rtt_256b tasks,1-thread net_echo_rtt_256b/pinned-1shard - - - - liburing-raw:net_echo_rtt_256b/1thread-2tasks
net_stream_4k_window32 2-threads net_stream_throughput_4k_window32/pinned-2shard net_stream_throughput_4k_window32/stealable-2shard net_stream_throughput_4k_window32/mt-2workers - net_stream_throughput_4k_window32/gomaxprocs2 blocking-syscalls:net_stream_throughput_4k_window32/2threads
net_echo_rtt_256b epoll,1-thread net_echo_rtt_256b/pinned-1shard-epoll - - - - epoll-raw:net_echo_rtt_256b/1thread
net_echo_rtt_256b evloop,1-thread net_echo_rtt_256b/pinned-1shard-epoll - - - - epoll-raw:net_echo_rtt_256b/1thread-evloop
net_echo_rtt_256b epoll,tasks,1-thread net_echo_rtt_256b/pinned-1shard-epoll - - - - epoll-raw:net_echo_rtt_256b/1thread-2tasks
net_stream_4k_window32 1-thread net_stream_throughput_4k_window32/pinned-1shard - - net_stream_throughput_4k_window32/current-thread - -
net_stream_imbalanced_4k_hot1_light7 idle,spin50us net_stream_imbalanced_4k_hot1_light7/pinned-only net_stream_imbalanced_4k_hot1_light7/stealable net_stream_imbalanced_4k_hot1_light7/mt-2workers net_stream_imbalanced_4k_hot1_light7/current-thread net_stream_imbalanced_4k_hot1_light7/gomaxprocs2 -
net_stream_hotspot_rotation_4k_free idle,spin50us net_stream_hotspot_rotation_4k_free/pinned-only net_stream_hotspot_rotation_4k_free/stealable net_stream_hotspot_rotation_4k_free/mt-2workers net_stream_hotspot_rotation_4k_free/current-thread net_stream_hotspot_rotation_4k_free/gomaxprocs2 -
net_stream_hotspot_rotation_4k_barrier idle,spin50us net_stream_hotspot_rotation_4k_barrier/pinned-only net_stream_hotspot_rotation_4k_barrier/stealable net_stream_hotspot_rotation_4k_barrier/mt-2workers net_stream_hotspot_rotation_4k_barrier/current-thread net_stream_hotspot_rotation_4k_barrier/gomaxprocs2 -
net_pipeline_hotspot_rotation_4k_window32 idle,spin50us net_pipeline_hotspot_rotation_4k_window32/pinned-only net_pipeline_hotspot_rotation_4k_window32/stealable net_pipeline_hotspot_rotation_4k_window32/mt-2workers net_pipeline_hotspot_rotation_4k_window32/current-thread net_pipeline_hotspot_rotation_4k_window32/gomaxprocs2 -
net_keyed_hotspot_rotation_4k idle,spin50us net_keyed_hotspot_rotation_4k/pinned-only net_keyed_hotspot_rotation_4k/stealable net_keyed_hotspot_rotation_4k/mt-2workers net_keyed_hotspot_rotation_4k/current-thread net_keyed_hotspot_rotation_4k/gomaxprocs2 -
net_echo_1kconn_256b 2-threads net_echo_1kconn_256b/pinned-2shard net_echo_1kconn_256b/stealable-2shard net_echo_1kconn_256b/mt-2workers - net_echo_1kconn_256b/gomaxprocs2 -
net_echo_1kconn_256b 1-thread net_echo_1kconn_256b/pinned-1shard - - net_echo_1kconn_256b/current-thread net_echo_1kconn_256b/gomaxprocs1 -
fs_read_rtt_4k - fs_read_rtt_4k/uring-1shard - fs_read_rtt_4k/mt-2workers fs_read_rtt_4k/current-thread fs_read_rtt_4k/gomaxprocs2 syscall-raw:fs_read_rtt_4k/pread
fs_read_throughput_4k_qd32 - fs_read_throughput_4k_qd32/uring-1shard fs_read_throughput_4k_qd32/uring-1shard-batch fs_read_throughput_4k_qd32/mt-2workers fs_read_throughput_4k_qd32/current-thread fs_read_throughput_4k_qd32/gomaxprocs2 liburing-raw:fs_read_throughput_4k_qd32/batch32
timer_storm - timer_storm/pinned-1shard timer_storm/stealable-2shard timer_storm/mt-2workers timer_storm/current-thread timer_storm/gomaxprocs2 -
'

printf '%s\n' "$ROWS" | awk -v results="$OUT" -v csv="$BASE.csv" -v svg="$BASE.svg" \
    -v keep="$KEEP" -v load0="$LOAD0" -v load1="$LOAD1" -v stamp="$STAMP" \
    -v quick="$QUICK" -v rounds="$ROUNDS" -f bench/suite.awk
rc=$?
[ "$rc" != 0 ] && status=$rc
echo "results: $OUT"
echo "table:   $BASE.csv"
echo "chart:   $BASE.svg"
exit $status
