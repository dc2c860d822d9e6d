#!/usr/bin/env bash
# Installs, idempotently, what the build and tests need beyond the Rust toolchain.
# libclang-dev: Oxigraph's RocksDB bindgen step needs libclang. Also the rustfmt/clippy components.
set -euo pipefail
APT_PACKAGES=(libclang-dev)
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
