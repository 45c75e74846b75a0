#!/bin/bash
# The http half of the demo: spindle's examples/httpd (one shard) against
# nginx (one worker), both on CPU 0, driven by wrk on CPU 1 over loopback
# keep-alive connections: the hello response and a static file (and hello
# again with tools/loadgen --proto=http when it builds). Prints a
# side-by-side table of requests/s and wrk's p50/p99 latency.
#
# Installs nginx and wrk with apt-get if missing (as root or with sudo),
# builds httpd, and stops everything it started (trap), whatever happens.
# Environment:
#   DEMO_HTTP_SECONDS  wrk duration per run (default 5)
#   DEMO_HTTP_CONNS    wrk connections (default 64)
#   DEMO_HTTP_REPS     runs per server and workload, interleaved (default 3;
#                      the median is shown)
#   DEMO_HTTP_PORT     first of the two ports used (default 18480)
set -u
cd "$(dirname "$0")/.."

secs=${DEMO_HTTP_SECONDS:-5}
conns=${DEMO_HTTP_CONNS:-64}
reps=${DEMO_HTTP_REPS:-3}
port_sp=${DEMO_HTTP_PORT:-18480}
port_ng=$((port_sp + 1))
server_cpu=0
client_cpu=1
[ "$(nproc)" -ge 2 ] || client_cpu=0

pids=""
work=$(mktemp -d /tmp/spindle-demo-http.XXXXXX)
cleanup() {
    for p in $pids; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $pids; do
        wait "$p" 2>/dev/null
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

install_missing() {
    missing=""
    command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
    command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
    [ -n "$missing" ] || return 0
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo -n"
    echo "demo-http: installing$missing"
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null; then
        $sudo apt-get update -qq >/dev/null &&
            $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null ||
            { echo "demo-http: could not install$missing; run: apt-get install$missing"; exit 1; }
    fi
}

install_missing
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
make --no-print-directory MODE=release build/release/examples/httpd >/dev/null || exit 1
# spindle's own load generator (tools/loadgen, --proto=http) when it builds.
loadgen=""
if [ -f tools/loadgen/proto_http.c ] &&
    make --no-print-directory MODE=release build/release/tools/loadgen >/dev/null 2>&1; then
    loadgen=./build/release/tools/loadgen
fi

# The same content for both: a 4 KiB static file and the hello response.
mkdir -p "$work/www" "$work/nginx/logs"
head -c 4096 /dev/zero | tr '\0' 'x' > "$work/www/file.txt"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes 1;
worker_cpu_affinity 1;
daemon off;
master_process on;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_timeout 60s;
    keepalive_requests 1000000000;
    sendfile on;
    tcp_nopush off;
    tcp_nodelay on;
    default_type application/octet-stream;
    types { text/plain txt; }
    client_body_temp_path $work/nginx/body;
    proxy_temp_path $work/nginx/proxy;
    fastcgi_temp_path $work/nginx/fastcgi;
    uwsgi_temp_path $work/nginx/uwsgi;
    scgi_temp_path $work/nginx/scgi;
    server {
        listen 127.0.0.1:$port_ng backlog=4096;
        root $work/www;
        location = /hello { default_type text/plain; return 200 "Hello, World!"; }
    }
}
CONF

wait_port() { # wait_port PORT: until something answers there (5 s)
    for _ in $(seq 50); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    echo "demo-http: nothing listens on port $1"
    exit 1
}

taskset -c $server_cpu ./build/release/examples/httpd --ip 127.0.0.1 --port "$port_sp" \
    --shards 1 --root "$work/www" --quiet 2>"$work/httpd.log" &
pids="$pids $!"
taskset -c $server_cpu "$nginx_bin" -p "$work/nginx" -c "$work/nginx/nginx.conf" \
    -e "$work/nginx/logs/error.log" 2>>"$work/nginx/logs/error.log" &
