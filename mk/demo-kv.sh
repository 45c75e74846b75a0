#!/bin/bash
# The kv half of the demo: spindle's examples/kv against memcached, one
# thread each, driven by tools/loadgen.
#
#   1. installs memcached if it is missing (apt-get; root or sudo);
#   2. builds kv and loadgen (release);
#   3. starts kv (1 shard) and memcached (-t 1) on loopback, both pinned to
#      CPU 0; loadgen runs pinned to CPU 1 (docs: BENCHMARKS.md rule 4);
#   4. for uniform and Zipf 0.99 keys, 90/10 get/set, 100-byte values:
#      closed loop at peak (CONNS connections x DEPTH pipelined), then open
#      loop (Poisson) at 80% of memcached's closed-loop peak, runs
#      interleaved kv, memcached, kv, ... REPS times; medians;
#   5. prints a side-by-side table and the ratios; stops all it started.
#
# Environment: DEMO_REPS (3), DEMO_DURATION seconds per run (5), DEMO_CONNS
# (32), DEMO_DEPTH (8), DEMO_OPEN_CONNS (32), KV_PORT (22122), MC_PORT (22123),
# KV_ARGS (extra kv flags, e.g. --arch=shared).
set -euo pipefail
cd "$(dirname "$0")/.."

REPS=${DEMO_REPS:-3}
DUR=${DEMO_DURATION:-5}
CONNS=${DEMO_CONNS:-32}
DEPTH=${DEMO_DEPTH:-8}
OPEN_CONNS=${DEMO_OPEN_CONNS:-32}
KV_PORT=${KV_PORT:-22122}
MC_PORT=${MC_PORT:-22123}
KV_ARGS=${KV_ARGS:-}
KV=build/release/examples/kv
LG=build/release/tools/loadgen

pids=()
cleanup() {
    for p in "${pids[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${pids[@]}"; do
        wait "$p" 2>/dev/null || true
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif sudo -n true 2>/dev/null; then sudo "$@"; else
        echo "demo-kv: run as root or install memcached: apt-get install memcached" >&2
        exit 1
    fi
}

if ! command -v memcached >/dev/null 2>&1 && [ ! -x /usr/bin/memcached ]; then
    echo "demo-kv: installing memcached"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq memcached >/dev/null
fi
MEMCACHED=$(command -v memcached || echo /usr/bin/memcached)

make --no-print-directory -j2 MODE=release "$KV" "$LG"

wait_port() { # wait_port PORT: until something accepts on it (5 s)
    for _ in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "demo-kv: nothing listens on port $1" >&2
    exit 1
}

# shellcheck disable=SC2086
taskset -c 0 "$KV" --host=127.0.0.1 --port="$KV_PORT" --shards=1 --memory=1024 $KV_ARGS \
    2>build/release/demo-kv.log &
pids+=($!)
taskset -c 0 "$MEMCACHED" -t 1 -p "$MC_PORT" -U 0 -l 127.0.0.1 -m 1024 -c 20000 -u nobody &
pids+=($!)
wait_port "$KV_PORT"
wait_port "$MC_PORT"

field() { # field NAME LINE
    printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

median() { sort -g | awk '{v[NR]=$1} END {print (NR ? v[int((NR+1)/2)] : 0)}'; }

# run SERVER PORT DIST [loadgen args...]: one run, RESULT line to results
results=$(mktemp)
run() {
    local server=$1 port=$2 dist=$3
    shift 3
    local line
    line=$(taskset -c 1 "$LG" --port="$port" --dist="$dist" --get=0.9 --value=100 \
        --keys=100000 --duration="$DUR" --warmup=1 --quiet "$@" | grep '^RESULT')
    echo "$server $dist $line" >>"$results"
    printf '  %-9s %-9s %s\n' "$server" "$dist" \
        "$(printf '%s' "$line" | sed 's/.*mode=\([a-z]*\).*throughput=\([0-9]*\).*p99_us=\([0-9.]*\).*/\1 \2 req\/s p99 \3 us/')"
}

stat() { # stat SERVER DIST MODE FIELD: median over the runs
    grep "^$1 $2 .* mode=$3 " "$results" | while read -r l; do field "$4" "$l"; done | median
}

echo "demo-kv: $REPS x ${DUR}s per cell; kv and memcached on CPU 0, loadgen on CPU 1"
for dist in uniform zipf:0.99; do
    for _ in $(seq "$REPS"); do
        run kv "$KV_PORT" "$dist" --conns="$CONNS" --depth="$DEPTH"
        run memcached "$MC_PORT" "$dist" --conns="$CONNS" --depth="$DEPTH"
    done
    rate=$(stat memcached "$dist" closed throughput | awk '{printf "%d", $1 * 0.8}')
    for _ in $(seq "$REPS"); do
        run kv "$KV_PORT" "$dist" --conns="$OPEN_CONNS" --rate="$rate"
        run memcached "$MC_PORT" "$dist" --conns="$OPEN_CONNS" --rate="$rate"
    done
done

echo
echo "kv (spindle, 1 shard) vs memcached -t 1; 90/10 get/set, 100 B values, 100k keys; medians of $REPS"
printf '%-11s %-28s %-10s %12s %9s %9s %9s %9s\n' keys load server 'req/s' 'p50 us' 'p99 us' \
    'p99.9 us' 'max us'
for dist in uniform zipf:0.99; do
    for mode in closed open; do
        if [ "$mode" = closed ]; then
            load="closed ${CONNS}x${DEPTH}"
        else
            load="open $(stat memcached "$dist" open rate | awk '{printf "%d", $1}') req/s"
        fi
        for server in kv memcached; do
            printf '%-11s %-28s %-10s %12.0f %9.1f %9.1f %9.1f %9.1f\n' "$dist" "$load" "$server" \
                "$(stat "$server" "$dist" "$mode" throughput)" "$(stat "$server" "$dist" "$mode" p50_us)" \
                "$(stat "$server" "$dist" "$mode" p99_us)" "$(stat "$server" "$dist" "$mode" p999_us)" \
                "$(stat "$server" "$dist" "$mode" max_us)"
        done
    done
done
echo
for dist in uniform zipf:0.99; do
    kt=$(stat kv "$dist" closed throughput)
    mt=$(stat memcached "$dist" closed throughput)
    kp=$(stat kv "$dist" open p99_us)
    mp=$(stat memcached "$dist" open p99_us)
    awk -v d="$dist" -v kt="$kt" -v mt="$mt" -v kp="$kp" -v mp="$mp" 'BEGIN {
        printf "%-11s throughput kv/memcached %.2fx (goal >= 1.3x);  open-loop p99 kv/memcached %.2f (goal <= 0.5)\n",
            d, (mt > 0 ? kt / mt : 0), (mp > 0 ? kp / mp : 0) }'
done
rm -f "$results"
