#!/usr/bin/env bash
# The benchmark suite (issue 9): each scenario through a local fleet of BENCH_WORKERS
# workers on a fresh hub, measured by `client bench` with its CPU and store-operation
# breakdown, then one table of all of them (scripts/benchtable). Expects the services up
# (make bench-suite brings them up, FerretDB on PostgreSQL).
#
#   hello          1,000 HelloSequence, 100 in flight, on a fresh hub
#   hello-10k      the same after 10,000 ended instances were loaded into the store
#   latency        200 HelloSequence one after another on an idle fleet (p50/p99; --closed)
#   fanout         one FanOutFanIn of 1,000 activities in parallel
#   subs           one SubOrchestrations: 100 sub-orchestrations x 3 activities
#
# Each scenario's result is BENCH_OUT/<scenario>.json (client bench --json-file), its text
# output BENCH_OUT/<scenario>.txt. The scripts report; they assert nothing about speed.
#
# Environment: BENCH_WORKERS (2), BENCH_SCENARIOS (all of the above, space-separated),
# BENCH_OUT (.services/bench-suite), BENCH_PORT (8099), BENCH_HUB (warren-suite),
# BENCH_LOAD (10000, the instances hello-10k loads first), BENCH_TIMEOUT (15m, how long one
# client bench may take before the suite gives it up and goes on), KEEP_HUB, WARREN_MONGO_URI,
# BENCH_GIN (1: on FerretDB's PostgreSQL backend, add the GIN indexes of
# scripts/ferretdb-pg-indexes.sh to each fresh hub; 0: measure without them).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
WORKERS=${BENCH_WORKERS:-2}
SCENARIOS=${BENCH_SCENARIOS:-hello hello-10k latency fanout subs}
LOAD=${BENCH_LOAD:-10000}
TIMEOUT=${BENCH_TIMEOUT:-15m}
OUT=${BENCH_OUT:-$ROOT/.services/bench-suite}
export WARREN_HTTP_ADDR=127.0.0.1:${BENCH_PORT:-8099}
export WARREN_DISPATCHER=http://$WARREN_HTTP_ADDR
LOGS=$OUT/logs
SCRIPT_NAME=bench-suite
# shellcheck source=scripts/lib/fleet.sh
. "$ROOT/scripts/lib/fleet.sh"

export WARREN_HUB=${BENCH_HUB:-warren-suite}
unset OTEL_EXPORTER_OTLP_ENDPOINT # the suite measures without tracing
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.txt
build_fleet
go build -o bin/ ./scripts/benchtable
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The store the fleet uses, and FerretDB's backend when this machine runs it.
store_port=$(printf '%s' "${WARREN_MONGO_URI:-mongodb://127.0.0.1:27017/}" | sed -E 's#^mongodb://([^/?]*@)?##; s#[/?,].*##; s#^[^:]*$#&:27017#; s#.*:##')
backend=$(pgrep -a ferretdb 2>/dev/null | grep -E ":$store_port( |\$)" | grep -oE -- '-handler[ =][a-z]+' | head -1 | sed -E 's/-handler[ =]//' || true)
say "store on port $store_port (FerretDB backend: ${backend:-unknown}); $WORKERS workers; results in $OUT"
GIN=${BENCH_GIN:-1}
[ "${backend:-}" = postgresql ] || GIN=0
say "GIN indexes on the store's keys (scripts/ferretdb-pg-indexes.sh): $([ "$GIN" = 1 ] && echo yes || echo no)"
if [ "${backend:-}" = sqlite ]; then
	say "WARNING: the FerretDB on port $store_port uses SQLite; the benchmarks are meant for PostgreSQL"
fi

# fresh_fleet: a fleet on a fresh hub.
fresh_fleet() {
	stop_fleet
	delete_hub
	start_fleet "$WORKERS"
	if [ "$GIN" = 1 ]; then
		scripts/ferretdb-pg-indexes.sh "$WARREN_HUB" | sed "s/^/$SCRIPT_NAME: /"
	fi
}

# measure LABEL NAME INPUT COUNT CONCURRENCY [FLAGS...]: client bench, text to the
# terminal and LABEL.txt, the result to LABEL.json.
measure() {
	local label=$1 name=$2 input=$3 count=$4 concurrency=$5
	shift 5
	say "$label: client bench $name --input '$input' --count $count --concurrency $concurrency $*"
	# A run with failed instances is reported (client bench says so) and the suite goes on.
	if ! client bench "$name" --input "$input" --count "$count" --concurrency "$concurrency" "$@" \
		--timeout "$TIMEOUT" --json-file "$OUT/$label.json" | tee "$OUT/$label.txt"; then
		say "$label: client bench did not succeed (above); its figures, if any, are in $OUT/$label.json"
	fi
}

for scenario in $SCENARIOS; do
	# Each scenario's fleet logs apart, so a slow run can be looked into afterwards.
	LOGS=$OUT/logs/$scenario
	mkdir -p "$LOGS"
	case $scenario in
	hello)
		fresh_fleet
		measure hello HelloSequence '"bench"' 1000 100
		;;
	hello-10k)
		fresh_fleet
		say "hello-10k: loading $LOAD ended instances first (not purged)"
		measure hello-10k-load HelloSequence '"bench"' "$LOAD" 100
		measure hello-10k HelloSequence '"bench"' 1000 100
		;;
	latency)
		fresh_fleet
		measure latency HelloSequence '"bench"' 200 1 --closed # each starts when the last has ended
		;;
	fanout)
		fresh_fleet
		measure fanout FanOutFanIn '{"count":1000}' 1 1
		;;
	subs)
		fresh_fleet
		measure subs SubOrchestrations '{"children":100,"activities":3}' 1 1
		;;
	*)
		say "unknown scenario $scenario (known: hello hello-10k latency fanout subs)"
		exit 2
		;;
	esac
done
stop_fleet

say "summary"
bin/benchtable --warren "$OUT"
