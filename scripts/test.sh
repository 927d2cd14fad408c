#!/usr/bin/env bash
# Install everything, then run the whole test suite. CI (.ci/run) runs exactly this.
# Extra arguments go to pytest (e.g. -k lake).
source "$(dirname "$0")/bootstrap.sh"
# Debian's chromium for the browser test; where it cannot be installed that test skips (fails in CI).
bash scripts/browser.sh || echo "scripts/test.sh: chromium could not be installed; the browser test will skip" >&2
ruff check --quiet .
# Two pytest-xdist workers (CI has 2 cores). A work unit is a whole module (or the modules sharing
# a session's build: SHARED_BUILDS in cdp_platform_tests/conftest.py), so a module fixture is built
# once; modules with slow tests go first (cdp_platform_tests/conftest.py). `-n 0` as an extra
# argument runs everything in this one process.
exec pytest -n 2 --dist loadscope --no-loadscope-reorder --durations=15 "$@"
