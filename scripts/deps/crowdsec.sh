#!/usr/bin/env bash
# CrowdSec Local API (Debian `crowdsec` 1.4.6) for tests/crowdsec_*.rs.
# The package's post-install registers with CrowdSec's online API, which
# fails offline and would leave the package half-configured (every later
# apt-get install then fails): a non-empty credentials file written first
# is the package's documented way to skip that registration. policy-rc.d stops
# the package from starting a system service (the tests start their own
# LAPI with a private config directory).
set -euo pipefail
if command -v crowdsec >/dev/null 2>&1 && command -v cscli >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: crowdsec missing; run as root to install it" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod +x /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
mkdir -p /etc/crowdsec
capi=/etc/crowdsec/online_api_credentials.yaml
[ -s "$capi" ] || echo "# no online API: offline test machine" > "$capi"
apt-get install -y -qq --no-install-recommends crowdsec || true
dpkg --configure crowdsec >/dev/null 2>&1 || true
command -v crowdsec >/dev/null && command -v cscli >/dev/null
