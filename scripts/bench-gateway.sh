#!/usr/bin/env bash
# Load benchmark of the CORS gateway (not run by CI): wrk against
#   1. the upstream alone (a minimal hyper server: examples/bench_upstream.rs),
#   2. nginx in front of it, configured to add the same CORS headers,
#   3. crossgate serve in front of it,
# in one run, for an actual request (GET with an allowed Origin, proxied) and a preflight
# (answered by the proxy itself). Then a soak: crossgate under load for SOAK seconds, its
# resident memory sampled every 10 s.
#
# CPU placement (2 cores or more): the server measured (upstream alone, nginx or crossgate) gets
# CPU 0 to itself, with one worker (nginx worker_processes 1, crossgate TOKIO_WORKER_THREADS=1);
# wrk and, behind a proxy, the upstream share CPU 1. Both proxies thus get the same single core.
#
# The servers are measured in ROUNDS rounds, crossgate and nginx alternating which goes first,
# and each figure is the median of its rounds: load from elsewhere on the machine then falls on
# both alike instead of on whichever ran while it lasted.
#
# Usage: scripts/bench-gateway.sh            (installs wrk, nginx and curl with apt-get if missing)
# Env:   DURATION=15 (seconds per measurement)  ROUNDS=3  CONNECTIONS=64  SOAK=300
#        OUT=target/bench-gateway.md
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
SOAK=${SOAK:-300}
OUT=${OUT:-target/bench-gateway.md}
UP_PORT=${UP_PORT:-18181}
GW_PORT=${GW_PORT:-18182}
NGX_PORT=${NGX_PORT:-18183}
ORIGIN=http://localhost:5173

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need curl; then
    echo "== installing wrk, nginx and curl (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light curl >/dev/null \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx curl >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

if [ "$(nproc)" -ge 2 ]; then
    SERVER_CPU="taskset -c 0"
    LOAD_CPU="taskset -c 1"
else
    SERVER_CPU=""
    LOAD_CPU=""
fi

echo "== building (release)"
cargo build --release --quiet --bin crossgate -p crossgate-cli
cargo build --release --quiet --example bench_upstream -p crossgate-gateway
BIN=target/release/crossgate
UPSTREAM_BIN=target/release/examples/bench_upstream

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    exit 1
}

start_upstream() { # $1: taskset prefix
    TOKIO_WORKER_THREADS=1 $1 "$UPSTREAM_BIN" "127.0.0.1:$UP_PORT" >"$WORK/upstream.log" 2>&1 &
    UPSTREAM_PID=$!
    PIDS+=("$UPSTREAM_PID")
    wait_port "$UP_PORT"
}
stop_upstream() { kill "$UPSTREAM_PID"; wait "$UPSTREAM_PID" 2>/dev/null || true; }

cat >"$WORK/gateway.toml" <<EOF
listen = "127.0.0.1:$GW_PORT"
upstream = "http://127.0.0.1:$UP_PORT"

[cors]
allow_origins = ["$ORIGIN"]
allow_credentials = true
allow_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
allow_headers = ["content-type", "authorization"]
max_age = 600
EOF

cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    upstream backend { server 127.0.0.1:$UP_PORT; keepalive 128; }
    # The same answers as crossgate's policy: the allowed origin reflected with credentials.
    map \$http_origin \$cors_origin { default ""; "$ORIGIN" \$http_origin; }
    map \$http_origin \$cors_credentials { default ""; "$ORIGIN" "true"; }
    server {
        listen 127.0.0.1:$NGX_PORT;
        location / {
            if (\$request_method = OPTIONS) {
                add_header Access-Control-Allow-Origin \$cors_origin always;
                add_header Access-Control-Allow-Credentials \$cors_credentials always;
                add_header Access-Control-Allow-Methods "PUT, PATCH, DELETE" always;
                add_header Access-Control-Allow-Headers "content-type, authorization" always;
                add_header Access-Control-Max-Age 600 always;
                add_header Vary "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" always;
                return 204;
            }
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_hide_header Access-Control-Allow-Origin;
            proxy_hide_header Access-Control-Allow-Credentials;
            add_header Access-Control-Allow-Origin \$cors_origin always;
            add_header Access-Control-Allow-Credentials \$cors_credentials always;
            add_header Vary Origin always;
        }
    }
}
EOF

cat >"$WORK/preflight.lua" <<EOF
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "$ORIGIN"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "content-type"
EOF
cat >"$WORK/actual.lua" <<EOF
wrk.method = "GET"
wrk.headers["Origin"] = "$ORIGIN"
EOF

# Prints "requests_per_second p50_ms p99_ms non2xx" for one wrk run.
run_wrk() { # $1 port, $2 lua script, $3 seconds
    $LOAD_CPU wrk -t1 -c"$CONNECTIONS" -d"$3"s --latency -s "$2" "http://127.0.0.1:$1/items/1" >"$WORK/wrk.out" 2>&1
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $5 }
        /Socket errors:/ { errors = $0 }
        END { printf "%s %s %s %s\n", rps, p50, p99, (bad == "" ? 0 : bad) }
    ' "$WORK/wrk.out"
}

measure() { # $1 name, $2 port
    for scenario in actual preflight; do
        run_wrk "$2" "$WORK/$scenario.lua" 2 >/dev/null   # warm-up
        read -r rps p50 p99 bad < <(run_wrk "$2" "$WORK/$scenario.lua" "$DURATION")
        echo "$1 $scenario $rps $p50 $p99 $bad" | tee -a "$WORK/results"
    done
}

