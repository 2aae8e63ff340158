#!/usr/bin/env bash
# Installs what SmartCourse needs on this machine: the Python virtualenv with the project and
# its test tools. Service binaries (PostgreSQL, Redis, Kafka, the registry, ClickHouse,
# Weaviate) are installed on first `smartcourse stack up`, cached by version.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
  || { echo "error: SmartCourse needs Python 3.11 (set PYTHON=/path/to/python3.11)" >&2; exit 1; }

for tool in java mvn go; do
  command -v "$tool" >/dev/null \
    || { echo "error: '$tool' is missing: the stack needs Java 17 with Maven and Go" >&2; exit 1; }
done

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
# Reinstall only when the dependency list changed (pip's own cache keeps the wheels).
stamp=.venv/.smartcourse-deps
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -e '.[test]'
  echo "$wanted" > "$stamp"
fi
