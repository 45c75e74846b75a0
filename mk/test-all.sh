#!/bin/sh
# Build and run the test suite in each mode (in release also the I/O tests
# with io_uring denied by a seccomp filter, which the automatic fallback to
# epoll must carry, and the io_uring tests once per kernel feature masked
# off with SPINDLE_FEATURES_OFF), then the Spin models, then build (never run) every
# benchmark program and peer (make bench-build) so none can rot, and print
# one summary line summing them all:  N passed, N failed, N skipped
#
# Called by "make test". Environment:
#   TEST_MODES    modes to run, in order (default: release asan tsan)
#   TEST_MODELS   1 to run tests/run-models.sh too (default 1)
#   TEST_BENCH    1 to build the benchmarks and peers at the end (default 1)
#   TEST_TIMEOUT  seconds one runner may take before it counts as failed (600)
#   RUNNER_ARGS   extra arguments for each runner, e.g. "-q" or "-f task_"
#   MAKE          the make to build with
#
# A mode whose runner cannot be built, crashes, times out or ends without a
# summary line counts as one failed test, so the total can never read clean
# when something went wrong. Exit status: 0 only if nothing failed.
set -u

modes=${TEST_MODES:-release asan tsan}
models=${TEST_MODELS:-1}
limit=${TEST_TIMEOUT:-600}
make=${MAKE:-make}
arch=$(uname -m)

passed=0 failed=0 skipped=0
notes=""

note() { # note TEXT: remember a problem for the end
    notes="$notes
  $1"
}

# Build in parallel unless the calling make already has a job server.
jobs=""
case " ${MAKEFLAGS:-} " in
*jobserver* | *" -j"*) ;;
*) jobs="-j$(nproc 2>/dev/null || echo 2)" ;;
esac

run_limited() { # run_limited CMD...: run under the time limit if we can
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 10 "$limit" "$@"
    else
        "$@"
    fi
}

# add_summary LOG: add the runner's last "N passed, N failed, N skipped" line.
# Prints nothing and returns 1 if the log has no such line.
add_summary() {
    line=$(grep -E '^([A-Za-z]+: )?[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$1" |
        tail -n 1 | sed -E 's/^[A-Za-z]+: //')
    [ -n "$line" ] || return 1
    set -- $(printf '%s\n' "$line" | sed -E 's/[^0-9]+/ /g')
    passed=$((passed + $1))
    failed=$((failed + $2))
    skipped=$((skipped + $3))
    mode_failed=$2
}

run_mode() { # run_mode MODE
    m=$1
    runner=build/$m/tests/runner
    log=build/$m/tests/runner.log
    echo "=== test: $m"
    if ! $make --no-print-directory $jobs MODE="$m" runner; then
        failed=$((failed + 1))
        note "$m: the runner did not build"
        return
    fi
    set -- env UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    case "$m" in
    asan) set -- "$@" ASAN_OPTIONS=detect_stack_use_after_return=1:detect_leaks=1 ;;
    tsan) set -- "$@" TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 ;;
    esac
    # shellcheck disable=SC2086
    set -- "$@" "$runner" ${RUNNER_ARGS:-}
    { run_limited "$@" 2>&1 || echo "runner-exit-status: $?"; } | tee "$log"
    # TSan cannot start on kernels whose mmap randomization is wider than it
    # supports; running without address randomization fixes that.
    if [ "$m" = tsan ] && grep -q 'unexpected memory mapping' "$log" &&
        command -v setarch >/dev/null 2>&1; then
        echo "=== test: tsan: retrying without address randomization"
        { run_limited setarch "$arch" -R "$@" 2>&1 || echo "runner-exit-status: $?"; } |
            tee "$log"
    fi
    status=$(sed -n 's/^runner-exit-status: //p' "$log" | tail -n 1)
    status=${status:-0}
    mode_failed=0
    if ! add_summary "$log"; then
        failed=$((failed + 1))
        note "$m: the runner printed no summary line (exit status $status)"
    elif [ "$status" != 0 ] && [ "$mode_failed" = 0 ]; then
        failed=$((failed + 1))
        note "$m: the runner exited with status $status though no test failed"
    fi
    [ "$status" = 124 ] && note "$m: the runner hit the ${limit}s time limit"
    return 0
}

run_models() {
    [ -f tests/run-models.sh ] || return 0
    echo "=== test: models"
    if ! CC=gcc sh mk/deps.sh models; then
        failed=$((failed + 1))
        note "models: spin is not installed"
        return
    fi
    log=build/models.log
    mkdir -p build
    { run_limited bash tests/run-models.sh 2>&1 || echo "models-exit-status: $?"; } |
        tee "$log"
    p=$(grep -cE '(^|[^A-Za-z])pass$' "$log")
    f=$(grep -cE '(^|[^A-Za-z])fail$' "$log")
    passed=$((passed + p))
    failed=$((failed + f))
    if grep -q '^models-exit-status:' "$log" && [ "$f" = 0 ]; then
        failed=$((failed + 1))
        note "models: tests/run-models.sh failed without naming a failing model"
    fi
}

