#!/usr/bin/env bash
# The server benchmarks against the Oxigraph server, in one entry point:
#   benches/run.sh [BENCH…|all]      (default: all; BENCH is one of ALL below)
# Installs wrk and the Oxigraph CLI first (benches/setup.sh, idempotent), builds with the bench
# profile (release + debug info) into the shared target dir, then runs each bench in turn.
# JSON lines on stdout (one per measurement, one summary per case); progress on stderr.
# Settings come from the environment; see the header of each benches/<name>.rs.
# `cargo bench --bench log_append` (the log alone) is separate and needs none of this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash benches/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ledgraph/target}"
ALL=(http_ingest sparql_query replay admission bus time_travel)
if [ "${1:-all}" = all ]; then
  benches=("${ALL[@]}")
elif [[ " ${ALL[*]} " == *" $1 "* ]]; then
  benches=("$1")
else
  echo "usage: benches/run.sh [${ALL[*]}|all]" >&2
  exit 2
fi
# admission compares with pySHACL from the tests' venv (tests/setup.sh installs it).
case " ${benches[*]} " in *" admission "*) bash tests/setup.sh ;; esac
for bench in "${benches[@]}"; do
  echo "== $bench (load average: $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  cargo bench --quiet --bench "$bench"
done
