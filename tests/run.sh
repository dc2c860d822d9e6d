#!/usr/bin/env bash
# Runs every test: formatting, lints (with -D warnings), then the unit, integration and doc
# tests. Set LEDGRAPH_LONG_TESTS=1 for the longer randomized runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ledgraph/target}"
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet
