#!/usr/bin/env bash
# npm `oidc-provider` (a certified OpenID Provider) for tests/oidc_*.rs and
# tests/introspection.rs, installed into tests/support/oidc/node_modules from
# the committed package-lock.json.
set -euo pipefail
dir="$(dirname "$0")/../../tests/support/oidc"
if ! command -v npm >/dev/null 2>&1; then
  echo "deps/oidc: npm not found (install nodejs); the oidc tests will be skipped" >&2
  exit 0
fi
if [ -d "$dir/node_modules/oidc-provider" ]; then
  exit 0
fi
cd "$dir"
npm ci --no-audit --no-fund --loglevel=error
