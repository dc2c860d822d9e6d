#!/usr/bin/env bash
# Installs, idempotently, what the HTTP / SPARQL / replay benchmarks need beyond tests/setup.sh:
# wrk (the load generator for per-event publishing) and the Oxigraph server, the peer, pinned
# to the `oxigraph` CLI 0.5.13 from PyPI in a venv under ~/.cache/ledgraph/bench-venv.
# Prints nothing when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/setup.sh
OXIGRAPH_VERSION=0.5.13
VENV="${LEDGRAPH_BENCH_VENV:-$HOME/.cache/ledgraph/bench-venv}"
if ! command -v wrk >/dev/null 2>&1; then
  echo "installing: wrk" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk
fi
installed=$("$VENV/bin/oxigraph" --version 2>/dev/null || true)
if [[ "$installed" != *"$OXIGRAPH_VERSION"* ]]; then
  echo "installing: oxigraph $OXIGRAPH_VERSION into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "oxigraph==$OXIGRAPH_VERSION"
fi
