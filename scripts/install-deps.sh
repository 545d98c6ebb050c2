#!/usr/bin/env bash
# Installs the Debian 12 packages tilejit builds with; quiet and quick when they are present.
set -euo pipefail
packages=(
  g++ cmake ninja-build ccache xz-utils
  llvm-22-dev liblld-22-dev llvm-22-tools
  libboost-dev googletest libgtest-dev libamdhip64-dev
  libcli11-dev nlohmann-json3-dev libxxhash-dev libfmt-dev libbenchmark-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "tilejit: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
