#!/usr/bin/env bash
# The main job: installs and starts the whole stack and SmartCourse's own processes (APIs,
# relay, workers), then runs a demo that shows data flowing end to end and where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
export SMARTCOURSE_ENV=${SMARTCOURSE_ENV:-dev}  # the local stack: development keys allowed
.venv/bin/smartcourse stack up
.venv/bin/smartcourse app up
.venv/bin/smartcourse demo
