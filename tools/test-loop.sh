#!/usr/bin/env bash
# Runs `npm test` N times in a row (default 10) and records each run: exit status, wall time, the
# load average before and after, and the failing tests. Issue 12 asks for ten consecutive passing
# runs on an idle machine; this is how they are counted. Stops at the first failure unless
# --keep-going is given, since a failure resets the count.
#   tools/test-loop.sh [-n N] [--keep-going] [--out DIR]
set -uo pipefail
cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

runs=10 keep=0 out=/tmp/gantry-test-loop
while [ $# -gt 0 ]; do
  case "$1" in
    -n) runs=$2; shift 2 ;;
    --keep-going) keep=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: tools/test-loop.sh [-n N] [--keep-going] [--out DIR]" >&2; exit 2 ;;
  esac
done
mkdir -p "$out"
export CI=true NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false
summary="$out/summary.tsv"
[ -f "$summary" ] || printf 'run\tcommit\tstarted\tseconds\tstatus\tload_before\tload_after\ttests\tfailed\n' >"$summary"
commit=$(git rev-parse --short HEAD)
passed=0
for i in $(seq 1 "$runs"); do
  log="$out/run-$i.log"
  load_before=$(cut -d' ' -f1 /proc/loadavg)
  started=$(date -u +%FT%TZ)
  t0=$SECONDS
  # nx.json turns caching off for test and build, so every run runs every suite
  timeout --kill-after=30 2700 npm test >"$log" 2>&1
  status=$?
  secs=$((SECONDS - t0))
  load_after=$(cut -d' ' -f1 /proc/loadavg)
  plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
  tests=$(grep -Eo '^.*Tests: +.*total' <<<"$plain" | grep -Eo '[0-9]+ total' | awk '{s += $1} END {print s + 0}')
  failed=$(grep -E '● ' <<<"$plain" | sed 's/^.*● //' | grep -v '^Console$' | sort -u | paste -sd ';' -)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$i" "$commit" "$started" "$secs" "$status" "$load_before" "$load_after" "$tests" "${failed:-}" >>"$summary"
  echo "run $i: status $status, ${secs}s, $tests tests, load $load_before -> $load_after ${failed:+failed: $failed}"
  if [ "$status" = 0 ]; then passed=$((passed + 1)); elif [ "$keep" = 0 ]; then break; fi
done
echo "$passed of $runs runs passed; summary in $summary"
[ "$passed" = "$runs" ]
