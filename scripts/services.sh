#!/usr/bin/env bash
# Local services for Warren's tests and local runs: RabbitMQ, FerretDB (MongoDB protocol) and
# Jaeger, all on 127.0.0.1.
#
#   scripts/services.sh up       start what is not already answering (idempotent)
#   scripts/services.sh down     stop what `up` started (never a service it found running)
#   scripts/services.sh status   say what answers and who started it
#   scripts/services.sh run CMD...   up, run CMD, then down what this up started (even when
#                                CMD fails or is interrupted); exits with CMD's status. CMD
#                                finds the broker up chose in WARREN_AMQP_URL (binaries) and
#                                WARREN_TEST_AMQP_URL (tests), the store in WARREN_MONGO_URI
#                                and WARREN_TEST_MONGO_URI
#   scripts/services.sh url      print the broker URL the last `up` chose for the AMQP port
#   scripts/services.sh cluster-up     a local three-node RabbitMQ cluster beside the broker
#                                (scripts/cluster.sh up; AMQP 5681-5683); cluster-down
#                                stops it and deletes its data; cluster-urls prints the
#                                comma-separated URL list for WARREN_AMQP_URL
#   scripts/services.sh hubs     list the Warren hubs on the broker (queues each, quorum
#                                queues, the broker's file-handle budget)
#   scripts/services.sh delete-hubs HUB...   delete those hubs' queues and exchanges through
#                                rabbitmqctl (works on a broker too wedged to answer AMQP);
#                                `go run ./scripts/deletehub HUB` also drops the database
#
# Why hubs matter: RabbitMQ 3.x gives every quorum queue three of its file handles (the
# budget is ulimit -n less about a hundred) and once they are spent, new connections are
# accepted but never answered. A hub is P+20 quorum queues (36 with 16 partitions), so with
# the 1024 open files that su/PAM gives the rabbitmq user, about eight hubs left behind
# wedge the node. `up` starts the broker with the hard limit instead and warns about a
# reused one with a small budget; when the broker on the AMQP port is wedged already (it
# accepts TCP but does not complete the AMQP handshake within a few seconds), `up` starts a
# private node on other ports and everything it runs uses that (scripts/lib/rabbitmq.sh).
#
# Built binaries, pid, log and state files live under .services/ in the repository.
#
# Environment:
#   WARREN_FERRETDB_BACKEND  sqlite (default: a fresh temp folder, removed by `down`) or postgresql
#   WARREN_FERRETDB_ADDR     where FerretDB listens (default 127.0.0.1:27017)
#   WARREN_FERRETDB_PG_URL   PostgreSQL URL for the postgresql backend
#                            (default postgres://postgres@127.0.0.1:5432/ferretdb; created if missing)
#   WARREN_SERVICES_TAG      names the user of the services: `up` adds it to the users of every
#                            service it started or found started by this script, `down` with the
#                            same tag removes it and stops a service only when no user is left
#                            (`run` tags itself, so make test leaves alone what `make
#                            services-up` or a concurrent run still uses). `down` without a tag
#                            stops everything this script started.
#   RABBITMQ_NODE_PORT       the broker's AMQP port (default 5672); RabbitMQ's own variables
#                            (RABBITMQ_NODENAME, ...) reach rabbitmq-server and rabbitmqctl
#   WARREN_AMQP_GRACE        seconds a broker that accepts TCP may take to answer AMQP before a
#                            private node replaces it (default 6)
#   WARREN_PRIVATE_AMQP_PORT the private node's AMQP port (default: the first free of 5691-5720)
#   WARREN_SERVICES_WAIT     seconds to wait for each service to answer (default 120)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.services"
BIN="$STATE/bin"

