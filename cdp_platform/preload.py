"""What the steps' forkserver imports once, before it forks a process for each step of a run.

A step that forks from a server holding these modules starts in a second or two; one that spawns a
fresh interpreter imports dagster, polars, duckdb, pandera, dagster-dbt and the platform again (10
to 20 s on a loaded 2-core machine, longer than most steps' own work). Modules a step only imports
when it runs (the sandbox's app and records, identity resolution, the predictive models) are listed
here too. Importing only: nothing is built, connected or started, since a forked child inherits it.
"""

import cdp_platform.definitions  # the code location and every layer it imports
import cdp_platform.identity.resolve
import cdp_platform.predictive.scores
import cdp_platform.sandbox.app
import cdp_platform.sandbox.records  # noqa: F401
