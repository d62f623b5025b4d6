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
# Jaeger is built (5-7 minutes the first time) and started in the background: `up` and
# `run` go on as soon as the broker and the store answer, and the binaries export their
# traces once Jaeger answers; a plain `up` waits for it at the end (scripts/lib/jaeger.sh).
#
# Each service has its file under scripts/lib/ (rabbitmq.sh, rabbitmq-private.sh,
# ferretdb.sh, jaeger.sh; hubs.sh for `hubs`), over records.sh (what was started, who uses
# it) and daemons.sh (starting, waiting, stopping). Built binaries, pid, log and state
# files live under .services/ in the repository.
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
#   WARREN_TEST_JAEGER_WAIT  how long a test waits for a Jaeger that `run` is still building
#                            and starting (`run` sets it to 20m when it is)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE="$ROOT/.services"
BIN="$STATE/bin"
TAG=${WARREN_SERVICES_TAG:-}
WAIT=${WARREN_SERVICES_WAIT:-120}

# shellcheck source=scripts/lib/daemons.sh
. "$ROOT/scripts/lib/daemons.sh"
# shellcheck source=scripts/lib/records.sh
. "$ROOT/scripts/lib/records.sh"
# shellcheck source=scripts/lib/rabbitmq.sh
. "$ROOT/scripts/lib/rabbitmq.sh"
# shellcheck source=scripts/lib/rabbitmq-private.sh
. "$ROOT/scripts/lib/rabbitmq-private.sh"
# shellcheck source=scripts/lib/hubs.sh
. "$ROOT/scripts/lib/hubs.sh"
# shellcheck source=scripts/lib/ferretdb.sh
. "$ROOT/scripts/lib/ferretdb.sh"
# shellcheck source=scripts/lib/jaeger.sh
. "$ROOT/scripts/lib/jaeger.sh"

up() {
	local t0
	t0=$(now_ms)
	rabbitmq_up
	ferretdb_up
	jaeger_up
	local jaeger="Jaeger OTLP 127.0.0.1:4317/4318, API $JAEGER_QUERY"
	jaeger_answers || jaeger="$jaeger (starting in the background)"
	log "up: RabbitMQ $(redact "$BROKER_URL"), FerretDB $MONGO_ADDR, $jaeger ($(took "$t0"))"
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
		if [ "$svc" = jaeger ] && jaeger_starting; then
			printf '%-9s down  %s (being built and started in the background, log: %s)\n' "$svc" "$where" "$STATE/jaeger-up.log"
			ok=1
			continue
		fi
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
	# A test that needs Jaeger waits for it while it is still being built and started.
	if ! jaeger_answers; then
		export WARREN_TEST_JAEGER_WAIT=${WARREN_TEST_JAEGER_WAIT:-20m}
	fi
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
up)
	locked up
	jaeger_wait
	;;
jaeger-start) jaeger_start ;; # the background start of jaeger_up
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