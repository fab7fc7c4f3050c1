#!/usr/bin/env bash
# Benchmark: fieldkit collect from disk images against named peers, in one run, as ratios.
# Usage: bench/image.sh [--runs N]     (needs root: loop mounts)
#   BENCH_DIR (default /var/tmp/fieldkit-bench) holds the corpus (../shared/bench/
#   make-corpus.py's 1.5 GB, 20,004-file tree, as bench/collect.sh) and the images.
# Measures, with the same flags everywhere (`--profile all-files --no-verify --no-triage`,
# so the comparison is of reading, hashing and storing):
#   - collect from a raw ext4 image of the corpus vs collect of the same image
#     loop-mounted read-only (target <= 1.2x);
#   - vs sleuthkit: fls to list, then `icat` once per file into a folder, plus sha256sum;
#   - vs Fox-IT acquire (a Python image collector) when it installs here
#     (BENCH_DIR/acq-venv: `python3 -m venv acq-venv && acq-venv/bin/pip install
#     'acquire[full]'` — without [full] it has no ext4 reader), target >= 30x faster;
#   - an NTFS image of the corpus (mkntfs, files copied in through ntfs-3g) vs collect of
#     the same image mounted read-only through ntfs-3g (FUSE: the only NTFS mount here);
#   - E01 (deflate, fast) of the ext4 image: collect throughput;
#   - peak RSS at two image sizes (the corpus, and a quarter of it): flat.
# Each timing is the median of N runs, page cache warm; outputs deleted and synced.
# ICAT_SECS=N stops the sleuthkit run after N seconds (one icat per file takes many
# minutes on 2 cores): its row is then a lower bound with the count of files it got to.
# The load average is printed before and after (the machine may be shared).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3
[ "${1:-}" = --runs ] && RUNS=$2
[ "$(id -u)" = 0 ] || { echo "bench/image.sh needs root (loop mounts)" >&2; exit 2; }
BENCH_DIR=${BENCH_DIR:-/var/tmp/fieldkit-bench}
CORPUS=$BENCH_DIR/corpus
IMG=$BENCH_DIR/img
OUT=$BENCH_DIR/out
FK=$PWD/target/release/fieldkit
for t in mkfs.ext4 fls icat ewfacquire /usr/bin/time bc; do
  command -v "$t" >/dev/null || { echo "bench needs $t" >&2; exit 2; }
done
cargo build --release --quiet
mkdir -p "$BENCH_DIR" "$IMG"
[ -f "$CORPUS/images/disk3.raw" ] || python3 "${SHARED:-../shared}"/bench/make-corpus.py "$CORPUS"
SMALL=$BENCH_DIR/corpus-small
[ -d "$SMALL" ] || python3 "${SHARED:-../shared}"/bench/make-corpus.py "$SMALL" --small 5000 --large-mib 256
# ext4 images of the trees (2 GiB / 640 MiB), an E01 of the big one.
[ -f "$IMG/ext4.img" ] || mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 -d "$CORPUS" "$IMG/ext4.img" 2G
[ -f "$IMG/ext4-small.img" ] || mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 -d "$SMALL" "$IMG/ext4-small.img" 640M
[ -f "$IMG/ext4.E01" ] || ewfacquire -u -q -t "$IMG/ext4" -f encase6 -c deflate:fast -S 4GiB "$IMG/ext4.img" > /dev/null
MNT=$BENCH_DIR/mnt
mkdir -p "$MNT"
mountpoint -q "$MNT" || mount -o ro,loop "$IMG/ext4.img" "$MNT"
trap 'umount "$MNT" 2>/dev/null || true' EXIT
cat "$IMG/ext4.img" "$IMG/ext4-small.img" > /dev/null
find "$MNT" -type f -print0 | xargs -0 cat > /dev/null

