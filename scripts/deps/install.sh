#!/usr/bin/env bash
# Installs the real components the tests start (Redis, etcd, CrowdSec, Node
# packages, ...). Each feature lists its Debian packages in
# `scripts/deps/<feature>.apt` (one a line, `#` comments) and may add a
# `scripts/deps/<feature>.sh` for anything else (npm, unpacking). Missing
# Debian packages are installed with one `apt-get update` first.
set -euo pipefail
cd "$(dirname "$0")"

wanted=()
for list in ./*.apt; do
  [ -e "$list" ] || continue
  while read -r pkg _; do
    case "$pkg" in ''|'#'*) continue ;; esac
    wanted+=("$pkg")
  done < "$list"
done

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing Debian packages (${missing[*]}); run as root to install them" >&2
    exit 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for script in ./*.sh; do
  [ "$script" = ./install.sh ] && continue
  [ -e "$script" ] || continue
  bash "$script"
done
