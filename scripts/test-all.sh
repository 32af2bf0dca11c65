#!/usr/bin/env bash
# The whole test suite from a fresh clone: set-up, static checks, unit tests,
# then the end-to-end tests against a real kube-apiserver with real kubectl.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin_dir=$(bash scripts/setup.sh | tail -n 1)
export GATEHOUSE_HARNESS_BIN="$bin_dir"
# kubectl built by setup (when the machine had none) is found here.
export PATH="$PATH:$bin_dir"
# The Helm CLI for the deployment tests (test/e2e/deploy.test.ts): built from the Go
# module proxy once, then cached (scripts/helm.sh).
bash scripts/helm.sh --build >/dev/null

echo "== typecheck"; npm run --silent typecheck
echo "== lint"; npm run --silent lint
echo "== tests"; npx vitest run