pids="$pids $!"
wait_port "$port_sp"
wait_port "$port_ng"

# to_us VALUE: wrk's latency ("85.00us", "1.20ms", "2.00s") in microseconds.
to_us() {
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u);
        if (u == "ms") n *= 1000; else if (u == "s") n *= 1000000;
        printf "%.0f", n }'
}

# run PORT PATH: one wrk run; prints "rps p50_us p99_us".
run() {
    out=$(taskset -c $client_cpu wrk -t1 -c"$conns" -d"${secs}s" --latency \
        "http://127.0.0.1:$1$2" 2>&1)
    rps=$(printf '%s\n' "$out" | awk '/^Requests\/sec:/ { printf "%.0f", $2 }')
    p50=$(printf '%s\n' "$out" | awk '$1 == "50%" { print $2 }')
    p99=$(printf '%s\n' "$out" | awk '$1 == "99%" { print $2 }')
    if [ -z "$rps" ] || [ -z "$p50" ]; then
        echo "demo-http: wrk failed: $out" >&2
        echo "0 0 0"
        return
    fi
    echo "$rps $(to_us "$p50") $(to_us "$p99")"
}

# run_lg PORT: one closed-loop loadgen run of GET /hello; "rps p50_us p99_us".
run_lg() {
    out=$(taskset -c $client_cpu "$loadgen" --proto=http --port="$1" --conns="$conns" \
        --duration="$secs" --get=1 --no-preload --shards=1 --quiet 2>&1 | grep '^RESULT')
    f() { printf '%s\n' "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
    rps=$(f throughput) p50=$(f p50_us) p99=$(f p99_us)
    if [ -z "$rps" ]; then
        echo "demo-http: loadgen failed: $out" >&2
        echo "0 0 0"
        return
    fi
    printf '%.0f %.0f %.0f\n' "$rps" "$p50" "$p99"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

echo "demo-http: spindle httpd (1 shard) vs nginx $("$nginx_bin" -v 2>&1 | sed 's/.*\///') (1 worker), both on CPU $server_cpu;"
echo "demo-http: wrk -t1 -c$conns -d${secs}s on CPU $client_cpu, keep-alive, $reps interleaved runs each (median)"
printf '\n%-16s %12s %12s %9s %9s %9s %9s %7s\n' workload "spindle r/s" "nginx r/s" \
    "sp p50us" "ng p50us" "sp p99us" "ng p99us" ratio
workloads="hello:/hello static-4k:/file.txt"
[ -n "$loadgen" ] && workloads="$workloads hello-loadgen:/hello"
for w in $workloads; do
    name=${w%%:*} path=${w#*:}
    : > "$work/sp" && : > "$work/ng"
    for _ in $(seq "$reps"); do
        if [ "$name" = hello-loadgen ]; then
            run_lg "$port_sp" >> "$work/sp"
            run_lg "$port_ng" >> "$work/ng"
        else
            run "$port_sp" "$path" >> "$work/sp"
            run "$port_ng" "$path" >> "$work/ng"
        fi
    done
    sp_rps=$(cut -d' ' -f1 "$work/sp" | median)
    ng_rps=$(cut -d' ' -f1 "$work/ng" | median)
    printf '%-16s %12s %12s %9s %9s %9s %9s %7s\n' "$name" "$sp_rps" "$ng_rps" \
        "$(cut -d' ' -f2 "$work/sp" | median)" "$(cut -d' ' -f2 "$work/ng" | median)" \
        "$(cut -d' ' -f3 "$work/sp" | median)" "$(cut -d' ' -f3 "$work/ng" | median)" \
        "$(awk -v a="$sp_rps" -v b="$ng_rps" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }')"
done
echo
echo "demo-http: ratio = spindle requests/s over nginx's (goal: >= 1.2x on hello)"
[ -n "$loadgen" ] && echo "demo-http: hello-loadgen: tools/loadgen --proto=http, $conns connections, closed loop"
