# A private RabbitMQ node for scripts/services.sh (sourced by it): started by `up` in place of
# a broker that accepts connections on the AMQP port but never completes the AMQP handshake.
# It is started with rabbitmq-server like the system broker, but as this user, with its own
# node name, AMQP and distribution ports, cookie, configuration, data and logs under
# .services/rabbitmq-private/, so that it shares nothing with the wedged node but epmd.
# `down` stops it (once no user is left) and deletes its data.
#
# Environment:
#   WARREN_PRIVATE_AMQP_PORT  its AMQP port (default: the first free one of 5691-5720 whose
#                             distribution port, 20000 above, is free too)

PRIVATE_DIR="$STATE/rabbitmq-private"
RMQ_BIN=/usr/lib/rabbitmq/bin
[ -x "$RMQ_BIN/rabbitmq-server" ] || RMQ_BIN=$(dirname "$(command -v rabbitmq-server 2>/dev/null || echo /usr/sbin/rabbitmq-server)")

# private_node PORT is the node name: with the port in it, since a node of another work
# tree or an earlier session may hold a plain name.
private_node() { echo "warren-private-$1@localhost"; }

# private_env PORT CMD...: runs CMD with the private node's RabbitMQ environment. The system
# broker's /etc/rabbitmq files (its node name, its listener) must not reach it, hence its
# own env and config files.
private_env() {
	local port=$1
	shift
	env HOME="$PRIVATE_DIR/home" \
		RABBITMQ_CONF_ENV_FILE="$PRIVATE_DIR/rabbitmq-env.conf" \
		RABBITMQ_CONFIG_FILE="$PRIVATE_DIR/rabbitmq.conf" \
		RABBITMQ_ENABLED_PLUGINS_FILE="$PRIVATE_DIR/enabled_plugins" \
		RABBITMQ_NODENAME="$(private_node "$port")" \
		RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
		RABBITMQ_NODE_PORT="$port" \
		RABBITMQ_DIST_PORT=$((port + 20000)) \
		RABBITMQ_MNESIA_BASE="$PRIVATE_DIR/mnesia" \
		RABBITMQ_LOG_BASE="$PRIVATE_DIR/log" \
		RABBITMQ_PID_FILE="$PRIVATE_DIR/pid" \
		RABBITMQ_PLUGINS_EXPAND_DIR="$PRIVATE_DIR/plugins-expand" \
		RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
		ERL_EPMD_ADDRESS=127.0.0.1 \
		"$@"
}

private_url() { echo "amqp://guest:guest@127.0.0.1:$(field rabbitmq-private port)/"; }

private_answers() { amqp_answers "$(field rabbitmq-private port)"; }

# private_serves: the private node this script started for the AMQP port runs and answers.
private_serves() {
	started_by_us rabbitmq-private && [ "$(field rabbitmq-private for)" = "$AMQP_PORT" ] && private_answers
}

# private_pid prints the OS pid of the private node's Erlang VM when it runs, else nothing:
# the beam.smp process whose environment names this work tree's private data folder (a
# record may be lost, or the node may not have written its pid file yet; RabbitMQ 3.10 puts
# the node name in the environment, not the arguments).
private_pid() {
	local p
	for p in /proc/[0-9]*; do
		[[ "$(readlink "$p/exe" 2>/dev/null)" == */beam.smp* ]] || continue
		if tr '\0' '\n' <"$p/environ" 2>/dev/null | grep -qxF "RABBITMQ_MNESIA_BASE=$PRIVATE_DIR/mnesia"; then
			echo "${p#/proc/}"
			return 0
		fi
	done
}

# private_wait PORT: waits until the private node answers AMQP; fails early when its VM
# has stopped (its log then says why).
private_wait() {
	local deadline=$((SECONDS + WAIT)) seen=
	until amqp_answers "$1"; do
		if [ -n "$(private_pid)" ]; then
			seen=1
		elif [ -n "$seen" ] || grep -q 'Kernel pid terminated' "$PRIVATE_DIR/log/stdout.log" 2>/dev/null; then
			return 1
		fi
		((SECONDS < deadline)) || return 1
		sleep 0.5
	done
}

