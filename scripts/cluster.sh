#!/usr/bin/env bash
# A local three-node RabbitMQ cluster for Warren's failover tests, beside (never instead of)
# the broker on 5672.
#
#   scripts/cluster.sh up        start the three nodes and join them (idempotent: a node that
#                                is down, e.g. after `kill`, is started again)
#   scripts/cluster.sh down      stop every node this script started and delete their data
#                                (idempotent)
#   scripts/cluster.sh status    say which nodes run and what the cluster sees
#   scripts/cluster.sh urls      print the AMQP URLs, comma-separated (WARREN_AMQP_URL)
#   scripts/cluster.sh kill N    kill -9 node N (1-3), as a crash would
#   scripts/cluster.sh start N   start node N again; it rejoins with its data
#   scripts/cluster.sh ctl ARGS  rabbitmqctl ARGS against a running node of the cluster
#                                (e.g. ctl list_queues name type leader members)
#
# Node N is warren-cN@localhost, AMQP on 127.0.0.1:$((BASE+N-1)) (BASE 5681), Erlang
# distribution on 20000 above that; the nodes share the machine's epmd on 4369 and a
# cookie of their own. Everything (config, cookie, data, logs) lives under
# .services/cluster/. The management plugin is off: the tests ask rabbitmqctl.
#
# The system broker's /etc/rabbitmq files (its node name, its listener on 5672) must not
# reach these nodes, so each gets its own RABBITMQ_CONF_ENV_FILE and RABBITMQ_CONFIG_FILE.
#
# Environment:
#   WARREN_CLUSTER_PORT   AMQP port of node 1 (default 5681; nodes 2 and 3 take the next two)
#   WARREN_CLUSTER_WAIT   seconds to wait for a node to boot (default 120)
#   WARREN_RABBITMQ_BIN   the folder of rabbitmq-server and rabbitmqctl themselves, not the
#                         Debian wrappers that switch to the rabbitmq user (default
#                         /usr/lib/rabbitmq/bin; the nodes run as the calling user)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR="$ROOT/.services/cluster"
BASE=${WARREN_CLUSTER_PORT:-5681}
WAIT=${WARREN_CLUSTER_WAIT:-120}
NODES=(1 2 3)
RMQ=${WARREN_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}

LOG_NAME=cluster
# shellcheck source=scripts/lib/daemons.sh
. "$ROOT/scripts/lib/daemons.sh" # log, die, took

node_name() { echo "warren-c$1@localhost"; }
amqp_port() { echo $((BASE + $1 - 1)); }
dist_port() { echo $((BASE + $1 - 1 + 20000)); }
url() { echo "amqp://guest:guest@127.0.0.1:$(amqp_port "$1")/"; }

# with_env N CMD...: runs CMD with node N's RabbitMQ environment (node N's name; for the
# CLI tools only the cookie and the name matter).
with_env() {
	local n=$1
	shift
	env HOME="$DIR/home" \
		RABBITMQ_CONF_ENV_FILE="$DIR/rabbitmq-env.conf" \
		RABBITMQ_CONFIG_FILE="$DIR/c$n/rabbitmq.conf" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$DIR/enabled_plugins" \
		RABBITMQ_NODENAME="$(node_name "$n")" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$(amqp_port "$n")" \
		RABBITMQ_DIST_PORT="$(dist_port "$n")" \
		RABBITMQ_MNESIA_BASE="$DIR/c$n/mnesia" \
		RABBITMQ_LOG_BASE="$DIR/c$n/log" \
		RABBITMQ_PID_FILE="$DIR/c$n/pid" \
		RABBITMQ_PLUGINS_EXPAND_DIR="$DIR/c$n/plugins-expand" \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
		ERL_EPMD_ADDRESS=127.0.0.1 \
		"$@"
}

ctl() { # ctl N ARGS...: rabbitmqctl against node N
	local n=$1
	shift
	with_env "$n" timeout 60 "$RMQ/rabbitmqctl" -n "$(node_name "$n")" "$@" 9>&-
}

# amqp_answers N: node N answers the AMQP 0-9-1 header with a Connection.Start frame; it
# does so only once it has booted.
amqp_answers() {
	timeout 3 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"$(amqp_port "$1")"' || exit 1
		printf "AMQP\x00\x00\x09\x01" >&3
		[ "$(head -c 1 <&3 | od -An -tx1 | tr -d " \n")" = 01 ]
	' 2>/dev/null
}

