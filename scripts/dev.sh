#!/usr/bin/env bash
# Install everything, then start Dagster on the local default: sandbox vendors in process, the
# lake in .cdp/lake, the warehouse in .cdp/warehouse.duckdb. UI on http://127.0.0.1:3000.
# Extra arguments go to `dagster dev` (e.g. --port 3001).
source "$(dirname "$0")/bootstrap.sh"
# A backfill runs each source's whole range in one run. By default Dagster writes one "planned"
# event per asset and partition when it creates such a run: for "Materialize all" over the local
# default's two years, 42 assets x 731 days = 30,702 events into SQLite before the run starts
# (measured: 3,813 of them in the first 4 minutes on a loaded 2-core machine). With this, one event
# per asset names the range. Dagster's stated trade-off: if such a run fails, its partitions show
# as missing rather than failed (the run and the backfill still show the failure).
export DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS="${DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS:-true}"
# Ctrl-C and SIGTERM stop it however it was started. A script started in the background (`&` in
# another script, a job runner, nohup) hands its children SIGINT ignored, and bash cannot undo an
# ignore it inherited; dagster dev, a Python program, then keeps SIGINT ignored and maps SIGTERM to
# that same handler, so only SIGKILL would stop it. The exec below goes through Python to put both
# signals back to their defaults first; dagster dev then installs its own handlers, which stop the
# webserver, the daemon and the code servers.
exec python -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' \
  dagster dev -w workspace.yaml -h 127.0.0.1 -p "${CDP_DAGSTER_PORT:-3000}" "$@"
