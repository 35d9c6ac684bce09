#!/usr/bin/env bash
# Installs what the tests need and runs them all: formatting, lints, unit and
# integration tests (the integration tests start the real binary).
set -euo pipefail
cd "$(dirname "$0")/.."

# Tests use only loopback sockets and the Rust toolchain; rustfmt and clippy
# come with it. Install them if this toolchain lacks them.
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# Real components the integration tests start on loopback (see scripts/deps/).
scripts/deps/install.sh

cargo fmt --all -- --check
cargo clippy --all-targets --locked -- -D warnings
# Debug builds are fast enough: the GiB streaming tests take ~2 s each.
cargo test --locked
