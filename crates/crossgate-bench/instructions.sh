#!/usr/bin/env bash
# Instructions per request under callgrind: deterministic (no noise from the machine), a
# companion to `cargo bench -p crossgate-bench` for the ratios. Needs valgrind.
#
#   crates/crossgate-bench/instructions.sh [GROUP...]
#   crates/crossgate-bench/instructions.sh --live [GROUP...]   # LivePolicy beside the fixed policy
#   crates/crossgate-bench/instructions.sh --resolved [GROUP...]  # a resolver's cached answer
#                                                                  # beside a listed origin
#
# Without arguments, the rows of the targets; a GROUP is a row's criterion group, such as
# tower/preflight-allowed.1-origins. Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
cargo build --quiet --release -p crossgate-bench --example profile
bin=target/release/examples/profile
mode=plain
case "${1:-}" in --live) mode=live ;; --resolved) mode=resolved ;; esac
if [ "$mode" = resolved ]; then
  shift
  groups=("$@")
  if [ ${#groups[@]} -eq 0 ]; then
    for row in get-allowed.1-origins preflight-allowed.1-origins get-allowed.10000-origins \
               preflight-allowed.10000-origins; do
      groups+=("tower/resolved.$row")
    done
  fi
  live=0
elif [ "$mode" = live ]; then
  # The live policy beside the fixed one, row by row.
  live=1
  shift
  groups=("$@")
  if [ ${#groups[@]} -eq 0 ]; then
    for stack in tower actix-web; do
      for row in get-allowed.1-origins preflight-allowed.1-origins get-allowed.10000-origins \
                 get-refused.1000-patterns; do
        groups+=("$stack/live.$row")
      done
    done
  fi
else
  live=0
  groups=("$@")
fi
if [ "$mode" = plain ] && [ ${#groups[@]} -eq 0 ]; then
  for stack in tower actix-web; do
    for row in get-allowed.1-origins get-allowed.10000-origins get-allowed.1000-patterns \
               get-refused.1-origins get-refused.1000-patterns get-no-origin.1-origins \
               preflight-allowed.1-origins preflight-allowed.10000-origins \
               preflight-allowed.1000-patterns preflight-refused.1-origins \
               preflight-acrh-1024k.1-origins; do
      groups+=("$stack/$row")
    done
  done
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Instructions per request of one routine: the collected count (the routine's runs only, its
# warm-up runs included) over the runs. Fewer runs for the hostile rows (actix-cors takes
# milliseconds for each).
ir() {
  local n=2000
  case "$1" in *acrh*) n=10 ;; esac
  valgrind --tool=callgrind --callgrind-out-file="$out/cg" --toggle-collect='*Routine*run*' \
    "$bin" "$1" "$2" "$n" 2>&1 >/dev/null |
    awk -v runs=$((n + (n < 100 ? n : 100))) '/Collected/ { gsub(",", "", $4); printf "%d", $4 / runs }'
}
if [ "$mode" = resolved ]; then
  echo "| row | crossgate (origin listed) | resolver, cached answer | cached − listed |"
  echo "|---|--:|--:|--:|"
  for g in "${groups[@]}"; do
    c=$(ir "$g" crossgate); r=$(ir "$g" resolver-cached)
    echo "| $g | $c | $r | $((r - c)) |"
  done
  exit 0
fi
if [ "$live" = 1 ]; then
  echo "| row | crossgate (fixed policy) | crossgate (LivePolicy) | live − fixed |"
  echo "|---|--:|--:|--:|"
  for g in "${groups[@]}"; do
    f=$(ir "$g" crossgate); l=$(ir "$g" crossgate-live)
    echo "| $g | $f | $l | $((l - f)) |"
  done
  exit 0
fi
echo "| row | passthrough | crossgate | peer | crossgate CORS cost | peer CORS cost | peer ÷ crossgate |"
echo "|---|--:|--:|--:|--:|--:|--:|"
for g in "${groups[@]}"; do
  case "$g" in tower/*) peer=tower-http ;; *) peer=actix-cors ;; esac
  p=$(ir "$g" passthrough); c=$(ir "$g" crossgate); q=$(ir "$g" "$peer")
  awk -v g="$g" -v peer="$peer" -v p="$p" -v c="$c" -v q="$q" 'BEGIN {
    cc = c - p; qc = q - p
    r = (cc > 0) ? sprintf("%.1fx", qc / cc) : "n/a"
    printf "| %s | %d | %d | %d (%s) | %d | %d | %s |\n", g, p, c, q, peer, cc, qc, r
  }'
done
