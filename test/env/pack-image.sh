#!/usr/bin/env bash
# pack-image.sh ROOTFS NAME OUTPUT ENTRYPOINT...
# Packs the directory ROOTFS as a one-layer linux/amd64 image named NAME, with ENTRYPOINT, into
# the image tarball OUTPUT that `ctr images import` reads. Works offline: crane pushes the layer
# to its own in-memory registry on loopback, sets the entrypoint and platform there (crane
# mutates only images in a registry), and saves the result. Needs CRANE (path of crane);
# IMAGE_USER and IMAGE_WORKDIR, when set, become the image's user and working directory.
set -euo pipefail
rootfs="$1" name="$2" output="$3"
shift 3
[[ $# -gt 0 ]] || {
  echo "usage: pack-image.sh ROOTFS NAME OUTPUT ENTRYPOINT..." >&2
  exit 2
}
crane="${CRANE:?set CRANE to the crane binary (built by test/env/setup.sh)}"
work="$(mktemp -d)"
registry_pid=""
cleanup() {
  [[ -z "$registry_pid" ]] || kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Fixed order, owners and times: the same tree gives the same layer digest.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .

"$crane" registry serve --address 127.0.0.1:0 2>"$work/registry.log" &
registry_pid=$!
port=""
for _ in $(seq 100); do
  port="$(sed -n 's/.*serving on port \([0-9]*\).*/\1/p' "$work/registry.log")"
  [[ -n "$port" ]] && break
  kill -0 "$registry_pid" 2>/dev/null || break
  sleep 0.1
done
[[ -n "$port" ]] || {
  cat "$work/registry.log" >&2
  echo "pack-image.sh: crane's registry did not start" >&2
  exit 1
}

# crane logs every blob it pushes: keep that for when it fails.
quietly() {
  "$@" >>"$work/crane.log" 2>&1 || {
    cat "$work/crane.log" >&2
    echo "pack-image.sh: $* failed" >&2
    exit 1
  }
}
staged="127.0.0.1:$port/staged:latest"
quietly "$crane" append --insecure --oci-empty-base -f "$work/layer.tar" -t "$staged"
# crane takes the entrypoint as one comma-separated list.
entrypoint="$(
  IFS=,
  echo "$*"
)"
config=(--set-platform linux/amd64 --entrypoint "$entrypoint")
[[ -z "${IMAGE_USER:-}" ]] || config+=(--user "$IMAGE_USER")
[[ -z "${IMAGE_WORKDIR:-}" ]] || config+=(--workdir "$IMAGE_WORKDIR")
quietly "$crane" mutate --insecure "$staged" "${config[@]}" -t "$name" -o "$output.partial"
mv -f "$output.partial" "$output"
