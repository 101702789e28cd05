#!/bin/bash
# Instruction counts (valgrind --tool=callgrind): stable from run to run on this noisy
# machine, unlike times. Each figure is the difference of two run lengths, so start-up
# and set-up cancel out.
#   Benchmarks/instructions.sh
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind is needed (apt-get install valgrind)" >&2; exit 1; }
swift build -c release --product EngineLoop >/dev/null
swift build -c release --product uvsd >/dev/null
work=$(mktemp -d /tmp/uvs-instr.XXXXXX)
trap 'rm -rf "$work"' EXIT
count() { valgrind --tool=callgrind --callgrind-out-file="$work/cg" "$@" 2>&1 >/dev/null | awk '/Collected/ {print $NF}'; }
per() { # label, small n, large n, command...
  local label=$1 a=$2 b=$3; shift 3
  local ca cb
  ca=$(count "$@" "$a"); cb=$(count "$@" "$b")
  echo "$label: $(( (cb - ca) / (b - a) )) instructions"
}
per "engine, existing-flow DR packet" 100000 300000 .build/release/EngineLoop existing
per "engine, new connection (SYN)" 50000 150000 .build/release/EngineLoop new
for s in rr wrr dh sh mh lc wlc sed nq; do
  per "scheduler $s, 32 servers, per decision" 100000 300000 .build/release/EngineLoop sched "$s" 32
done
/usr/bin/python3 Benchmarks/gen-established.py "$work/a.pcap" 100000 >/dev/null
/usr/bin/python3 Benchmarks/gen-established.py "$work/b.pcap" 300000 >/dev/null
printf -- '-A -t 192.0.2.100:80 -s rr\n-a -t 192.0.2.100:80 -r 198.51.100.11:80 -g -w 1\n-a -t 192.0.2.100:80 -r 198.51.100.12:80 -g -w 1\n' > "$work/rules"
ta=$(count tcpdump -Z root -r "$work/a.pcap" -w "$work/ta.pcap"); tb=$(count tcpdump -Z root -r "$work/b.pcap" -w "$work/tb.pcap")
# valgrind cannot read the release binary's debug information: a stripped copy.
objcopy --strip-debug .build/release/uvsd "$work/uvsd"
ua=$(count "$work/uvsd" replay "$work/rules" "$work/a.pcap" "$work/ua"); ub=$(count "$work/uvsd" replay "$work/rules" "$work/b.pcap" "$work/ub")
t=$(( (tb - ta) / 200000 )); u=$(( (ub - ua) / 200000 ))
echo "tcpdump -r -w: $t instructions a frame; uvsd replay: $u a frame (ratio $(echo "scale=2; $u / $t" | bc))"
