#!/usr/bin/env bash
# Benchmark (issue 15 item 2): many small files. fieldkit collect against tar on the same
# tree, in one run, printed as ratios, with peak RSS; optionally where collect's time goes.
# Usage: bench/smallfiles.sh [--runs N] [--files N] [--perf]
#   --files N   tree of N files in folders of 1,000 (default 200000: 200 × 1,000, the
#               tree of issue 15), each 0–49 bytes of deterministic content
#   --perf      also record `perf record -g` of one `collect --no-verify` and print the
#               top self-time symbols and the syscall counts (`strace -c -f`)
#   BENCH_DIR (default /var/tmp/fieldkit-bench) holds the tree and the outputs.
# Each timing is the median of N runs, page cache warm for the source; outputs are
# deleted and `sync`ed between runs. Profile used: all-files (every file of the tree).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3
FILES=200000
PERF=0
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --files) FILES=$2; shift 2 ;;
    --perf) PERF=1; shift ;;
    *) echo "usage: $0 [--runs N] [--files N] [--perf]" >&2; exit 2 ;;
  esac
done
BENCH_DIR=${BENCH_DIR:-/var/tmp/fieldkit-bench}
TREE=$BENCH_DIR/small-$FILES
OUT=$BENCH_DIR/out-small
FK=${FIELDKIT:-$PWD/target/release/fieldkit}
for t in tar python3 bc /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench needs $t" >&2; exit 2; }
done
[ -n "${FIELDKIT:-}" ] || cargo build --release --quiet
mkdir -p "$BENCH_DIR"
if [ ! -f "$TREE/.complete" ]; then
  echo "generating $FILES small files in $TREE ..." >&2
  rm -rf "$TREE"
  python3 - "$TREE" "$FILES" <<'EOF'
import hashlib, os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:04d}")
    if i % 1000 == 0:
        os.makedirs(d)
    h = hashlib.sha256(str(i).encode()).digest()
    with open(os.path.join(d, f"f{i % 1000:04d}.txt"), "wb") as f:
        f.write(h.hex().encode()[: h[0] % 50])
open(os.path.join(root, ".complete"), "w").close()
EOF
fi

declare -A SECS RSS
measure() {  # name, command...
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"; mkdir -p "$OUT"; sync
    bench/tools/warm.sh "$TREE"   # the source in the page cache (tools/warm.sh: why each run)
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -o "$BENCH_DIR/time.txt" -f "%M" "$@" > /dev/null
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
    local r; r=$(tail -1 "$BENCH_DIR/time.txt"); [ "$r" -gt "$rss" ] && rss=$r
  done
  SECS[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  RSS[$name]=$rss
  printf '  %-34s %7.2f s  peak RSS %6.1f MiB\n' "$name" "${SECS[$name]}" "$(echo "$rss/1024" | bc -l)" >&2
}

echo "small-files benchmark: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $FILES files in $TREE, $RUNS runs each (median)" >&2
measure "tar cf"                       tar cf "$OUT/t.tar" -C "$BENCH_DIR" "small-$FILES"
measure "tar cf + sync"                sh -c "tar cf '$OUT/t.tar' -C '$BENCH_DIR' 'small-$FILES' && sync"
measure "fieldkit collect --no-verify" "$FK" collect --quiet --profile all-files --no-verify --source "$TREE" --out "$OUT"
measure "fieldkit collect"             "$FK" collect --quiet --profile all-files --source "$TREE" --out "$OUT"

ratio() { echo "scale=2; ${SECS[$1]} / ${SECS[$2]}" | bc -l; }
echo "ratios (target: --no-verify ≤ 1.3× tar cf + sync, default ≤ 1.5×):"
printf '  collect --no-verify / tar cf        %s\n' "$(ratio 'fieldkit collect --no-verify' 'tar cf')"
printf '  collect --no-verify / tar cf + sync %s\n' "$(ratio 'fieldkit collect --no-verify' 'tar cf + sync')"
printf '  collect / tar cf                    %s\n' "$(ratio 'fieldkit collect' 'tar cf')"
printf '  collect / tar cf + sync             %s\n' "$(ratio 'fieldkit collect' 'tar cf + sync')"

if [ "$PERF" = 1 ]; then
  command -v perf >/dev/null || { echo "--perf needs perf (linux-perf)" >&2; exit 2; }
  rm -rf "$OUT"; mkdir -p "$OUT"; sync
  bench/tools/warm.sh "$TREE"   # the source in the page cache (tools/warm.sh: why each run)
  perf record -q -g -o "$BENCH_DIR/small.perf" -- \
    "$FK" collect --quiet --profile all-files --no-verify --source "$TREE" --out "$OUT" > /dev/null
  echo "perf: top self time, collect --no-verify (children not included):"
  # (a release build keeps its symbols with CARGO_PROFILE_RELEASE_STRIP=none)
  perf report -i "$BENCH_DIR/small.perf" --no-children --sort comm,dso --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -12 || true
  perf report -i "$BENCH_DIR/small.perf" --no-children --sort dso,symbol --stdio -g none 2>/dev/null \
    | grep -E '^ +[0-9]' | head -25 || true
  if command -v strace >/dev/null; then
    rm -rf "$OUT"; mkdir -p "$OUT"; sync
    bench/tools/warm.sh "$TREE"   # the source in the page cache (tools/warm.sh: why each run)
    echo "syscalls, collect --no-verify (strace -c -f):"
    strace -c -f -o "$BENCH_DIR/small.strace" \
      "$FK" collect --quiet --profile all-files --no-verify --source "$TREE" --out "$OUT" > /dev/null
    head -22 "$BENCH_DIR/small.strace" || true
  fi
fi
