#!/usr/bin/env bash
# A/B benchmark of two fieldkit binaries on the same corpus, runs interleaved (A, B, A,
# B, …) so that load from other processes on a shared machine falls on both alike.
# Usage: bench/ab.sh BIN_A BIN_B [--runs N]
#   BENCH_DIR (default /var/tmp/fieldkit-bench) holds the corpus (as bench/collect.sh).
#   AB_SOURCE  another tree instead of the corpus (e.g. $BENCH_DIR/small-200000 of
#              bench/smallfiles.sh), collected with AB_PROFILE (default: the embedded
#              default profile; smallfiles.sh uses all-files)
# Prints, for `collect --no-verify`, `collect` and `collect --no-triage --no-verify`, the
# median and min of each binary and B/A. The source is warmed before every run
# (tools/warm.sh says why).
set -euo pipefail
A=$1; B=$2; shift 2
RUNS=5
[ "${1:-}" = --runs ] && RUNS=$2
BENCH_DIR=${BENCH_DIR:-/var/tmp/fieldkit-bench}
CORPUS=${AB_SOURCE:-$BENCH_DIR/corpus}
PROFILE=()
[ -n "${AB_PROFILE:-}" ] && PROFILE=(--profile "$AB_PROFILE")
OUT=$BENCH_DIR/out
[ -d "$CORPUS" ] || { echo "no corpus in $CORPUS: run bench/collect.sh first" >&2; exit 2; }
one() {  # binary, args... → seconds
  local bin=$1; shift
  rm -rf "$OUT"; mkdir -p "$OUT"; sync
  "$(dirname "$0")/tools/warm.sh" "$CORPUS"
  local t0 t1; t0=$(date +%s.%N)
  "$bin" collect --quiet "${PROFILE[@]}" "$@" --source "$CORPUS" --out "$OUT" > /dev/null
  t1=$(date +%s.%N); echo "$t1 - $t0" | bc -l
}
stats() { sort -g | awk '{a[NR]=$1} END {printf "%.3f %.3f\n", a[int((NR+1)/2)], a[1]}'; }
echo "source $CORPUS${AB_PROFILE:+, profile $AB_PROFILE}, $RUNS runs each, interleaved"
echo "| mode | A median (min) s | B median (min) s | B/A median |"
echo "|---|---|---|---|"
for mode in "--no-verify" "" "--no-triage --no-verify"; do
  ta=(); tb=()
  for _ in $(seq "$RUNS"); do
    # shellcheck disable=SC2086
    ta+=("$(one "$A" $mode)"); tb+=("$(one "$B" $mode)")
  done
  read -r ma mina < <(printf '%s\n' "${ta[@]}" | stats)
  read -r mb minb < <(printf '%s\n' "${tb[@]}" | stats)
  printf '| collect %s | %s (%s) | %s (%s) | %.3f |\n' "${mode:-(default)}" "$ma" "$mina" "$mb" "$minb" "$(echo "$mb / $ma" | bc -l)"
done
rm -rf "$OUT"
