#!/usr/bin/env bash
# The full test suite against the real local stack: installs, starts the stack, runs pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
export SMARTCOURSE_ENV=${SMARTCOURSE_ENV:-dev}  # the local stack: development keys allowed
.venv/bin/smartcourse stack up
# pytest exits 5 when it collected no tests; that is a failure here too (it does by itself).
exec .venv/bin/pytest "$@"
