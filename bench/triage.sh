#!/usr/bin/env bash
# Analyzer cost per GB: `fieldkit triage-file` (read once in 1 MiB chunks, SHA-256, all
# triage analyzers) against the same read+hash with no analyzer, and against sha256sum,
# over the same files, page cache warm, in one run. Prints a markdown table of ratios.
#
# usage: bench/triage.sh [CORPUS_DIR] [RUNS]
#   CORPUS_DIR  default ../bench-data/corpus (made by shared/bench/make-corpus.py; read only)
#   RUNS        timed runs per command, best kept (default 3)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$here/../bench-data/corpus}
runs=${2:-3}
[ -d "$corpus" ] || { echo "no corpus at $corpus (python3 ../shared/bench/make-corpus.py DIR)" >&2; exit 2; }
cargo build --release --quiet --manifest-path "$here/Cargo.toml"
fk=$here/target/release/fieldkit
list=$(mktemp)
trap 'rm -f "$list"' EXIT
find "$corpus" -type f -print0 | sort -z > "$list"
files=$(tr -cd '\0' < "$list" | wc -c)
bytes=$(xargs -0 stat -c %s < "$list" | awk '{s+=$1} END {print s}')

# Best (lowest) wall time and CPU time (user+sys, children included) of $runs runs of
# "$@", as "WALL CPU". CPU time is the fairer measure on a shared, loaded machine.
best() {
  local best_wall= best_cpu=
  for _ in $(seq "$runs"); do
    local out wall user sys cpu
    out=$( { TIMEFORMAT='%3R %3U %3S'; time "$@" > /dev/null; } 2>&1 | tail -n 1 )
    read -r wall user sys <<< "$out"
    cpu=$(printf '%.3f' "$(echo "$user + $sys" | bc -l)")
    if [ -z "$best_wall" ] || [ "$(echo "$wall < $best_wall" | bc -l)" = 1 ]; then best_wall=$wall; fi
    if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc -l)" = 1 ]; then best_cpu=$cpu; fi
  done
  echo "$best_wall $best_cpu"
}
sha() { xargs -0 sha256sum < "$list"; }
hash_only() { xargs -0 "$fk" triage-file --no-analyzers < "$list"; }
triage() { xargs -0 "$fk" triage-file --json < "$list"; }

sha > /dev/null # warm the page cache
read -r w_sha c_sha <<< "$(best sha)"
read -r w_hash c_hash <<< "$(best hash_only)"
read -r w_triage c_triage <<< "$(best triage)"
findings=$(triage | wc -l)
gb=$(echo "$bytes / 1000000000" | bc -l)
echo "### Triage analyzer cost ($(date -u +%Y-%m-%d), $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg), $files files, $(printf '%.2f' "$gb") GB, warm cache, best of $runs)"
echo
echo "| command | wall (s) | CPU (s) | CPU s/GB | CPU ratio to sha256sum | CPU ratio to read+hash |"
echo "|---|---|---|---|---|---|"
for row in "sha256sum (xargs, 1 process)|$w_sha|$c_sha" "fieldkit triage-file --no-analyzers|$w_hash|$c_hash" "fieldkit triage-file --json (all analyzers)|$w_triage|$c_triage"; do
  IFS='|' read -r name w c <<< "$row"
  printf '| %s | %s | %s | %.3f | %.2f | %.2f |\n' "$name" "$w" "$c" "$(echo "$c / $gb" | bc -l)" \
    "$(echo "$c / $c_sha" | bc -l)" "$(echo "$c / $c_hash" | bc -l)"
done
echo
printf 'Analyzer overhead over read+hash: %.1f%% CPU, %.1f%% wall (%d findings). Command: bench/triage.sh %s %s\n' \
  "$(echo "($c_triage - $c_hash) * 100 / $c_hash" | bc -l)" \
  "$(echo "($w_triage - $w_hash) * 100 / $w_hash" | bc -l)" "$findings" "$corpus" "$runs"
