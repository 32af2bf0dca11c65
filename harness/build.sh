#!/usr/bin/env bash
# Builds the real control plane used by Gatehouse's e2e tests and demos, once,
# and caches it:
#
#   kube-apiserver, kube-controller-manager, kube-scheduler, etcd
#       from the wrapper module in harness/cluster (k8s.io/kubernetes with every
#       staging module pinned by `replace`), version stamped from its go.mod;
#   kwok
#       sigs.k8s.io/kwok/cmd/kwok at KWOK_VERSION (the fake kubelet), with a
#       small patch for exec stdin and exit codes (see below).
#
# Binaries land in ${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/harness/<key>/bin
# where <key> hashes harness/cluster/go.mod, go.sum, this script, the kwok
# version and the Go toolchain. A build writes to a temporary directory that is
# renamed into place at the end, so an interrupted build never leaves a
# half-filled cache. Concurrent runs serialise on a lock file.
#
# Usage:
#   harness/build.sh                  build if needed; print the bin dir (stdout, last line)
#   harness/build.sh --print-bin-dir  print the bin dir; exit 3 if it is not built yet
#
# Progress goes to stderr. Go's own caches (GOCACHE, GOMODCACHE) are used as
# configured, so a second build after a cache wipe is fast.
set -euo pipefail

KWOK_VERSION=v0.7.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
module_dir="$here/cluster"
self="$here/$(basename "${BASH_SOURCE[0]}")"

say() { printf '[harness] %s\n' "$*" >&2; }
die() { printf '[harness] error: %s\n' "$*" >&2; exit 1; }

mode=build
case "${1:-}" in
  '') ;;
  --print-bin-dir) mode=print ;;
  -h|--help) sed -n '2,23p' "$self" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) die "unknown argument: $1 (try --help)" ;;
esac

command -v go >/dev/null || die "the Go toolchain is needed (go not on PATH)"

kube_version=$(awk '$1 == "k8s.io/kubernetes" && $2 ~ /^v/ { print $2; exit }' "$module_dir/go.mod")
[[ -n "$kube_version" ]] || die "cannot find the k8s.io/kubernetes version in $module_dir/go.mod"
go_version=$(go env GOVERSION)
go_platform="$(go env GOOS)/$(go env GOARCH)"

key=$(
  {
    sha256sum "$module_dir/go.mod" "$module_dir/go.sum" "$self" | awk '{ print $1 }'
    echo "kwok $KWOK_VERSION"
    echo "go $go_version $go_platform"
  } | sha256sum | cut -c1-16
)
cache_root="${GATEHOUSE_CACHE:-$HOME/.cache/gatehouse}/harness"
final_dir="$cache_root/$key"
bin_dir="$final_dir/bin"

if [[ "$mode" == print ]]; then
  echo "$bin_dir"
  [[ -d "$bin_dir" ]] || exit 3
  exit 0
fi

if [[ -d "$bin_dir" ]]; then
  say "control plane $kube_version + kwok $KWOK_VERSION already built (cache key $key)"
  touch "$final_dir" 2>/dev/null || true # marks it used; see the pruning below
  echo "$bin_dir"
  exit 0
fi

mkdir -p "$cache_root"
exec 9>"$cache_root/.lock"
if ! flock -n 9; then
  say "another build holds $cache_root/.lock; waiting for it"
  flock 9
fi
# Someone else may have finished the build while we waited.
if [[ -d "$bin_dir" ]]; then
  say "control plane $kube_version + kwok $KWOK_VERSION already built (cache key $key)"
  echo "$bin_dir"
  exit 0
fi
# Under the lock, any temporary directory is left over from a killed build.
rm -rf "$cache_root"/.tmp-*

tmp_dir="$cache_root/.tmp-$key-$$"
cleanup() { rm -rf "$tmp_dir"; }
trap cleanup EXIT
mkdir -p "$tmp_dir/bin"

# -mod=readonly: go.sum is committed; never rewrite go.mod/go.sum during a build.
# (No -trimpath or CGO_ENABLED change: those would invalidate the Go build cache
# of anyone who built the wrapper module by hand.)
export GOFLAGS="-mod=readonly -buildvcs=false"

elapsed() {
  local s=$(( $(date +%s) - $1 ))
  printf '%dm%02ds' $((s / 60)) $((s % 60))
}

total_start=$(date +%s)
say "building the control plane $kube_version (Go $go_version) into $final_dir"

build_one() { # name package [extra ldflags]
  local name=$1 pkg=$2 ldflags="-s -w ${3:-}"
  local start
  start=$(date +%s)
  if [[ ! -f "$tmp_dir/.built-once" ]]; then
    say "building $name (cold builds take several minutes; later binaries reuse the Go build cache)…"
  else
    say "building $name…"
  fi
  (cd "$module_dir" && go build -o "$tmp_dir/bin/$name" -ldflags "$ldflags" "$pkg")
  touch "$tmp_dir/.built-once"
  say "built $name in $(elapsed "$start")"
}

version_ldflags="-X k8s.io/component-base/version.gitVersion=$kube_version"
if [[ ! -d "$(go env GOMODCACHE)/k8s.io/kubernetes@$kube_version" ]]; then
  start=$(date +%s)
  say "downloading Go modules for k8s.io/kubernetes $kube_version (first time only; several hundred MB)…"
  (cd "$module_dir" && go mod download)
  say "downloaded modules in $(elapsed "$start")"
