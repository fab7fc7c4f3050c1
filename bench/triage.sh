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

best() { # best wall time (s) of $runs runs of "$@"
  local best=
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N)
    local t; t=$(echo "$t1 - $t0" | bc -l)
    if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
  done
  printf '%.3f' "$best"
}
sha() { xargs -0 sha256sum < "$list"; }
hash_only() { xargs -0 "$fk" triage-file --no-analyzers < "$list"; }
triage() { xargs -0 "$fk" triage-file --json < "$list"; }

sha > /dev/null # warm the page cache
t_sha=$(best sha)
t_hash=$(best hash_only)
t_triage=$(best triage)
findings=$(triage | wc -l)
gb=$(echo "$bytes / 1000000000" | bc -l)
echo "### Triage analyzer cost ($(date -u +%Y-%m-%d), $(nproc) cores, $files files, $(printf '%.2f' "$gb") GB, warm cache, best of $runs)"
echo
echo "| command | time (s) | s/GB | ratio to sha256sum | ratio to read+hash |"
echo "|---|---|---|---|---|"
for row in "sha256sum (xargs, 1 process)|$t_sha" "fieldkit triage-file --no-analyzers|$t_hash" "fieldkit triage-file --json (all analyzers)|$t_triage"; do
  name=${row%%|*}; t=${row##*|}
  printf '| %s | %s | %.3f | %.2f | %.2f |\n' "$name" "$t" "$(echo "$t / $gb" | bc -l)" \
    "$(echo "$t / $t_sha" | bc -l)" "$(echo "$t / $t_hash" | bc -l)"
done
echo
printf 'Analyzer overhead over read+hash: %.1f%% (%d findings). Command: bench/triage.sh %s %s\n' \
  "$(echo "($t_triage - $t_hash) * 100 / $t_hash" | bc -l)" "$findings" "$corpus" "$runs"
