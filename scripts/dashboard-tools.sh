#!/usr/bin/env bash
# Installs Splunk's Dashboard Studio validator and schemas (pinned in tests/splunk/dashboard_studio/
# package.json) from the npm registry into a cache directory outside the repository, once per version of
# that file. Prints the directory holding node_modules (tests run validate.js from the repository with
# NODE_PATH=<that directory>/node_modules). Exits 3 when npm or the registry is unavailable,
# so the tests can skip with that reason.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="tests/splunk/dashboard_studio"
cache="${GHOSTHIRE_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ghosthire/dashboard-studio}"
digest=$(cat "$source_dir/package.json" | sha256sum | cut -d' ' -f1)
if [ -f "$cache/.installed" ] && [ "$(cat "$cache/.installed")" = "$digest" ]; then
  echo "$cache"
  exit 0
fi
if ! command -v npm >/dev/null; then
  echo "npm is not installed" >&2
  exit 3
fi
mkdir -p "$cache"
cp "$source_dir/package.json" "$cache/"
if ! (cd "$cache" && npm install --no-audit --no-fund --loglevel=error >"$cache/npm.log" 2>&1); then
  echo "npm install failed (registry unreachable?): $(tail -n 3 "$cache/npm.log" | tr '\n' ' ')" >&2
  exit 3
fi
echo "$digest" > "$cache/.installed"
echo "$cache"
