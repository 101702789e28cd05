#!/bin/bash
# uvsadm against a running uvsd: `-R` of 16,000 services (one real server each) and
# `-S -n` of them, timed (issue 5's figures; the public anchor: ipvsadm -Sn takes 363 ms for
# 16,000 services against the kernel). Runs uvsd in a namespace of its own. Root.
#   Benchmarks/live/control-bench.sh [N]
set -euo pipefail
cd "$(dirname "$0")/../.."
n=${1:-16000}
swift build -c release --product uvsd >/dev/null
swift build -c release --product uvsadm >/dev/null
ns=uvsbench$$
work=$(mktemp -d /tmp/uvs-cbench.XXXXXX)
cleanup() {
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
ip netns add "$ns"
ip -n "$ns" link add b0 type veth peer name b1
ip -n "$ns" link set b0 up
ip -n "$ns" link set b1 up
: > "$work/rules"
ip netns exec "$ns" .build/release/uvsd run --rules "$work/rules" --interface b0 --control "$work/sock" \
  --ready-file "$work/ready" --stats-interval 0 > "$work/log" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -e "$work/ready" ] && break; sleep 0.1; done
[ -e "$work/ready" ] || { cat "$work/log"; exit 1; }
python3 - "$n" > "$work/batch" <<'PY'
import sys
n = int(sys.argv[1])
for i in range(n):
    vip = f"10.{100 + i // 65536}.{i // 256 % 256}.{i % 256}"
    rs = f"172.{16 + i // 65536}.{i // 256 % 256}.{i % 256}"
    print(f"-A -t {vip}:80 -s wlc")
    print(f"-a -t {vip}:80 -r {rs}:80 -m -w 1")
PY
export UVS_CONTROL=$work/sock
if [ -n "${PERF:-}" ]; then perf record -F 2000 -g -o "$PERF" -p "$pid" 2>/dev/null & perfpid=$!; sleep 0.5; fi
t0=$(date +%s.%N); .build/release/uvsadm -R < "$work/batch"; t1=$(date +%s.%N)
if [ -n "${PERF:-}" ]; then kill -INT "$perfpid"; wait "$perfpid" || true; fi
.build/release/uvsadm -S -n > "$work/saved"; t2=$(date +%s.%N)
.build/release/uvsadm -S -n > "$work/saved2"; t3=$(date +%s.%N)
lines=$(wc -l < "$work/saved")
[ "$lines" = $((2 * n)) ] || { echo "expected $((2 * n)) lines from -S -n, got $lines" >&2; exit 1; }
printf -- '-R of %d services (one real server each): %.0f ms\n' "$n" "$(echo "($t1 - $t0) * 1000" | bc)"
printf -- '-S -n of them: %.0f ms, %.0f ms\n' "$(echo "($t2 - $t1) * 1000" | bc)" "$(echo "($t3 - $t2) * 1000" | bc)"
