#!/bin/bash
# The checks at scale (issue 11 item 6): 10,000 real servers, HTTP_GET every second, in a
# private network namespace (loopback only). Prints lateness p50/p99 and CPU per 1,000 checks/s.
#   Benchmarks/health/run.sh [SERVERS] [SECONDS] [FAILING]   (FAILING more servers blackholed)
set -euo pipefail
cd "$(dirname "$0")/../.."
servers=${1:-10000}
seconds=${2:-30}
failing=${3:-0}
swift build -c release --product HealthScale >/dev/null
bin=.build/release/HealthScale
exec unshare --net bash -c "
  ip link set lo up
  ulimit -n $(ulimit -Hn)
  sysctl -qw net.ipv4.ip_local_port_range='10000 65000' net.ipv4.tcp_tw_reuse=1
  $bin serve 8080 & srv=\$!
  trap 'kill \$srv' EXIT
  sleep 0.5
  $bin run $servers $seconds 8080 2 $failing
"
