#!/usr/bin/env bash
# Benchmark (issue 15 item 3): fieldkit collect writing its bundle to a slow, stick-like
# output device, bundle members stored vs compressed, in one run, printed as a table with
# ratios. The device is ratefs (bench/tools/ratefs.c, built here with gcc against libfuse3):
# a FUSE pass-through over a folder on the local disk that passes written bytes at
# --write-mbps (token bucket, write-through: write(2) returns when the bytes have passed,
# nothing waits in the mount's page cache) and reads the medium at --read-mbps; its rate is
# checked first with dd (write: 300 MiB conv=fsync; read: O_DIRECT).
# Usage: bench/slowmedia.sh [--runs N] [--write-mbps N] [--read-mbps N] [--only triage|corpus]
#                           [--default-only] [--scale F]
#   --runs N        median of N runs (default 3; 1 is allowed)
#   --write-mbps N  device write rate in MB/s (10^6 bytes/s, as dd prints), default 30
#   --read-mbps N   device read rate in MB/s, default 100 (a USB 3 stick reads ~3x faster
#                   than it writes); 0 = unlimited
#   --only W        only the windows-triage tree (triage) or only the corpus (corpus)
#   --default-only  only the default collect (verify-after-write), not also --no-verify
#   --scale F       size factor of the Windows-like tree (default 1.0: windows-triage takes ~630 MB)
#   FIELDKIT  the fieldkit binary (default target/release/fieldkit, built with cargo when unset)
#   BENCH_DIR (default /var/tmp/fieldkit-bench) holds the corpus (../shared/bench/make-corpus.py,
#             the same as bench/collect.sh's), the Windows-like tree
#             (bench/tools/make-windows-tree.py), ratefs, the device's backing folder and
#             its mount point.
# Workloads: (a) profile windows-triage on the Windows-like tree, (b) all-files on the
# 1.5 GB corpus (random data: incompressible). Each is collected with bundle members stored
# (`--compress never`) and compressed (`--compress auto`); a fieldkit without --compress is
# measured stored only (no flag) and says so. As in bench/collect.sh the source's page
# cache is warm and outputs are deleted and `sync`ed between runs; runs are interleaved
# (run 1 of every variant, then run 2, ...) so a noisy neighbour hits all variants alike.
# Runs as root (FUSE mount). The mount is unmounted and ratefs stopped by its PID at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3
WMBPS=30
RMBPS=100
ONLY=
VERIFY_MODES=(default no-verify)
SCALE=1.0
usage() { echo "usage: $0 [--runs N] [--write-mbps N] [--read-mbps N] [--only triage|corpus] [--default-only] [--scale F]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=${2:-}; shift 2 ;;
    --write-mbps) WMBPS=${2:-}; shift 2 ;;
    --read-mbps) RMBPS=${2:-}; shift 2 ;;
    --only) ONLY=${2:-}; shift 2 ;;
    --default-only) VERIFY_MODES=(default); shift ;;
    --scale) SCALE=${2:-}; shift 2 ;;
    *) usage ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || usage
case "$ONLY" in ''|triage|corpus) ;; *) usage ;; esac
BENCH_DIR=${BENCH_DIR:-/var/tmp/fieldkit-bench}
CORPUS=$BENCH_DIR/corpus
WIN=$BENCH_DIR/windows-tree-$SCALE
DEV=$BENCH_DIR/slowmedia
BACK=$DEV/backing
MNT=$DEV/mnt
OUT=$MNT/out
RATEFS=$DEV/ratefs
FK=${FIELDKIT:-$PWD/target/release/fieldkit}
for t in gcc pkg-config python3 bc dd mountpoint umount /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench needs $t" >&2; exit 2; }
done
[ "$(id -u)" = 0 ] || { echo "bench needs root (FUSE mount)" >&2; exit 2; }
[ -e /dev/fuse ] || { echo "bench needs /dev/fuse" >&2; exit 2; }
pkg-config --exists fuse3 || { echo "bench needs libfuse3 headers: apt-get install -y libfuse3-dev fuse3" >&2; exit 2; }
[ -n "${FIELDKIT:-}" ] || cargo build --release --quiet
[ -x "$FK" ] || { echo "no fieldkit binary at $FK" >&2; exit 2; }

