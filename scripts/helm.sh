#!/usr/bin/env bash
# Builds the Helm CLI from the Go module proxy once, caches it, and runs it.
#
# The binary lands in ${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/helm/<version>/helm.
# A build writes to a temporary directory that is renamed into place at the
# end, so an interrupted build never leaves a half-filled cache; concurrent
# runs serialise on a lock file (like harness/build.sh).
#
# Usage:
#   scripts/helm.sh --build      build if needed; print the binary path (stdout)
#   scripts/helm.sh <args…>      build if needed, then run `helm <args…>`
#
# Progress goes to stderr. A cold build (empty Go caches) downloads the Helm
# module graph and compiles it; later runs are instant.
set -euo pipefail

HELM_VERSION=v3.19.0
# The Kubernetes version helm v3.19.0 assumes when no cluster is asked (helm template,
# helm lint): its client-go is v0.34, so 1.34, as its release Makefile stamps it.
HELM_KUBE_MAJOR=1
HELM_KUBE_MINOR=34

say() { printf '[helm] %s\n' "$*" >&2; }
die() { printf '[helm] error: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null; then
  [[ -x /usr/local/go/bin/go ]] && PATH="$PATH:/usr/local/go/bin" || die "the Go toolchain is needed to build helm (go not on PATH)"
fi

cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/helm"
final_dir="$cache_root/$HELM_VERSION"
helm_bin="$final_dir/helm"

build() {
  [[ -x "$helm_bin" ]] && return 0
  mkdir -p "$cache_root"
  exec 9>"$cache_root/.lock"
  if ! flock -n 9; then
    say "another build holds $cache_root/.lock; waiting for it"
    flock 9
  fi
  if [[ -x "$helm_bin" ]]; then exec 9>&-; return 0; fi
  # Under the lock, any temporary directory is left over from a killed build.
  rm -rf "$cache_root"/.tmp-*
  tmp_dir="$cache_root/.tmp-$HELM_VERSION-$$"
  trap 'rm -rf "$tmp_dir"' EXIT
  mkdir -p "$tmp_dir"
  local start
  start=$(date +%s)
  say "building helm $HELM_VERSION from the Go module proxy (first time only; a cold build takes a few minutes)…"
  # `go install pkg@version` builds the released module with its own go.mod/go.sum
  # (verified against the checksum database), outside any local module.
  (cd "$tmp_dir" && GOFLAGS="-buildvcs=false" GOBIN="$tmp_dir" CGO_ENABLED=0 \
    go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION \
      -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=$HELM_KUBE_MAJOR -X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$HELM_KUBE_MINOR \
      -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=$HELM_KUBE_MAJOR -X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$HELM_KUBE_MINOR" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2
  [[ -x "$tmp_dir/helm" ]] || die "go install did not produce a helm binary"
  "$tmp_dir/helm" version --short >/dev/null || die "the helm binary does not run"
  rm -rf "$final_dir"
  mv -T "$tmp_dir" "$final_dir"
  trap - EXIT
  exec 9>&-
  local s=$(( $(date +%s) - start ))
  say "built helm $HELM_VERSION in $((s / 60))m$(printf '%02d' $((s % 60)))s: $helm_bin"
}

case "${1:-}" in
  --build)
    build
    echo "$helm_bin"
    ;;
  *)
    build
    exec "$helm_bin" "$@"
    ;;
esac
