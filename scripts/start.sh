#!/usr/bin/env bash
# The main job from a fresh clone: set-up (npm dependencies, build, the local
# control plane), then `gatehouse up` with any arguments given.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin_dir=$(bash scripts/setup.sh | tail -n 1)
export GATEHOUSE_HARNESS_BIN="$bin_dir"
export PATH="$PATH:$bin_dir"
exec node bin/gatehouse.js up "$@"
