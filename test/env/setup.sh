#!/usr/bin/env bash
# Builds the test bed binaries from the Go module proxy, one at a time, into a cache outside
# the repository so that every clone on this machine reuses them: etcd, the Kubernetes control
# plane and node binaries, helm, minio, containerd, runc, the CNI plugins, crane, and the pause
# image. Each lands in $cache/<name>-<version>/ and a finished build is never redone, so a
# second run takes seconds. Also installs the Debian packages a node needs.
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

# is_built NAME VERSION: true when a previous run finished this entry.
is_built() { [[ -f "$cache/$1-$2/.complete" ]]; }

mark_complete() {
  printf 'built %s with %s\n' "$(date -u +%FT%TZ)" "$(go version)" >"$1/.complete"
}

# install_binary NAME VERSION BUILT_FILE: moves a fresh build into place atomically.
install_binary() {
  local name="$1" version="$2" built="$3" dest="$cache/$1-$2"
  mkdir -p "$dest"
  mv -f "$built" "$dest/$name"
  mark_complete "$dest"
}

# install_directory NAME VERSION BUILT_DIR: the same for an entry of several files.
install_directory() {
  local dest="$cache/$1-$2"
  rm -rf "$dest"
  mv "$3" "$dest"
  mark_complete "$dest"
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

# build_commands NAME VERSION MODULE TAGS EXTRA_LDFLAGS PACKAGE...: builds several commands of
# one module into $cache/NAME-VERSION/, each named after the last element of its package.
build_commands() {
  local name="$1" version="$2" module="$3" tags="$4" extra_ldflags="$5"
  shift 5
  local work="$cache/.build/$name-$version"
  rm -rf "$work" && mkdir -p "$work/out"
  (
    cd "$work"
    go mod init "kubesftp.test/$name-build" >/dev/null 2>&1
    log "$name: resolving $module@$version"
    local package
    for package in "$@"; do
      go get -tool "$package@$version" >>get.log 2>&1 || {
        cat get.log >&2
        die "$name: go get $package@$version failed"
      }
    done
    for package in "$@"; do
      log "$name: compiling $package"
      go build -tags "$tags" -ldflags="$ldflags $extra_ldflags" -o "$work/out/${package##*/}" "$package"
    done
  )
  install_directory "$name" "$version" "$work/out"
  rm -rf "$work"
}

build_containerd() {
  local version_pkg=github.com/containerd/containerd/v2/version
  build_commands containerd "$CONTAINERD_VERSION" github.com/containerd/containerd/v2 \
    "no_btrfs no_devmapper no_zfs" "-X $version_pkg.Version=$CONTAINERD_VERSION" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/ctr \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
}

# runc's nsenter is C, so runc needs cgo; seccomp links Debian's libseccomp.
build_runc() {
  CGO_ENABLED=1 build_commands runc "$RUNC_VERSION" github.com/opencontainers/runc \
    "seccomp urfave_cli_no_docs" "" github.com/opencontainers/runc
}

build_cni_plugins() {
  local plugins=github.com/containernetworking/plugins/plugins
  build_commands cni-plugins "$CNI_PLUGINS_VERSION" github.com/containernetworking/plugins "" \
    "-X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
    "$plugins/main/bridge" "$plugins/ipam/host-local" "$plugins/main/loopback" "$plugins/meta/portmap"
}

# build_kube NAME: a command of k8s.io/kubernetes, built in the committed build module kube/
# (see kube/pin.sh) so that every Kubernetes binary comes from the same dependency graph.
build_kube() {
  local name="$1"
  local work="$cache/.build/$name-$KUBE_VERSION"
  grep -qE "^\s*k8s\.io/kubernetes $KUBE_VERSION( |\$)" "$env_dir/kube/go.mod" ||
    die "test/env/kube/go.mod does not pin k8s.io/kubernetes $KUBE_VERSION; run test/env/kube/pin.sh"
  grep -q "^tool k8s.io/kubernetes/cmd/$name\$" "$env_dir/kube/go.mod" ||
    die "test/env/kube/go.mod has no tool line for $name; run test/env/kube/pin.sh"
  mkdir -p "$work"
  log "$name: compiling k8s.io/kubernetes/cmd/$name@$KUBE_VERSION"
  # Without these a binary reports v0.0.0-master, which breaks kubeVersion checks (helm) and
  # kubectl's parsing of the node's version.
  local minor="${KUBE_VERSION#v1.}"
  minor="${minor%%.*}"
  local version_pkg=k8s.io/component-base/version
  local kube_ldflags="$ldflags -X $version_pkg.gitVersion=$KUBE_VERSION -X $version_pkg.gitMajor=1"
  kube_ldflags+=" -X $version_pkg.gitMinor=$minor -X $version_pkg.gitTreeState=clean"
  (cd "$env_dir/kube" && go build -mod=readonly -ldflags="$kube_ldflags" -o "$work/$name" \
    "k8s.io/kubernetes/cmd/$name")
  install_binary "$name" "$KUBE_VERSION" "$work/$name"
  rm -rf "$work"
}

# The pause image's version is a hash of its source, so an edit can never reuse a stale image;
# testbed.ts derives the same name (see node-images.ts).
pause_version() { cat "$env_dir/pause/main.go" "$env_dir/pause/go.mod" | sha256sum | cut -c1-12; }

build_pause_image() {
  local version="$1" work="$cache/.build/pause-image-$1"
  rm -rf "$work" && mkdir -p "$work/rootfs" "$work/out"
  log "pause-image: compiling test/env/pause"
  (cd "$env_dir/pause" && go build -ldflags="$ldflags" -o "$work/rootfs/pause" .)
  CRANE="$cache/crane-$CRANE_VERSION/crane" bash "$env_dir/pack-image.sh" "$work/rootfs" \
    "kubesftp.test/pause:$version" "$work/out/image.tar" /pause
  install_directory pause-image "$version" "$work/out"
  rm -rf "$work"
}

# Debian packages the node runs with: kube-proxy and the kubelet drive iptables and conntrack,
# runc links libseccomp (and builds against its headers through pkg-config), and teardown
# deletes the nf_tables tables iptables created with nft.
install_node_packages() {
  local package missing=()
  for package in iptables nftables conntrack libseccomp2 libseccomp-dev pkg-config gcc libc6-dev; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
  ((${#missing[@]})) || return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  # apt and dpkg are chatty even with -qq: their output is shown only when they fail.
  local output
  output="$($sudo apt-get update -qq 2>&1 &&
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" 2>&1)" || {
    printf '%s\n' "$output" >&2
    die "apt-get install ${missing[*]} failed"
  }
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
ensure kube-apiserver "$KUBE_VERSION" build_kube kube-apiserver
ensure minio "$MINIO_VERSION" build_from_module minio "$MINIO_VERSION" github.com/minio/minio github.com/minio/minio
install_node_packages
for kube_command in kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
  ensure "$kube_command" "$KUBE_VERSION" build_kube "$kube_command"
done
ensure containerd "$CONTAINERD_VERSION" build_containerd
ensure runc "$RUNC_VERSION" build_runc
ensure cni-plugins "$CNI_PLUGINS_VERSION" build_cni_plugins
ensure crane "$CRANE_VERSION" build_from_module crane "$CRANE_VERSION" \
  github.com/google/go-containerregistry github.com/google/go-containerregistry/cmd/crane
ensure pause-image "$(pause_version)" build_pause_image "$(pause_version)"
log "test bed ready in $((SECONDS - total_started))s"
