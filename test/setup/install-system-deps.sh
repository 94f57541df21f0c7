#!/usr/bin/env bash
# Installs the real clients and servers the tests drive: OpenSSH client and sshd (the benchmark
# baseline), the sftp-server binary, rsync and git, rclone (its sftp remote checks hashes with
# our md5sum), and paramiko (a Python SFTP client) in a venv outside the repository; unshare,
# nsenter, setpriv, ip and curl run `kubesftp serve` as an operator-built pod would
# (test/operator/pod.ts).
# Idempotent; a no-op when all are present.
set -euo pipefail
need=()
command -v sftp >/dev/null || need+=(openssh-client)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
command -v rsync >/dev/null || need+=(rsync)
command -v git >/dev/null || need+=(git)
command -v rclone >/dev/null || need+=(rclone)
command -v python3 >/dev/null || need+=(python3 python3-venv)
{ command -v unshare && command -v nsenter && command -v setpriv; } >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  echo "installing system packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi

# Python clients, pinned in python-requirements.txt, in a venv named after that file's hash (the
# tests find it the same way, see test/attack/paramiko.test.ts). `python3` may be a pyenv
# interpreter; Debian's own needs python3-venv for `-m venv`, installed when that is what fails.
requirements="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/python-requirements.txt"
cache="${KUBESFTP_TESTBED_CACHE:-$HOME/.cache/kubesftp-testbed}"
venv="$cache/python-clients-$(sha256sum "$requirements" | cut -c1-12)"
# A venv whose interpreter went away (a pyenv version removed) is built again.
if ! { [ -f "$venv/.complete" ] && "$venv/bin/python" -c 'import paramiko' 2>/dev/null; }; then
  echo "installing python clients into $venv"
  mkdir -p "$cache"
  rm -rf "$venv"
  if ! python3 -m venv "$venv"; then
    rm -rf "$venv"
    [ "$(command -v python3)" = /usr/bin/python3 ] || {
      echo "python3 -m venv failed with $(command -v python3)" >&2
      exit 1
    }
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-venv
    python3 -m venv "$venv"
  fi
  "$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
    --requirement "$requirements"
  touch "$venv/.complete"
fi