MONGO_ADDR=${WARREN_FERRETDB_ADDR:-127.0.0.1:27017}
JAEGER_HEALTH=http://127.0.0.1:13133/status
JAEGER_QUERY=http://127.0.0.1:16686
FERRETDB_BACKEND=${WARREN_FERRETDB_BACKEND:-sqlite}
FERRETDB_PG_URL=${WARREN_FERRETDB_PG_URL:-postgres://postgres@127.0.0.1:5432/ferretdb}
TAG=${WARREN_SERVICES_TAG:-}
WAIT=${WARREN_SERVICES_WAIT:-120}

log() { printf 'services: %s\n' "$*" >&2; }
die() {
	log "ERROR: $*"
	exit 1
}

now_ms() { date +%s%3N; }
# took START_MS prints the time since START_MS as seconds with one decimal.
took() {
	local ms=$(($(now_ms) - $1))
	printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
}

# --- readiness probes -------------------------------------------------------------------

# mongo_answers: a MongoDB-protocol server answers `ping` (FerretDB does so only when its
# backend answers too). Without the launcher built yet, an open port is all we can check.
mongo_answers() {
	port_open "${MONGO_ADDR%:*}" "${MONGO_ADDR##*:}" || return 1
	[ ! -x "$BIN/ferretdb" ] || "$BIN/ferretdb" -ping "$MONGO_ADDR" 2>/dev/null
}

jaeger_answers() {
	curl -fsS -o /dev/null --max-time 2 "$JAEGER_HEALTH" 2>/dev/null ||
		curl -fsS -o /dev/null --max-time 2 "$JAEGER_QUERY/api/services" 2>/dev/null
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# wait_for NAME PROBE [PID]: polls PROBE every 0.2 s for up to $WAIT seconds; gives up early
# when PID (the process we started) has exited.
wait_for() {
	local name=$1 probe=$2 pid=${3:-} deadline=$((SECONDS + WAIT))
	while ((SECONDS < deadline)); do
		if $probe; then
			return 0
		fi
		if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
			log "$name exited before it answered"
			return 1
		fi
		sleep 0.2
	done
	log "$name did not answer within ${WAIT}s"
	return 1
}

# --- records of what we started ---------------------------------------------------------
# .services/NAME.started holds service-specific lines (pid=, exe=, data=...) and one
# "user=TAG PROC" line per user (PROC is "-" or "pid:start-time" of a `run`, so that a run
# killed with SIGKILL does not keep its services forever); its presence is what lets `down`
# stop NAME.

user_line() { printf 'user=%s %s\n' "${TAG:-manual}" "${RUN_PROC:--}"; }

# proc_id PID prints "PID:START" (start time in clock ticks since boot), which no later
# process with a reused pid shares; nothing for a zombie or a missing process.
proc_id() {
	local st
	st=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1,20) || return 0
	[ -n "$st" ] && [ "${st%% *}" != Z ] && echo "$1:${st#* }"
}

record() { # record NAME KEY=VALUE...
	local name=$1
	shift
	{
		printf '%s\n' "$@"
		user_line
	} >"$STATE/$name.started"
}

# add_user NAME: this invocation uses NAME too.
add_user() {
	grep -qxF "$(user_line)" "$STATE/$1.started" || user_line >>"$STATE/$1.started"
}

# users NAME: the users of NAME still alive, one "TAG PROC" per line.
users() {
	local f="$STATE/$1.started" tag proc
	[ -f "$f" ] || return 0
	{
		sed -n 's/^user=//p' "$f"
		# A record written before users were counted belongs to a manual `up`.
		grep -q '^user=' "$f" || echo 'manual -'
	} | while read -r tag proc; do
		if [ "$proc" = - ] || [ "$(proc_id "${proc%%:*}")" = "$proc" ]; then
			printf '%s %s\n' "$tag" "$proc"
		fi
	done
}

# release NAME: drops this invocation's tag from NAME's users; succeeds when NAME should stop
# now (no tag given, or no live user left) and says who still uses it otherwise.
release() {
	[ -n "$TAG" ] || return 0
	local left
	left=$(users "$1" | awk -v t="$TAG" '$1 != t { print $1 }' | sort -u | tr '\n' ' ')
	if [ -z "$left" ]; then
		return 0
	fi
	sed -i "/^user=$(sed 's/[]\/$*.^[]/\\&/g' <<<"$TAG") /d" "$STATE/$1.started"
	log "$1: left running, still used by: ${left% }"
	return 1
}

field() { # field NAME KEY
	sed -n "s/^$2=//p" "$STATE/$1.started" 2>/dev/null | head -n 1
}

started_by_us() { [ -f "$STATE/$1.started" ]; }

# our_process NAME: the recorded pid is alive and still runs the binary we started (a pid
# may have been reused since; the binary may have been rebuilt under it, "(deleted)").
our_process() {
	local pid exe now
	pid=$(field "$1" pid)
	exe=$(field "$1" exe)
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	now=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	[ "$now" = "$exe" ] || [ "$now" = "$exe (deleted)" ]
}

# start_daemon NAME LOGFILE CMD...: runs CMD in its own session, detached from this shell,
# and prints its pid.
start_daemon() {
	local name=$1 logfile=$2
	shift 2
	setsid nohup "$@" </dev/null >"$logfile" 2>&1 9>&- &
	echo $!
}

# build NAME PKG [NOTE]: builds PKG of the module tools/NAME into .services/bin/NAME unless the
# binary is newer than every file of that module. Go's cache makes a rebuild cheap, but
# linking Jaeger still costs ~10 s, so an up-to-date binary is not rebuilt at all.
build() {
	local name=$1 pkg=$2 dir="$ROOT/tools/$1" out="$BIN/$1"
	if [ -x "$out" ] && [ -z "$(find "$dir" -type f -newer "$out" -print -quit)" ]; then
		return 0
	fi
	log "$name: building tools/$name${3:+ ($3)}"
	mkdir -p "$BIN"
	if ! (cd "$dir" && GOWORK=off go build -o "$out.tmp" "$pkg") >"$STATE/$name-build.log" 2>&1; then
		cat "$STATE/$name-build.log" >&2
		rm -f "$out.tmp"
		die "$name: build failed (log: $STATE/$name-build.log)"
	fi
	mv "$out.tmp" "$out"
}

# --- RabbitMQ ---------------------------------------------------------------------------

# shellcheck source=scripts/lib/rabbitmq.sh
. "$ROOT/scripts/lib/rabbitmq.sh"
# shellcheck source=scripts/lib/rabbitmq-private.sh
. "$ROOT/scripts/lib/rabbitmq-private.sh"
# shellcheck source=scripts/lib/hubs.sh
. "$ROOT/scripts/lib/hubs.sh"

# --- FerretDB ---------------------------------------------------------------------------

ferretdb_up() {
	local t0
	t0=$(now_ms)
	build ferretdb .
	if mongo_answers; then
		if started_by_us ferretdb; then
			add_user ferretdb
			log "ferretdb: running (started earlier by this script, $(field ferretdb backend)) ($(took "$t0"))"
		else
			log "ferretdb: reusing the MongoDB-protocol server on $MONGO_ADDR ($(took "$t0"))"
		fi
		return 0
	fi
	# One FerretDB of ours at a time: one recorded but not answering here (hung, or started
	# for another address) goes first.
	stop_process ferretdb
	ferretdb_cleanup
	if port_open "${MONGO_ADDR%:*}" "${MONGO_ADDR##*:}"; then
		die "ferretdb: something listens on $MONGO_ADDR but does not answer the MongoDB ping; stop it first"
	fi
	local args=(-listen "$MONGO_ADDR" -handler "$FERRETDB_BACKEND") data=""
	case $FERRETDB_BACKEND in
	sqlite)
		data=$(mktemp -d "${TMPDIR:-/tmp}/warren-ferretdb.XXXXXX")
		args+=(-sqlite-dir "$data")
		;;
	postgresql)
		postgres_database "$FERRETDB_PG_URL"
		args+=(-postgresql-url "$FERRETDB_PG_URL")
		;;
	*) die "ferretdb: WARREN_FERRETDB_BACKEND must be sqlite or postgresql, not \"$FERRETDB_BACKEND\"" ;;
	esac
	local pid
	pid=$(start_daemon ferretdb "$STATE/ferretdb.log" "$BIN/ferretdb" "${args[@]}")
	record ferretdb "pid=$pid" "exe=$BIN/ferretdb" "backend=$FERRETDB_BACKEND" "data=$data"
	wait_for ferretdb mongo_answers "$pid" ||
		die "ferretdb: did not start ($FERRETDB_BACKEND backend); log: $STATE/ferretdb.log: $(tail -n 5 "$STATE/ferretdb.log")"
	log "ferretdb: started, $FERRETDB_BACKEND backend, pid $pid ($(took "$t0"))"
}

