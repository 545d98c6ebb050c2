#!/usr/bin/env bash
# Installs what is needed, builds, and runs the MoE stage-2 demo (GPU if present, else the emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
./build/examples/moe_stage2_demo
