#!/usr/bin/env bash
# Load benchmark of the CORS gateway against nginx (not run by CI). In one run, for each scenario
# below, crossgate serve and nginx proxy the same upstream (examples/bench_upstream.rs, a minimal
# hyper server), nginx configured as a CORS proxy with `map $http_origin` and `add_header ...
# always`, keep-alive to the upstream on both:
#
#   actual      GET with an allowed Origin, proxied                      wrk -c$CONNECTIONS
#   preflight   an allowed preflight, answered by the proxy itself       wrk -c$CONNECTIONS
#   actual-256  as actual, 256 connections                               wrk -c256
#   body-16k    as actual, the upstream answering a 16 KiB body          wrk -c$CONNECTIONS
#   tls-h1      as actual, over TLS (the same certificate), HTTP/1.1     wrk -c$CONNECTIONS
#   tls-h2      as actual, over TLS, h2 (one stream at a time each)      h2load -c$CONNECTIONS -m1
#
# and the upstream alone (actual, body-16k) for reference. Each figure: requests per second,
# p50 and p99 latency, and CPU time per request (user + system time of the proxy's processes
# over the run, divided by the requests served; on 2 shared cores the fairer figure).
#
# CPU placement (2 cores or more): the server measured gets CPU 0 to itself with one worker
# (nginx worker_processes 1, crossgate TOKIO_WORKER_THREADS=1); the load generator and, behind a
# proxy, the upstream share CPU 1. The servers are measured in ROUNDS rounds, crossgate and
# nginx alternating which goes first, and each figure is the median of its rounds, so that load
# from elsewhere on the machine falls on both alike. Then a soak: crossgate under load for SOAK
# seconds, its resident memory sampled every 10 s.
#
# Usage: scripts/bench-gateway.sh   (installs wrk, nginx, h2load, curl and openssl if missing)
# Env:   DURATION=10 (seconds per measurement)  ROUNDS=3  CONNECTIONS=64  SOAK=600
#        SCENARIOS="actual preflight actual-256 body-16k tls-h1 tls-h2"  OUT=target/bench-gateway.md
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
SOAK=${SOAK:-600}
SCENARIOS=${SCENARIOS:-actual preflight actual-256 body-16k tls-h1 tls-h2}
OUT=${OUT:-target/bench-gateway.md}
UP_PORT=${UP_PORT:-18181}
GW_PORT=${GW_PORT:-18182}
NGX_PORT=${NGX_PORT:-18183}
GW_TLS_PORT=${GW_TLS_PORT:-18184}
NGX_TLS_PORT=${NGX_TLS_PORT:-18185}
ORIGIN=http://localhost:5173
for scenario in $SCENARIOS; do
    case "$scenario" in
        actual | preflight | actual-256 | body-16k | tls-h1 | tls-h2) ;;
        *) echo "unknown scenario \`$scenario\` (known: actual preflight actual-256 body-16k tls-h1 tls-h2)" >&2; exit 2 ;;
    esac
done

need() { command -v "$1" >/dev/null 2>&1; }
if ! need wrk || ! need nginx || ! need h2load || ! need curl || ! need openssl; then
    echo "== installing wrk, nginx, h2load, curl and openssl (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light nghttp2-client curl openssl >/dev/null \
        || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx nghttp2-client curl openssl >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
CLK_TCK=$(getconf CLK_TCK)

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
stop_upstream() {
    kill "$UPSTREAM_PID"
    wait "$UPSTREAM_PID" 2>/dev/null || true
    # Forget it, so that cleanup never signals a process that reused the number.
    local kept=() pid
    for pid in "${PIDS[@]}"; do [ "$pid" = "$UPSTREAM_PID" ] || kept+=("$pid"); done
    PIDS=("${kept[@]}")
}

# One certificate for both proxies (ECDSA P-256, as a current deployment would use).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

CORS_POLICY=$(cat <<EOP
[cors]
allow_origins = ["$ORIGIN"]
allow_credentials = true
allow_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
allow_headers = ["content-type", "authorization"]
max_age = 600
EOP
)
cat >"$WORK/gateway.toml" <<EOF2
listen = "127.0.0.1:$GW_PORT"
upstream = "http://127.0.0.1:$UP_PORT"

$CORS_POLICY
EOF2
cat >"$WORK/gateway-tls.toml" <<EOF2
listen = "127.0.0.1:$GW_TLS_PORT"
upstream = "http://127.0.0.1:$UP_PORT"

[tls]
cert = "$WORK/cert.pem"
key = "$WORK/key.pem"

$CORS_POLICY
EOF2

