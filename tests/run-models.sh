#!/usr/bin/env bash
# Run the Spin models of the concurrency protocols (docs/design/models/) and
# check that each behaves as expected: the models of the real protocols must
# verify with no error, and each deliberately broken variant must make Spin
# report one (so the models can tell a right protocol from a wrong one).
#
# Usage: tests/run-models.sh [NAME...]   (default: every model in the table)
#
# Prints one line per model, ending in "pass" or "fail" (mk/test-all.sh
# counts those words), and exits nonzero if any model did not behave as
# expected or spin/gcc is missing. Environment: CC (default gcc) compiles
# the verifiers.
#
# Checks (the models' header comments say what each one proves):
#   safety    spin -a; cc -DSAFETY -DNOCLAIM pan.c; ./pan
#             assertions and invalid end states, exhaustive, no LTL claim
#   liveness  spin -a; cc -DNFAIR=3 pan.c; ./pan -a -f -A
#             the model's LTL formula under weak fairness (acceptance
#             cycles); -A leaves assertions to the safety check
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
models=$root/docs/design/models
cc=${CC:-gcc}

# name                                  checks            expect
table="
park-wake                               safety,liveness   clean
park-wake-broken-recheck-first          safety,liveness   error
park-wake-broken-load-before-push       safety,liveness   error
park-wake-broken-count-after-recheck    safety,liveness   error
park-wake-broken-no-steal-wake          safety,liveness   error
park-wake-broken-surplus-only           safety,liveness   error
task-wake                               safety,liveness   clean
task-wake-broken-park-before-switch     safety            error
task-wake-broken-store-parked           safety,liveness   error
deque                                   safety            clean
deque-broken-read-after-cas             safety            error
deque-broken-tail-before-slot           safety            error
deque-broken-no-torn-check              safety            error
"

if ! command -v spin >/dev/null 2>&1; then
    echo "run-models: spin is not installed (Debian/Ubuntu: apt-get install spin)"
    exit 1
fi
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "run-models: no C compiler ($cc) to build the Spin verifiers"
    exit 1
fi

tmp=$(mktemp -d -t spindle-models.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT

now() { date +%s.%N; }

# show FILE [PATTERN]: print the lines of a log that match PATTERN (default:
# its last 25 lines), indented so that none can pass for a result line.
show() {
    if [ -n "${2:-}" ]; then
        grep -E -e "$2" "$1"
    else
        tail -n 25 "$1"
    fi | sed -e 's/^/    | /' -e 's/\(pass\|fail\)$/\1./'
}

# check NAME KIND EXPECT: run one check in its own directory. Sets
# `errors` (empty if the verifier did not run to the end), `states` and
# `why`; returns 0 if the result is what EXPECT asks for.
check() {
    local name=$1 kind=$2 expect=$3
    local dir=$tmp/$name.$kind
    local cflags run opt=-O1
    mkdir -p "$dir" || return 1
    case $kind in
    safety) cflags="-DSAFETY -DNOCLAIM" run="" ;;
    liveness) cflags="-DNFAIR=3" run="-a -f -A" ;;
    esac
    # Mutants stop at their first error: do not spend time optimizing.
    [ "$expect" = error ] && opt=-O0
    errors="" states="" why=""
    if ! (cd "$dir" && spin -a "$models/$name.pml") >"$dir/spin.log" 2>&1; then
        why="spin -a failed"
        show "$dir/spin.log"
        return 1
    fi
    # shellcheck disable=SC2086
    if ! (cd "$dir" && "$cc" $opt -w $cflags -o pan pan.c) >"$dir/cc.log" 2>&1; then
        why="pan.c did not compile"
        show "$dir/cc.log"
        return 1
    fi
    # -m: search depth; -w22: a 4M-slot hash table (more is slower here).
    # shellcheck disable=SC2086
    (cd "$dir" && ./pan -m200000 -w22 $run) >"$dir/pan.log" 2>&1
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' "$dir/pan.log" | tail -n 1)
    states=$(awk '/states, stored/ { print $1; exit }' "$dir/pan.log")
    if [ -z "$errors" ]; then
        why="$kind: the verifier did not finish"
        show "$dir/pan.log"
        return 1
    fi
    if [ "$expect" = clean ]; then
        if [ "$errors" != 0 ]; then
            why="$kind: spin found $errors error(s)"
            show "$dir/pan.log" '^pan|errors:'
            local trail=$dir/$name.pml.trail
            if [ -f "$trail" ]; then
                echo "    counterexample (last steps):"
                (cd "$dir" && spin -t -p -k "$trail" "$models/$name.pml") \
                    >"$dir/trail.log" 2>&1
                show "$dir/trail.log"
            fi
            return 1
        fi
        if grep -q -e 'max search depth too small' -e 'out of memory' \
            "$dir/pan.log"; then
            why="$kind: the search was not exhaustive"
            show "$dir/pan.log"
            return 1
        fi
    elif [ "$errors" = 0 ]; then
        why="$kind: spin found no error in a broken variant"
        return 1
    fi
    return 0
}

selected() { # selected NAME: true if NAME was asked for (or nothing was)
    [ "$nargs" -eq 0 ] && return 0
    local want
    for want in ${args[@]+"${args[@]}"}; do
        [ "$want" = "$1" ] && return 0
    done
    return 1
}

args=("$@")
nargs=$#
for want in ${args[@]+"${args[@]}"}; do
    if ! printf '%s\n' "$table" | grep -q "^$want "; then
        echo "run-models: no model named $want"
        exit 1
    fi
done
ok=0 bad=0
while read -r name kinds expect; do
    [ -n "$name" ] || continue
    selected "$name" || continue
    if [ ! -f "$models/$name.pml" ]; then
        echo "model $name (docs/design/models/$name.pml is missing): fail"
        bad=$((bad + 1))
        continue
    fi
    start=$(now)
    detail="" result=pass
    for kind in ${kinds//,/ }; do
        if check "$name" "$kind" "$expect"; then
            [ "$expect" = clean ] && detail="$detail, $kind $states states"
        else
            result=fail
            detail="$detail, $why"
        fi
    done
    secs=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }')
    if [ "$expect" = error ] && [ "$result" = pass ]; then
        detail=", error found as expected"
    fi
    echo "model $name (${detail#, }, ${secs} s): $result"
    if [ "$result" = pass ]; then
        ok=$((ok + 1))
    else
        bad=$((bad + 1))
    fi
done <<EOF
$table
EOF

echo "models: $ok as expected, $bad not"
[ "$bad" -eq 0 ]
