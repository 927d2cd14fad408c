# Sourced by scripts/dev.sh and scripts/test.sh: installs everything from nothing.
#
# Needs only python3.11 and the package registries. uv comes from PyPI into .cdp/bootstrap (not
# into .venv, which `uv sync` keeps exactly equal to uv.lock), then installs the locked set.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export CDP_PROJECT_ROOT="$PWD"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
UV_VERSION="0.13.9"
UV=".cdp/bootstrap/bin/uv"
if [ ! -x "$UV" ] || [ "$("$UV" --version 2>/dev/null | cut -d' ' -f2)" != "$UV_VERSION" ]; then
  "$PYTHON" -m venv .cdp/bootstrap
  .cdp/bootstrap/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
fi
# Compiled bytecode halves import time here (PYTHONDONTWRITEBYTECODE=1 is set on these machines).
export UV_COMPILE_BYTECODE=1 UV_PYTHON="$PYTHON"
"$UV" sync --frozen --extra dev --quiet
export PATH="$PWD/.venv/bin:$PATH"
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.cdp/dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -f "$DAGSTER_HOME/dagster.yaml" ] || cp deploy/local/dagster.yaml "$DAGSTER_HOME/dagster.yaml"
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DAGSTER_DISABLE_TELEMETRY=1
# The dbt manifest Dagster loads the profile from: parsed here, once, instead of on every load of
# the code location (dbt parse takes seconds); again only when a file under dbt/ changed since. The
# same parse leaves dbt's partial-parsing state (target/partial_parse.msgpack), which dagster-dbt
# hands each dbt invocation. dbt discards that state and parses the whole project again (about 6
# CPU-seconds, half of a small `dbt build`) when the --target argument or the profile's rendered
# connection differ from the parse's: so the parse names the target Dagster passes (the settings'
# rule: CDP_DBT_TARGET, else ducklake for the DuckLake warehouse, else local), and the project by its
# absolute path (the seeds' file paths come from it; dagster-dbt runs dbt inside dbt/). For another
# warehouse path than the parse's, the first dbt invocation of a run parses in full and leaves its
# state for the next (cdp_platform.profile.assets.keep_parse_state).
CDP_DBT_TARGET_RESOLVED="${CDP_DBT_TARGET:-}"
if [ -z "$CDP_DBT_TARGET_RESOLVED" ]; then
  if [ "${CDP_WAREHOUSE:-file}" = ducklake ]; then CDP_DBT_TARGET_RESOLVED=ducklake; else CDP_DBT_TARGET_RESOLVED=local; fi
fi
if [ ! -f dbt/target/manifest.json ] \
  || [ -n "$(find dbt \( -path dbt/target -o -path dbt/logs -o -path dbt/dbt_packages \) -prune \
             -o -type f ! -name .user.yml -newer dbt/target/manifest.json -print -quit)" ]; then
  dbt parse --quiet --project-dir "$PWD/dbt" --profiles-dir "$PWD/dbt" --target "$CDP_DBT_TARGET_RESOLVED"
fi
unset CDP_DBT_TARGET_RESOLVED
