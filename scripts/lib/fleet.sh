# Shell functions that run a local Warren fleet from bin/ (through scripts/fleet): sourced
# by the demo, benchmark and recording scripts. Expects WARREN_HUB, WARREN_HTTP_ADDR and
# WARREN_DISPATCHER set, LOGS naming a folder for the processes' output, and the
# repository as the current folder. With FLEET_METRICS_PORT set, worker i serves /healthz, /readyz and /metrics on
# 127.0.0.1:FLEET_METRICS_PORT+i-1 (WARREN_METRICS_ADDR).

# The broker scripts/services.sh chose for the AMQP port (a private node when the broker
# there is wedged), unless WARREN_AMQP_URL is set already (`services.sh run` sets it).
WARREN_AMQP_URL=${WARREN_AMQP_URL:-$(scripts/services.sh url)}
export WARREN_AMQP_URL

# The scripts' own stdout and stderr, for finish.
exec 7>&1 8>&2

say() { printf '\033[1m%s:\033[0m %s\n' "${SCRIPT_NAME:-fleet}" "$*"; }
client() { bin/client "$@"; }

# wait_until SECONDS WHAT CMD...: poll CMD every 200 ms until it succeeds, or fail.
wait_until() {
	local deadline=$(($(date +%s) + $1)) what=$2
	shift 2
	until "$@" >/dev/null 2>&1; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			say "timed out waiting for $what (logs in $LOGS)"
			exit 1
		fi
		sleep 0.2
	done
}

build_fleet() {
	say "building the binaries"
	mkdir -p bin "$LOGS"
	go build -o bin/ ./cmd/dispatcher ./cmd/worker ./cmd/client ./scripts/deletehub ./scripts/fleet
}

FLEET_PID=
# start_fleet WORKERS: a dispatcher and WORKERS workers, ready and joined: scripts/fleet,
# which starts them through internal/fleettest (the tests' launcher) and stops them on
# SIGTERM.
start_fleet() {
	rm -f "$LOGS/fleet.ready"
	bin/fleet --workers "$1" --logs "$LOGS" --ready-file "$LOGS/fleet.ready" --timeout 60s \
		${FLEET_METRICS_PORT:+--metrics-port "$FLEET_METRICS_PORT"} &
	FLEET_PID=$!
	until [ -e "$LOGS/fleet.ready" ]; do
		if ! kill -0 "$FLEET_PID" 2>/dev/null; then
			FLEET_PID=
			say "the fleet did not start (logs in $LOGS)"
			exit 1
		fi
		sleep 0.2
	done
}

# stop_fleet: SIGTERM the fleet (its processes drain) and wait for it.
stop_fleet() {
	if [ -n "$FLEET_PID" ]; then
		kill -TERM "$FLEET_PID" 2>/dev/null || true
		wait "$FLEET_PID" 2>/dev/null || true
	fi
	FLEET_PID=
}

# delete_hub: delete the hub's queues, exchanges and database (scripts/deletehub), so that
# runs do not pile hubs up on the broker. Safe to call twice and on a hub that never was.
delete_hub() {
	[ -x bin/deletehub ] || return 0
	bin/deletehub --timeout 60s "$WARREN_HUB" 2>&1 | sed "s/^/${SCRIPT_NAME:-fleet}: /" ||
		say "could not delete hub $WARREN_HUB (scripts/services.sh hubs lists what is left)"
}

# finish: the EXIT trap of the scripts: stop the fleet, then delete the hub unless KEEP_HUB
# is set. It also runs on Ctrl-C and SIGTERM (the scripts turn those into an exit).
finish() {
	local status=$?
	trap - EXIT INT TERM
	exec 1>&7 2>&8 # a signal may land inside a command whose output goes to /dev/null
	stop_fleet
	if [ -z "${KEEP_HUB:-}" ]; then
		delete_hub
	else
		say "keeping hub $WARREN_HUB (KEEP_HUB is set)"
	fi
	exit "$status"
}
