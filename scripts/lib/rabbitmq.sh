# RabbitMQ for scripts/services.sh (sourced by it; uses its log, die, record, field, users,
# release, wait_for and port_open): which broker this invocation uses, starting one when
# nothing answers, and the URL everything it runs dials.
#
# The choice, in order: a private node that `up` started earlier in place of the broker on
# the AMQP port, while it runs (scripts/lib/rabbitmq-private.sh); the broker on the AMQP port
# when it answers; a private node on other ports when something there accepts TCP but does
# not complete the AMQP handshake within AMQP_GRACE seconds (RabbitMQ 3.x out of file handles
# does so, see `services.sh hubs`); else a broker started here with rabbitmq-server.
# The chosen URL goes to .services/broker-PORT.url (PORT the AMQP port asked for), so that
# separate invocations agree, and `run` exports it to its command.
#
# Environment:
#   RABBITMQ_NODE_PORT       the AMQP port to look at (default 5672)
#   WARREN_AMQP_GRACE        seconds a broker that accepts TCP may take to answer AMQP before
#                            a private node replaces it (default 6)

AMQP_PORT=${RABBITMQ_NODE_PORT:-5672}
AMQP_GRACE=${WARREN_AMQP_GRACE:-6}
BROKER_URL=

# amqp_answers [PORT]: a broker on 127.0.0.1:PORT (default the AMQP port) answers the AMQP
# 0-9-1 protocol header with a Connection.Start method frame (frame type 1) within 3 s, not
# merely by accepting the TCP connection.
amqp_answers() {
	timeout 3 bash -c '
		exec 3<>/dev/tcp/127.0.0.1/'"${1:-$AMQP_PORT}"' || exit 1
		printf "AMQP\x00\x00\x09\x01" >&3
		[ "$(head -c 1 <&3 | od -An -tx1 | tr -d " \n")" = 01 ]
	' 2>/dev/null
}

# amqp_wedged: something on the AMQP port accepts TCP connections but has not answered the
# AMQP header for AMQP_GRACE seconds (a node still booting answers within that).
amqp_wedged() {
	local deadline=$((SECONDS + AMQP_GRACE))
	while port_open 127.0.0.1 "$AMQP_PORT"; do
		amqp_answers && return 1
		((SECONDS < deadline)) || return 0
		sleep 0.5
	done
	return 1
}

main_url() { echo "amqp://guest:guest@127.0.0.1:$AMQP_PORT/"; }
url_file() { echo "$STATE/broker-$AMQP_PORT.url"; }

# use_broker URL: the broker this invocation and later ones for the same port use.
use_broker() {
	BROKER_URL=$1
	printf '%s\n' "$1" >"$(url_file)"
}

# broker_url prints the URL the last `up` for this port chose (the AMQP port's broker when
# none did).
broker_url() {
	local u
	u=$(cat "$(url_file)" 2>/dev/null) || true
	echo "${u:-$(main_url)}"
}

rabbitmq_up() {
	local t0
	t0=$(now_ms)
	if private_serves; then
		add_user rabbitmq-private
		use_broker "$(private_url)"
		log "rabbitmq: using the private node on 127.0.0.1:$(field rabbitmq-private port), started earlier in place of the broker on $AMQP_PORT ($(took "$t0"))"
		return 0
	fi
	if ! amqp_answers && amqp_wedged; then
		log "rabbitmq: 127.0.0.1:$AMQP_PORT accepts connections but does not complete the AMQP handshake within ${AMQP_GRACE}s (a RabbitMQ out of file handles does this: scripts/services.sh hubs); starting a private node on other ports instead"
		rabbitmq_install "$t0"
		private_up "$t0"
		return 0
	fi
	use_broker "$(main_url)"
	if amqp_answers; then
		if started_by_us rabbitmq; then
			add_user rabbitmq
			log "rabbitmq: running (started earlier by this script) ($(took "$t0"))"
		else
			log "rabbitmq: reusing the broker on 127.0.0.1:$AMQP_PORT ($(took "$t0"))"
		fi
		rabbitmq_check_budget
		return 0
	fi
	rabbitmq_install "$t0"
	# A node that is running but does not answer AMQP right now (its app stopped for a moment,
	# still booting, or just slow) belongs to someone else: wait for it, never record it as
	# ours, so that `down` can never stop it.
	if rabbitmq-diagnostics -q ping >/dev/null 2>&1 9>&-; then
		log "rabbitmq: a node is running but AMQP does not answer yet; waiting for it"
		wait_for rabbitmq amqp_answers ||
			die "rabbitmq: the running node does not answer AMQP on 127.0.0.1:$AMQP_PORT; file handles (limit, used): $(rabbitmq_budget || true) — when used is above the limit, delete hubs left behind (scripts/services.sh hubs, delete-hubs)"
		if started_by_us rabbitmq; then
			add_user rabbitmq
		fi
		log "rabbitmq: reusing the broker on 127.0.0.1:$AMQP_PORT ($(took "$t0"))"
		return 0
	fi
	rm -f "$STATE/rabbitmq.started"
	# The package's post-install step may have started the broker already.
	if ! amqp_answers; then
		log "rabbitmq: starting rabbitmq-server"
		rabbitmq_start >"$STATE/rabbitmq.log" 2>&1 9>&- ||
			die "rabbitmq: rabbitmq-server -detached failed: $(tail -n 5 "$STATE/rabbitmq.log")"
	fi
	# Record before waiting, so that `status` shows it; without a pid `down` will not stop it.
	record rabbitmq "how=rabbitmq-server"
	local deadline=$((SECONDS + WAIT))
	until rabbitmq-diagnostics -q ping >/dev/null 2>&1; do
		((SECONDS < deadline)) || die "rabbitmq: the node did not answer rabbitmq-diagnostics ping within ${WAIT}s (see /var/log/rabbitmq/)"
		sleep 1
	done
	rabbitmqctl -q await_startup --timeout "$WAIT" >/dev/null 2>&1 ||
		die "rabbitmq: rabbitmqctl await_startup failed (see /var/log/rabbitmq/)"
	wait_for rabbitmq amqp_answers || die "rabbitmq: the node runs but nothing answers AMQP on 127.0.0.1:$AMQP_PORT"
	# The node's OS pid lets `down` check that it still stops the node it started.
	local pid
	pid=$(rabbitmq_pid)
	record rabbitmq "how=rabbitmq-server" "pid=$pid"
	log "rabbitmq: started, pid $pid ($(took "$t0"))"
}

