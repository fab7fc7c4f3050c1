#!/usr/bin/env bash
# Benchmark (issue 11): the same files collected by the Windows build under Wine through
# the file API (nobody holds them) and through the raw volume (a helper holds them with
# share mode 0), on an NTFS image mapped as X: (\\.\X: = its read-only loop device, X:\ =
# its read-only ntfs-3g mount; docs/live-windows-raw.md). Prints wall time and peak RSS
# (/usr/bin/time) of each run and checks both paths give the same SHA-256s.
# Usage: bench/live-windows-raw.sh WINDOWS_EXE [RUNS]   (as root: losetup, mount)
#   BENCH_DIR (default /var/tmp/fieldkit-bench-raw) holds the prefix, image and outputs.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd -P)
EXE=$(realpath "${1:?usage: bench/live-windows-raw.sh WINDOWS_EXE [RUNS]}"); RUNS=${2:-3}
W=${BENCH_DIR:-/var/tmp/fieldkit-bench-raw}; mkdir -p "$W"; cd "$W"
export WINEPREFIX=$W/prefix WINEDEBUG=-all
WINE=/usr/lib/wine/wine64
zpath() { echo "Z:$1" | tr / '\\'; }
if [ ! -d prefix/drive_c ]; then
  $WINE wineboot --init >/dev/null 2>&1 || true
  x86_64-w64-mingw32-gcc -shared -O2 -s -o prefix/drive_c/windows/system32/bcryptprimitives.dll \
    "$SRC/tests/wine/bcryptprimitives.c" -ladvapi32
  x86_64-w64-mingw32-gcc -municode -O2 -s -o wintool.exe "$SRC/tests/wine/wintool.c"
fi
umount mnt 2>/dev/null || true
for l in $(losetup -j "$W/vol.img" -O NAME -n); do losetup -d "$l"; done
rm -f vol.img; truncate -s 1200M vol.img; mkntfs -F -Q -L BENCH vol.img >/dev/null 2>&1
mkdir -p mnt out; ntfs-3g vol.img mnt
mkdir -p mnt/bench; for i in 1 2 3 4; do head -c $((64<<20)) /dev/urandom > mnt/bench/f$i.bin; done
head -c $((256<<20)) /dev/urandom > mnt/bench/big.bin
umount mnt
LOOP=$(losetup -r -f --show vol.img); ntfs-3g -o ro "$LOOP" mnt
trap 'umount "$W/mnt" 2>/dev/null; losetup -d "$LOOP" 2>/dev/null' EXIT
ln -sfn "$LOOP" prefix/dosdevices/x::; ln -sfn "$W/mnt" prefix/dosdevices/x:
printf 'name = "bench"\ndescription = "d"\nformat_version = 1\nos = "any"\n[[rule]]\nname = "b"\ncategory = "b"\ndescription = "d"\npaths = ["/bench/*"]\n' > bench.toml
run() {
  rm -rf out/*
  /usr/bin/time -f "  %e s wall, peak RSS %M KiB" $WINE "$EXE" collect --source 'X:\' \
    --profile "$(zpath "$W/bench.toml")" --out "$(zpath "$W/out")" --json --quiet 2>&1 >/dev/null | tail -1
  python3 - "$W"/out/*.zip <<'PY'
import json, sys, zipfile
rs = [json.loads(l) for l in zipfile.ZipFile(sys.argv[1]).read("files.jsonl").decode().splitlines()]
print("  ", sorted({(r.get("how_read"), r["status"]) for r in rs}), sum(r.get("bytes_read", 0) for r in rs) >> 20, "MiB,",
      "sha256:", " ".join(r["sha256"][:8] for r in sorted(rs, key=lambda r: r["path"])))
PY
}
echo "API (unlocked):"; for _ in $(seq "$RUNS"); do run; done
$WINE wintool.exe lock-all 900 'X:\bench\f1.bin' 'X:\bench\f2.bin' 'X:\bench\f3.bin' \
  'X:\bench\f4.bin' 'X:\bench\big.bin' > lock.out & HOLD=$!
sleep 3; grep -q "locked 5" lock.out || { echo "holder failed" >&2; exit 1; }
echo "raw NTFS (held with share mode 0):"; for _ in $(seq "$RUNS"); do run; done
kill $HOLD; wait $HOLD 2>/dev/null || true
