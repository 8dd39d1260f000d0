#!/usr/bin/env bash
# Browser tests need Debian's chromium (Playwright drives it; its own browser download cannot
# work offline). Install it once if it is missing; root or passwordless sudo is needed for that.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
  echo "browser: $(/usr/bin/chromium --version 2>/dev/null | head -n1)"
  exit 0
fi
echo "browser: installing Debian's chromium for the browser tests"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser: no apt-get here; install chromium at /usr/bin/chromium or the browser tests are skipped" >&2
  exit 0
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium
