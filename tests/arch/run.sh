#!/usr/bin/env bash
# Build and run tests/arch/ctx-test.c against the context switch in src/arch:
# natively (x86-64: gcc and clang where present, -O2 and -O0), and cross-built
# for aarch64 (aarch64-linux-gnu-gcc -static, -O2 and -O0) under qemu-aarch64
# user mode, plus two hardened aarch64 builds: -mbranch-protection=standard
# (return-address signing) and a BTI-enforced shared-library build.
# Logs and binaries go to build/arch-test/ (ARCH_TEST_OUT overrides).
#
#   bash tests/arch/run.sh            both architectures
#   bash tests/arch/run.sh --no-install   never apt-get the aarch64 toolchain
#
# Prints one line per architecture:
#   arch x86_64: pass|fail
#   arch aarch64: pass|fail|skip (reason)
# Exits nonzero if any build or run failed. A missing cross toolchain or qemu
# that cannot be installed is a skip, not a failure.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${ARCH_TEST_OUT:-$root/build/arch-test}
mkdir -p "$out"

install=1
for a in "$@"; do
    case $a in
    --no-install) install=0 ;;
    *) echo "usage: $0 [--no-install]" >&2; exit 2 ;;
    esac
done

src=$root/tests/arch/ctx-test.c
# The fenv check needs the switch that saves FP control state, which is a
# build option (src/arch/switch-x86_64.S says why it is off by default).
cflags=(-std=gnu11 -Wall -Wextra -D_GNU_SOURCE -DSP_SAVE_FPU_CONTROL=1 -I"$root/src" -g)
status=0

# build_and_run LABEL RUNNER... -- CC FLAGS...
# Compiles into $out/LABEL and runs it (through RUNNER if given).
build_and_run() {
    local label=$1; shift
    local runner=()
    while [ "$1" != "--" ]; do runner+=("$1"); shift; done
    shift
    local bin=$out/ctx-test-$label
    if ! "$@" -o "$bin" >"$out/$label.build.log" 2>&1; then
        echo "  $label: build failed:"
        sed 's/^/    /' "$out/$label.build.log"
        return 1
    fi
    if "${runner[@]}" "$bin" >"$out/$label.run.log" 2>&1; then
        echo "  $label: $(tail -n 1 "$out/$label.run.log")"
        return 0
    fi
    echo "  $label: run failed:"
    sed 's/^/    /' "$out/$label.run.log"
    return 1
}

# ---- native ---------------------------------------------------------------
native=$(uname -m)
case $native in
arm64) native=aarch64 ;;
esac
if [ ! -f "$root/src/arch/switch-$native.S" ]; then
    echo "arch $native: skip (no src/arch/switch-$native.S)"
else
    ok=1 ran=0
    for cc in gcc clang; do
        command -v "$cc" >/dev/null 2>&1 || continue
        for opt in -O2 -O0; do
            ran=1
            build_and_run "$native-$cc$opt" -- "$cc" "${cflags[@]}" "$opt" "$src" \
                "$root/src/arch/switch-$native.S" -lm || ok=0
            # Without the FP option x86-64 switches inline (context.h).
            build_and_run "$native-$cc$opt-nofpu" -- "$cc" "${cflags[@]}" \
                -USP_SAVE_FPU_CONTROL "$opt" "$src" "$root/src/arch/switch-$native.S" -lm ||
                ok=0
        done
    done
    if [ $ran = 0 ]; then
        echo "arch $native: fail (no gcc or clang)"
        status=1
    elif [ $ok = 1 ]; then
        echo "arch $native: pass"
    else
        echo "arch $native: fail"
        status=1
    fi
fi

