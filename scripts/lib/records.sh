# Records of what scripts/services.sh started and who uses it (sourced by it; uses $STATE,
# $TAG and $RUN_PROC). `up` records each service it starts in .services/NAME.started;
# `down` stops a service only when its record is there and no user is left.

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
