#!/usr/bin/env bash
# build-image.sh [OUTPUT_DIR]
# Builds the kubesftp container image offline, without a daemon or a registry: the root file
# system is this machine's Node binary with the shared libraries it and the native modules
# load, the built dist/, sql/, package.json and the production node_modules; crane packs it
# (test/env/pack-image.sh). The Containerfile at the repository root describes the same image
# for a real builder. Needs `make build` and `make testbed` first.
#
# Prints `name=<image name>` and `tarball=<path>` on stdout. The tag is a hash of everything
# that goes in, and a tarball already built for that hash is reused.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../test/env/versions.env
source "$repo/test/env/versions.env"
cache="${KUBESFTP_TESTBED_CACHE:-$HOME/.cache/kubesftp-testbed}"
crane="$cache/crane-$CRANE_VERSION/crane"
out="${1:-$repo/.cache/images}"

log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[[ -x "$crane" ]] || die "crane $CRANE_VERSION is not built ($crane); run \`make testbed\`"
[[ -f "$repo/dist/server/src/cli/main.js" ]] || die "dist/ is not built; run \`make build\`"
node_bin="$(node -p process.execPath)"

# The app's files: the server and the operator without their tests, the build info, migrations.
app_files() {
  (cd "$repo" && find dist/server/src dist/operator/src -type f -name '*.js' ! -name '*.test.js' -print &&
    printf '%s\n' dist/build-info.json package.json package-lock.json &&
    find sql patches -type f -print) | LC_ALL=C sort
}

inputs_hash() {
  {
    "$node_bin" --version
    sha256sum "$node_bin" | cut -d' ' -f1
    (cd "$repo" && app_files | xargs sha256sum)
    sha256sum "$repo/scripts/build-image.sh" "$repo/test/env/pack-image.sh" | cut -d' ' -f1
  } | sha256sum | cut -c1-12
}

hash="$(inputs_hash)"
name="kubesftp.test/kubesftp:$hash"
tarball="$out/kubesftp-$hash.tar"
if [[ -f "$tarball" ]]; then
  log "reusing $tarball"
  printf 'name=%s\ntarball=%s\n' "$name" "$tarball"
  exit 0
fi

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
rootfs="$staging/rootfs"
app="$rootfs/app"
mkdir -p "$app" "$rootfs/usr/local/bin" "$rootfs/etc" "$rootfs/var/lib/kubesftp"
install -d -m 1777 "$rootfs/tmp"

log "copying the app"
(cd "$repo" && app_files | grep -v '^patches/' | tar -cf - -T -) | tar -xf - -C "$app"

log "pruning node_modules to production dependencies"
cp -a "$repo/node_modules" "$app/node_modules"
# Offline and without scripts: the native modules are the ones already built for this Node,
# and the installed ssh2 and prom-client already carry the project's patches.
(cd "$app" && npm prune --omit=dev --offline --ignore-scripts --no-audit --no-fund >&2)
rm -f "$app/package-lock.json"

log "copying Node and the shared libraries it loads"
cp "$node_bin" "$rootfs/usr/local/bin/node"
# ldd prints "name => /path (address)" per library and the loader as "/path (address)".
shared_libraries() {
  local file
  for file in "$rootfs/usr/local/bin/node" $(find "$app/node_modules" -name '*.node' -type f); do
    ldd "$file" 2>/dev/null | sed -n 's#.*=> \(/[^ ]*\) (.*#\1#p; s#^\s*\(/[^ ]*\) (.*#\1#p' || true
  done | sort -u
}
for library in $(shared_libraries); do
  cp -L --parents "$library" "$rootfs"
done

# A user and group for the pod's runAsUser, so tools that look the ids up find names.
cat >"$rootfs/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/sbin/nologin
kubesftp:x:65532:65532:kubesftp:/var/lib/kubesftp:/sbin/nologin
EOF
cat >"$rootfs/etc/group" <<'EOF'
root:x:0:
kubesftp:x:65532:
EOF

log "packing $name"
mkdir -p "$out"
# User and working directory as in the Containerfile.
CRANE="$crane" IMAGE_USER=65532:65532 IMAGE_WORKDIR=/var/lib/kubesftp \
  bash "$repo/test/env/pack-image.sh" "$rootfs" "$name" "$tarball.partial" \
  /usr/local/bin/node /app/dist/server/src/cli/main.js
# Older builds of the image are of no further use.
find "$out" -maxdepth 1 -name 'kubesftp-*.tar' ! -name "kubesftp-$hash.tar" -delete
mv -f "$tarball.partial" "$tarball"
log "built $tarball ($(du -h "$tarball" | cut -f1))"
printf 'name=%s\ntarball=%s\n' "$name" "$tarball"
