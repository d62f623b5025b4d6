#!/usr/bin/env bash
# Fleet throughput: HelloSequence (5 activities in sequence, so 7 episodes and 5 activity
# runs per instance) through a local fleet of BENCH_WORKERS workers, measured by
# `client bench`, once with tracing exported to Jaeger and once without. Prints both and the
# ratio. Expects the services up (make bench-fleet brings them up).
#
# Each run gets a fresh hub (BENCH_HUB, default warren-bench), deleted when the run ends, on
# Ctrl-C too; KEEP_HUB=1 keeps the last one.
#
# Environment: BENCH_COUNT (default 1000), BENCH_CONCURRENCY (100), BENCH_WORKERS (2),
# BENCH_PORT (8099), BENCH_HUB (warren-bench), BENCH_TRACED_FIRST, KEEP_HUB,
# OTEL_EXPORTER_OTLP_ENDPOINT for the traced run (http://127.0.0.1:4318).
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

export WARREN_HUB=${BENCH_HUB:-warren-bench}
build_fleet
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# run_one LABEL: a fleet on a fresh bench hub, the bench; prints client bench's summary.
run_one() {
	delete_hub # what an earlier run left, if it was killed
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
# Each later run meets a warmer broker and database server (its hub is fresh):
# BENCH_TRACED_FIRST=1 swaps the order, to see how much of a difference is the order.
if [ -n "${BENCH_TRACED_FIRST:-}" ]; then
	traced
	plain
else
	plain
	traced
fi
