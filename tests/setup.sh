#!/usr/bin/env bash
# Installs, idempotently, what the build and tests need beyond the Rust toolchain.
# Today that is only the rustfmt/clippy components; Debian packages go in APT_PACKAGES.
set -euo pipefail
APT_PACKAGES=()
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
