#!/bin/bash
# End to end: `uvsd replay` of a 1M-frame capture of established DR flows against
# `tcpdump -r IN -w OUT` copying the same file (libpcap's own I/O cost). Interleaved
# repetitions; prints each time and the median ratio. Target (issue 2): ratio ≤ 1.5.
#   Benchmarks/replay-vs-tcpdump.sh [FRAMES=1000000] [REPS=5]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-1000000}
reps=${2:-5}
work=$(mktemp -d /tmp/uvs-e2e.XXXXXX)
trap 'rm -rf "$work"' EXIT
swift build -c release --product uvsd >/dev/null
/usr/bin/python3 Benchmarks/gen-established.py "$work/in.pcap" "$n" >/dev/null
cat > "$work/rules.txt" <<'R'
-A -t 192.0.2.100:80 -s rr
-a -t 192.0.2.100:80 -r 198.51.100.11:80 -g -w 1
-a -t 192.0.2.100:80 -r 198.51.100.12:80 -g -w 1
-a -t 192.0.2.100:80 -r 198.51.100.13:80 -g -w 1
R
now() { date +%s.%N; }
ratios=()
for i in $(seq "$reps"); do
  t0=$(now); tcpdump -r "$work/in.pcap" -w "$work/copy.pcap" 2>/dev/null; t1=$(now)
  .build/release/uvsd replay "$work/rules.txt" "$work/in.pcap" "$work/out" >/dev/null; t2=$(now)
  td=$(echo "$t1 - $t0" | bc -l); tu=$(echo "$t2 - $t1" | bc -l)
  r=$(echo "$tu / $td" | bc -l)
  printf 'rep %d: tcpdump %.3f s  uvsd replay %.3f s  ratio %.2f\n' "$i" "$td" "$tu" "$r"
  ratios+=("$r")
done
frames=$(tcpdump -r "$work/out/out.pcap" 2>/dev/null | wc -l)
echo "uvsd forwarded $frames of $n frames"
printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END {printf "median ratio uvsd/tcpdump: %.2f (%d frames)\n", a[int((NR+1)/2)], '"$n"'}'
