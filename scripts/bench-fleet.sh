#!/usr/bin/env bash
# Fleet throughput: HelloSequence (5 activities in sequence, so 7 episodes and 5 activity
# runs per instance) through a local fleet of BENCH_WORKERS workers, measured by
# `client bench`, once with tracing exported to Jaeger and once without. Prints both and the
# ratio. Expects the services up (make bench-fleet brings them up).
#
# Environment: BENCH_COUNT (default 1000), BENCH_CONCURRENCY (100), BENCH_WORKERS (2),
# BENCH_PORT (8099), BENCH_TRACED_FIRST, OTEL_EXPORTER_OTLP_ENDPOINT for the traced run (http://127.0.0.1:4318).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
COUNT=${BENCH_COUNT:-1000}
CONCURRENCY=${BENCH_CONCURRENCY:-100}
WORKERS=${BENCH_WORKERS:-2}
OTLP=${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4318}
export WARREN_HTTP_ADDR=127.0.0.1:${BENCH_PORT:-8099}
export WARREN_DISPATCHER=http://$WARREN_HTTP_ADDR
LOGS=$ROOT/.services/bench-fleet
SCRIPT_NAME=bench-fleet
# shellcheck source=scripts/lib/fleet.sh
. "$ROOT/scripts/lib/fleet.sh"

build_fleet
trap stop_fleet EXIT

# run_one LABEL: a fleet on the bench hub, the bench; prints client bench's summary.
run_one() {
	export WARREN_HUB=warren-bench
	start_fleet "$WORKERS"
	client bench HelloSequence --input '"bench"' --count "$COUNT" --concurrency "$CONCURRENCY" --purge | tee "$LOGS/$1.txt"
	stop_fleet
}

plain() {
	unset OTEL_EXPORTER_OTLP_ENDPOINT
	say "without tracing: $COUNT HelloSequence instances, $CONCURRENCY in flight, $WORKERS workers"
	run_one plain
}
traced() {
	export OTEL_EXPORTER_OTLP_ENDPOINT=$OTLP
	say "with tracing exported to $OTLP: $COUNT HelloSequence instances, $CONCURRENCY in flight, $WORKERS workers"
	run_one traced
}
# Each later run meets a bigger database and a warmer broker: BENCH_TRACED_FIRST=1 swaps the
# order, to see how much of a difference is the order.
if [ -n "${BENCH_TRACED_FIRST:-}" ]; then
	traced
	plain
else
	plain
	traced
fi