run_noring() { # the I/O tests once more, in processes that may not use io_uring
    runner=build/release/tests/runner
    log=build/release/tests/noring.log
    [ -x "$runner" ] || return 0
    echo "=== test: release, io_uring denied by seccomp (automatic epoll fallback)"
    # shellcheck disable=SC2086
    { run_limited "$runner" -b noring ${RUNNER_ARGS:-} 2>&1 || echo "runner-exit-status: $?"; } |
        tee "$log"
    mode_failed=0
    if ! add_summary "$log"; then
        failed=$((failed + 1))
        note "noring: the runner printed no summary line"
    fi
}

# The io_uring tests once per kernel feature masked off (SPINDLE_FEATURES_OFF,
# src/core/features.c): the paths older kernels take, run on this one
# (RELIABILITY.md B6.3). About 10 s each.
run_masked() {
    runner=build/release/tests/runner
    [ -x "$runner" ] || return 0
    for feature in defer_taskrun coop_taskrun msg_ring cancel_fd reg_ring guard; do
        log=build/release/tests/masked-$feature.log
        echo "=== test: release, io_uring with $feature off"
        # shellcheck disable=SC2086
        { run_limited env SPINDLE_FEATURES_OFF=$feature "$runner" -q -b uring \
            ${RUNNER_ARGS:-} 2>&1 || echo "runner-exit-status: $?"; } | tee "$log"
        mode_failed=0
        if ! add_summary "$log"; then
            failed=$((failed + 1))
            note "masked $feature: the runner printed no summary line"
        fi
    done
}

# Every benchmark program and peer builds (make bench-build: bench/*.c, and
# the tokio and Go peers from Debian's packages, built offline; about 30 s
# the first time, a second after). One test: passed if it builds, skipped
# if a peer's toolchain is missing and cannot be installed, failed otherwise.
run_bench_build() {
    echo "=== test: bench-build (benchmark programs and peers; built, not run)"
    log=build/bench-build.log
    mkdir -p build
    { run_limited $make --no-print-directory $jobs MODE=release bench-build 2>&1 ||
        echo "bench-build-exit-status: $?"; } | tee "$log"
    if ! grep -q '^bench-build-exit-status:' "$log"; then
        passed=$((passed + 1))
    elif grep -q '^peers: missing packages' "$log" && ! grep -q 'build failed (status 1)' "$log"; then
        skipped=$((skipped + 1))
        note "bench-build: a peer toolchain is missing (see $log)"
    else
        failed=$((failed + 1))
        note "bench-build: a benchmark program or peer did not build (see $log)"
    fi
}

run_fuzz_replay() { # run_fuzz_replay MODE WHAT TARGET BINARY CORPUS: a fuzz corpus, replayed
    m=$1 what=$2 target=$3 bin=build/$1/tests/$4 corpus=$5
    log=build/$m/tests/$4.log
    echo "=== test: $m, $what fuzz corpus replay"
    if ! $make --no-print-directory $jobs MODE="$m" "$target"; then
        failed=$((failed + 1))
        note "$m: the $what fuzz replay did not build"
        return
    fi
    { run_limited env UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$bin" "$corpus" 2>&1 ||
        echo "replay-exit-status: $?"; } | tee "$log"
    mode_failed=0
    if ! add_summary "$log"; then
        failed=$((failed + 1))
        note "$m: the $what fuzz replay printed no summary line (a crash?)"
    elif grep -q '^replay-exit-status:' "$log" && [ "$mode_failed" = 0 ]; then
        failed=$((failed + 1))
        note "$m: the $what fuzz replay failed"
    fi
}

if ! $make --no-print-directory check-headers; then
    failed=$((failed + 1))
    note "check-headers: a public header does not compile on its own"
fi
for m in $modes; do
    run_mode "$m"
    run_fuzz_replay "$m" "kv protocol" kv-fuzz-replay kv-fuzz-replay tests/fuzz/kv/corpus
    [ "$m" = tsan ] ||
        run_fuzz_replay "$m" "HTTP parser" http-fuzz-replay fuzz-http-replay tests/fuzz/http/corpus
    [ "$m" = release ] && { run_noring; run_masked; }
done
[ "$models" = 1 ] && run_models
[ "${TEST_BENCH:-1}" = 1 ] && run_bench_build

if [ -n "$notes" ]; then
    echo "=== problems:$notes"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