cat >"$WORK/cors.conf" <<EOF2
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
EOF2
cat >"$WORK/nginx.conf" <<EOF2
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    # nginx closes a client connection after 1000 requests by default (h2load does not reconnect,
    # and wrk's reconnects would cost TLS handshakes); crossgate has no such limit.
    keepalive_requests 100000000;
    upstream backend { server 127.0.0.1:$UP_PORT; keepalive 512; keepalive_requests 100000000; }
    # The same answers as crossgate's policy: the allowed origin reflected with credentials.
    map \$http_origin \$cors_origin { default ""; "$ORIGIN" \$http_origin; }
    map \$http_origin \$cors_credentials { default ""; "$ORIGIN" "true"; }
    server {
        listen 127.0.0.1:$NGX_PORT;
        include $WORK/cors.conf;
    }
    server {
        listen 127.0.0.1:$NGX_TLS_PORT ssl http2;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        include $WORK/cors.conf;
    }
}
EOF2

cat >"$WORK/preflight.lua" <<EOF2
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "$ORIGIN"
wrk.headers["Access-Control-Request-Method"] = "PUT"
wrk.headers["Access-Control-Request-Headers"] = "content-type"
EOF2
cat >"$WORK/actual.lua" <<EOF2
wrk.method = "GET"
wrk.headers["Origin"] = "$ORIGIN"
EOF2

# CPU ticks (user + system) of a process and its children so far.
ticks() { # $1 pid
    local total=0 pid
    for pid in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# wrk's summary as "requests seconds p50_ms p99_ms non2xx".
parse_wrk() {
    awk '
        function ms(v) {
            if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
            if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
            if (v ~ /s$/)  { sub(/s$/, "", v);  return v * 1000 }
            return v
        }
        / requests in / { n = $1; secs = $4; sub(/s,?$/, "", secs) }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad = $5 }
        END { printf "%s %s %s %s %s\n", n, secs, p50, p99, (bad == "" ? 0 : bad) }
    ' "$1"
}

# h2load's summary and its per-request log as "requests seconds p50_ms p99_ms non2xx".
parse_h2load() { # $1 output, $2 per-request log (start, status, latency in us)
    local n bad secs
    n=$(awk '/^requests:/ { print $8 }' "$1")
    secs=$(awk '/^finished in / { v = $3; sub(/s,?$/, "", v); print v }' "$1")
    bad=$(awk '/^status codes:/ { gsub(",", ""); print $7 + $9 }' "$1")
    awk '{ print $3 }' "$2" | sort -n | awk -v n="$n" -v secs="$secs" -v bad="$bad" '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print 0, 0, 0, 0, 0; exit }
            i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
            i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
            printf "%s %s %.3f %.3f %s\n", n, secs, v[i50] / 1000, v[i99] / 1000, bad
        }'
}

# One load run against a server: prints "req_per_s p50_ms p99_ms cpu_us_per_req non2xx".
run_load() { # $1 scenario, $2 plain port, $3 TLS port, $4 pid serving plain, $5 pid serving TLS, $6 seconds
    local scenario=$1 port=$2 tls_port=$3 pid=$4 seconds=$6 before after result
    local url="http://127.0.0.1:$port/items/1" script="$WORK/actual.lua" conns=$CONNECTIONS
    case "$scenario" in
        preflight) script="$WORK/preflight.lua" ;;
        actual-256) conns=256 ;;
        body-16k) url="http://127.0.0.1:$port/big/1" ;;
        tls-h1 | tls-h2) url="https://127.0.0.1:$tls_port/items/1" pid=$5 ;;
    esac
    before=$(ticks "$pid")
    if [ "$scenario" = tls-h2 ]; then
        rm -f "$WORK/h2.log"
        $LOAD_CPU h2load -t1 -c"$conns" -m1 -D "$seconds" --warm-up-time=0 \
            -H "origin: $ORIGIN" --log-file="$WORK/h2.log" "$url" >"$WORK/load.out" 2>&1 || true
        after=$(ticks "$pid")
        result=$(parse_h2load "$WORK/load.out" "$WORK/h2.log")
    else
        $LOAD_CPU wrk -t1 -c"$conns" -d"$seconds"s --latency -s "$script" "$url" >"$WORK/load.out" 2>&1 || true
        after=$(ticks "$pid")
        result=$(parse_wrk "$WORK/load.out")
    fi
    read -r n secs p50 p99 bad <<<"$result"
    if [ -z "$n" ] || [ "$n" = 0 ] || [ -z "$secs" ]; then
        echo "no request answered in $scenario on port $port:" >&2
        cat "$WORK/load.out" >&2
        exit 1
    fi
    # Requests per second over the time the tool reports, not the time asked for.
    awk -v n="$n" -v s="$secs" -v p50="$p50" -v p99="$p99" -v t=$((after - before)) -v hz="$CLK_TCK" -v bad="$bad" \
        'BEGIN { printf "%.0f %s %s %.2f %s\n", n / s, p50, p99, t / hz * 1e6 / n, bad }'
}

