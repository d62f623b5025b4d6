#!/usr/bin/env bash
# The peer, side by side: runs the go-workflows v1.2.0 benchmark (../shared/peers/goworkflows,
# its README says what each scenario is) on Redis, right after Warren's suite
# (scripts/bench-suite.sh), then prints one table of Warren's figures beside the peer's,
# with the ratio and both sides' CPU per orchestration (scripts/benchtable). Compare only
# figures from one sitting: the machine's load moves both. `make bench-compare` runs the
# two back to back.
#
# Environment: BENCH_OUT (.services/bench-suite, where the suite left its results; the
# peer's go to BENCH_OUT/peer.jsonl), PEER_DIR (../shared/peers/goworkflows from the
# repository), PEER_SCENARIOS ("hello latency fanout subwf"), PEER_RUNS (1).
# run.sh starts redis-server on 127.0.0.1:6379 only if none answers, and stops that one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${BENCH_OUT:-$ROOT/.services/bench-suite}
PEER_DIR=${PEER_DIR:-$ROOT/../shared/peers/goworkflows}
say() { printf '\033[1m%s:\033[0m %s\n' bench-peer "$*"; }

if [ ! -x "$PEER_DIR/run.sh" ]; then
	say "no peer benchmark at $PEER_DIR (set PEER_DIR)"
	exit 1
fi
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PEER_OUT=$OUT/peer.jsonl
rm -f "$PEER_OUT" "$PEER_OUT.err"
go build -o bin/ ./scripts/benchtable

# run.sh takes its scenarios separated by spaces.
scenarios=${PEER_SCENARIOS:-hello latency fanout subwf}
say "go-workflows on Redis: $scenarios, ${PEER_RUNS:-1} run(s) each"
(cd "$PEER_DIR" && BACKENDS=redis SCENARIOS="$scenarios" RUNS=${PEER_RUNS:-1} OUT=$PEER_OUT ./run.sh)
if [ -s "$PEER_OUT.err" ] && grep -q FAILED "$PEER_OUT.err"; then
	say "some peer runs failed: $PEER_OUT.err"
fi

if ! ls "$OUT"/*.json >/dev/null 2>&1; then
	say "no Warren results in $OUT: run scripts/bench-suite.sh (make bench-suite) first"
	exit 1
fi
say "Warren (FerretDB on PostgreSQL, RabbitMQ) beside go-workflows (Redis), this sitting"
bin/benchtable --warren "$OUT" --peer "$PEER_OUT"