# rabbitmq_install T0: installs rabbitmq-server with apt-get when it is missing (as root on
# Debian), or dies saying how to.
rabbitmq_install() {
	command -v rabbitmq-server >/dev/null 2>&1 && return 0
	if [ "$(id -u)" -ne 0 ] || [ ! -f /etc/debian_version ] || ! command -v apt-get >/dev/null 2>&1; then
		die "rabbitmq: no broker answers on 127.0.0.1:$AMQP_PORT and rabbitmq-server is not installed; install it (apt-get install rabbitmq-server) or start a broker (docker compose up rabbitmq)"
	fi
	log "rabbitmq: installing rabbitmq-server with apt-get"
	if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server; } >"$STATE/rabbitmq-install.log" 2>&1 9>&-; then
		tail -n 20 "$STATE/rabbitmq-install.log" >&2
		die "rabbitmq: apt-get install rabbitmq-server failed (log: $STATE/rabbitmq-install.log)"
	fi
	log "rabbitmq: installed ($(took "$1"))"
}

# rabbitmq_start: rabbitmq-server -detached with as many open files as the hard limit allows
# (at most 65536). As root the package's wrapper switches to the rabbitmq user with su, whose
# PAM session resets the soft limit to 1024, so the switch is made here, limit raised after it.
rabbitmq_start() {
	local raise='n=$(ulimit -Hn); [ "$n" = unlimited ] || [ "$n" -gt 65536 ] && n=65536; ulimit -n "$n"'
	if [ "$(id -u)" -eq 0 ] && id rabbitmq >/dev/null 2>&1 && [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
		su rabbitmq -s /bin/sh -c "cd /var/lib/rabbitmq && { $raise; } && exec /usr/lib/rabbitmq/bin/rabbitmq-server -detached"
	else
		eval "$raise" 2>/dev/null || true
		rabbitmq-server -detached
	fi
}

# rabbitmq_budget prints the broker's file-handle limit and use ("927 12"), or nothing.
rabbitmq_budget() {
	timeout 20 rabbitmqctl -q eval 'file_handle_cache:info([total_limit,total_used]).' 2>/dev/null 9>&- |
		grep -o '[0-9][0-9]*' | paste -sd' ' - | awk 'NF >= 2 { print $1, $2 }'
}

# rabbitmq_check_budget warns when the broker's file handles would run out after a handful of
# hubs, or are nearly spent.
rabbitmq_check_budget() {
	local budget limit used
	budget=$(rabbitmq_budget) || return 0
	[ -n "$budget" ] || return 0
	read -r limit used <<<"$budget"
	if ((used * 10 > limit * 8)); then
		log "rabbitmq: WARNING: $used of the broker's $limit file handles are in use (3 per quorum queue); at the limit it stops answering new connections. Delete the hubs left behind: scripts/services.sh hubs"
	elif ((limit < 5000)); then
		log "rabbitmq: note: the broker has $limit file handles, enough for about $((limit / 3 / 36)) hubs of 16 partitions; restart it through this script for more, or raise it in place (prlimit --pid PID --nofile=N:N, then rabbitmqctl eval 'file_handle_cache:set_limit(N-100).')"
	fi
}

rabbitmq_pid() { rabbitmqctl -q eval 'list_to_integer(os:getpid()).' 2>/dev/null 9>&- | tr -dc 0-9; }

rabbitmq_down() {
	started_by_us rabbitmq || return 0
	release rabbitmq || return 0
	local t0 want now
	t0=$(now_ms)
	want=$(field rabbitmq pid)
	now=$(rabbitmq_pid)
	rm -f "$STATE/rabbitmq.started"
	if [ -z "$want" ] || [ "$now" != "$want" ]; then
		log "rabbitmq: the running node (pid ${now:-none}) is not the one this script started (pid ${want:-unknown}); leaving it alone"
		return 0
	fi
	rabbitmqctl -q shutdown >/dev/null 2>&1 || true
	log "rabbitmq: stopped ($(took "$t0"))"
}
