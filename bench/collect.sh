#!/usr/bin/env bash
# Benchmark: fieldkit collect / hash against named peers on the same tree, in one run,
# printed as ratios. Usage: bench/collect.sh [--runs N] [--no-big]
#   BENCH_DIR (default /var/tmp/fieldkit-bench) holds the corpus and the outputs; the
#   corpus is ../shared/bench/make-corpus.py's deterministic 1.5 GB, 20,004-file tree.
#   FIELDKIT: the binary to measure (default target/release/fieldkit, built first).
# Each timing is the median of N runs with a warm page cache for the source; outputs are
# deleted and `sync`ed between runs so one run's write-back does not slow the next.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3
BIG=1
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    --no-big) BIG=0; shift ;;
    *) echo "usage: $0 [--runs N] [--no-big]" >&2; exit 2 ;;
  esac
done
BENCH_DIR=${BENCH_DIR:-/var/tmp/fieldkit-bench}
CORPUS=$BENCH_DIR/corpus
OUT=$BENCH_DIR/out
FK=${FIELDKIT:-$PWD/target/release/fieldkit}
for t in tar zip hashdeep openssl python3 /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench needs $t" >&2; exit 2; }
done
[ -n "${FIELDKIT:-}" ] || cargo build --release --quiet
mkdir -p "$BENCH_DIR"
if [ ! -f "$CORPUS/images/disk3.raw" ]; then
  echo "generating corpus in $CORPUS ..." >&2
  python3 ../shared/bench/make-corpus.py "$CORPUS"
fi

declare -A SECS RSS
measure() {  # name, command...
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"; mkdir -p "$OUT"; sync
    bench/tools/warm.sh "$CORPUS"   # the source in the page cache (tools/warm.sh: why each run)
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

echo "fieldkit benchmark: $(nproc) cores, $(du -sh "$CORPUS" | cut -f1) in $(find "$CORPUS" -type f | wc -l) files, $RUNS runs each (median)" >&2
measure "tar cf"                      tar cf "$OUT/t.tar" -C "$BENCH_DIR" corpus
measure "tar cf + sync"               sh -c "tar cf '$OUT/t.tar' -C '$BENCH_DIR' corpus && sync"
measure "zip -0 -r"                   sh -c "cd '$BENCH_DIR' && zip -0 -r -q '$OUT/z.zip' corpus"
measure "hashdeep -c sha256 -r"       hashdeep -c sha256 -r "$CORPUS"
measure "openssl sha256, xargs -P2"   sh -c "find '$CORPUS' -type f -print0 | xargs -0 -P2 -n 500 openssl dgst -sha256"
measure "fieldkit hash"               "$FK" hash "$CORPUS"
measure "fieldkit collect --no-verify" "$FK" collect --quiet --no-verify --source "$CORPUS" --out "$OUT"
measure "fieldkit collect"            "$FK" collect --quiet --source "$CORPUS" --out "$OUT"
measure "fieldkit collect --no-triage --no-verify" "$FK" collect --quiet --no-triage --no-verify --source "$CORPUS" --out "$OUT"
measure "fieldkit live (volatile state only)" "$FK" live --json

# One large file, one core: raw SHA-256 throughput (SHA-NI when the CPU has it).
BIGF=$CORPUS/images/disk0.raw
SIZE=$(stat -c %s "$BIGF")
measure "fieldkit hash 1 file 1 thread"  "$FK" hash --threads 1 "$BIGF"
measure "openssl dgst -sha256 1 file"    openssl dgst -sha256 "$BIGF"
measure "sha256sum 1 file"               sha256sum "$BIGF"

tar=${SECS["tar cf"]}
floor=${SECS["openssl sha256, xargs -P2"]}
echo
echo "| what | median s | ratio | peak RSS MiB |"
echo "|---|---|---|---|"
for n in "tar cf" "tar cf + sync" "zip -0 -r" "hashdeep -c sha256 -r" "fieldkit collect --no-triage --no-verify" "fieldkit collect --no-verify" "fieldkit collect"; do
  printf '| %s | %.2f | %.2f× tar cf | %.1f |\n' "$n" "${SECS[$n]}" "$(echo "${SECS[$n]} / $tar" | bc -l)" "$(echo "${RSS[$n]}/1024" | bc -l)"
done
for n in "openssl sha256, xargs -P2" "fieldkit hash"; do
  printf '| %s | %.2f | %.2f× openssl floor | %.1f |\n' "$n" "${SECS[$n]}" "$(echo "${SECS[$n]} / $floor" | bc -l)" "$(echo "${RSS[$n]}/1024" | bc -l)"
done
tri=${SECS["fieldkit collect --no-verify"]}
notri=${SECS["fieldkit collect --no-triage --no-verify"]}
printf '| analyzers on vs off (collect --no-verify) | %.2f vs %.2f | %+.1f%% | |\n' "$tri" "$notri" "$(echo "($tri / $notri - 1) * 100" | bc -l)"
printf '| fieldkit live (volatile state only, this machine) | %.2f | | %.1f |\n' "${SECS["fieldkit live (volatile state only)"]}" "$(echo "${RSS["fieldkit live (volatile state only)"]}/1024" | bc -l)"
for n in "fieldkit hash 1 file 1 thread" "openssl dgst -sha256 1 file" "sha256sum 1 file"; do
  printf '| %s | %.3f | %.2f GB/s | %.1f |\n' "$n" "${SECS[$n]}" "$(echo "$SIZE / ${SECS[$n]} / 1000000000" | bc -l)" "$(echo "${RSS[$n]}/1024" | bc -l)"
done

if [ "$BIG" = 1 ]; then
  # Constant memory whatever the file size: a 4 GiB + 1 MiB file (ZIP64 member).
  BIGDIR=$BENCH_DIR/big
  mkdir -p "$BIGDIR"
  [ -f "$BIGDIR/huge.bin" ] || { head -c 1048576 /dev/urandom > "$BIGDIR/huge.bin"; truncate -s $((4*1024*1024*1024 + 1048576)) "$BIGDIR/huge.bin"; }
  rm -rf "$OUT"; mkdir -p "$OUT"; sync
  /usr/bin/time -o "$BENCH_DIR/time.txt" -f "%e %M" "$FK" collect --quiet --source "$BIGDIR" --out "$OUT" > /dev/null
  read -r secs rss < <(tail -1 "$BENCH_DIR/time.txt")
  unzip -tq "$OUT"/*.zip > "$BENCH_DIR/unzip.txt" 2>&1 && ok=passes || ok=FAILS
  printf '| fieldkit collect, one 4 GiB + 1 MiB file (ZIP64) | %.2f | unzip -t %s | %.1f |\n' "$secs" "$ok" "$(echo "$rss/1024" | bc -l)"
  rm -rf "$OUT"
fi