declare -A SECS RSS
measure() {  # name, command...
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT"; mkdir -p "$OUT"; sync
    local t0 t1
    t0=$(date +%s.%N)
    /usr/bin/time -o "$BENCH_DIR/time.txt" -f "%M" "$@" > /dev/null 2> "$BENCH_DIR/stderr.txt" || {
      echo "$name failed:" >&2; cat "$BENCH_DIR/stderr.txt" >&2; exit 1; }
    t1=$(date +%s.%N)
    times+=("$(echo "$t1 - $t0" | bc -l)")
    local r; r=$(tail -1 "$BENCH_DIR/time.txt"); [ "$r" -gt "$rss" ] && rss=$r
  done
  SECS[$name]=$(printf '%s\n' "${times[@]}" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  RSS[$name]=$rss
  printf '  %-44s %8.2f s  peak RSS %7.1f MiB\n' "$name" "${SECS[$name]}" "$(echo "$rss/1024" | bc -l)" >&2
}
FLAGS=(collect --quiet --profile all-files --no-verify --no-triage)
echo "image benchmark: $(nproc) cores, corpus $(du -sh "$CORPUS" | cut -f1), $RUNS runs each (median); load: $(uptime)" >&2
measure "collect, ext4 image loop-mounted"   "$FK" "${FLAGS[@]}" --source "$MNT" --out "$OUT"
measure "collect --source ext4.img"           "$FK" "${FLAGS[@]}" --source "$IMG/ext4.img" --out "$OUT"
measure "collect --source ext4-small.img"     "$FK" "${FLAGS[@]}" --source "$IMG/ext4-small.img" --out "$OUT"
measure "collect --source ext4.E01 (deflate)" "$FK" "${FLAGS[@]}" --source "$IMG/ext4.E01" --out "$OUT"
if command -v mkntfs >/dev/null && command -v ntfs-3g >/dev/null; then
  NMNT=$BENCH_DIR/ntfs-mnt
  mkdir -p "$NMNT"
  if [ ! -f "$IMG/ntfs.img" ]; then
    truncate -s 3G "$IMG/ntfs.img.part" && mkntfs -F -Q -q "$IMG/ntfs.img.part" 2> /dev/null
    ntfs-3g "$IMG/ntfs.img.part" "$NMNT" && cp -r "$CORPUS/." "$NMNT/" && umount "$NMNT"
    mv "$IMG/ntfs.img.part" "$IMG/ntfs.img"
  fi
  ntfs-3g -o ro "$IMG/ntfs.img" "$NMNT"
  trap 'umount "$MNT" 2>/dev/null || true; umount "$NMNT" 2>/dev/null || true' EXIT
  cat "$IMG/ntfs.img" > /dev/null
  measure "collect, NTFS image ntfs-3g-mounted" "$FK" "${FLAGS[@]}" --source "$NMNT" --out "$OUT"
  measure "collect --source ntfs.img"           "$FK" "${FLAGS[@]}" --source "$IMG/ntfs.img" --out "$OUT"
  umount "$NMNT"
fi
# sleuthkit: one icat per file (what a script around TSK does), 2 in parallel, + hashes.
fls -r -p -u "$IMG/ext4.img" | awk -F'\t' '$1 ~ /^r\/r/ {split($1, a, " "); sub(":", "", a[2]); print a[2]}' > "$BENCH_DIR/inodes.txt"
ICAT_SCRIPT='mkdir -p "$0/x" && xargs -P2 -I{} sh -c "icat \"$1\" {} > \"$0/x/{}\"" < "$2" && find "$0/x" -type f -print0 | xargs -0 -P2 -n 500 sha256sum > /dev/null'
ICAT_SECS=${ICAT_SECS:-0}
ICAT_PARTIAL=
if [ "$ICAT_SECS" -gt 0 ]; then
  rm -rf "$OUT"; mkdir -p "$OUT"; sync
  t0=$(date +%s.%N)
  rc=0
  timeout "$ICAT_SECS" sh -c "$ICAT_SCRIPT" "$OUT" "$IMG/ext4.img" "$BENCH_DIR/inodes.txt" > /dev/null 2>&1 || rc=$?
  t1=$(date +%s.%N)
  SECS["icat per file + sha256sum (sleuthkit)"]=$(echo "$t1 - $t0" | bc -l)
  RSS["icat per file + sha256sum (sleuthkit)"]=0
  if [ "$rc" = 124 ]; then
    ICAT_PARTIAL="stopped after ${ICAT_SECS} s with $(find "$OUT/x" -type f | wc -l) of $(wc -l < "$BENCH_DIR/inodes.txt") files extracted"
    echo "  icat per file + sha256sum (sleuthkit)        $ICAT_PARTIAL" >&2
  elif [ "$rc" != 0 ]; then
    echo "icat per file failed ($rc)" >&2; exit 1
  else
    printf '  %-44s %8.2f s\n' "icat per file + sha256sum (sleuthkit)" "${SECS["icat per file + sha256sum (sleuthkit)"]}" >&2
  fi
else
  measure "icat per file + sha256sum (sleuthkit)" sh -c "$ICAT_SCRIPT" "$OUT" "$IMG/ext4.img" "$BENCH_DIR/inodes.txt"
fi
ACQ=$BENCH_DIR/acq-venv/bin/acquire
if [ -x "$ACQ" ]; then
  RUNS_SAVED=$RUNS; RUNS=1
  # Every file of the image into acquire's tar (it stores no hashes of them unless asked).
  measure "Fox-IT acquire (all files, 1 run)" "$ACQ" "$IMG/ext4.img" -o "$OUT" -p none -g '/**/*' --disable-report
  RUNS=$RUNS_SAVED
fi

mnt=${SECS["collect, ext4 image loop-mounted"]}
img=${SECS["collect --source ext4.img"]}
SIZE=$(stat -c %s "$IMG/ext4.img")
echo
echo "| what | median s | ratio | peak RSS MiB |"
echo "|---|---|---|---|"
ROWS=("collect, ext4 image loop-mounted" "collect --source ext4.img" "collect --source ext4.E01 (deflate)")
[ -n "$ICAT_PARTIAL" ] || ROWS+=("icat per file + sha256sum (sleuthkit)")
for n in "${ROWS[@]}"; do
  rss="—"; [ "${RSS[$n]}" -gt 0 ] && rss=$(printf '%.1f' "$(echo "${RSS[$n]}/1024" | bc -l)")
  printf '| %s | %.2f | %.2f× loop mount | %s |\n' "$n" "${SECS[$n]}" "$(echo "${SECS[$n]} / $mnt" | bc -l)" "$rss"
done
if [ -n "$ICAT_PARTIAL" ]; then
  printf '| sleuthkit icat per file vs collect --source ext4.img | > %.0f (%s) | ≥ %.1f× faster | |\n' "${SECS["icat per file + sha256sum (sleuthkit)"]}" "$ICAT_PARTIAL" "$(echo "${SECS["icat per file + sha256sum (sleuthkit)"]} / $img" | bc -l)"
else
  printf '| sleuthkit icat per file vs collect --source ext4.img | | %.1f× faster | |\n' "$(echo "${SECS["icat per file + sha256sum (sleuthkit)"]} / $img" | bc -l)"
fi
if [ -n "${SECS["Fox-IT acquire (all files, 1 run)"]:-}" ]; then
  a=${SECS["Fox-IT acquire (all files, 1 run)"]}
  printf '| Fox-IT acquire | %.2f | fieldkit %.1f× faster | %.1f |\n' "$a" "$(echo "$a / $img" | bc -l)" "$(echo "${RSS["Fox-IT acquire (all files, 1 run)"]}/1024" | bc -l)"
else
  echo "| Fox-IT acquire | not installed here (see BENCHMARKS.md) | | |"
fi
printf '| E01 (deflate fast) collect throughput | | %.0f MB/s of media | |\n' "$(echo "$SIZE / ${SECS["collect --source ext4.E01 (deflate)"]} / 1000000" | bc -l)"
printf '| peak RSS: image of 2 GiB vs 640 MiB | %.1f vs %.1f MiB | | |\n' "$(echo "${RSS["collect --source ext4.img"]}/1024" | bc -l)" "$(echo "${RSS["collect --source ext4-small.img"]}/1024" | bc -l)"
if [ -n "${SECS["collect --source ntfs.img"]:-}" ]; then
  nm=${SECS["collect, NTFS image ntfs-3g-mounted"]}
  ni=${SECS["collect --source ntfs.img"]}
  printf '| collect, NTFS image ntfs-3g-mounted | %.2f | | %.1f |\n' "$nm" "$(echo "${RSS["collect, NTFS image ntfs-3g-mounted"]}/1024" | bc -l)"
  printf '| collect --source ntfs.img | %.2f | %.2f× the ntfs-3g mount | %.1f |\n' "$ni" "$(echo "$ni / $nm" | bc -l)" "$(echo "${RSS["collect --source ntfs.img"]}/1024" | bc -l)"
else
  echo "| NTFS image | not measured: mkntfs/ntfs-3g (package ntfs-3g) not installed | | |"
fi
echo "load after: $(uptime)" >&2
rm -rf "$OUT"
