#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser tests when no Chromium is on PATH
# (make test calls it; these machines run as root). Under CI a failed install is an error;
# elsewhere the browser tests skip without it.
set -euo pipefail
for b in chromium chromium-browser google-chrome google-chrome-stable; do
	if command -v "$b" >/dev/null 2>&1; then exit 0; fi
done
if [ -n "${WARREN_CHROMIUM:-}" ] && [ -x "$WARREN_CHROMIUM" ]; then exit 0; fi
echo "chromium.sh: installing Debian's chromium for the browser tests"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
if $sudo apt-get install -y chromium >/dev/null 2>&1 ||
	{ $sudo apt-get update >/dev/null 2>&1 && $sudo apt-get install -y chromium >/dev/null 2>&1; }; then
	exit 0
fi
echo "chromium.sh: could not install chromium (apt-get failed)" >&2
if [ -n "${CI:-}" ]; then exit 1; fi
exit 0
