#!/usr/bin/env bash
# The whole test suite on a fresh machine: install with the test tools, then pytest.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh dev
bash scripts/system-deps.sh
exec .venv/bin/python -m pytest "$@"
