#!/usr/bin/env bash
# Benchmark: lab batch mode and the case index, in one run, with the RELEASE binary.
# Usage: bench/batch.sh [--exhibits N] [--files F] [--big-exhibits E] [--big-files P]
#                       [--no-big] [--keep]
#   defaults: 20 exhibits × 500 files; big index 100 exhibits × 100,000 records = 10 M.
#   FIELDKIT (default target/release/fieldkit), BENCH_DIR (default /var/tmp/fieldkit-bench;
#   everything is written under $BENCH_DIR/batch and deleted at the end unless --keep).
# Prints, in this order:
#   1. `fieldkit batch` of N small exhibits vs N sequential `fieldkit collect` runs of the
#      same folders, same flags (`--profile all-files --no-triage`): wall, CPU use
#      ((user+sys)/wall), ratio batch/sequential (target ≤ 1);
#   2. peak RSS (getrusage of the child, /usr/bin/time %M) of `index`, bulk `verify` and
#      `batch status` over 10, 100 and 1000 small bundles (memory flat in the number of
#      bundles);
#   3. the ≥ 10 M-record index: E real bundles, each a real `fieldkit collect` (signed,
#      sidecars) of one tree of P tiny files that is rewritten between collects so that
#      60% of its files are unique to the exhibit, 20% shared by 2 exhibits, 10% by 10 and
#      10% by all (gen_tree.py below); then `fieldkit index` of all of them (each bundle
#      re-verified first, as always): records/s and peak RSS; then query latency of
#      --hash (a hash in every exhibit, and one in one exhibit), --shared and
#      --findings info, each cold-ish (the database's pages dropped from the page cache
#      with posix_fadvise DONTNEED just before) and warm (median of 5), process start
#      and output to /dev/null included.
# Run it on a quiet machine only (it uses every core). Needs python3, sqlite3, bc,
# /usr/bin/time. About 25 min and 7 GB of disk at the default size on 2 cores.
set -euo pipefail
N=20 F=500 BE=20 BP=100000 BC=5 BIG=1 KEEP=0
while [ $# -gt 0 ]; do case $1 in
  --exhibits) N=$2; shift 2;; --files) F=$2; shift 2;;
  --big-exhibits) BE=$2; shift 2;; --big-files) BP=$2; shift 2;; --big-copies) BC=$2; shift 2;;
  --no-big) BIG=0; shift;; --keep) KEEP=1; shift;;
  *) echo "unknown $1" >&2; exit 2;; esac; done
cd "$(dirname "$0")/.."
FK=$(realpath "${FIELDKIT:-target/release/fieldkit}")
[ -x "$FK" ] || { echo "build first: cargo build --release (or set FIELDKIT)" >&2; exit 2; }
for t in python3 sqlite3 bc /usr/bin/time; do
  command -v "$t" >/dev/null || { echo "bench needs $t" >&2; exit 2; }
done
B=${BENCH_DIR:-/var/tmp/fieldkit-bench}/batch
rm -rf "$B"; mkdir -p "$B/ev"
[ "$KEEP" = 1 ] || trap 'rm -rf "$B"' EXIT
echo "fieldkit: $FK ($("$FK" --version 2>/dev/null | head -1)); $(nproc) CPUs; load: $(uptime | sed 's/.*load average: //')"

# ---- 1. batch vs sequential collects --------------------------------------------------
python3 - "$B/ev" "$N" "$F" <<'PY'
import os, sys, random
root, n, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(13)
shared = [rnd.randbytes(rnd.randint(100, 20000)) for _ in range(50)]
for e in range(n):
    d = os.path.join(root, f"E{e:04}")
    for i in range(f):
        p = os.path.join(d, f"d{i % 20}", f"f{i}.bin")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = shared[i % 50] if i % 5 == 0 else rnd.randbytes(rnd.randint(100, 40000))
        open(p, "wb").write(data)