# postgres_database URL: makes sure the database named in URL exists, creating it with psql.
postgres_database() {
	local url=$1 db base
	db=${url##*/}
	db=${db%%\?*}
	base=${url%/*}/postgres
	command -v psql >/dev/null 2>&1 || die "ferretdb: the postgresql backend needs psql (apt-get install postgresql-client)"
	local exists
	exists=$(psql "$base" -tAc "SELECT 1 FROM pg_database WHERE datname = '$db'" 2>"$STATE/psql.log") ||
		die "ferretdb: cannot reach PostgreSQL at $(redact "$base"): $(cat "$STATE/psql.log")"
	if [ "$exists" != 1 ]; then
		psql "$base" -qc "CREATE DATABASE \"$db\"" >"$STATE/psql.log" 2>&1 ||
			die "ferretdb: cannot create database $db: $(cat "$STATE/psql.log")"
		log "ferretdb: created PostgreSQL database $db"
	fi
}

# redact URL hides the password in URL.
redact() { sed -E 's#(//[^:/@]*):[^@/]*@#\1:xxxxx@#' <<<"$1"; }

# ferretdb_cleanup forgets the recorded FerretDB, removing its data (call it once stopped).
ferretdb_cleanup() {
	started_by_us ferretdb || return 0
	local data
	data=$(field ferretdb data)
	[ -z "$data" ] || rm -rf "$data"
	rm -f "$STATE/ferretdb.started"
}

ferretdb_down() {
	started_by_us ferretdb || return 0
	release ferretdb || return 0
	local t0
	t0=$(now_ms)
	stop_process ferretdb
	ferretdb_cleanup
	log "ferretdb: stopped ($(took "$t0"))"
}

# --- Jaeger -----------------------------------------------------------------------------

jaeger_up() {
	local t0
	t0=$(now_ms)
	if jaeger_answers; then
		if started_by_us jaeger; then
			add_user jaeger
			log "jaeger: running (started earlier by this script) ($(took "$t0"))"
		else
			log "jaeger: reusing the Jaeger that answers on 127.0.0.1:16686 ($(took "$t0"))"
		fi
		return 0
	fi
	stop_process jaeger
	rm -f "$STATE/jaeger.started"
	build jaeger github.com/jaegertracing/jaeger/cmd/jaeger "the first build takes 5-7 minutes and ~2 GB of Go build cache"
	local pid
	pid=$(start_daemon jaeger "$STATE/jaeger.log" "$BIN/jaeger" --config "$ROOT/tools/jaeger/config.yaml")
	record jaeger "pid=$pid" "exe=$BIN/jaeger"
	wait_for jaeger jaeger_answers "$pid" ||
		die "jaeger: did not start; log: $STATE/jaeger.log: $(tail -n 5 "$STATE/jaeger.log")"
	log "jaeger: started, pid $pid ($(took "$t0"))"
}

jaeger_down() {
	started_by_us jaeger || return 0
	release jaeger || return 0
	local t0
	t0=$(now_ms)
	stop_process jaeger
	rm -f "$STATE/jaeger.started"
	log "jaeger: stopped ($(took "$t0"))"
}

# stop_process NAME: SIGTERM, then SIGKILL after 15 s.
stop_process() {
	our_process "$1" || return 0
	local pid i
	pid=$(field "$1" pid)
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 75; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.2
	done
	log "$1: pid $pid ignored SIGTERM for 15s; killing it"
	kill -KILL "$pid" 2>/dev/null || true
}

# --- commands ---------------------------------------------------------------------------

up() {
	local t0
	t0=$(now_ms)
	rabbitmq_up
	ferretdb_up
	jaeger_up
	log "up: RabbitMQ $(redact "$BROKER_URL"), FerretDB $MONGO_ADDR, Jaeger OTLP 127.0.0.1:4317/4318, API $JAEGER_QUERY ($(took "$t0"))"
}

down() {
	# Reverse order of up; each step only acts on what up recorded.
	jaeger_down
	ferretdb_down
	rabbitmq_private_down
	rabbitmq_down
}

status() {
	local ok=0 who
	local services=(rabbitmq ferretdb jaeger)
	! started_by_us rabbitmq-private || services=(rabbitmq rabbitmq-private ferretdb jaeger)
	for svc in "${services[@]}"; do
		case $svc in
		rabbitmq) probe=amqp_answers where="127.0.0.1:$AMQP_PORT" ;;
		rabbitmq-private) probe=private_answers where="127.0.0.1:$(field rabbitmq-private port), in place of 127.0.0.1:$(field rabbitmq-private for)" ;;
		ferretdb) probe=mongo_answers where=$MONGO_ADDR ;;
		jaeger) probe=jaeger_answers where="$JAEGER_QUERY (OTLP 4317/4318)" ;;
		esac
		who="not started by this script"
		if started_by_us "$svc"; then
			who="started by this script"
			[ -z "$(field "$svc" pid)" ] || who="$who, pid $(field "$svc" pid)"
			who="$who, users: $(users "$svc" | awk '{ print $1 }' | sort -u | tr '\n' ' ')"
			who=${who% }
		fi
		if $probe; then
			printf '%-9s up    %s (%s)\n' "$svc" "$where" "$who"
		else
			printf '%-9s down  %s\n' "$svc" "$where"
			ok=1
		fi
	done
	return $ok
}

# run CMD...: up, CMD, down of what this up started, whatever happens to CMD.
run() {
	[ $# -gt 0 ] || die "run: no command given"
	TAG=${TAG:-run-$$}
	RUN_PROC=$(proc_id $$)
	trap 'locked down' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	locked up
	# Tests find the services through WARREN_TEST_* (internal/testenv), the binaries (make
	# demo) through WARREN_* (internal/config); a value already set wins.
	export WARREN_TEST_AMQP_URL=${WARREN_TEST_AMQP_URL:-$BROKER_URL}
	export WARREN_AMQP_URL=${WARREN_AMQP_URL:-$BROKER_URL}
	export WARREN_TEST_MONGO_URI=${WARREN_TEST_MONGO_URI:-mongodb://$MONGO_ADDR/}
	export WARREN_MONGO_URI=${WARREN_MONGO_URI:-mongodb://$MONGO_ADDR/}
	# CMD runs in the background so that a signal to this script is handled at once (bash
	# defers traps while a foreground child runs); the trap passes it on to CMD, waits for
	# it, and the EXIT trap stops the services. `<&0` keeps CMD's standard input.
	"$@" <&0 &
	local child=$! status=0
	trap 'kill -INT $child 2>/dev/null; wait $child; exit 130' INT
	trap 'kill -TERM $child 2>/dev/null; wait $child; exit 143' TERM
	wait "$child" || status=$?
	exit "$status"
}

# locked CMD: runs CMD holding .services/lock, so that concurrent ups and downs (several
# engineers' make test in one work tree) see each other's records. Daemons do not inherit
# the lock's descriptor (start_daemon closes it).
# A nested call (the EXIT trap after a failed up) already holds it.
LOCKED=
locked() {
	if [ -n "$LOCKED" ]; then
		"$@"
		return
	fi
	exec 9>>"$STATE/lock"
	flock -w 900 9 || die "could not take $STATE/lock within 15 minutes"
	LOCKED=1
	"$@"
	LOCKED=
	exec 9>&-
}

mkdir -p "$STATE"
case ${1:-} in
up) locked up ;;
down) locked down ;;
status) status ;;
url) broker_url ;;
cluster-up) exec "$ROOT/scripts/cluster.sh" up ;;
cluster-down) exec "$ROOT/scripts/cluster.sh" down ;;
cluster-urls) exec "$ROOT/scripts/cluster.sh" urls ;;
hubs) hubs ;;
delete-hubs)
	shift
	delete_hubs "$@"
	;;
run)
	shift
	run "$@"
	;;
*)
	echo "usage: $0 up|down|status|url|cluster-up|cluster-down|cluster-urls|hubs|delete-hubs HUB...|run CMD..." >&2
	exit 2
	;;
esac
