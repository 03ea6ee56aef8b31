#!/usr/bin/env bash
# What a user who pip-installs ghosthire gets: builds the wheel, installs it with its pinned dependencies
# into a fresh virtual environment outside the checkout, and runs check, build and hunt there.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python="${PYTHON:-python3}"
"$repo/.venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$work/dist" "$repo"
"$python" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
  -c "$repo/requirements/constraints.txt" "$work"/dist/ghosthire-*.whl
cd "$work"
ghosthire=("$work/venv/bin/ghosthire")
"${ghosthire[@]}" check
"${ghosthire[@]}" build --out build
examples=$("$work/venv/bin/python" -c 'from ghosthire.content import examples_dir; print(examples_dir())')
case "$examples" in "$repo"*) echo "the installed package reads the checkout ($examples)" >&2; exit 1 ;; esac
"${ghosthire[@]}" hunt "$examples" --format jsonl > alerts.jsonl
test -s build/ghosthire-elastic-rules.ndjson && ls build/ghosthire-*.tgz > /dev/null
test -s alerts.jsonl
echo "wheel: check, build and hunt pass in a fresh environment ($(wc -l < alerts.jsonl) alerts)"
