#!/usr/bin/env bash
# Adds to a FerretDB-on-PostgreSQL store the indexes its keyed operations can use.
#
#   scripts/ferretdb-pg-indexes.sh [HUB...]     (default: every FerretDB database)
#
# Why: FerretDB v1 (PostgreSQL backend) turns a filter such as {_id: "x"} into
# `_jsonb->'_id' @> '"x"'`, and the btree indexes it builds for createIndexes cannot serve
# `@>`, so every find, update and delete by key reads the whole table: the cost of each grows
# with the instances in the store. A GIN index (jsonb_path_ops) on the same expression serves
# `@>`; this script adds one on `_id` to every collection of a hub, one on `status` to its
# `instances` (the warm-up's lists) and one on `instanceId` to its `history`. FerretDB does
# not know about them and needs not: PostgreSQL keeps them up to date and picks them when
# they help. But FerretDB sends the field name as a parameter of a prepared statement
# (`_jsonb->$1 @> $2`), and once PostgreSQL switches such a statement to its generic plan
# (after five runs) no expression index matches it: the script therefore also sets
# plan_cache_mode = force_custom_plan on the database (it takes effect on FerretDB's new
# connections: start FerretDB after the first run). The GIN indexes are made without
# fastupdate: with it, a new entry goes to a pending list that every search reads through
# from end to end until a vacuum empties it, so each keyed find and update cost more with
# every write since the last vacuum (on a hub of 8,000 instances, 16,000 pending entries made
# a find by _id cost PostgreSQL 0.6-1.0 ms of CPU, 0.16-0.20 ms without; an index made
# before is altered, and its pending list emptied). Real MongoDB needs none of this; it
# serves keyed operations from the indexes Warren creates.
#
# Run it after Warren has created the hub's collections (any Warren binary does at start),
# and again after a hub is dropped and made anew. It is idempotent.
#
# Environment: WARREN_FERRETDB_PG_URL, the PostgreSQL database FerretDB stores into
# (default postgres://postgres@127.0.0.1:5432/ferretdb, as scripts/services.sh).
set -euo pipefail

PG_URL=${WARREN_FERRETDB_PG_URL:-postgres://postgres@127.0.0.1:5432/ferretdb}
command -v psql >/dev/null 2>&1 || {
	echo "ferretdb-pg-indexes: needs psql (apt-get install postgresql-client)" >&2
	exit 1
}

# FerretDB keeps one schema per database, and in it a metadata table whose documents name
# each collection's table.
schemas=$(psql "$PG_URL" -tAc "SELECT table_schema FROM information_schema.tables
	WHERE table_name = '_ferretdb_database_metadata' ORDER BY 1")
if [ $# -gt 0 ]; then
	wanted=" $(printf '%s ' "$@" | tr '[:upper:]' '[:lower:]')"
	schemas=$(for s in $schemas; do case $wanted in *" $s "*) echo "$s" ;; esac; done)
fi

db=${PG_URL##*/}
db=${db%%\?*}
psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "ALTER DATABASE \"$db\" SET plan_cache_mode = force_custom_plan"

made=0
for schema in $schemas; do
	while IFS='|' read -r collection table; do
		[ -n "$table" ] || continue
		fields=_id
		case $collection in
		history) fields="_id instanceId" ;;
		instances) fields="_id status" ;;
		esac
		for field in $fields; do
			index="\"$schema\".\"${table}_${field}_gin\""
			psql "$PG_URL" -q -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c \
				"CREATE INDEX IF NOT EXISTS \"${table}_${field}_gin\" ON \"$schema\".\"$table\"
				USING gin ((_jsonb->'$field') jsonb_path_ops) WITH (fastupdate = off)" \
				-c "ALTER INDEX $index SET (fastupdate = off)" \
				-c "SELECT gin_clean_pending_list('$index'::regclass)" >/dev/null
			made=$((made + 1))
		done
	done < <(psql "$PG_URL" -tA -F '|' -c \
		"SELECT _jsonb->>'_id', _jsonb->>'table' FROM \"$schema\"._ferretdb_database_metadata")
done
echo "ferretdb-pg-indexes: $made GIN indexes in place ($(echo $schemas | wc -w) databases)"
