#!/usr/bin/env bash
# Install everything, then start Dagster on the local default: sandbox vendors in process, the
# lake in .cdp/lake, the warehouse in .cdp/warehouse.duckdb. UI on http://127.0.0.1:3000.
# Extra arguments go to `dagster dev` (e.g. --port 3001).
source "$(dirname "$0")/bootstrap.sh"
exec dagster dev -w workspace.yaml -h 127.0.0.1 -p "${CDP_DAGSTER_PORT:-3000}" "$@"
