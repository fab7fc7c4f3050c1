#!/usr/bin/env bash
# How long the live step takes, against the shell tools a responder script (UAC-style
# live response) runs to gather the same facts. Prints medians and the ratio in one run.
#
#   bench/live.sh [RUNS]          (default 10; FIELDKIT=path/to/fieldkit to override)
#
# The peer runs: ss, ip (addr/route/neigh), ps, readlink of every /proc/PID/{exe,cwd},
# sha256sum of every /proc/PID/exe, who, last, lastb, lsblk, blkid -p of every block
# device, lsmod, the systemd wants directories and crontabs. Output goes to /dev/null;
# fieldkit writes its members to a temporary directory (as collect would into a bundle).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
BIN=${FIELDKIT:-target/release/fieldkit}
[ -x "$BIN" ] || { echo "build first: cargo build --release (or set FIELDKIT)" >&2; exit 2; }
# `live --out` refuses the examined system's own disk (as collect does), so the members go
# to a tmpfs, as they would go to the responder's USB stick.
work=$(mktemp -d -p /dev/shm)
trap 'rm -rf "$work"' EXIT

now_ns() { date +%s%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

peer() {
  {
    date -u +%FT%T.%NZ; cat /proc/uptime
    ss -tanpu; ip -j addr; ip route; ip -6 route; ip neigh show nud all
    cat /etc/resolv.conf /etc/hosts
    ps -eo pid,ppid,user,lstart,args
    for p in /proc/[0-9]*; do readlink "$p/exe"; readlink "$p/cwd"; ls "$p/fd" | wc -l; done
    sha256sum /proc/[0-9]*/exe
    who -a; last -n 500 -F; lastb -n 500
    cat /proc/self/mountinfo /proc/swaps; lsblk -O -J
    for d in /sys/class/block/*; do blkid -p -o export "/dev/${d##*/}"; done
    lsmod
    ls -la /etc/systemd/system/*.wants; cat /etc/crontab /etc/cron.d/*
  } >/dev/null 2>&1 || true
}

fk=(); pr=()
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns); "$BIN" live --out "$work/run-$i" >/dev/null 2>"$work/stderr-$i"; t1=$(now_ns)
  fk+=($(( (t1 - t0) / 1000000 )))
  t0=$(now_ns); peer; t1=$(now_ns)
  pr+=($(( (t1 - t0) / 1000000 )))
done
fk_med=$(printf '%s\n' "${fk[@]}" | median)
pr_med=$(printf '%s\n' "${pr[@]}" | median)
procs=$(ls -d /proc/[0-9]* | wc -l)
echo "machine: $(nproc) cores, $procs processes, $(ls /sys/class/block | wc -l) block devices"
echo "fieldkit live (all 9 captures, members written): median ${fk_med} ms over $RUNS runs (${fk[*]})"
echo "peer shell tools (same facts):                 median ${pr_med} ms over $RUNS runs (${pr[*]})"
awk -v a="$fk_med" -v b="$pr_med" 'BEGIN { printf "ratio fieldkit/peer: %.2f\n", a / b }'
echo "per capture (last run, ms):"
python3 - "$work/run-$RUNS/actions.jsonl" <<'PY'
import json, sys
from datetime import datetime
def t(s):
    s = s.rstrip("Z"); base, _, frac = s.partition(".")
    return datetime.fromisoformat(base).timestamp() + float("0." + (frac or "0"))
for line in open(sys.argv[1]):
    a = json.loads(line)
    print(f"  {a['action']:<18} {1000 * (t(a['end_utc']) - t(a['start_utc'])):8.1f}  {a['outcome']}")
PY
