#!/usr/bin/env bash
# Installs, idempotently, what the build and tests need beyond the Rust toolchain.
# libclang-dev: Oxigraph's RocksDB bindgen step needs libclang. Also the rustfmt/clippy components.
# The Python conformance tests (tests/python) get a venv at ${LEDGRAPH_VENV:-~/.cache/ledgraph/venv}
# with the pinned tests/python/requirements.txt; it is re-installed only when that file changes
# (a stamp in the venv holds the file's SHA-256), so re-runs cost nothing.
# The web UI (web/): Node.js and npm from apt when missing, `npm ci` when web/package-lock.json
# changed (stamp in web/node_modules), then `npm run build` into web/dist (about a second).
# With --browser, also Debian's chromium for the browser tests (tests/web).
set -euo pipefail
cd "$(dirname "$0")/.."
APT_PACKAGES=(libclang-dev)
command -v python3 >/dev/null 2>&1 || APT_PACKAGES+=(python3)
command -v node >/dev/null 2>&1 || APT_PACKAGES+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PACKAGES+=(npm)
if [ "${1:-}" = "--browser" ]; then
  command -v chromium >/dev/null 2>&1 || APT_PACKAGES+=(chromium)
fi
# Debian's python3 has no ensurepip (so no venv) without python3-venv.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || APT_PACKAGES+=(python3-venv)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
fi
for component in rustfmt clippy; do
  rustup component list --installed 2>/dev/null | grep -q "^$component" || rustup component add "$component"
done

VENV="${LEDGRAPH_VENV:-$HOME/.cache/ledgraph/venv}"
REQUIREMENTS=tests/python/requirements.txt
STAMP="$VENV/.requirements.sha256"
wanted="$(sha256sum "$REQUIREMENTS" | cut -d' ' -f1)"
if ! "$VENV/bin/python" -c '' >/dev/null 2>&1 || [ "$(cat "$STAMP" 2>/dev/null)" != "$wanted" ]; then
  echo "setting up the Python test environment in $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  echo "$wanted" >"$STAMP"
fi

LOCK=web/package-lock.json
WEB_STAMP=web/node_modules/.package-lock.sha256
wanted="$(sha256sum "$LOCK" | cut -d' ' -f1)"
if [ "$(cat "$WEB_STAMP" 2>/dev/null)" != "$wanted" ]; then
  echo "installing the web UI's npm packages (web/package-lock.json)" >&2
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
  echo "$wanted" >"$WEB_STAMP"
fi
(cd web && npm run --silent build >/dev/null)
