#!/usr/bin/env bash
# Installs Debian's Chromium for the browser tests of txlog's pages when it is
# missing. Needs root (CI runs as root); elsewhere it says what to run, and the
# browser tests report themselves skipped.
set -euo pipefail

chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ -x "$chromium" ]]; then
  exit 0
fi
if [[ "$(id -u)" != "0" ]]; then
  echo "txlog: $chromium is missing; the browser tests will be skipped (install with: sudo apt-get install chromium)" >&2
  exit 0
fi
echo "txlog: installing Debian's chromium for the browser tests" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
