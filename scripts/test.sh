#!/usr/bin/env bash
# Install everything, then run the whole test suite. CI (.ci/run) runs exactly this.
# Extra arguments go to pytest (e.g. -k lake).
source "$(dirname "$0")/bootstrap.sh"
ruff check --quiet .
exec pytest --durations=15 "$@"