port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# beam_pid N prints the OS pid of node N's Erlang VM when it runs, else nothing. The pid
# file is checked against the process: a pid may have been reused since.
beam_pid() {
	local pid
	pid=$(cat "$DIR/c$1/pid" 2>/dev/null | tr -dc 0-9) || true
	[ -n "$pid" ] || return 0
	[[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == */beam.smp* ]] || return 0
	# 3.10 takes the node name from the environment, not the command line.
	tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF -- "RABBITMQ_NODENAME=$(node_name "$1")" || return 0
	echo "$pid"
}

# prepare writes the shared files once per cluster: cookie, plugins, env file, configs.
prepare() {
	mkdir -p "$DIR/home"
	if [ ! -s "$DIR/home/.erlang.cookie" ]; then
		head -c 30 /dev/urandom | od -An -tx1 | tr -dc 0-9a-f | tr a-f A-F >"$DIR/home/.erlang.cookie"
		chmod 400 "$DIR/home/.erlang.cookie"
	fi
	echo '[].' >"$DIR/enabled_plugins"
	# Empty on purpose: /etc/rabbitmq/rabbitmq-env.conf names the system broker's node.
	: >"$DIR/rabbitmq-env.conf"
	for n in "${NODES[@]}"; do
		mkdir -p "$DIR/c$n/log" "$DIR/c$n/mnesia"
		cat >"$DIR/c$n/rabbitmq.conf" <<-EOF
			listeners.tcp.1 = 127.0.0.1:$(amqp_port "$n")
			loopback_users.guest = true
			log.console = false
			log.file.level = info
			disk_free_limit.absolute = 50MB
			vm_memory_high_watermark.relative = 0.2
		EOF
	done
}

# start_node N starts node N in the background (its own session, so that the caller's
# signals do not reach it) with as many open files as the hard limit allows: every quorum
# queue member takes file handles.
start_node() {
	local n=$1
	if [ -n "$(beam_pid "$n")" ]; then
		return 0
	fi
	for p in "$(amqp_port "$n")" "$(dist_port "$n")"; do
		! port_open "$p" || die "port $p of node $n is taken by another process; set WARREN_CLUSTER_PORT to move the cluster"
	done
	rm -f "$DIR/c$n/pid"
	(
		n_files=$(ulimit -Hn)
		[ "$n_files" = unlimited ] || [ "$n_files" -gt 65536 ] && n_files=65536
		ulimit -n "$n_files"
		with_env "$n" setsid nohup "$RMQ/rabbitmq-server" </dev/null >>"$DIR/c$n/log/stdout.log" 2>&1 9>&- &
	)
}

# wait_node N waits until node N answers AMQP, or fails naming its log.
wait_node() {
	local n=$1 deadline=$((SECONDS + WAIT))
	until amqp_answers "$n"; do
		if ((SECONDS >= deadline)); then
			die "node $n ($(node_name "$n")) did not answer AMQP on port $(amqp_port "$n") within ${WAIT}s; log: $DIR/c$n/log/ ($(tail -n 3 "$DIR/c$n/log/stdout.log" 2>/dev/null | tr '\n' ' '))"
		fi
		sleep 0.2
	done
}

# running_nodes N prints the nodes the cluster says run, as node N sees it.
running_nodes() {
	ctl "$1" -q eval 'io:format("~s~n", [string:join([atom_to_list(N) || N <- rabbit_nodes:all_running()], " ")]).' 2>/dev/null | head -n 1
}

joined() { # joined N: node N is a running member of node 1's cluster
	[[ " $(running_nodes 1) " == *" $(node_name "$1") "* ]]
}

