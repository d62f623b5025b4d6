#!/usr/bin/env bash
# The dispatcher's starts per second against an earlier version's, in one sitting (issue 9:
# "at least 2x today's in the same sitting"). Builds the ServicesStart benchmark of this tree
# and of BASE, runs them by turns, and reports each run's rate with the CPU per start of
# every process serving it, from /proc: the benchmark's own process (the dispatcher and its
# HTTP client), RabbitMQ, FerretDB and PostgreSQL, and the machine's busy cores, so that a
# rate held down by a saturated machine shows as such. Expects the services up, the store
# FerretDB on PostgreSQL (make bench-starts brings them up so).
#
# Environment: BASE (2f89e03^, the first version's start path), ROUNDS (2: runs of each),
# STARTS (4000 per run), WARREN_TEST_MONGO_URI and WARREN_TEST_AMQP_URL (as for the tests).
# Each run's CPU is taken over the benchmark binary's whole life, less that of a run of one
# start (the hub's queues declared and deleted), measured once per binary; the busy cores
# are over the binary's whole life.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BASE=${BASE:-2f89e03^}
ROUNDS=${ROUNDS:-2}
STARTS=${STARTS:-4000}
MONGO=${WARREN_TEST_MONGO_URI:-mongodb://127.0.0.1:27017/}
say() { printf '\033[1mbench-starts:\033[0m %s\n' "$*"; }

work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
say "building the benchmark of this tree and of $BASE ($(git rev-parse --short "$BASE"))"
go test -c -o "$work/new.test" ./dispatcher
git worktree add --detach "$work/base" "$BASE" >/dev/null 2>&1
(cd "$work/base" && go test -c -o "$work/base.test" ./dispatcher)

store_port=$(printf '%s' "$MONGO" | sed -E 's#^mongodb://([^/?]*@)?##; s#[/?,].*##; s#^[^:]*$#&:27017#; s#.*:##')

# ticks PIDS...: the CPU clock ticks the processes have used (utime + stime).
ticks() {
	local sum=0 p
	for p in "$@"; do
		[ -r "/proc/$p/stat" ] && sum=$((sum + $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13}')))
	done
	echo "$sum"
}
# sample: "broker ferretdb postgresql busy" ticks now.
sample() {
	# shellcheck disable=SC2046 # the pid lists are meant to split
	echo "$(ticks $(pgrep -x beam.smp || true)) $(ticks $(pgrep -f "ferretdb.*127.0.0.1:$store_port" || true))" \
		"$(ticks $(pgrep -x postgres || true)) $(awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat)"
}

# run VERSION N: one benchmark run of N starts; prints "rate self-µs broker ferretdb postgresql busy"
# (the last four in ticks, over the run).
run() {
	local a b out
	a=$(sample)
	out=$(cd dispatcher && WARREN_TEST_MONGO_URI=$MONGO "$work/$1.test" -test.run '^$' -test.bench ServicesStart \
		-test.benchtime "${2}x" 2>&1 | grep '^BenchmarkServicesStart')
	b=$(sample)
	echo "$(echo "$out" | awk '{for (i = 1; i < NF; i++) {if ($(i+1) == "starts/s") r = $i; if ($(i+1) == "cpu-µs/start") c = $i}} END {print r, c}')" \
		"$(paste -d' ' <(echo "$a" | tr ' ' '\n') <(echo "$b" | tr ' ' '\n') | awk '{printf "%d ", $2 - $1}')"
}

declare -A fixed
for v in base new; do
	fixed[$v]=$(run "$v" 1 | cut -d' ' -f3-)
done
say "$STARTS starts per run, 8 in flight; CPU in µs per start (the fixed cost of a run, its hub's queues, left out)"
printf '%-5s %9s %8s %8s %8s %10s %11s\n' run starts/s self broker ferretdb postgresql busy-cores
for ((i = 1; i <= ROUNDS; i++)); do
	for v in base new; do
		began=$(date +%s.%N)
		r=$(run "$v" "$STARTS")
		secs=$(echo "$(date +%s.%N) - $began" | bc)
		echo "$r ${fixed[$v]}" | awk -v n="$STARTS" -v s="$secs" -v v="$v" \
			'{printf "%-5s %9.0f %8.0f %8.0f %8.0f %10.0f %11.2f\n", v, $1, $2, \
				($3 - $7) * 1e4 / n, ($4 - $8) * 1e4 / n, ($5 - $9) * 1e4 / n, $6 / 100 / s}'
	done
done
