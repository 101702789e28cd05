#!/bin/bash
# The live benchmark: uvsd beside ../shared/limit's C forwarder (same namespaces, same
# generator, interleaved repetitions), existing flows and new connections, 1 and 2 workers.
# Prints ../shared/limit's ratio lines (uvsd/C, steady and drain). Root; ~4 minutes.
#   Benchmarks/live/run.sh [REPS]
#   CHECKS=N Benchmarks/live/run.sh   adds a uvsd running N HTTP checks a second (1 worker rows)
set -euo pipefail
cd "$(dirname "$0")/../.."
limit=../shared/limit/run.sh
[ -x "$limit" ] || { echo "live-bench: $limit not found" >&2; exit 1; }
reps=${1:-3}
# Readiness by uvsd's ready file, written once every worker runs. (The harness's default
# also accepts "receiving sockets bound on l0 and stable for 0.3 s", which can come while
# uvsd is still building a later worker's tables; a drain then starts before uvsd can run.)
ready=(--ready file)
swift build -c release --product uvsd >/dev/null
with_checks=()
if [ -n "${CHECKS:-}" ]; then
  swift build -c release --product HealthScale >/dev/null
  with_checks=(--forwarder "checks$CHECKS=CHECKS=$CHECKS exec Benchmarks/live/uvsd-checks-forwarder.sh")
fi
for traffic in existing new; do
  echo "== $traffic flows, 1 worker"
  "$limit" "${ready[@]}" --reps "$reps" --traffic "$traffic" --forwarder uvsd1='exec Benchmarks/live/uvsd-forwarder.sh' "${with_checks[@]}" | grep -E '^(ratio|limit|uvsd1 |checks)'
  echo "== $traffic flows, 2 workers"
  "$limit" "${ready[@]}" --reps "$reps" --traffic "$traffic" --fwd-cpus 0,1 --forwarder uvsd2='exec Benchmarks/live/uvsd-forwarder.sh' | grep -E '^(ratio|limit|uvsd2 )'
done