up() {
	local t0 fresh=1
	t0=$(now_ms)
	[ -x "$RMQ/rabbitmq-server" ] ||
		die "rabbitmq-server is not installed ($RMQ/rabbitmq-server missing); apt-get install rabbitmq-server, or set WARREN_RABBITMQ_BIN"
	# A cluster is "made" once the nodes joined; after that a node started again finds its
	# peers through its own data.
	[ -f "$DIR/joined" ] && fresh=0
	if ((fresh)); then
		# Whatever a failed `up` left behind goes first.
		[ ! -d "$DIR" ] || down
	fi
	prepare
	for n in "${NODES[@]}"; do
		start_node "$n"
	done
	for n in "${NODES[@]}"; do
		wait_node "$n"
	done
	local booted
	booted=$(took "$t0")
	if ((fresh)); then
		# What `rabbitmqctl stop_app; join_cluster; start_app` do, in one call per node: each
		# CLI call boots an Erlang VM, seconds on a busy machine.
		for n in 2 3; do
			ctl "$n" -q eval "ok = rabbit:stop(), ok = rabbit_mnesia:join_cluster('$(node_name 1)', disc), ok = rabbit:start()." >"$DIR/c$n/log/join.log" 2>&1 ||
				die "node $n could not join node 1: $(tail -n 5 "$DIR/c$n/log/join.log")"
			wait_node "$n"
		done
		touch "$DIR/joined"
	fi
	local want
	want="$(node_name 1) $(node_name 2) $(node_name 3)"
	local deadline=$((SECONDS + 30))
	until [ "$(running_nodes 1 | tr ' ' '\n' | sort | paste -sd' ' -)" = "$want" ]; do
		((SECONDS < deadline)) || die "the nodes run but node 1 sees running: $(running_nodes 1)"
		sleep 0.5
	done
	log "up: 3 nodes ($want), AMQP ports $(amqp_port 1)-$(amqp_port 3) (booted in $booted, $(took "$t0") in all)"
	urls
}

down() {
	local t0 pid stopped=0
	t0=$(now_ms)
	for n in "${NODES[@]}"; do
		pid=$(beam_pid "$n")
		if [ -n "$pid" ]; then
			# Its data goes next, so there is nothing to shut down gracefully.
			kill -KILL "$pid" 2>/dev/null || true
			stopped=$((stopped + 1))
		fi
	done
	for n in "${NODES[@]}"; do
		for ((i = 0; i < 50; i++)); do
			port_open "$(amqp_port "$n")" || port_open "$(dist_port "$n")" || break
			sleep 0.1
		done
	done
	rm -rf "$DIR"
	log "down: stopped $stopped node(s), data removed ($(took "$t0"))"
}

kill_node() {
	local n=$1 pid
	pid=$(beam_pid "$n")
	[ -n "$pid" ] || die "node $n is not running"
	kill -KILL "$pid"
	log "killed node $n ($(node_name "$n"), pid $pid)"
}

start_again() {
	local n=$1 t0
	t0=$(now_ms)
	[ -f "$DIR/joined" ] || die "no cluster to start node $n in; run: $0 up"
	start_node "$n"
	wait_node "$n"
	log "started node $n ($(node_name "$n")) ($(took "$t0"))"
}

status() {
	local ok=0 pid
	for n in "${NODES[@]}"; do
		pid=$(beam_pid "$n")
		if [ -n "$pid" ] && amqp_answers "$n"; then
			printf 'node %s up    %s 127.0.0.1:%s pid %s\n' "$n" "$(node_name "$n")" "$(amqp_port "$n")" "$pid"
		else
			printf 'node %s down  %s 127.0.0.1:%s\n' "$n" "$(node_name "$n")" "$(amqp_port "$n")"
			ok=1
		fi
	done
	return $ok
}

urls() {
	local out=""
	for n in "${NODES[@]}"; do
		out="$out${out:+,}$(url "$n")"
	done
	echo "$out"
}

# any_ctl ARGS: rabbitmqctl against the first node that runs.
any_ctl() {
	for n in "${NODES[@]}"; do
		if [ -n "$(beam_pid "$n")" ]; then
			ctl "$n" "$@"
			return
		fi
	done
	die "no node of the cluster runs"
}

node_arg() {
	case ${1:-} in
	1 | 2 | 3) ;;
	*) die "name a node: 1, 2 or 3" ;;
	esac
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
urls) urls ;;
kill)
	node_arg "${2:-}"
	kill_node "$2"
	;;
start)
	node_arg "${2:-}"
	start_again "$2"
	;;
ctl)
	shift
	any_ctl "$@"
	;;
*)
	echo "usage: $0 up|down|status|urls|kill N|start N|ctl ARGS..." >&2
	exit 2
	;;
esac