measure() { # $1 name, $2 plain port, $3 TLS port, $4 pid serving plain, $5 pid serving TLS, $6... scenarios
    local name=$1 port=$2 tls_port=$3 pid=$4 tls_pid=$5 scenario
    shift 5
    for scenario in "$@"; do
        run_load "$scenario" "$port" "$tls_port" "$pid" "$tls_pid" 2 >/dev/null   # warm-up
        # A failed run stops the script (inside `$(...)` its exit would be lost).
        result=$(run_load "$scenario" "$port" "$tls_port" "$pid" "$tls_pid" "$DURATION") || exit 1
        echo "$name $scenario $result" | tee -a "$WORK/results"
    done
}

for port in "$UP_PORT" "$GW_PORT" "$NGX_PORT" "$GW_TLS_PORT" "$NGX_TLS_PORT"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        echo "port $port is already in use: stop what listens there, or set the *_PORT variables" >&2
        exit 1
    fi
done
echo "== starting the upstream, crossgate (plain and TLS) and nginx"
start_upstream "$LOAD_CPU"
TOKIO_WORKER_THREADS=1 RUST_LOG=warn $SERVER_CPU "$BIN" serve --config "$WORK/gateway.toml" --no-watch >"$WORK/gateway.log" 2>&1 &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
TOKIO_WORKER_THREADS=1 RUST_LOG=warn $SERVER_CPU "$BIN" serve --config "$WORK/gateway-tls.toml" --no-watch >"$WORK/gateway-tls.log" 2>&1 &
GATEWAY_TLS_PID=$!
PIDS+=("$GATEWAY_TLS_PID")
$SERVER_CPU "$NGINX" -c "$WORK/nginx.conf" -p "$WORK" &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
for port in "$GW_PORT" "$GW_TLS_PORT" "$NGX_PORT" "$NGX_TLS_PORT"; do wait_port "$port"; done

echo "== check: the same CORS headers from both proxies"
for target in "$GW_PORT http" "$NGX_PORT http" "$GW_TLS_PORT https" "$NGX_TLS_PORT https"; do
    read -r port scheme <<<"$target"
    for request in "-X GET" "-X OPTIONS -H Access-Control-Request-Method:PUT -H Access-Control-Request-Headers:content-type"; do
        method=${request#-X }
        # shellcheck disable=SC2086
        curl -sk -o /dev/null -D - -H "Origin: $ORIGIN" $request "$scheme://127.0.0.1:$port/items/1" \
            | tr -d '\r' | grep -i -E '^(HTTP|access-control|vary)' | sort -f | tr '\n' ' ' | sed "s/^/  $port ${method%% *}: /"
        echo
    done
done

UPSTREAM_SCENARIOS=""
for s in $SCENARIOS; do
    case "$s" in actual | body-16k) UPSTREAM_SCENARIOS="$UPSTREAM_SCENARIOS $s" ;; esac
done

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== load: -t1, ${DURATION}s per run, $ROUNDS rounds; server, scenario, req/s, p50 ms, p99 ms, CPU us/request, non-2xx"
: >"$WORK/results"
for round in $(seq 1 "$ROUNDS"); do
    echo "-- round $round"
    # shellcheck disable=SC2086
    if [ $((round % 2)) -eq 1 ]; then
        measure crossgate "$GW_PORT" "$GW_TLS_PORT" "$GATEWAY_PID" "$GATEWAY_TLS_PID" $SCENARIOS
        measure nginx "$NGX_PORT" "$NGX_TLS_PORT" "$NGINX_PID" "$NGINX_PID" $SCENARIOS
    else
        measure nginx "$NGX_PORT" "$NGX_TLS_PORT" "$NGINX_PID" "$NGINX_PID" $SCENARIOS
        measure crossgate "$GW_PORT" "$GW_TLS_PORT" "$GATEWAY_PID" "$GATEWAY_TLS_PID" $SCENARIOS
    fi
    if [ -n "$UPSTREAM_SCENARIOS" ]; then
        stop_upstream
        start_upstream "$SERVER_CPU"
        # shellcheck disable=SC2086
        measure upstream "$UP_PORT" "$UP_PORT" "$UPSTREAM_PID" "$UPSTREAM_PID" $UPSTREAM_SCENARIOS
        stop_upstream
        start_upstream "$LOAD_CPU"
    fi
