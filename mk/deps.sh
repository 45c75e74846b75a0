#!/bin/sh
# Install the system packages spindle needs, if any are missing.
#
#   sh mk/deps.sh build    what compiling needs: liburing-dev, the compiler
#   sh mk/deps.sh models   what the Spin models need: spin and a C compiler
#
# Silent and fast when everything is present. Otherwise installs with
# apt-get as root, or through "sudo -n" when that works without a password;
# failing both, it names the packages and the command, and exits 1.
set -eu

cc=${CC:-gcc}
missing=""

need() { # need PACKAGE: add it to the list once
    case " $missing " in
    *" $1 "*) ;;
    *) missing="${missing:+$missing }$1" ;;
    esac
}

check_compiler() {
    prog=$(printf '%s\n' "$cc" | awk '{print $1}')
    if ! command -v "$prog" >/dev/null 2>&1; then
        case "$(basename "$prog")" in
        gcc*) need gcc ;;
        clang*) need clang ;;
        cc) need gcc ;;
        *) echo "deps: compiler '$prog' not found" >&2; exit 1 ;;
        esac
    fi
}

for what in "${@:-build}"; do
    case "$what" in
    build)
        [ -f /usr/include/liburing.h ] || need liburing-dev
        command -v ar >/dev/null 2>&1 || need binutils
        check_compiler
        ;;
    models)
        command -v spin >/dev/null 2>&1 || need spin
        command -v gcc >/dev/null 2>&1 || need gcc
        ;;
    *)
        echo "usage: $0 [build] [models]" >&2
        exit 2
        ;;
    esac
done

[ -z "$missing" ] && exit 0

apt_install() { # apt_install [sudo -n]: install, updating the lists only on failure
    # shellcheck disable=SC2086
    "$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing ||
        { "$@" apt-get update -q &&
            "$@" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $missing; }
}

if ! command -v apt-get >/dev/null 2>&1; then
    echo "deps: no apt-get here; install these packages yourself: $missing" >&2
    exit 1
fi
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing missing packages: $missing"
    apt_install
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    echo "deps: installing missing packages with sudo: $missing"
    apt_install sudo -n
else
    echo "deps: missing packages: $missing" >&2
    echo "deps: install them with:  sudo apt-get install -y $missing" >&2
    exit 1
fi