PY
jobs_file() {  # file, count, source prefix, case
  { echo '[case]'; echo "case = \"$4\""; echo 'profile = "all-files"'; echo 'no_triage = true'
    for e in $(seq -f %04g 0 $(($2-1))); do printf '[[job]]\nexhibit = "E%s"\nsource = "%s%s"\n' "$e" "$3" "$e"; done; } > "$1"
}
jobs_file "$B/jobs.toml" "$N" "ev/E" BENCH
sync
t() { /usr/bin/time -f "%e %U %S %M" -o "$B/time" "$@" >/dev/null 2>"$B/stderr" || { echo "FAILED: $*" >&2; tail -3 "$B/stderr" >&2; exit 1; }
      read -r w u s m < "$B/time"; echo "$w $(awk -v w="$w" -v c="$u+$s" 'BEGIN { split(c, a, "+"); printf "%.2f", w > 0 ? (a[1] + a[2]) / w : 0 }') $m"; }
read -r bw bc_ _ < <(t "$FK" batch "$B/jobs.toml" --out "$B/out-batch" -q)
seq_start=$(date +%s.%N)
for e in $(seq -f %04g 0 $((N-1))); do
  "$FK" collect --source "$B/ev/E$e" --out "$B/out-seq/E$e" --exhibit "E$e" --case BENCH --profile all-files --no-triage --no-live -q --json >/dev/null
done
sw=$(echo "$(date +%s.%N) - $seq_start" | bc -l | cut -c1-6)
echo "1. batch of $N exhibits × $F files: ${bw}s wall (cpu use ${bc_} of $(nproc)); $N sequential collects: ${sw}s wall; ratio batch/sequential $(echo "$bw/$sw" | bc -l | cut -c1-4)"
read -r iw _ _ < <(t "$FK" index "$B/out-batch" --out "$B/case.sqlite")
recs=$(sqlite3 "$B/case.sqlite" 'SELECT COUNT(*) FROM files')
echo "   index of those $N bundles: $recs file records in ${iw}s = $(awk -v r="$recs" -v w="$iw" 'BEGIN { printf "%d", r / w }') records/s"

# ---- 2. peak RSS against the number of bundles ----------------------------------------
python3 - "$B/tiny" 1000 <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for e in range(n):
    d = os.path.join(root, f"E{e:04}")
    os.makedirs(d)
    for i in range(3):
        open(os.path.join(d, f"f{i}.txt"), "w").write(f"exhibit {e} file {i}\n" if i else "common\n")
PY
echo "2. peak RSS (MiB) by number of bundles (3 tiny files each):"
printf '   %-8s %-10s %-14s %-14s %-14s\n' bundles "batch" "index" "verify (bulk)" "batch status"
for n in 10 100 1000; do
  jobs_file "$B/jobs-$n.toml" "$n" "tiny/E" TINY
  read -r _ _ mb < <(t "$FK" batch "$B/jobs-$n.toml" --out "$B/out-$n" -q)
  read -r _ _ mi < <(t "$FK" index "$B/out-$n" --out "$B/tiny-$n.sqlite")
  read -r _ _ mv < <(t "$FK" verify "$B/out-$n" --json)
  read -r _ _ ms < <(t "$FK" batch status "$B/out-$n" --json)
  printf '   %-8s %-10s %-14s %-14s %-14s\n' "$n" "$((mb/1024))" "$((mi/1024))" "$((mv/1024))" "$((ms/1024))"
done
rm -rf "$B"/out-* "$B/tiny" "$B/ev"

[ "$BIG" = 1 ] || exit 0
# ---- 3. the ≥ 10 M-record index -------------------------------------------------------
cat > "$B/gen_tree.py" <<'PY'
# Rewrite a tree of P tiny files into exhibit E's content. File i's content is shared by
# a group of g(i) consecutive exhibits: 60% unique per exhibit, 20% shared by 2, 10% by
# 10, 10% by all (groups of 1000). Same length every time, overwritten in place (a
# truncated-and-rewritten file is flushed on close by ext4, 10x slower).
import os, sys
root, p, e = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
G = [1, 1, 1, 1, 1, 1, 2, 2, 10, 1000]
for i in range(p):
    g = G[i % 10]
    if e > 0 and e % g:
        continue
    d = os.path.join(root, f"d{i % 256:03}")
    if e == 0 and i < 256:
        os.makedirs(d, exist_ok=True)
    fd = os.open(os.path.join(d, f"f{i}.txt"), os.O_WRONLY | os.O_CREAT)
    os.write(fd, f"file {i:07} of group {e // g:07}\n".encode())
    os.close(fd)
