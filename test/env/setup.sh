#!/usr/bin/env bash
# Builds the test bed binaries (etcd, kube-apiserver, helm, minio) from the Go module proxy,
# one at a time, into a cache outside the repository so that every clone on this machine
# reuses them. Each binary lands in $cache/<name>-<version>/ and a finished build is never
# redone, so a second run takes seconds.
set -euo pipefail

env_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$env_dir/versions.env"
cache="${KUBESFTP_TESTBED_CACHE:-$HOME/.cache/kubesftp-testbed}"

# Two cores are shared with other work: one package graph at a time, two compile jobs.
export GOMAXPROCS="${GOMAXPROCS:-2}"
export GOFLAGS="-trimpath -buildvcs=false -p=2"
export CGO_ENABLED=0
ldflags="-s -w"

log() { printf '[testbed %s] %s\n' "$(date +%H:%M:%S)" "$*"; }
die() {
  log "ERROR: $*" >&2
  exit 1
}

command -v go >/dev/null || die "go is not installed; the test bed is built with the Go toolchain"

# is_built NAME VERSION: true when a previous run finished this binary.
is_built() { [[ -x "$cache/$1-$2/$1" && -f "$cache/$1-$2/.complete" ]]; }

# install_binary NAME VERSION BUILT_FILE: moves a fresh build into place atomically.
install_binary() {
  local name="$1" version="$2" built="$3" dest="$cache/$1-$2"
  mkdir -p "$dest"
  mv -f "$built" "$dest/$name"
  printf 'built %s with %s\n' "$(date -u +%FT%TZ)" "$(go version)" >"$dest/.complete"
}

# build_from_module NAME VERSION MODULE PACKAGE: builds PACKAGE in a throwaway module that
# requires MODULE@VERSION, so replace directives in MODULE's own go.mod do not apply.
build_from_module() {
  local name="$1" version="$2" module="$3" package="$4"
  local work="$cache/.build/$name-$version"
  rm -rf "$work" && mkdir -p "$work"
  (
    cd "$work"
    go mod init "kubesftp.test/$name-build" >/dev/null 2>&1
    log "$name: resolving $module@$version"
    # go get lists every module it adds; keep that for when it fails.
    go get -tool "$package@$version" >get.log 2>&1 || {
      cat get.log >&2
      die "$name: go get $package@$version failed"
    }
    log "$name: compiling $package"
    go build -ldflags="$ldflags" -o "$work/$name" "$package"
  )
  install_binary "$name" "$version" "$work/$name"
  rm -rf "$work"
}

# build_kube_apiserver: uses the committed build module kube/ (see kube/pin.sh).
build_kube_apiserver() {
  local work="$cache/.build/kube-apiserver-$KUBE_VERSION"
  grep -qE "^\s*k8s\.io/kubernetes $KUBE_VERSION( |\$)" "$env_dir/kube/go.mod" ||
    die "test/env/kube/go.mod does not pin k8s.io/kubernetes $KUBE_VERSION; run test/env/kube/pin.sh"
  mkdir -p "$work"
  log "kube-apiserver: compiling k8s.io/kubernetes/cmd/kube-apiserver@$KUBE_VERSION"
  # Without these the server reports v0.0.0-master, which breaks kubeVersion checks (helm).
  local minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  local version_pkg=k8s.io/component-base/version
  local kube_ldflags="$ldflags -X $version_pkg.gitVersion=$KUBE_VERSION -X $version_pkg.gitMajor=1"
  kube_ldflags+=" -X $version_pkg.gitMinor=$minor -X $version_pkg.gitTreeState=clean"
  (cd "$env_dir/kube" && go build -mod=readonly -ldflags="$kube_ldflags" -o "$work/kube-apiserver" \
    k8s.io/kubernetes/cmd/kube-apiserver)
  install_binary kube-apiserver "$KUBE_VERSION" "$work/kube-apiserver"
  rm -rf "$work"
}

# ensure NAME VERSION BUILD_COMMAND...: builds once, reports the time it took.
ensure() {
  local name="$1" version="$2"
  shift 2
  if is_built "$name" "$version"; then
    log "$name $version: cached in $cache/$name-$version"
    return
  fi
  local started=$SECONDS
  "$@"
  log "$name $version: built in $((SECONDS - started))s"
}

mkdir -p "$cache"
# Two setups started together (parallel CI jobs) would build the same thing twice.
exec 9>"$cache/.lock"
flock 9

log "cache: $cache"
total_started=$SECONDS
ensure etcd "$ETCD_VERSION" build_from_module etcd "$ETCD_VERSION" go.etcd.io/etcd/server/v3 go.etcd.io/etcd/server/v3
ensure helm "$HELM_VERSION" build_from_module helm "$HELM_VERSION" helm.sh/helm/v3 helm.sh/helm/v3/cmd/helm
ensure kube-apiserver "$KUBE_VERSION" build_kube_apiserver
ensure minio "$MINIO_VERSION" build_from_module minio "$MINIO_VERSION" github.com/minio/minio github.com/minio/minio
log "test bed ready in $((SECONDS - total_started))s"
