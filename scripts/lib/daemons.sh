# How scripts/services.sh runs the daemons it starts (sourced by it, and by scripts/cluster.sh
# for its logging): logging (prefixed with LOG_NAME, default services), probes and waits,
# building a launcher of tools/, starting a daemon detached and stopping only the process it
# recorded (scripts/lib/records.sh).

log() { printf '%s: %s\n' "${LOG_NAME:-services}" "$*" >&2; }
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

# redact URL hides the password in URL.
redact() { sed -E 's#(//[^:/@]*):[^@/]*@#\1:xxxxx@#' <<<"$1"; }

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
# One build of NAME at a time (a background Jaeger build and a later `up`): the second waits
# for the first and then finds the binary up to date.
build() {
	local name=$1 pkg=$2 dir="$ROOT/tools/$1" out="$BIN/$1"
	mkdir -p "$BIN"
	exec 8>>"$STATE/$name-build.lock"
	flock 8
	if [ -x "$out" ] && [ -z "$(find "$dir" -type f -newer "$out" -print -quit)" ]; then
		exec 8>&-
		return 0
	fi
	log "$name: building tools/$name${3:+ ($3)}"
	if ! (cd "$dir" && GOWORK=off go build -o "$out.tmp" "$pkg") >"$STATE/$name-build.log" 2>&1 8>&-; then
		cat "$STATE/$name-build.log" >&2
		rm -f "$out.tmp"
		die "$name: build failed (log: $STATE/$name-build.log)"
	fi
	mv "$out.tmp" "$out"
	exec 8>&-
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