PY
# One high-entropy file in every exhibit: the triage analyzers raise findings on it.
mkdir -p "$B/T"; head -c 1048576 /dev/urandom > "$B/T/vault.bin"
gen_start=$(date +%s)
for e in $(seq 0 $((BE-1))); do
  python3 "$B/gen_tree.py" "$B/T" "$BP" "$e"
  "$FK" collect --source "$B/T" --out "$B/big/c0/X$e" --exhibit "X$e" --case BIG --profile all-files \
    --no-live --no-verify -q >/dev/null 2>"$B/stderr" || { echo "collect X$e failed" >&2; tail -3 "$B/stderr" >&2; exit 1; }
done
# Copies 1..C-1: hard links of the same bundles (and sidecars) in other folders — indexed
# as further bundles, each re-verified and loaded like the first (no extra disk).
for c in $(seq 1 $((BC-1))); do cp -al "$B/big/c0" "$B/big/c$c"; done
echo "3. generated $BE bundles × $((BP+1)) records in $(( $(date +%s) - gen_start ))s ($(du -sh "$B/big/c0" | cut -f1)), each present $BC times = $((BE*BC*(BP+1))) records"
rm -rf "$B/T"; sync
big_index() {  # label, binary
  local DB=$B/big-$1.sqlite iw icpu im recs h_all h_one q cold ts rows
  read -r iw icpu im < <(t "$2" index "$B/big" --out "$DB")
  recs=$(sqlite3 "$DB" 'SELECT COUNT(*) FROM files')
  echo "   [$1] index: $recs file records in ${iw}s = $(awk -v r="$recs" -v w="$iw" 'BEGIN { printf "%d", r / w }') records/s (every bundle re-verified first; cpu use $icpu); peak RSS $((im/1024)) MiB; database $(du -h "$DB" | cut -f1)"
  h_all=$(sqlite3 "$DB" "SELECT sha256 FROM files WHERE path LIKE '%/d009/f9.txt' LIMIT 1")   # in every exhibit
  h_one=$(sqlite3 "$DB" "SELECT sha256 FROM files WHERE path LIKE '%/d010/f10.txt' LIMIT 1")  # in one exhibit
  for q in "--hash $h_all" "--hash $h_one" "--shared" "--findings info"; do
    # shellcheck disable=SC2086
    { evict "$DB"; cold=$(ms "$DB" "$2" $q); ts=(); for _ in 1 2 3 4 5; do ts+=("$(ms "$DB" "$2" $q)"); done; }
    rows=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$B/q.json")
    case $q in "--hash $h_all") q="--hash (every)";; "--hash $h_one") q="--hash (one)";; esac
    printf '   [%s] query %-16s %8s rows: cold-ish %6s ms, warm median %6s ms (of 5)\n' "$1" "$q" "$rows" "$cold" "$(printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p)"
  done
  rm -f "$DB"
}
# Cold-ish: the database's pages dropped from the page cache (posix_fadvise DONTNEED).
evict() { python3 -c 'import os,sys
fd=os.open(sys.argv[1],os.O_RDONLY); os.posix_fadvise(fd,0,0,os.POSIX_FADV_DONTNEED); os.close(fd)' "$1"; }
ms() { local s; s=$(date +%s%N); "$2" index query "$1" "${@:3}" --json > "$B/q.json"; echo $(( ($(date +%s%N) - s) / 1000000 )); }
big_index new "$FK"
[ -z "${FIELDKIT_BEFORE:-}" ] || big_index before "$(realpath "$FIELDKIT_BEFORE")"