done
# The median of each figure of each server and scenario over the rounds.
awk '
    function median(list,   n, a, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    { key = $1 " " $2; keys[key] = 1; rps[key] = rps[key] " " $3; p50[key] = p50[key] " " $4; p99[key] = p99[key] " " $5; cpu[key] = cpu[key] " " $6; bad[key] += $7 }
    END { for (k in keys) print k, median(rps[k]), median(p50[k]), median(p99[k]), median(cpu[k]), bad[k] }
' "$WORK/results" | sort >"$WORK/medians"

if [ "$SOAK" -gt 0 ]; then
    echo "== soak: crossgate under load (actual, -c$CONNECTIONS) for ${SOAK}s, RSS every 10 s"
    kill "$NGINX_PID" "$GATEWAY_TLS_PID" 2>/dev/null || true
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
    soak_errors=$(awk '/Socket errors:|Non-2xx/ { print }' "$WORK/soak.out")
fi

mkdir -p "$(dirname "$OUT")"
{
    echo "Machine: $(nproc) cores ($(awk -F: '/model name/ { print $2; exit }' /proc/cpuinfo | sed 's/^ *//')), $(uname -r)"
    echo "Load average before the runs: $LOAD_BEFORE (other work on the machine skews every figure alike)"
    echo "nginx $($NGINX -v 2>&1 | sed 's/.*nginx\///'), wrk $(wrk -v 2>&1 | head -1 | awk '{ print $2 }'), $(h2load --version 2>&1 | head -1);"
    echo "-t1 -c$CONNECTIONS (actual-256: -c256), ${DURATION}s per run, $ROUNDS rounds, medians shown"
    echo "Command: DURATION=$DURATION ROUNDS=$ROUNDS CONNECTIONS=$CONNECTIONS SOAK=$SOAK scripts/bench-gateway.sh"
    echo
    echo "| scenario | crossgate req/s | nginx req/s | throughput ratio | p99 ms crossgate / nginx | p99 ratio | CPU µs/req crossgate / nginx | CPU ratio | targets |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---|"
    awk '
        { rps[$1, $2] = $3; p99[$1, $2] = $5; cpu[$1, $2] = $6; bad[$1, $2] = $7; seen[$2] = 1 }
        END {
            n = split("actual preflight actual-256 body-16k tls-h1 tls-h2", order, " ")
            for (i = 1; i <= n; i++) {
                s = order[i]
                if (!(s in seen) || !(("crossgate", s) in rps) || !(("nginx", s) in rps)) continue
                t = rps["crossgate", s] / rps["nginx", s]
                l = p99["crossgate", s] / p99["nginx", s]
                c = cpu["crossgate", s] / cpu["nginx", s]
                want = (s == "actual") ? 1.0 : (s == "preflight") ? 1.3 : 0.9
                missed = ""
                if (t < want) missed = missed sprintf(" throughput %.2f < %.1f;", t, want)
                if (s == "actual" && l > 1.1) missed = missed sprintf(" p99 %.2f > 1.1;", l)
                if (c > 1.0) missed = missed sprintf(" CPU %.2f > 1.0;", c)
                if (bad["crossgate", s] + bad["nginx", s] > 0) missed = missed " non-2xx answers;"
                printf "| %s | %.0f | %.0f | **%.2f** | %.2f / %.2f | %.2f | %.1f / %.1f | **%.2f** | %s |\n", \
                    s, rps["crossgate", s], rps["nginx", s], t, p99["crossgate", s], p99["nginx", s], l, \
                    cpu["crossgate", s], cpu["nginx", s], c, (missed == "" ? "met" : "missed:" missed)
            }
        }' "$WORK/medians"
    echo
    echo "Upstream alone (the ceiling a proxy cannot pass):"
    echo
    awk '$1 == "upstream" { printf "- %s: %.0f req/s, p99 %.2f ms, %.1f µs CPU per request\n", $2, $3, $5, $6 }' "$WORK/medians"
    echo
    echo "Every run (server, scenario, req/s, p50 ms, p99 ms, CPU µs/request, non-2xx):"
    echo
    sed 's/^/    /' "$WORK/results"
    if [ "$SOAK" -gt 0 ]; then
        echo
        awk -v soak="$SOAK" -v rps="$soak_rps" '
            NR == 1 { first = $2 } { last = $2; if ($2 > max) max = $2 }
            END {
                if (NR == 0) { print "Soak: no RSS sample (the soak ended within 10 s)"; exit }
                printf "Soak: %ss at %.0f req/s; RSS %.1f MiB after 10 s, %.1f MiB at the end, %.1f MiB at most (end / start %.2f)\n", soak, rps, first / 1024, last / 1024, max / 1024, last / first }
        ' "$WORK/rss"
        [ -n "$soak_errors" ] && echo "Soak errors: $soak_errors"
        echo
        echo "RSS samples (s, KiB): $(tr '\n' ' ' <"$WORK/rss")"
    fi
} | tee "$OUT"
echo "== written to $OUT"
