#!/usr/bin/env bash
# The whole test suite on a fresh machine: install with the test tools, run pytest, then check that the
# built wheel works installed on its own (scripts/check_wheel.sh).
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh dev
bash scripts/system-deps.sh
# Splunk's Dashboard Studio validator, from npm into a cache directory (the tests skip if npm cannot reach it).
bash scripts/dashboard-tools.sh >/dev/null || true
# Two workers, one per core; a file's tests stay on one worker so its module fixtures are built once.
.venv/bin/python -m pytest -n 2 --dist loadfile "$@"
# Campaigns, left out of the suite above: every dashboard rendered by Dashboard Studio in headless Chromium.
.venv/bin/python -m pytest -q -m campaign
bash scripts/check_wheel.sh