echo "== check: the same CORS headers from both proxies"
start_upstream "$LOAD_CPU"
TOKIO_WORKER_THREADS=1 RUST_LOG=warn $SERVER_CPU "$BIN" serve --config "$WORK/gateway.toml" --no-watch >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
$SERVER_CPU "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$GW_PORT"
wait_port "$NGX_PORT"
for port in "$GW_PORT" "$NGX_PORT"; do
    curl -s -o /dev/null -D - -H "Origin: $ORIGIN" "http://127.0.0.1:$port/items/1" \
        | tr -d '\r' | grep -i -E '^(HTTP|access-control|vary)' | sort | sed "s/^/  $port: /"
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== wrk: -t1 -c$CONNECTIONS, ${DURATION}s per run, $ROUNDS rounds"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    echo "-- round $round"
    if [ $((round % 2)) -eq 1 ]; then
        measure crossgate "$GW_PORT"
        measure nginx "$NGX_PORT"
    else
        measure nginx "$NGX_PORT"
        measure crossgate "$GW_PORT"
    fi
    stop_upstream
    start_upstream "$SERVER_CPU"
    measure upstream "$UP_PORT"
    stop_upstream
    start_upstream "$LOAD_CPU"
done
# The median of each server and request over the rounds.
sort -k1,1 -k2,2 "$WORK/results" | awk '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { key = $1 " " $2; keys[key] = 1; rps[key] = rps[key] " " $3; p50[key] = p50[key] " " $4; p99[key] = p99[key] " " $5; bad[key] += $6 }
    END { for (k in keys) print k, median(rps[k]), median(p50[k]), median(p99[k]), bad[k] }
' | sort >"$WORK/medians"

echo "== soak: crossgate under load for ${SOAK}s, RSS every 10 s"
kill "$NGINX_PID" 2>/dev/null || true
: >"$WORK/rss"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$GATEWAY_PID/status"; }
$LOAD_CPU wrk -t1 -c"$CONNECTIONS" -d"$SOAK"s --latency -s "$WORK/actual.lua" "http://127.0.0.1:$GW_PORT/items/1" >"$WORK/soak.out" 2>&1 &
SOAK_PID=$!
elapsed=0
while kill -0 "$SOAK_PID" 2>/dev/null; do
    sleep 10
    elapsed=$((elapsed + 10))
    kill -0 "$SOAK_PID" 2>/dev/null && echo "$elapsed $(rss)" | tee -a "$WORK/rss"
done
wait "$SOAK_PID" || true
soak_rps=$(awk '/Requests\/sec:/ { print $2 }' "$WORK/soak.out")

mkdir -p "$(dirname "$OUT")"
{
    echo "Machine: $(nproc) cores ($(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')), $(uname -r)"
    echo "Load average before the runs: $LOAD_BEFORE (other work on the machine skews every figure alike)"
    echo "nginx: $($NGINX -v 2>&1 | sed 's/.*nginx\///'), wrk: $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'), -t1 -c$CONNECTIONS, ${DURATION}s per run, $ROUNDS rounds"
    echo
    echo "Medians of $ROUNDS rounds:"
    echo
    echo "| server | request | req/s | p50 ms | p99 ms | non-2xx |"
    echo "|---|---|---:|---:|---:|---:|"
    awk '{ printf "| %s | %s | %.0f | %.3f | %.3f | %s |\n", $1, $2, $3, $4, $5, $6 }' "$WORK/medians"
    echo
    echo "| ratio | actual (GET, proxied) | preflight (answered by the proxy) |"
    echo "|---|---:|---:|"
    awk '
        { rps[$1 "," $2] = $3; p99[$1 "," $2] = $5 }
        END {
            printf "| crossgate / nginx throughput | %.2f | %.2f |\n", rps["crossgate,actual"] / rps["nginx,actual"], rps["crossgate,preflight"] / rps["nginx,preflight"]
            printf "| crossgate / nginx p99 latency | %.2f | %.2f |\n", p99["crossgate,actual"] / p99["nginx,actual"], p99["crossgate,preflight"] / p99["nginx,preflight"]
            printf "| crossgate / upstream alone throughput | %.2f | %.2f |\n", rps["crossgate,actual"] / rps["upstream,actual"], rps["crossgate,preflight"] / rps["upstream,preflight"]
            printf "| nginx / upstream alone throughput | %.2f | %.2f |\n", rps["nginx,actual"] / rps["upstream,actual"], rps["nginx,preflight"] / rps["upstream,preflight"]
        }' "$WORK/medians"
    echo
    echo "Every run (server, request, req/s, p50 ms, p99 ms, non-2xx):"
    echo
    sed 's/^/    /' "$WORK/results"
    echo
    awk -v soak="$SOAK" -v rps="$soak_rps" '
        NR == 1 { first = $2 } { last = $2; if ($2 > max) max = $2 }
        END { printf "Soak: %ss at %.0f req/s; RSS %.1f MiB after 10 s, %.1f MiB at the end, %.1f MiB at most (end / start %.2f)\n", soak, rps, first / 1024, last / 1024, max / 1024, last / first }
    ' "$WORK/rss"
    echo
    echo "RSS samples (s, KiB): $(tr '\n' ' ' <"$WORK/rss")"
} | tee "$OUT"
echo "== written to $OUT"
