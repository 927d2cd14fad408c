#!/usr/bin/env bash
# Debian's chromium for the browser test (cdp_platform_tests/ui/), which Playwright drives through
# its executable path: Playwright's own browser download is never used. scripts/test.sh runs this.
#
# Already installed: returns at once. Missing: installs the `chromium` package with apt-get when
# apt is usable here (root, or sudo without a password), quietly; otherwise it says so and leaves
# it, and the browser test skips on a laptop (and fails when CI is set).
set -euo pipefail
CHROMIUM=/usr/bin/chromium
[ -x "$CHROMIUM" ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "browser.sh: no apt-get here; install Chromium at $CHROMIUM to run the browser test" >&2
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  AS_ROOT=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  AS_ROOT=(sudo -n)
else
  echo "browser.sh: run \`sudo apt-get install chromium\` to run the browser test" >&2
  exit 0
fi

install_chromium() {
  "${AS_ROOT[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
}
echo "browser.sh: installing Debian's chromium for the browser test" >&2
# The package lists of a new machine may be missing or stale: refresh them once and try again.
if ! install_chromium 2>/dev/null; then
  "${AS_ROOT[@]}" apt-get update -qq >/dev/null
  install_chromium
fi
[ -x "$CHROMIUM" ] || { echo "browser.sh: chromium installed but $CHROMIUM is missing" >&2; exit 1; }
