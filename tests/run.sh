#!/usr/bin/env bash
# Runs every test: formatting, lints (with -D warnings), then the unit, integration and doc
# tests, then the Python conformance tests (real SPARQL clients, the W3C protocol manifests,
# schemathesis) against the debug `ledgraph serve`, then the web UI's tests in headless Chromium
# (tests/web, node's test runner). Set LEDGRAPH_LONG_TESTS=1 for the longer
# randomized runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh --browser
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ledgraph/target}"
VENV="${LEDGRAPH_VENV:-$HOME/.cache/ledgraph/venv}"
cargo fmt --check
cargo clippy --all-targets --quiet -- -D warnings
cargo test --quiet
cargo build --quiet
LEDGRAPH_BIN="$CARGO_TARGET_DIR/debug/ledgraph" "$VENV/bin/python" -m pytest -q tests/python
LEDGRAPH_BIN="$CARGO_TARGET_DIR/debug/ledgraph" node --test tests/web/
