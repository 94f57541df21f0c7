#!/usr/bin/env bash
# Installs the database servers the provider tests start: PostgreSQL and MariaDB from the
# Debian packages. The tests run them on throwaway data dirs and loopback ports, never as
# system services. Idempotent; a no-op when both are present.
set -euo pipefail
need=()
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
{ command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ]; } || need+=(mariadb-server)
((${#need[@]})) || exit 0
echo "installing database servers: ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
started=$SECONDS
$SUDO apt-get update -qq
# policy-rc.d keeps the packages from starting their system services: the tests start their own.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod 755 "$policy"
  own_policy=1
fi
trap '[ "$own_policy" -eq 0 ] || $SUDO rm -f "$policy"' EXIT
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
echo "database servers installed in $((SECONDS - started))s"