fi
build_one kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver "$version_ldflags"
build_one kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager "$version_ldflags"
build_one kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler "$version_ldflags"
build_one etcd go.etcd.io/etcd/server/v3

start=$(date +%s)
say "building kwok $KWOK_VERSION (patched)…"
# kwok is built from its released module source with a small patch (below) so
# that the fake kubelet behaves like the real one where tests can tell:
#  - `kubectl exec -i` / `kubectl cp` into a pod: kwok never closed the
#    command's stdin when the client's stdin ended, so `tar -x` or `cat` hung;
#  - a command's non-zero exit status came back as "Internal error occurred"
#    instead of the kubelet's NonZeroExitCode status (kubectl exit code N).
kwok_src_dir=$(cd "$tmp_dir" && GOFLAGS='' go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[[ -n "$kwok_src_dir" && -d "$kwok_src_dir" ]] || die "could not download sigs.k8s.io/kwok@$KWOK_VERSION"
cp -R "$kwok_src_dir" "$tmp_dir/kwok-src"
chmod -R u+w "$tmp_dir/kwok-src"
patch --quiet --forward -p1 -d "$tmp_dir/kwok-src" <<'KWOK_PATCH' || die "the kwok patch does not apply to $KWOK_VERSION"
--- a/pkg/kwok/server/debugging_exec.go
+++ b/pkg/kwok/server/debugging_exec.go
@@ -18,9 +18,11 @@
 
 import (
 	"context"
+	"errors"
 	"fmt"
 	"io"
 	"net/http"
+	osexec "os/exec"
 	"strings"
 	"time"
 
@@ -29,6 +31,7 @@
 	remotecommandconsts "k8s.io/apimachinery/pkg/util/remotecommand"
 	remotecommandclient "k8s.io/client-go/tools/remotecommand"
 	remotecommandserver "k8s.io/kubelet/pkg/cri/streaming/remotecommand"
+	utilexec "k8s.io/utils/exec"
 
 	"sigs.k8s.io/kwok/pkg/apis/internalversion"
 	"sigs.k8s.io/kwok/pkg/log"
@@ -76,10 +79,20 @@
 	defer cancel()
 
 	if tty {
-		return s.execInContainerWithTTY(ctx, cmd, in, out, resize)
+		return exitCodeError(s.execInContainerWithTTY(ctx, cmd, in, out, resize))
 	}
 
-	return s.execInContainer(ctx, cmd, in, out, errOut)
+	return exitCodeError(s.execInContainer(ctx, cmd, in, out, errOut))
+}
+
+// exitCodeError (Gatehouse patch) reports a command's non-zero exit the way
+// the kubelet does, so that the API server returns the exit code to clients.
+func exitCodeError(err error) error {
+	var exitErr *osexec.ExitError
+	if errors.As(err, &exitErr) && exitErr.Exited() {
+		return utilexec.CodeExitError{Err: err, Code: exitErr.ExitCode()}
+	}
+	return err
 }
 
 func (s *Server) execInContainer(ctx context.Context, cmd []string, in io.Reader, out, errOut io.WriteCloser) error {
--- a/pkg/utils/exec/exec.go
+++ b/pkg/utils/exec/exec.go
@@ -224,6 +224,8 @@
 			}
 			go func() {
 				_, _ = io.Copy(inPipe, opt.In)
+				// Gatehouse patch: pass the client's end of stdin on, as the kubelet does.
+				_ = inPipe.Close()
 			}()
 		} else {
 			cmd.Stdin = opt.In
KWOK_PATCH
(cd "$tmp_dir/kwok-src" && go build -o "$tmp_dir/bin/kwok" \
  -ldflags "-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}" ./cmd/kwok)
rm -rf "$tmp_dir/kwok-src"
say "built kwok in $(elapsed "$start")"

# Check what we built before publishing it.
reported=$("$tmp_dir/bin/kube-apiserver" --version)
[[ "$reported" == "Kubernetes $kube_version" ]] || die "kube-apiserver reports '$reported', expected 'Kubernetes $kube_version'"
"$tmp_dir/bin/etcd" --version >/dev/null || die "etcd does not run"
"$tmp_dir/bin/kwok" --version >/dev/null || die "kwok does not run"

{
  echo "kubernetes $kube_version"
  echo "etcd $("$tmp_dir/bin/etcd" --version | awk '/^etcd Version/ { print $3 }')"
  echo "kwok $KWOK_VERSION"
  echo "go $go_version $go_platform"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ)"
} > "$tmp_dir/VERSIONS"
rm -f "$tmp_dir/.built-once"

mv -T "$tmp_dir" "$final_dir"
trap - EXIT
# Builds for other keys (older go.mod, this script's earlier versions) unused for two weeks.
find "$cache_root" -mindepth 1 -maxdepth 1 -type d -name '????????????????' ! -name "$key" -mtime +14 \
  -exec rm -rf {} + 2>/dev/null || true
say "done in $(elapsed "$total_start")"
echo "$bin_dir"
