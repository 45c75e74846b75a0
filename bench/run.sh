#!/bin/sh
# Run the core runtime benchmarks and summarise them.
#
#   bench/run.sh [-n rounds] [-r reps] [-q] [program ...]
#
# Builds nothing: it runs the programs already in build/release/bench/
# (relative to the repository root, found from this script's location;
# BENCH_DIR overrides it, relative to the root or absolute). Repetitions are
# interleaved across programs: round 1 runs every program once, then round 2
# runs them all again, and so on, so a slow phase of the machine hits every
# workload alike. Each invocation does its own untimed warm-up and `reps`
# timed repetitions (its cases interleaved too).
#
#   -n N   rounds (default 5)
#   -r N   timed repetitions per invocation (default 1)
#   -q     quick mode (BENCH_QUICK=1): smaller sizes, for a smoke test
#
# Every RESULT line goes to bench/results/core-<date>.txt (git-ignored),
# and a table is printed: workload, variant, median, min-max, samples. With
# -r 1 a sample is one repetition; with more, the median of each invocation
# is one sample and min/max come from the invocations' min/max fields.
set -u

ROUNDS=5
REPS=1
QUICK=0
while getopts "n:r:qh" opt; do
    case $opt in
    n) ROUNDS=$OPTARG ;;
    r) REPS=$OPTARG ;;
    q) QUICK=1 ;;
    h)
        sed -n '2,/^set -u/p' "$0" | sed -e '/^set -u/d' -e 's/^# \{0,1\}//'
        exit 0
        ;;
    *) exit 2 ;;
    esac
done
shift $((OPTIND - 1))

case $ROUNDS in '' | *[!0-9]*) echo "run.sh: bad -n '$ROUNDS'" >&2; exit 2 ;; esac
case $REPS in '' | *[!0-9]*) echo "run.sh: bad -r '$REPS'" >&2; exit 2 ;; esac

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT" || exit 1

BIN=${BENCH_DIR:-build/release/bench}

if [ $# -gt 0 ]; then
    PROGS=$*
else
    PROGS="spawn_join yield_pingpong switch xshard_pingpong xshard_call fanout_fanin mutex_contended chan_pingpong chan_mpmc steady blocking_run fs_read net_echo"
fi

RUN_PROGS=
for p in $PROGS; do
    if [ -x "$BIN/$p" ]; then
        RUN_PROGS="$RUN_PROGS $p"
    else
        echo "run.sh: $BIN/$p not built (make MODE=release); skipped" >&2
    fi
done
if [ -z "$RUN_PROGS" ]; then
    echo "run.sh: nothing to run in $BIN" >&2
    exit 1
fi

mkdir -p bench/results
STAMP=$(date +%Y-%m-%d-%H%M%S)
OUT=bench/results/core-$STAMP.txt
{
    echo "# spindle core benchmarks, $STAMP"
    echo "# commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
        "$(git diff --quiet HEAD -- src include 2>/dev/null || echo '(src or include modified)')"
    echo "# host $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs"
    echo "# rounds=$ROUNDS reps=$REPS quick=$QUICK programs:$RUN_PROGS"
    echo "# loadavg at start: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" \
        "(other load on these 2-vCPU machines skews every number)"
} >"$OUT"

QFLAG=
[ "$QUICK" = 1 ] && QFLAG=-q

status=0
r=1
while [ "$r" -le "$ROUNDS" ]; do
    for p in $RUN_PROGS; do
        printf 'round %d/%d: %s\n' "$r" "$ROUNDS" "$p" >&2
        # shellcheck disable=SC2086
        if ! "$BIN/$p" -r "$REPS" $QFLAG >"$OUT.tmp"; then
            echo "run.sh: $p exited with an error (round $r)" >&2
            status=1
        fi
        grep '^RESULT ' "$OUT.tmp" >>"$OUT"
        grep '^# ratio ' "$OUT.tmp" | sed "s/^# ratio /# round $r ratio /" >>"$OUT"
    done
    r=$((r + 1))
done
rm -f "$OUT.tmp"
echo "# loadavg at end: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null)" >>"$OUT"

# The table. Groups keep their first-seen order.
awk '
function field(name,    i, kv) {
    for (i = 2; i <= NF; i++) {
        if (index($i, name "=") == 1) {
            return substr($i, length(name) + 2)
        }
    }
    return ""
}
function fmt(v) {
    if (v >= 1000) return sprintf("%.0f", v)
    if (v >= 100) return sprintf("%.1f", v)
    if (v >= 10) return sprintf("%.2f", v)
    return sprintf("%.3f", v)
}
/^RESULT / {
    rtm = field("runtime")
    vname = (rtm == "spindle" || rtm == "") ? field("variant") : rtm ":" field("variant")
    key = field("workload") SUBSEP vname
    if (!(key in n)) {
        order[++nkeys] = key
        wl[key] = field("workload")
        va[key] = vname
        un[key] = field("unit")
        lo[key] = ""
        hi[key] = ""
    }
    v = field("value") + 0
    vals[key, ++n[key]] = v
    mn = field("min"); mx = field("max")
    if (mn == "") mn = v
    if (mx == "") mx = v
    if (lo[key] == "" || mn + 0 < lo[key]) lo[key] = mn + 0
    if (hi[key] == "" || mx + 0 > hi[key]) hi[key] = mx + 0
}
END {
    printf "%-24s %-22s %11s %-4s %-23s %s\n", "workload", "variant", "median", "unit", "min-max", "n"
    for (k = 1; k <= nkeys; k++) {
        key = order[k]
        m = n[key]
        for (i = 1; i <= m; i++) s[i] = vals[key, i]
        for (i = 2; i <= m; i++) {
            x = s[i]
            for (j = i - 1; j >= 1 && s[j] > x; j--) s[j + 1] = s[j]
            s[j + 1] = x
        }
        med = (m % 2) ? s[(m + 1) / 2] : (s[m / 2] + s[m / 2 + 1]) / 2
        medv[key] = med
        printf "%-24s %-22s %11s %-4s %-23s %d\n", wl[key], va[key], fmt(med), un[key], \
            fmt(lo[key]) "-" fmt(hi[key]), m
    }
    # pinned-only<suffix> / stealable<suffix> ratios (fan-out workloads)
    for (k = 1; k <= nkeys; k++) {
        key = order[k]
        if (index(va[key], "pinned-only") != 1) continue
        other = wl[key] SUBSEP "stealable" substr(va[key], 12)
        if (!(other in medv) || medv[other] == 0) continue
        printf "ratio %s: %s / %s = %.3f\n", wl[key], va[key], va[other], medv[key] / medv[other]
    }
}
' "$OUT" | tee "$OUT.table"
{
    echo "#"
    sed 's/^/# /' "$OUT.table"
} >>"$OUT"
rm -f "$OUT.table"
echo "results: $OUT"
exit $status
