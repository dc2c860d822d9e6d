#!/usr/bin/env bash
# The main job: build ledgraph and run it on the embedded default data directory with the
# demo ontology. Until `ledgraph serve` exists this is `ledgraph demo`: it appends the demo
# ontologies to a fresh log, proves an event's inclusion, prints the signed checkpoint and
# verifies the whole log. Safe to run again: an existing log is reopened and re-verified.
set -euo pipefail
cd "$(dirname "$0")"
# Nothing beyond the Rust toolchain is needed yet; installs go in tests/setup.sh.
bash tests/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ledgraph/target}"
cargo build --release --quiet
exec "$CARGO_TARGET_DIR/release/ledgraph" --data "${LEDGRAPH_DATA:-./ledgraph-data}" demo "$@"