# private_port prints the AMQP port for the private node.
private_port() {
	local p
	if [ -n "${WARREN_PRIVATE_AMQP_PORT:-}" ]; then
		p=$WARREN_PRIVATE_AMQP_PORT
		! port_open 127.0.0.1 "$p" && ! port_open 127.0.0.1 $((p + 20000)) ||
			die "rabbitmq: port $p or $((p + 20000)) (WARREN_PRIVATE_AMQP_PORT and its distribution port) is taken"
		echo "$p"
		return 0
	fi
	for p in $(seq 5691 5720); do
		[ "$p" != "$AMQP_PORT" ] || continue
		port_open 127.0.0.1 "$p" || port_open 127.0.0.1 $((p + 20000)) || {
			echo "$p"
			return 0
		}
	done
	die "rabbitmq: no free port pair for a private node in 5691-5720 (and 20000 above); set WARREN_PRIVATE_AMQP_PORT"
}

# private_up T0: starts the private node, waits until it answers AMQP and makes it the broker.
private_up() {
	local t0=$1 port pid
	# One private node per work tree: one recorded for another port, or not answering, or
	# left behind without a record, goes.
	[ -z "$(private_pid)" ] || started_by_us rabbitmq-private || record rabbitmq-private "for=$AMQP_PORT"
	private_stop
	port=$(private_port)
	if epmd -names 2>/dev/null | grep -q "^name warren-private-$port "; then
		die "rabbitmq: a node named $(private_node "$port") runs already (epmd -names) but is not this work tree's; set WARREN_PRIVATE_AMQP_PORT to another port"
	fi
	mkdir -p "$PRIVATE_DIR/home" "$PRIVATE_DIR/log" "$PRIVATE_DIR/mnesia"
	head -c 30 /dev/urandom | od -An -tx1 | tr -dc 0-9a-f | tr a-f A-F >"$PRIVATE_DIR/home/.erlang.cookie"
	chmod 400 "$PRIVATE_DIR/home/.erlang.cookie"
	echo '[].' >"$PRIVATE_DIR/enabled_plugins"
	: >"$PRIVATE_DIR/rabbitmq-env.conf"
	cat >"$PRIVATE_DIR/rabbitmq.conf" <<-CONF
		listeners.tcp.1 = 127.0.0.1:$port
		loopback_users.guest = true
		log.console = false
		log.file.level = info
		disk_free_limit.absolute = 50MB
	CONF
	log "rabbitmq: starting a private node $(private_node "$port") on 127.0.0.1:$port (distribution $((port + 20000)), data $PRIVATE_DIR)"
	(
		n=$(ulimit -Hn)
		[ "$n" = unlimited ] || [ "$n" -gt 65536 ] && n=65536
		ulimit -n "$n"
		cd "$PRIVATE_DIR" # where a crash dump goes
		private_env "$port" setsid nohup "$RMQ_BIN/rabbitmq-server" </dev/null >"$PRIVATE_DIR/log/stdout.log" 2>&1 9>&- &
	)
	# Recorded before waiting, so that `down` stops it even if it never answers.
	record rabbitmq-private "for=$AMQP_PORT" "port=$port" "node=$(private_node "$port")"
	private_wait "$port" ||
		die "rabbitmq: the private node did not answer AMQP on 127.0.0.1:$port; log: $PRIVATE_DIR/log/ ($(tail -n 3 "$PRIVATE_DIR/log/stdout.log" 2>/dev/null | tr '\n' ' '))"
	pid=$(private_pid)
	record rabbitmq-private "for=$AMQP_PORT" "port=$port" "node=$(private_node "$port")" "pid=$pid"
	use_broker "$(private_url)"
	log "rabbitmq: private node started, pid $pid, amqp://guest:xxxxx@127.0.0.1:$port/ ($(took "$t0"))"
}

# private_stop stops the recorded private node (whoever uses it) and deletes its data.
private_stop() {
	started_by_us rabbitmq-private || return 0
	local pid port i f
	pid=$(private_pid)
	port=$(field rabbitmq-private port)
	if [ -n "$pid" ]; then
		private_env "${port:-0}" timeout 60 "$RMQ_BIN/rabbitmqctl" -n "$(private_node "${port:-0}")" -q shutdown >/dev/null 2>&1 9>&- ||
			kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 75; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		if kill -0 "$pid" 2>/dev/null; then
			log "rabbitmq: the private node (pid $pid) did not stop within 15s; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	for f in "$STATE"/broker-*.url; do
		[ "$(cat "$f" 2>/dev/null)" != "amqp://guest:guest@127.0.0.1:$port/" ] || rm -f "$f"
	done
	rm -rf "$PRIVATE_DIR"
	rm -f "$STATE/rabbitmq-private.started"
}

rabbitmq_private_down() {
	started_by_us rabbitmq-private || return 0
	release rabbitmq-private || return 0
	local t0
	t0=$(now_ms)
	private_stop
	log "rabbitmq: private node stopped, its data deleted ($(took "$t0"))"
}
