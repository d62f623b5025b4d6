#!/usr/bin/env bash
# The seed scenario on a local fleet: a dispatcher and three workers from bin/, against the
# services that answer on 127.0.0.1 (make demo brings them up first). It runs
# ProvisionNewDevices for DEMO_DEVICES devices through the client binary, acknowledges every
# device with `client raise`, prints the result and the trace id, and stops what it started;
# it deletes its hub at the end (on Ctrl-C too) unless KEEP_HUB is set. The trace stays in
# Jaeger either way.
#
# Each worker serves /healthz, /readyz and /metrics on a port of its own, from
# DEMO_METRICS_PORT (9091) up.
#
# The dashboard is at http://127.0.0.1:8089/ui/ while the fleet runs; with DEMO_KEEP=1 the
# fleet stays up after the scenario until Ctrl-C, so a person can look.
#
# Environment: DEMO_DEVICES (default 10), DEMO_WORKERS (3), DEMO_PORT (8089), DEMO_METRICS_PORT (9091),
# DEMO_KEEP, WARREN_HUB (warren-demo), KEEP_HUB, OTEL_EXPORTER_OTLP_ENDPOINT (http://127.0.0.1:4318, Jaeger).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DEVICES=${DEMO_DEVICES:-10}
WORKERS=${DEMO_WORKERS:-3}
export WARREN_HUB=${WARREN_HUB:-warren-demo}
export WARREN_HTTP_ADDR=127.0.0.1:${DEMO_PORT:-8089}
export WARREN_DISPATCHER=http://$WARREN_HTTP_ADDR
export OTEL_EXPORTER_OTLP_ENDPOINT=${OTEL_EXPORTER_OTLP_ENDPOINT:-http://127.0.0.1:4318}
export WARREN_JAEGER_UI=${WARREN_JAEGER_UI:-http://127.0.0.1:16686}
LOGS=$ROOT/.services/demo
FLEET_METRICS_PORT=${DEMO_METRICS_PORT:-9091}

SCRIPT_NAME=demo
# shellcheck source=scripts/lib/fleet.sh
. "$ROOT/scripts/lib/fleet.sh"

build_fleet
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_fleet "$WORKERS"
say "dispatcher on $WARREN_DISPATCHER, $WORKERS workers on hub $WARREN_HUB, broker $(sed -E 's#(//[^:/@]*):[^@/]*@#\1:xxxxx@#' <<<"$WARREN_AMQP_URL")"
say "worker endpoints: http://127.0.0.1:$FLEET_METRICS_PORT/metrics … http://127.0.0.1:$((FLEET_METRICS_PORT + WORKERS - 1))/metrics (and /healthz, /readyz)"
say "dashboard: $WARREN_DISPATCHER/ui/"
client workers

id=devices-$(date +%Y%m%d-%H%M%S)
say "client start ProvisionNewDevices --input '{\"devices\": $DEVICES}' --id $id"
client start ProvisionNewDevices --input "{\"devices\": $DEVICES}" --id "$id" --json >"$LOGS/start.json"
trace=$(grep -o '"traceId": *"[0-9a-f]*"' "$LOGS/start.json" | grep -o '[0-9a-f]\{32\}' || true)

children_started() { [ "$(client list --parent "$id" --json | grep -o '"instanceId"' | wc -l)" -ge "$DEVICES" ]; }
wait_until 120 "$DEVICES device orchestrations" children_started
for child in $(client list --parent "$id" --json | grep -o '"instanceId": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'); do
	client raise "$child" DownloadCompletedAck --data true >/dev/null
	say "client raise $child DownloadCompletedAck --data true"
done

say "client wait $id"
client wait "$id" --timeout 2m
if [ -n "$trace" ]; then
	say "trace id: $trace"
	say "  Jaeger API: curl -s http://127.0.0.1:16686/api/v3/traces/$trace"
	say "  Jaeger UI (docker compose): http://localhost:16686/trace/$trace"
fi
for i in $(seq 1 "$WORKERS"); do
	url=http://127.0.0.1:$((FLEET_METRICS_PORT + i - 1))
	metric() { curl -fsS "$url/metrics" | awk -v m="$1" '$1 == m { s += $2 } END { print s + 0 }'; }
	say "worker $i ($url): ready: $(curl -s "$url/readyz"); episodes $(metric warren_worker_episodes_total), partitions $(metric warren_worker_partitions_owned)"
done
say "dashboard: $WARREN_DISPATCHER/ui/instances/$id"
if [ -n "${DEMO_KEEP:-}" ]; then
	say "DEMO_KEEP is set: the fleet stays up; open $WARREN_DISPATCHER/ui/ and press Ctrl-C to stop"
	while :; do sleep 1; done # Ctrl-C (or SIGTERM) ends it and the EXIT trap stops the fleet
fi
