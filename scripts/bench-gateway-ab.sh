#!/usr/bin/env bash
# Side by side: this tree's `crossgate serve` against another build of it (a commit before a
# change), in front of the same upstream, to measure what a change bought. Not run by CI.
#
# Usage: scripts/bench-gateway-ab.sh OTHER_BINARY [actual|preflight]
#   e.g. git worktree add /tmp/base 82ceac1 &&
#        (cd /tmp/base && CARGO_TARGET_DIR=/tmp/base-target cargo build --release --bin crossgate -p crossgate-cli) &&
#        scripts/bench-gateway-ab.sh /tmp/base-target/release/crossgate actual
# Env:   ROUNDS=5 DURATION=8 CONNECTIONS=64
#
# Both gateways get CPU 0 with one worker each (only one is loaded at a time); wrk and the
# upstream share CPU 1. Rounds alternate which build goes first. Each line: requests per second
# and CPU time per request (user + system of the gateway's process over the run).
set -euo pipefail
cd "$(dirname "$0")/.."

OTHER=${1:?usage: scripts/bench-gateway-ab.sh OTHER_BINARY [actual|preflight]}
SCENARIO=${2:-actual}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-8}
CONNECTIONS=${CONNECTIONS:-64}
UP_PORT=18181 THIS_PORT=18182 OTHER_PORT=18192
ORIGIN=http://localhost:5173
for tool in wrk taskset; do command -v "$tool" >/dev/null || { echo "needs $tool" >&2; exit 2; }; done

cargo build --release --quiet --bin crossgate -p crossgate-cli
cargo build --release --quiet --example bench_upstream -p crossgate-gateway
WORK=$(mktemp -d)
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

config() { # $1 port
    printf 'listen = "127.0.0.1:%s"\nupstream = "http://127.0.0.1:%s"\n\n[cors]\nallow_origins = ["%s"]\nallow_credentials = true\nallow_methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]\nallow_headers = ["content-type", "authorization"]\nmax_age = 600\n' \
        "$1" "$UP_PORT" "$ORIGIN"
}
config "$THIS_PORT" >"$WORK/this.toml"
config "$OTHER_PORT" >"$WORK/other.toml"
if [ "$SCENARIO" = preflight ]; then
    printf 'wrk.method = "OPTIONS"\nwrk.headers["Origin"] = "%s"\nwrk.headers["Access-Control-Request-Method"] = "PUT"\nwrk.headers["Access-Control-Request-Headers"] = "content-type"\n' "$ORIGIN" >"$WORK/load.lua"
else
    printf 'wrk.method = "GET"\nwrk.headers["Origin"] = "%s"\n' "$ORIGIN" >"$WORK/load.lua"
fi

TOKIO_WORKER_THREADS=1 taskset -c 1 target/release/examples/bench_upstream "127.0.0.1:$UP_PORT" >/dev/null 2>&1 &
PIDS+=($!)
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 0 target/release/crossgate serve --config "$WORK/this.toml" --no-watch >/dev/null 2>&1 &
THIS_PID=$!
PIDS+=("$THIS_PID")
TOKIO_WORKER_THREADS=1 RUST_LOG=warn taskset -c 0 "$OTHER" serve --config "$WORK/other.toml" --no-watch >/dev/null 2>&1 &
OTHER_PID=$!
PIDS+=("$OTHER_PID")
sleep 1

one() { # $1 port, $2 pid: prints "req/s cpu_us_per_request"
    local before after n
    before=$(awk '{ print $14 + $15 }' "/proc/$2/stat")
    n=$(taskset -c 1 wrk -t1 -c"$CONNECTIONS" -d"$DURATION"s -s "$WORK/load.lua" "http://127.0.0.1:$1/items/1" | awk '/ requests in / { print $1 }')
    after=$(awk '{ print $14 + $15 }' "/proc/$2/stat")
    awk -v n="$n" -v s="$DURATION" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f %.2f\n", n / s, t / hz * 1e6 / n }'
}
one "$THIS_PORT" "$THIS_PID" >/dev/null   # warm-up
one "$OTHER_PORT" "$OTHER_PID" >/dev/null
echo "$SCENARIO, wrk -t1 -c$CONNECTIONS, ${DURATION}s per run: this tree against $OTHER"
echo "| round | this req/s | other req/s | throughput this/other | this CPU µs/req | other CPU µs/req | CPU this/other |"
echo "|---:|---:|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$ROUNDS"); do
    if [ $((round % 2)) -eq 1 ]; then
        read -r a ac < <(one "$THIS_PORT" "$THIS_PID"); read -r b bc < <(one "$OTHER_PORT" "$OTHER_PID")
    else
        read -r b bc < <(one "$OTHER_PORT" "$OTHER_PID"); read -r a ac < <(one "$THIS_PORT" "$THIS_PID")
    fi
    awk -v r="$round" -v a="$a" -v b="$b" -v ac="$ac" -v bc="$bc" \
        'BEGIN { printf "| %d | %d | %d | %.2f | %.1f | %.1f | %.2f |\n", r, a, b, a / b, ac, bc, ac / bc }'
done
