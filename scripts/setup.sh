#!/usr/bin/env bash
# Installs everything Gatehouse needs on a fresh machine, re-using what is
# already there: npm dependencies, the TypeScript build, the web console, and
# the real control plane (kube-apiserver, etcd, kwok…) built from Go modules
# into a cache.
# Progress goes to stderr; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

say() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "Node.js >= 20.19 is needed (node not on PATH)"
command -v go >/dev/null || die "the Go toolchain is needed to build the local control plane (go not on PATH)"

node_major=$(node -p 'process.versions.node.split(".")[0]')
[[ "$node_major" -ge 20 ]] || die "Node.js >= 20.19 is needed, found $(node --version)"

# Debian packages the tests drive for real. Installed only when missing.
need_pkgs=()
command -v tar >/dev/null || need_pkgs+=(tar)
command -v script >/dev/null || need_pkgs+=(bsdutils)
command -v openssl >/dev/null || need_pkgs+=(openssl)
# ip netns: the tunnel test runs a gateway in a network namespace with no route to the cluster.
command -v ip >/dev/null || need_pkgs+=(iproute2)
# PostgreSQL server binaries (initdb, postgres): the audit store tests start a throwaway server.
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need_pkgs+=(postgresql)
# Chromium for the console's browser tests (driven by playwright-core; no browser download).
[[ -x /usr/bin/chromium ]] || need_pkgs+=(chromium)
if [[ ${#need_pkgs[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then die "missing packages: ${need_pkgs[*]} (install them with apt-get)"; fi
  say "installing Debian packages: ${need_pkgs[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_pkgs[@]}" >&2
fi

# npm dependencies, the TypeScript build and the web console: the same script the
# container image build runs (deploy/Dockerfile); each step is skipped when up to date.
bash scripts/build.sh

# The control plane for tests and the demo cluster; cached after the first (cold, several minutes) build.
bin_dir=$(bash harness/build.sh | tail -n 1)
say "control plane binaries: $bin_dir"

if ! command -v kubectl >/dev/null; then
  say "kubectl not on PATH: building it from the same Kubernetes module…"
  (cd harness/cluster && GOFLAGS=-mod=mod go build -o "$bin_dir/kubectl" -ldflags "-s -w" k8s.io/kubernetes/cmd/kubectl) >&2
fi
echo "$bin_dir"