# ---- aarch64 BTI -------------------------------------------------------------
# Branch Target Identification is only enforced in pages of an object marked
# BTI, and Debian's startup files and static libc are not, so a marked static
# program cannot even start. Instead the test becomes a shared library built
# with -mbranch-protection=standard (and -nostartfiles, which leaves out the
# unmarked crt objects), loaded by a small unmarked driver; the dynamic loader
# maps the library's code as guarded pages. The library is linked with
# -z force-bti: the linker warns about any input without the BTI note (that
# would be the switch, if it lacked one), and a missing landing pad then shows
# up as SIGILL. A self-check first proves enforcement is really on.
aarch64_bti() {
    local lib=$out/aarch64-bti/libctxtest.so drv=$out/aarch64-bti/driver
    local prefix log=$out/aarch64-bti.log
    mkdir -p "$out/aarch64-bti"
    prefix=$("$xcc" -print-file-name=ld-linux-aarch64.so.1)
    prefix=$(cd "$(dirname "$prefix")/.." 2>/dev/null && pwd)
    local sw=$out/aarch64-bti/switch-aarch64.o
    if ! { "$xcc" -c -fPIC -mbranch-protection=standard "${cflags[@]}" \
        "$root/src/arch/switch-aarch64.S" \
        -o "$sw" &&
        "$xcc" -shared -fPIC -nostartfiles -mbranch-protection=standard \
            -DCTX_TEST_LIB "${cflags[@]}" -O2 "$src" "$sw" -lm -Wl,-z,force-bti -o "$lib" &&
        "$xcc" -DCTX_TEST_DRIVER "${cflags[@]}" -O2 "$src" -L"$out/aarch64-bti" -lctxtest \
            -Wl,-rpath,"$out/aarch64-bti" -o "$drv"; } >"$log" 2>&1; then
        echo "  aarch64-gcc-O2-bti: build failed:"
        sed 's/^/    /' "$log"
        return 1
    fi
    if grep -q 'switch-aarch64\.o.*BTI turned on' "$log"; then
        echo "  aarch64-gcc-O2-bti: switch-aarch64.S has no BTI property note"
        return 1
    fi
    if [ -z "$prefix" ] || [ ! -e "$prefix/lib/ld-linux-aarch64.so.1" ]; then
        echo "  aarch64-gcc-O2-bti: skip (no aarch64 dynamic loader found)"
        return 0
    fi
    local rc
    # (in a subshell, so that bash's own report of the signal goes to the log)
    (QEMU_LD_PREFIX=$prefix "$qemu" -cpu max "$drv" --bti-selfcheck >"$log.selfcheck" 2>&1
        exit $?) 2>>"$log.selfcheck"
    rc=$?
    if [ $rc = 0 ] || [ $rc = 3 ]; then
        echo "  aarch64-gcc-O2-bti: skip (BTI not enforced here: $(head -n 1 "$log.selfcheck"))"
        return 0
    fi
    if (QEMU_LD_PREFIX=$prefix "$qemu" -cpu max "$drv" >"$log.run" 2>&1
        exit $?) 2>>"$log.run"; then
        echo "  aarch64-gcc-O2-bti: $(tail -n 1 "$log.run") (BTI enforced, self-check rc $rc)"
        return 0
    fi
    echo "  aarch64-gcc-O2-bti: run failed:"
    sed 's/^/    /' "$log.run"
    return 1
}

# ---- aarch64 under qemu (when the host is not aarch64) -----------------------
if [ "$native" != aarch64 ]; then
    xcc=aarch64-linux-gnu-gcc
    find_qemu() {
        for q in qemu-aarch64-static qemu-aarch64; do
            if command -v "$q" >/dev/null 2>&1; then echo "$q"; return 0; fi
        done
        return 1
    }
    qemu=$(find_qemu)
    if { ! command -v "$xcc" >/dev/null 2>&1 || [ -z "$qemu" ]; } && [ $install = 1 ] &&
        [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "  installing gcc-aarch64-linux-gnu and qemu-user-static with apt-get"
        {
            apt-get update -qq &&
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
                    gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
        } >"$out/apt.log" 2>&1 || echo "  apt-get failed (log: $out/apt.log)"
        qemu=$(find_qemu)
    fi
    if ! command -v "$xcc" >/dev/null 2>&1; then
        echo "arch aarch64: skip (no $xcc; apt-get install gcc-aarch64-linux-gnu)"
    elif [ -z "$qemu" ]; then
        echo "arch aarch64: skip (no qemu-aarch64; apt-get install qemu-user-static)"
    else
        ok=1
        for opt in -O2 -O0; do
            build_and_run "aarch64-gcc$opt" "$qemu" -- "$xcc" -static "${cflags[@]}" "$opt" \
                "$src" "$root/src/arch/switch-aarch64.S" -lm || ok=0
        done
        # Return-address signing (paciasp/autiasp, checked by qemu's "max"
        # CPU) as distributions enable it.
        build_and_run "aarch64-gcc-O2-pac" "$qemu" -cpu max -- "$xcc" -static "${cflags[@]}" \
            -O2 -mbranch-protection=standard "$src" "$root/src/arch/switch-aarch64.S" -lm ||
            ok=0
        aarch64_bti || ok=0
        if [ $ok = 1 ]; then
            echo "arch aarch64: pass"
        else
            echo "arch aarch64: fail"
            status=1
        fi
    fi
fi

exit $status
