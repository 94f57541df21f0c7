#!/usr/bin/env bash
# Installs the real clients and servers the tests drive: OpenSSH client and sshd (the benchmark
# baseline), the sftp-server binary, rsync and git. Idempotent; a no-op when all are present.
set -euo pipefail
need=()
command -v sftp >/dev/null || need+=(openssh-client)
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
command -v rsync >/dev/null || need+=(rsync)
command -v git >/dev/null || need+=(git)
if ((${#need[@]})); then
  echo "installing system packages: ${need[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
