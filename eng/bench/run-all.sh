#!/usr/bin/env bash
# Runs every DeepArch benchmark and writes docs/performance.md and docs/images/performance.png.
#
#   eng/bench/run-all.sh            # full run, about 13 minutes on a quiet 2-core machine (plus waits for quiet)
#   eng/bench/run-all.sh --quick    # short run, about 4.5 minutes; smaller data, fewer repetitions
#
# Installs what the PyTorch reference needs (Debian's python3-torch and libopenblas0-pthread) when missing, builds the
# bench in Release, then runs each workload in its own process under eng/bench/reference/quiet_run.py (waits for an
# idle machine and records whether other processes disturbed the step). Results and logs go to $RESULTS
# (default artifacts/bench/<UTC time>); the report step gathers them. Environment: RESULTS, QUIET_WAIT (seconds
# quiet_run waits for an idle machine per step, default 300), OUT (default docs/performance.md),
# CHART (default docs/images/performance.png).
set -euo pipefail
cd "$(dirname "$0")/../.."

quick=()
for arg in "$@"; do
  case "$arg" in
    --quick) quick=(--quick) ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown argument: $arg" >&2; exit 1 ;;
  esac
done

# ---- what the PyTorch reference needs (only here, never in CI) ----
missing=()
/usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || missing+=(python3-torch)
dpkg-query -W -f='${Status}' libopenblas0-pthread 2>/dev/null | grep -q 'install ok installed' || missing+=(libopenblas0-pthread)
if ((${#missing[@]})); then
  echo "Installing ${missing[*]} (apt-get, noninteractive) ..." >&2
  sudo=()
  [[ $(id -u) -eq 0 ]] || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -q >&2
  "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

dotnet build -c Release eng/bench/DeepArch.Bench -nologo -v q >&2

results=${RESULTS:-artifacts/bench/$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$results"
bench=(dotnet eng/bench/DeepArch.Bench/bin/Release/net10.0/DeepArch.Bench.dll)
{
  echo "Run: eng/bench/run-all.sh ${quick[*]:-} (started $(date -u '+%Y-%m-%d %H:%M') UTC; results in $results)"
  echo "Load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$results/run.txt"

# One workload in its own process, under quiet_run: waits for an idle machine, then records how much CPU other
# processes used meanwhile. A disturbed step is kept (exit status 3) and its verdict shows in the report.
# Usage: step NAME WORKLOAD [ARGS...]; NAME names the result files.
step() {
  local name=$1 workload=$2; shift 2
  echo "== $name: ${bench[*]} $workload $* ${quick[*]:-}" >&2
  local rc=0
  /usr/bin/python3 eng/bench/reference/quiet_run.py --wait "${QUIET_WAIT:-300}" --tries 1 -- \
    "${bench[@]}" "$workload" "$@" "${quick[@]}" --out "$results/$name.md" --summary "$results/$name.json" \
    > /dev/null 2> >(tee "$results/$name.log" >&2) || rc=$?
  if [[ $rc -ne 0 && $rc -ne 3 ]]; then
    echo "$name failed with exit status $rc (see $results/$name.log)" >&2
    exit $rc
  fi
}
step scoring scoring
step training training
step gan gan
step onednn onednn
step memory memory
step threads threads
step wait-policy wait-policy
step training-threads training-threads
echo "Finished $(date -u '+%Y-%m-%d %H:%M') UTC; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$results/run.txt"

"${bench[@]}" report --results "$results" --out "${OUT:-docs/performance.md}" --chart "${CHART:-docs/images/performance.png}" > /dev/null
echo "Wrote ${OUT:-docs/performance.md} and ${CHART:-docs/images/performance.png} (results in $results)" >&2
