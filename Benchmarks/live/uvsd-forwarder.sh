#!/bin/bash
# The ../shared/limit forwarder contract for uvsd: started by run.sh inside its director
# namespace with LIM_* in the environment (see ../shared/limit/README.md).
# WORKERS (default: one per cpu in LIM_CPUS) and UVSD (default .build/release/uvsd).
set -e
workers=${WORKERS:-$(echo "$LIM_CPUS" | tr ',' '\n' | wc -l)}
# Connection slots up front: "new" traffic opens a connection per frame (about 1.5 M in a
# 2 s window); growing the table during a measurement would pause the worker.
[ "$LIM_TRAFFIC" = new ] && conns=4194304 || conns=65536
exec "${UVSD:-.build/release/uvsd}" run --rules "$LIM_RULES" --interface "$LIM_IN" --server-interface "$LIM_OUT" \
    --workers "$workers" --ring-block-size "$LIM_RX_BLOCK_SIZE" --ring-blocks "$LIM_RX_BLOCKS" \
    --ring-timeout "$LIM_RX_TOV_MS" --connections $conns --control "/tmp/uvsd-limit-$$.sock" \
    --ready-file "$LIM_READY_FILE" --stats-interval ${STATS:-0}
