#!/usr/bin/env bash
# Installs and starts the whole stack, then runs the main job (see README).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
.venv/bin/smartcourse stack up
.venv/bin/smartcourse stack status
