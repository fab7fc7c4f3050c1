#!/usr/bin/env bash
# Benchmark: lab batch mode and the case index, in one run.
# Usage: bench/batch.sh [--exhibits N] [--files F]   (default 20 exhibits × 500 files)
#   FIELDKIT (default target/release/fieldkit), BENCH_DIR (default /var/tmp/fieldkit-bench).
# Measures, with the same flags everywhere (`--profile all-files --no-triage`):
#   - `fieldkit batch` of N small exhibits vs N sequential `fieldkit collect` runs of the
#     same folders (target: batch no slower; CPU use = (user+sys)/wall shown for both);
#   - `fieldkit index` of the N bundles: file records per second;
#   - `fieldkit index query --shared` and `--hash H` latency (median of 5).
# Run it on a quiet machine only (it uses every core). It does NOT build the ≥10 M-record
# index the issue asks for; see BENCHMARKS.md for what was measured.
set -euo pipefail
N=20 F=500
while [ $# -gt 0 ]; do case $1 in --exhibits) N=$2; shift 2;; --files) F=$2; shift 2;; *) echo "unknown $1" >&2; exit 2;; esac; done
cd "$(dirname "$0")/.."
FK=${FIELDKIT:-target/release/fieldkit}
[ -x "$FK" ] || { echo "build first: cargo build --release (or set FIELDKIT)" >&2; exit 2; }
B=${BENCH_DIR:-/var/tmp/fieldkit-bench}/batch
rm -rf "$B"; mkdir -p "$B/ev"
python3 - "$B/ev" "$N" "$F" <<'PY'
import os, sys, random
root, n, f = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(13)
shared = [rnd.randbytes(rnd.randint(100, 20000)) for _ in range(50)]
for e in range(n):
    d = os.path.join(root, f"E{e:02}")
    for i in range(f):
        p = os.path.join(d, f"d{i % 20}", f"f{i}.bin")
        os.makedirs(os.path.dirname(p), exist_ok=True)
        data = shared[i % 50] if i % 5 == 0 else rnd.randbytes(rnd.randint(100, 40000))
        open(p, "wb").write(data)
PY
{ echo '[case]'; echo 'case = "BENCH"'; echo 'profile = "all-files"'; echo 'no_triage = true'
  for e in $(seq -f %02g 0 $((N-1))); do printf '[[job]]\nexhibit = "E%s"\nsource = "ev/E%s"\n' "$e" "$e"; done; } > "$B/jobs.toml"
sync
t() { /usr/bin/time -f "%e %U %S" -o "$B/time" "$@" >/dev/null 2>&1; read -r w u s < "$B/time"; echo "$w $(echo "($u+$s)/$w" | bc -l | cut -c1-4)"; }
read -r bw bc_ < <(t "$FK" batch "$B/jobs.toml" --out "$B/out-batch" -q)
seq_start=$(date +%s.%N)
for e in $(seq -f %02g 0 $((N-1))); do
  "$FK" collect --source "$B/ev/E$e" --out "$B/out-seq/E$e" --exhibit "E$e" --case BENCH --profile all-files --no-triage --no-live -q --json >/dev/null
done
sw=$(echo "$(date +%s.%N) - $seq_start" | bc -l | cut -c1-6)
echo "batch of $N exhibits × $F files: ${bw}s wall (cpu use ${bc_}); $N sequential collects: ${sw}s wall; ratio batch/sequential $(echo "$bw/$sw" | bc -l | cut -c1-4)"
start=$(date +%s.%N)
"$FK" index "$B/out-batch" --out "$B/case.sqlite" >/dev/null 2>&1
iw=$(echo "$(date +%s.%N) - $start" | bc -l)
recs=$(sqlite3 "$B/case.sqlite" 'SELECT COUNT(*) FROM files')
echo "index: $recs file records in $(echo "$iw" | cut -c1-5)s = $(echo "$recs/$iw" | bc) records/s (verification of each bundle included)"
h=$(sqlite3 "$B/case.sqlite" 'SELECT sha256 FROM files WHERE sha256 IS NOT NULL LIMIT 1')
for q in "--shared" "--hash $h"; do
  ts=(); for i in 1 2 3 4 5; do s=$(date +%s%N); "$FK" index query "$B/case.sqlite" $q --json >/dev/null; ts+=($(( ($(date +%s%N) - s) / 1000000 ))); done
  echo "query ${q%% *}: median $(printf '%s\n' "${ts[@]}" | sort -n | sed -n 3p) ms (of 5)"
done
