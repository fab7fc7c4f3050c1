#!/usr/bin/env bash
# Benchmark: startup time of the static fieldkit binary (`fieldkit --version`) next to
# named peers, in one hyperfine run. Target: under 20 ms (issue 6).
# Usage: bench/startup.sh [FIELDKIT_BINARY] [--runs N]
#   FIELDKIT_BINARY defaults to kit/fieldkit-x86_64-linux (packaging/build-kit makes it).
# Peers: /bin/true (the floor: exec + exit of a dynamic C program), `sha256sum --version`
# (a small coreutils binary against glibc). Also shown: `fieldkit kit verify` on the kit
# (the first real command a responder runs: hashes the whole kit, ~8 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=kit/fieldkit-x86_64-linux
RUNS=300
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    -*) echo "usage: $0 [FIELDKIT_BINARY] [--runs N]" >&2; exit 2 ;;
    *) BIN=$1; shift ;;
  esac
done
[ -x "$BIN" ] || { echo "no $BIN: build the kit (packaging/build-kit) or name a binary" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "bench needs hyperfine (apt-get install hyperfine)" >&2; exit 2; }
KIT=$(cd "$(dirname "$BIN")" && pwd)
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
cmds=(-n "/bin/true" "/bin/true"
      -n "sha256sum --version" "sha256sum --version"
      -n "fieldkit --version" "$BIN --version")
if [ -f "$KIT/SHA256SUMS" ]; then
  cmds+=(-n "fieldkit kit verify (whole kit)" "$BIN kit verify $KIT")
fi
echo "startup benchmark: $(nproc) cores, $BIN ($(stat -c %s "$BIN") bytes; $(file -b "$BIN" | cut -d, -f1-4)), $RUNS runs each" >&2
hyperfine -N --warmup 20 --runs "$RUNS" --style basic --export-json "$TMP/h.json" "${cmds[@]}" >&2
python3 - "$TMP/h.json" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))["results"]
floor = res[0]["mean"]
print("| command | mean ms | σ ms | median ms | max ms | vs /bin/true |")
print("|---|---|---|---|---|---|")
for r in res:
    print(f"| {r['command']} | {r['mean']*1e3:.2f} | {r['stddev']*1e3:.2f} | {r['median']*1e3:.2f} "
          f"| {r['max']*1e3:.2f} | {r['mean']/floor:.1f}× |")
fk = next(r for r in res if r["command"] == "fieldkit --version")
verdict = "PASS" if fk["mean"] < 0.020 else "FAIL"
print(f"\nfieldkit --version: {fk['mean']*1e3:.2f} ms mean — target < 20 ms: {verdict}")
sys.exit(0 if verdict == "PASS" else 1)
PY
