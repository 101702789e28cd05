#!/bin/bash
# uvsd-forwarder.sh with health checks running: the harness's service as a keepalived.conf
# (its real server unchecked, so forwarding is the same) plus CHECKS real servers of a second
# service, each with HTTP_GET every second against a responder on the director namespace's
# loopback. Compared with uvsd-forwarder.sh in one run, it shows what the checks cost the
# forwarding rate.
#   run.sh --forwarder uvsd='exec Benchmarks/live/uvsd-forwarder.sh' \
#          --forwarder checks='CHECKS=4000 exec Benchmarks/live/uvsd-checks-forwarder.sh'
set -e
checks=${CHECKS:-1000}
workers=${WORKERS:-$(echo "$LIM_CPUS" | tr ',' '\n' | wc -l)}
[ "$LIM_TRAFFIC" = new ] && conns=4194304 || conns=65536
scale=.build/release/HealthScale
[ -x "$scale" ] || { echo "uvsd-checks-forwarder: build HealthScale first (swift build -c release --product HealthScale)" >&2; exit 1; }
conf=$(mktemp /tmp/uvsd-checks-XXXXXX.conf)
# ipvsadm -R lines → keepalived.conf: -A -t VIP:PORT -s SCHED / -a -t VIP:PORT -r RIP:PORT -g -w W
awk '
  $1 == "-A" { split($3, v, ":"); printf "virtual_server %s %s {\n  lb_algo %s\n  lb_kind DR\n  protocol TCP\n", v[1], v[2], $5; open = 1 }
  $1 == "-a" { split($5, r, ":"); printf "  real_server %s %s {\n    weight %s\n  }\n", r[1], r[2], $8 }
  END { if (open) print "}" }' "$LIM_RULES" > "$conf"
{
  echo "virtual_server 192.0.2.1 8080 {"
  echo "  delay_loop 1"
  echo "  lb_kind DR"
  for ((i = 0; i < checks; i++)); do
    echo "  real_server 127.$((1 + i / 62500)).$((i / 250 % 250)).$((i % 250 + 1)) 8080 {"
    echo "    HTTP_GET {"
    echo "      url {"
    echo "        path /"
    echo "      }"
    echo "      connect_timeout 3"
    echo "    }"
    echo "  }"
  done
  echo "}"
} >> "$conf"
ip link set lo up
# The harness confines the forwarder to LIM_CPUS; uvsd pins its workers there (--cpus) and runs
# the checks on the machine's other CPUs, as a director does. The responder runs there too.
all=0-$(($(nproc --all) - 1))
others=$(seq 0 $(($(nproc --all) - 1)) | grep -vxF -f <(echo "$LIM_CPUS" | tr ',' '\n') | paste -sd, -)
taskset -c "${others:-$all}" "$scale" serve 8080 & responder=$!
taskset -c "$all" "${UVSD:-.build/release/uvsd}" run --cpus "$LIM_CPUS" --config "$conf" --interface "$LIM_IN" --server-interface "$LIM_OUT" \
    --workers "$workers" --ring-block-size "$LIM_RX_BLOCK_SIZE" --ring-blocks "$LIM_RX_BLOCKS" \
    --ring-timeout "$LIM_RX_TOV_MS" --connections $conns --control "/tmp/uvsd-limit-$$.sock" \
    --ready-file "$LIM_READY_FILE" --stats-interval ${STATS:-0} --log-level warning & uvsd=$!
trap 'kill $uvsd $responder 2>/dev/null; rm -f "$conf"' EXIT
trap 'exit 0' TERM INT
wait $uvsd
