#!/usr/bin/env bash
# Runs Bun with the given arguments, installing the pinned Bun from the npm
# registry (package `bun`) and the project's dependencies first when missing.
# Everything lands in a cache outside the repository, so a second run is fast.
set -euo pipefail

BUN_VERSION="1.4.5"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${TXLOG_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/txlog}"
bun_home="$cache/bun-$BUN_VERSION"
bun="$bun_home/node_modules/.bin/bun"

if [[ ! -x "$bun" ]] || [[ "$("$bun" --version 2>/dev/null)" != "$BUN_VERSION" ]]; then
  echo "txlog: installing Bun $BUN_VERSION into $bun_home" >&2
  mkdir -p "$bun_home"
  npm install --silent --no-save --no-package-lock --prefix "$bun_home" "bun@$BUN_VERSION" >&2
fi
export PATH="$bun_home/node_modules/.bin:$PATH"

cd "$root"
# Install dependencies when node_modules is missing or older than the lockfile.
if [[ ! -d node_modules ]] || [[ bun.lock -nt node_modules/.txlog-installed ]] || [[ package.json -nt node_modules/.txlog-installed ]]; then
  echo "txlog: installing dependencies" >&2
  bun install --frozen-lockfile >&2 || bun install >&2
  touch node_modules/.txlog-installed
fi

exec bun "$@"
