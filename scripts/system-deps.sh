#!/usr/bin/env bash
# System packages the test suite uses: chromium (the HTML report is checked in a real browser) and
# libmagic (splunk-appinspect). Installed with apt when missing and we are root; otherwise the tests
# that need them say why they skip.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ldconfig -p 2>/dev/null | grep -q 'libmagic\.so\.1' || missing+=(libmagic1)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "not installed: ${missing[*]} (needs root and apt-get); the tests that use them will skip" >&2
fi
