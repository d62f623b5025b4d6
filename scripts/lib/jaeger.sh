# Jaeger for scripts/services.sh (sourced by it): reused when one answers on 127.0.0.1,
# else the module of tools/jaeger, built and started in the background (its first build
# takes 5-7 minutes), so that `up` returns once the broker and the store answer. The
# binaries export their traces once it answers; a plain `up` waits for it (jaeger_wait).
#
# While the background start runs, .services/jaeger.started holds its starter=PID:START
# (and the users); once Jaeger is started, its pid= and exe= instead. `down` stops Jaeger
# or, if it is still being built, lets the build finish (the next `up` finds it built)
# without starting it.

JAEGER_HEALTH=http://127.0.0.1:13133/status
JAEGER_QUERY=http://127.0.0.1:16686

jaeger_answers() {
	curl -fsS -o /dev/null --max-time 2 "$JAEGER_HEALTH" 2>/dev/null ||
		curl -fsS -o /dev/null --max-time 2 "$JAEGER_QUERY/api/services" 2>/dev/null
}

# jaeger_starting: a background start recorded by `up` still runs.
jaeger_starting() {
	local starter
	starter=$(field jaeger starter)
	[ -n "$starter" ] && [ "$(proc_id "${starter%%:*}")" = "$starter" ]
}

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
	if jaeger_starting; then
		add_user jaeger
		log "jaeger: still being built and started in the background (log: $STATE/jaeger-up.log)"
		return 0
	fi
	stop_process jaeger
	rm -f "$STATE/jaeger.started"
	local pid
	pid=$(start_daemon jaeger-up "$STATE/jaeger-up.log" "$ROOT/scripts/services.sh" jaeger-start)
	# The starter waits for the lock `up` holds before it starts anything, so this record
	# is there when it looks.
	record jaeger "starter=$(proc_id "$pid")"
	log "jaeger: building and starting in the background (log: $STATE/jaeger-up.log); the binaries export traces once it answers"
}

# jaeger_start is the background start (`services.sh jaeger-start`, run by jaeger_up): it
# builds Jaeger, then starts it if the record still names this process as its starter.
jaeger_start() {
	local t0 pid
	t0=$(now_ms)
	build jaeger github.com/jaegertracing/jaeger/cmd/jaeger "the first build takes 5-7 minutes and ~2 GB of Go build cache"
	pid=$(locked jaeger_launch) || return 1
	[ -n "$pid" ] || return 0
	wait_for jaeger jaeger_answers "$pid" ||
		die "jaeger: did not start; log: $STATE/jaeger.log: $(tail -n 5 "$STATE/jaeger.log")"
	log "jaeger: started, pid $pid ($(took "$t0"))"
}

# jaeger_launch starts the built Jaeger and records it in place of its starter, keeping the
# users; it prints the pid, or nothing when `down` no longer wants it.
jaeger_launch() {
	if [ "$(field jaeger starter)" != "$(proc_id $$)" ]; then
		log "jaeger: built; not started, since nothing uses it any more"
		return 0
	fi
	local pid users
	pid=$(start_daemon jaeger "$STATE/jaeger.log" "$BIN/jaeger" --config "$ROOT/tools/jaeger/config.yaml")
	users=$(grep '^user=' "$STATE/jaeger.started" || true)
	printf 'pid=%s\nexe=%s\n%s\n' "$pid" "$BIN/jaeger" "$users" >"$STATE/jaeger.started"
	echo "$pid"
}

# jaeger_wait: waits until Jaeger answers while it is being built and started (a plain `up`).
jaeger_wait() {
	jaeger_answers && return 0
	log "jaeger: waiting for the background build and start (log: $STATE/jaeger-up.log)"
	until jaeger_answers; do
		if ! jaeger_starting && ! our_process jaeger; then
			die "jaeger: did not start; log: $STATE/jaeger-up.log: $(tail -n 5 "$STATE/jaeger-up.log")"
		fi
		sleep 1
	done
	log "jaeger: answering"
}

jaeger_down() {
	started_by_us jaeger || return 0
	release jaeger || return 0
	local t0
	t0=$(now_ms)
	if jaeger_starting; then
		rm -f "$STATE/jaeger.started"
		log "jaeger: not started yet; its build goes on in the background, and it will not be started (log: $STATE/jaeger-up.log)"
		return 0
	fi
	stop_process jaeger
	rm -f "$STATE/jaeger.started"
	log "jaeger: stopped ($(took "$t0"))"
}
