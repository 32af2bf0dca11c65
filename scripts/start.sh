#!/usr/bin/env bash
# The main job from a fresh clone: set-up (npm dependencies, build, the web
# console, the local control plane), then `gatehouse up` with any arguments
# given. With no kubeconfig (and no --kubeconfig/--context), `up` starts the
# local demo; the control plane binaries come from the set-up's cache.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bin_dir=$(bash scripts/setup.sh | tail -n 1)
export GATEHOUSE_HARNESS_BIN="$bin_dir"
export PATH="$PATH:$bin_dir"
exec node bin/gatehouse.js up "$@"
