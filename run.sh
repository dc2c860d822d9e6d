#!/usr/bin/env bash
# The main job: build ledgraph and serve it on the embedded default data directory
# (./ledgraph-data, created on first run with a fresh node key and the demo ontologies).
# Prints the URL of the web UI; stop with Ctrl-C (or SIGTERM), which shuts down cleanly.
# Extra arguments go to `ledgraph serve` (e.g. --bind 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")"
bash tests/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ledgraph/target}"
cargo build --release --quiet
exec "$CARGO_TARGET_DIR/release/ledgraph" --data "${LEDGRAPH_DATA:-./ledgraph-data}" serve "$@"
