#!/usr/bin/env bash
# Builds Gatehouse from a checkout, re-using what is already there: the npm
# dependencies (`npm ci` when package-lock.json changed since the last
# install), the TypeScript build (dist/) and the web console (dist/web, rebuilt
# when its sources or the dependencies changed).
#
# The same steps everywhere: scripts/setup.sh (developers, CI) and the
# builder stage of deploy/Dockerfile run this script.
# Progress goes to stderr; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[build] %s\n' "$*" >&2; }

# npm dependencies: `npm ci` when the lockfile changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -c1-16)
if [[ ! -f node_modules/.gatehouse-lock-hash || "$(cat node_modules/.gatehouse-lock-hash)" != "$lock_hash" ]]; then
  say "installing npm dependencies (npm ci)…"
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > node_modules/.gatehouse-lock-hash
fi

say "building Gatehouse (tsc)…"
npm run --silent build >&2

# The web console (dist/web, served at /ui/): rebuilt when its sources or the dependencies changed.
web_hash=$( (find web -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum; sha256sum package.json package-lock.json) | sha256sum | cut -c1-16)
mkdir -p .cache
if [[ ! -f dist/web/index.html || "$(cat .cache/web-build-hash 2>/dev/null)" != "$web_hash" ]]; then
  say "building the web console (vite)…"
  npm run --silent build:web >&2
  echo "$web_hash" > .cache/web-build-hash
fi
