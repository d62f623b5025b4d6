#!/usr/bin/env bash
# Records the seed scenario's histories from a local fleet (a dispatcher and one worker
# from bin/, on a hub of its own) with `client history ID --json`, into
# examples/provisioning/testdata/histories, where examples/provisioning's replay test
# replays them against today's code (durabletest.ReplayDir). It records
# ProvisionNewDevices with 2 devices while the devices wait for their acknowledgement
# (running histories: what a deploy meets in flight) and after both acknowledged
# (completed ones), then deletes its hub.
#
# Environment: RECORD_DIR (default examples/provisioning/testdata/histories),
# RECORD_PORT (8093), WARREN_HUB (warren-record).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
OUT=${RECORD_DIR:-examples/provisioning/testdata/histories}
export WARREN_HUB=${WARREN_HUB:-warren-record}
export WARREN_HTTP_ADDR=127.0.0.1:${RECORD_PORT:-8093}
export WARREN_DISPATCHER=http://$WARREN_HTTP_ADDR
export OTEL_TRACES_EXPORTER=none
LOGS=$ROOT/.services/record

SCRIPT_NAME=record
# shellcheck source=scripts/lib/fleet.sh
. "$ROOT/scripts/lib/fleet.sh"

build_fleet
trap finish EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
start_fleet 1
mkdir -p "$OUT"

id=provision-$(date +%Y%m%d-%H%M%S)
client start ProvisionNewDevices --input '{"devices": 2}' --id "$id" >/dev/null
children_waiting() {
	for c in "$id:device-0001" "$id:device-0002"; do
		client history "$c" --json | grep -q '"TimerCreated"' || return 1
	done
}
wait_until 60 "both devices waiting for their acknowledgement" children_waiting
client history "$id" --json >"$OUT/provision-running.json"
client history "$id:device-0001" --json >"$OUT/device-running.json"
say "recorded $OUT/provision-running.json and device-running.json"

client raise "$id:device-0001" DownloadCompletedAck --data true >/dev/null
client raise "$id:device-0002" DownloadCompletedAck --data true >/dev/null
client wait "$id" --timeout 60s >/dev/null
client history "$id" --json >"$OUT/provision-completed.json"
client history "$id:device-0001" --json >"$OUT/device-completed.json"
say "recorded $OUT/provision-completed.json and device-completed.json"
