#!/bin/sh
# Build the peer programs of the benchmark suite (bench/suite.sh):
#
#   build/peers/tokio/release/spindle-peer-tokio   from bench/peers/tokio/
#   build/peers/go/spindle-peer-go                 from bench/peers/go/
#
#   bench/peers/build.sh [tokio] [go]      (default: both)
#
# Missing toolchains come from Debian packages: librust-tokio-dev (tokio
# 1.24's sources under /usr/share/cargo/registry, built offline through
# bench/peers/tokio/.cargo/config.toml), cargo + rustc when no cargo is
# found (PATH, then ~/.cargo/bin), golang-go for Go. They are installed with
# apt-get when running as root or with passwordless sudo; otherwise the
# script prints the command and exits 77. Nothing is fetched from any other
# registry: the Go peer uses the standard library only, and cargo runs
# offline. Build outputs (the cargo target dir, Go's build cache) stay under
# build/peers/, never in the source tree; Cargo.lock is git-ignored.
#
# Exit status: 0 built (or already up to date), 1 a build failed, 77 a
# toolchain is missing and could not be installed.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=$ROOT/build/peers
which=${*:-tokio go}

apt_install() { # apt_install PKG...: install Debian packages, or say how
    if [ "$(id -u)" = 0 ]; then
        set -- env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        set -- sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    else
        echo "peers: missing packages; run: sudo apt-get install $*" >&2
        return 77
    fi
    echo "peers: installing $* (apt-get)" >&2
    "$@" >/dev/null || { "$@" 2>&1 | tail -n 5 >&2; return 77; }
}

find_cargo() {
    # rustup installs into ~/.cargo/bin, which a non-login shell may not
    # have on PATH.
    for c in "$(command -v cargo 2>/dev/null)" "${HOME:+$HOME/.cargo/bin/cargo}"; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    return 1
}

build_tokio() {
    if ! ls -d /usr/share/cargo/registry/tokio-1.* >/dev/null 2>&1; then
        apt_install librust-tokio-dev || return $?
    fi
    cargo=$(find_cargo) || {
        apt_install cargo rustc || return $?
        cargo=$(find_cargo) || return 77
    }
    # rustup's cargo wants its rustc next to it; Debian's is on PATH.
    PATH=$(dirname "$cargo"):$PATH
    export PATH
    printf '  %-6s %s\n' CARGO build/peers/tokio/release/spindle-peer-tokio
    (cd "$HERE/tokio" &&
        CARGO_TARGET_DIR=$OUT/tokio "$cargo" build --release --quiet --offline) || return 1
}

build_go() {
    gobin=$(command -v go 2>/dev/null || ls /usr/lib/go-*/bin/go 2>/dev/null | tail -n 1)
    if [ -z "$gobin" ]; then
        apt_install golang-go || return $?
        gobin=$(command -v go 2>/dev/null || ls /usr/lib/go-*/bin/go 2>/dev/null | tail -n 1)
        [ -n "$gobin" ] || return 77
    fi
    mkdir -p "$OUT/go"
    printf '  %-6s %s\n' GO build/peers/go/spindle-peer-go
    (cd "$HERE/go" &&
        GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOCACHE=$OUT/go/cache \
            "$gobin" build -o "$OUT/go/spindle-peer-go" .) || return 1
}

status=0
for p in $which; do
    case $p in
    tokio) build_tokio ;;
    go) build_go ;;
    *) echo "peers: unknown peer '$p'" >&2; exit 2 ;;
    esac
    rc=$?
    if [ "$rc" != 0 ]; then
        echo "peers: $p: build failed (status $rc)" >&2
        # A failed build outranks a missing toolchain.
        if [ "$rc" = 1 ] || [ "$status" = 0 ]; then
            status=$rc
        fi
    fi
done
exit $status
