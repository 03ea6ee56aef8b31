#!/usr/bin/env bash
# The main job on a fresh machine: install, build every artifact into build/, hunt over examples/.
set -euo pipefail
cd "$(dirname "$0")"
bash scripts/bootstrap.sh
.venv/bin/ghosthire build --out build
.venv/bin/ghosthire hunt examples/ "$@"
