#!/usr/bin/env bash
# Bring every file of a tree into the page cache, just before a timed run.
# Usage: bench/tools/warm.sh DIR...
# Why before every run, not once per script: these machines run DAMON's proactive
# reclaim (kdamond), which drops clean page-cache pages within seconds to minutes even
# with 20 GiB free (seen: 190 MB of the 200,000-file tree gone in 30 s). Warmed once at
# the start, the commands measured last read their source from the disk, and the peer
# measured first does not — a bias against whatever runs later.
set -euo pipefail
for d in "$@"; do
  find "$d" -type f -print0 | xargs -0 -P2 -n 2000 cat > /dev/null
done