mkdir -p "$DEV" "$BACK" "$MNT"
# shellcheck disable=SC2046 # pkg-config prints several words on purpose
gcc -O2 -Wall -o "$RATEFS" bench/tools/ratefs.c $(pkg-config --cflags --libs fuse3)
if [ ! -f "$CORPUS/images/disk3.raw" ]; then
  echo "generating corpus in $CORPUS ..." >&2
  python3 ../shared/bench/make-corpus.py "$CORPUS"
fi
if [ ! -f "$WIN/.complete" ]; then
  echo "generating the Windows-like tree in $WIN ..." >&2
  rm -rf "$WIN"
  python3 bench/tools/make-windows-tree.py "$WIN" --scale "$SCALE"
  touch "$WIN/.complete"
fi

# The device: a stale mount of an earlier, killed run is cleared first.
if mountpoint -q "$MNT"; then umount "$MNT" || umount -l "$MNT"; fi
rm -rf "${BACK:?}"/*
"$RATEFS" --write-mbps "$WMBPS" --read-mbps "$RMBPS" "$BACK" "$MNT" -f 2> "$DEV/ratefs.log" &
RATEFS_PID=$!
cleanup() {
  if mountpoint -q "$MNT"; then umount "$MNT" 2>/dev/null || umount -l "$MNT"; fi
  if kill -0 "$RATEFS_PID" 2>/dev/null; then
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$RATEFS_PID" 2>/dev/null || break; sleep 0.2; done
    kill "$RATEFS_PID" 2>/dev/null || true
  fi
  wait "$RATEFS_PID" 2>/dev/null || true
  grep '^ratefs:' "$DEV/ratefs.log" >&2 || true
  rm -rf "${BACK:?}"/*
}
trap cleanup EXIT
for _ in $(seq 50); do mountpoint -q "$MNT" && break; sleep 0.1; done
mountpoint -q "$MNT" || { echo "ratefs did not mount:" >&2; cat "$DEV/ratefs.log" >&2; exit 1; }

# Check the device's rate (MB = 10^6 bytes, as dd prints it).
dd_rate() { awk '/copied/ {for (i = 1; i <= NF; i++) if ($i == "s,") s = $(i - 1); printf "%.1f", $1 / s / 1000000}'; }
W_RATE=$(dd if=/dev/zero of="$MNT/ddtest" bs=1M count=300 conv=fsync 2>&1 | dd_rate)
R_RATE=$(dd if="$MNT/ddtest" of=/dev/null bs=1M iflag=direct 2>&1 | dd_rate)
rm -f "$MNT/ddtest"; sync
echo "device: ratefs (FUSE pass-through, bench/tools/ratefs.c) over $BACK, limits write $WMBPS MB/s, read $RMBPS MB/s" >&2
echo "measured: dd 300 MiB conv=fsync $W_RATE MB/s write, dd O_DIRECT $R_RATE MB/s read" >&2

if "$FK" collect --help | grep -q -- '--compress'; then
  MODES=(never auto)
  HAVE_COMPRESS=1
else
  MODES=(stored)
  HAVE_COMPRESS=0
  echo "note: $FK has no collect --compress: bundle members stored only (no flag passed)" >&2
fi
WORKLOADS=()
[ "$ONLY" = corpus ] || WORKLOADS+=(triage)
[ "$ONLY" = triage ] || WORKLOADS+=(corpus)

declare -A WALL CPU SIZE RC COLLECTED BYTES
run_one() {  # workload verify mode
  local w=$1 v=$2 m=$3 args=()
  case "$w" in
    triage) args+=(--profile windows-triage --source "$WIN") ;;
    corpus) args+=(--profile all-files --source "$CORPUS") ;;
  esac
  [ "$v" = no-verify ] && args+=(--no-verify)
  [ "$m" = stored ] || args+=(--compress "$m")
  rm -rf "$OUT"; mkdir -p "$OUT"; sync
  local key="$w|$v|$m" t0 t1 rc=0
  t0=$(date +%s.%N)
  /usr/bin/time -o "$DEV/time.txt" -f "%U %S" "$FK" collect --quiet --json "${args[@]}" --out "$OUT" > "$DEV/summary.json" || rc=$?
  t1=$(date +%s.%N)
  local user sys
  read -r user sys < <(tail -1 "$DEV/time.txt")
  WALL[$key]="${WALL[$key]:-} $(echo "$t1 - $t0" | bc -l)"
  CPU[$key]="${CPU[$key]:-} $(echo "$user + $sys" | bc -l)"
  [ "$rc" = 0 ] || RC[$key]=$rc
  local summary size collected bytes
  summary=$(python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); c = d.get("counts") or {}; print(d.get("size") or 0, c.get("collected", 0), c.get("bytes_read", 0))' "$DEV/summary.json" 2>/dev/null) || summary="0 0 0"
  read -r size collected bytes <<< "$summary"
  SIZE[$key]=$size; COLLECTED[$key]=$collected; BYTES[$key]=$bytes
  printf '  %-7s %-10s %-7s %7.2f s  bundle %8.1f MB  exit %s\n' "$w" "$v" "$m" "$(echo "$t1 - $t0" | bc -l)" "$(echo "${SIZE[$key]} / 1000000" | bc -l)" "$rc" >&2
}
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

echo "slow-media benchmark: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $RUNS runs each (median), fieldkit $("$FK" --version 2>/dev/null | head -1)" >&2
for w in "${WORKLOADS[@]}"; do
  src=$WIN; [ "$w" = corpus ] && src=$CORPUS
  for r in $(seq "$RUNS"); do
    echo "$w: run $r of $RUNS" >&2
    for v in "${VERIFY_MODES[@]}"; do
      for m in "${MODES[@]}"; do bench/tools/warm.sh "$src"; run_one "$w" "$v" "$m"; done
    done
  done
done
rm -rf "$OUT"

label() {
  case "$1" in
    triage) echo "windows-triage, Windows-like tree" ;;
    corpus) echo "all-files, 1.5 GB corpus" ;;
  esac
}
echo
echo "Output device: ratefs, $WMBPS MB/s write / $RMBPS MB/s read limits; measured $W_RATE MB/s write (dd 300 MiB conv=fsync), $R_RATE MB/s read (dd O_DIRECT)."
echo "floor = bundle bytes / measured write rate (the time the device needs for the bundle alone)."
echo
echo "| workload | collect | members | median s | CPU s | files taken | MB read | bundle MB | floor s | × floor | speed-up vs stored |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for w in "${WORKLOADS[@]}"; do
  for v in "${VERIFY_MODES[@]}"; do
    base=
    for m in "${MODES[@]}"; do
      key="$w|$v|$m"
      # shellcheck disable=SC2086 # word splitting of the run lists is intended
      wall=$(median ${WALL[$key]})
      # shellcheck disable=SC2086
      cpu=$(median ${CPU[$key]})
      floor=$(echo "${SIZE[$key]} / ($W_RATE * 1000000)" | bc -l)
      [ -n "$base" ] || base=$wall
      members=$m
      case "$m" in never) members="stored (--compress never)" ;; auto) members="compressed (--compress auto)" ;; stored) members="stored (no --compress)" ;; esac
      vlabel="default (verify)"; [ "$v" = no-verify ] && vlabel="--no-verify"
      [ -z "${RC[$key]:-}" ] || vlabel="$vlabel, EXIT ${RC[$key]}"
      printf '| %s | %s | %s | %.2f | %.2f | %s | %.1f | %.1f | %.2f | %.2f | %.2f× |\n' "$(label "$w")" "$vlabel" "$members" \
        "$wall" "$cpu" "${COLLECTED[$key]}" "$(echo "${BYTES[$key]} / 1000000" | bc -l)" \
        "$(echo "${SIZE[$key]} / 1000000" | bc -l)" "$floor" "$(echo "$wall / $floor" | bc -l)" "$(echo "$base / $wall" | bc -l)"
    done
  done
done
echo
for w in "${WORKLOADS[@]}"; do
  want=2.00; target="≥ 2.00× (text-heavy triage tree)"
  [ "$w" = corpus ] && { want=1.00; target="≥ 1.00×, no slower (incompressible)"; }
  for v in "${VERIFY_MODES[@]}"; do
    if [ "$HAVE_COMPRESS" = 1 ]; then
      # shellcheck disable=SC2086
      s=$(echo "$(median ${WALL[$w|$v|never]}) / $(median ${WALL[$w|$v|auto]})" | bc -l)
      ok=MET; [ "$(echo "$s >= $want" | bc -l)" = 1 ] || ok="NOT MET"
      printf 'ratio %s, %s: compressed %.2f× faster than stored (target %s): %s; bundle %.2f× smaller\n' "$(label "$w")" "$v" "$s" "$target" "$ok" \
        "$(echo "${SIZE[$w|$v|never]} / ${SIZE[$w|$v|auto]}" | bc -l)"
    else
      printf 'ratio %s, %s: compressed vs stored not measured (fieldkit has no --compress yet; target %s)\n' "$(label "$w")" "$v" "$target"
    fi
  done
done
