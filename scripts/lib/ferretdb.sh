# FerretDB for scripts/services.sh (sourced by it): a MongoDB-protocol server on
# $MONGO_ADDR, reused when one answers there, else the launcher of tools/ferretdb started
# on SQLite (a fresh temp folder, removed by `down`) or on the local PostgreSQL.
#
# Environment:
#   WARREN_FERRETDB_BACKEND  sqlite (default) or postgresql
#   WARREN_FERRETDB_ADDR     where FerretDB listens (default 127.0.0.1:27017)
#   WARREN_FERRETDB_PG_URL   PostgreSQL URL for the postgresql backend
#                            (default postgres://postgres@127.0.0.1:5432/ferretdb; created if missing)

MONGO_ADDR=${WARREN_FERRETDB_ADDR:-127.0.0.1:27017}
FERRETDB_BACKEND=${WARREN_FERRETDB_BACKEND:-sqlite}
FERRETDB_PG_URL=${WARREN_FERRETDB_PG_URL:-postgres://postgres@127.0.0.1:5432/ferretdb}

# mongo_answers: a MongoDB-protocol server on $MONGO_ADDR answers the `ping` command with
# ok: 1 within 3 s (FerretDB does so only when its backend answers too), not merely by
# accepting the connection. The command is one OP_MSG written by hand, so that asking needs
# no build.
mongo_answers() {
	local reply
	reply=$(timeout 3 bash -c '
		exec 3<>"/dev/tcp/$0/$1" || exit 1
		# OP_MSG (opcode 2013), request 1, no flags, one body section: {ping: 1, $db: "admin"}
		printf "\x33\0\0\0\x01\0\0\0\0\0\0\0\xdd\x07\0\0\0\0\0\0\0\x1e\0\0\0\x10ping\0\x01\0\0\0\x02\x24db\0\x06\0\0\0admin\0\0" >&3
		len=$(head -c 4 <&3 | od -An -tu4 | tr -d " ")
		[ -n "$len" ] && head -c $((len - 4)) <&3 | od -An -tx1 | tr -d " \n"
	' "${MONGO_ADDR%:*}" "${MONGO_ADDR##*:}" 2>/dev/null) || return 1
	# "ok" (016f6b00) as the double 1.0 or the int32 1.
	[[ $reply == *016f6b00000000000000f03f* || $reply == *106f6b0001000000* ]]
}

ferretdb_up() {
	local t0
	t0=$(now_ms)
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
	build ferretdb . "the first build takes about 2 minutes"
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
