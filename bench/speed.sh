#!/usr/bin/env bash
# Benchmark (issue 15): every speed target of "verify-after-write nearly free, many small
# files, and slow USB sticks" in one run, each printed as ratios against its peers:
#   1. bench/collect.sh --no-big   default collect vs tar cf and tar cf + sync, 1.5 GB corpus
#   2. bench/smallfiles.sh         200,000 and 1,000,000 small files vs tar cf (+ sync),
#                                  with peak RSS
#   3. bench/slowmedia.sh          an emulated 30 MB/s stick, stored vs compressed
# Usage: bench/speed.sh [--runs N]   (default 3; passed to each script)
#   FIELDKIT  the fieldkit binary (default target/release/fieldkit, built when unset)
# Needs root (slowmedia mounts a FUSE device) and the tools each script names.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) RUNS=$2; shift 2 ;;
    *) echo "usage: $0 [--runs N]" >&2; exit 2 ;;
  esac
done
if [ -z "${FIELDKIT:-}" ]; then
  cargo build --release --quiet
  FIELDKIT=$PWD/target/release/fieldkit
fi
export FIELDKIT
echo "== 1. collect on the 1.5 GB corpus (bench/collect.sh) =="
bench/collect.sh --runs "$RUNS" --no-big
echo
echo "== 2a. 200,000 small files (bench/smallfiles.sh) =="
bench/smallfiles.sh --runs "$RUNS" --files 200000
echo
echo "== 2b. 1,000,000 small files (bench/smallfiles.sh, one run) =="
bench/smallfiles.sh --runs 1 --files 1000000
echo
echo "== 3. an emulated 30 MB/s stick, stored vs compressed (bench/slowmedia.sh) =="
bench/slowmedia.sh --runs "$RUNS"
