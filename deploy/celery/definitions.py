"""The platform's code location for a deployment on many machines: every step is a Celery task.

The definitions are the package's own (``cdp_platform.definitions``); only the executor differs.
The run still starts where the run launcher starts it (the daemon's machine, by default), but each
of its steps is sent to the Celery broker and executed by whichever worker takes it, on any
machine with the same code, the same ``$DAGSTER_HOME/dagster.yaml`` (PostgreSQL) and the same
environment. The instance's pools still hold: a step waits for its pool's slot before it is sent.

Queues. Raw steps write the lake (S3, reachable from every worker) and go to the ``dagster`` queue.
Every step that writes the DuckDB warehouse is in the ``duckdb_writer`` pool and goes to the
``warehouse`` queue instead: the warehouse is one file on one machine, so only the worker started on
that machine listens on that queue. A step tagged ``dagster-celery/queue`` keeps its own queue.
dagster-celery chooses a queue only from op tags, which the platform's assets do not carry (they
know nothing of Celery), so the executor below wraps dagster-celery's own submit function: the task
sent is exactly the one its workers expect.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
import yaml
from dagster._core.execution.retries import RetryMode
from dagster_celery.core_execution_loop import core_celery_execution_loop
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor, _submit_task
from dagster_celery.tags import DAGSTER_CELERY_QUEUE_TAG

from cdp_platform.definitions import build_definitions
from cdp_platform.io.warehouse import WAREHOUSE_POOL
from cdp_platform.settings import check_settings, load_settings

EXECUTOR_YAML = Path(__file__).with_name("executor.yaml")
WAREHOUSE_QUEUE = "warehouse"


def queue_for(pool: str | None, tags: Mapping[str, str], default_queue: str) -> str:
    """The Celery queue of a step: its own tag, else ``warehouse`` for warehouse writers."""
    if DAGSTER_CELERY_QUEUE_TAG in tags:
        return tags[DAGSTER_CELERY_QUEUE_TAG]
    if pool == WAREHOUSE_POOL:
        return WAREHOUSE_QUEUE
    return default_queue


def _submit_routed(app, plan_context, step, queue, priority, known_state):
    routed = queue_for(step.pool, step.tags, queue)
    if routed != queue:
        # dagster-celery has just logged the default queue; say where the step really goes.
        plan_context.log.info(
            f'Step "{step.key}" is in pool "{step.pool}": sent to queue "{routed}" instead.'
        )
    return _submit_task(app, plan_context, step, routed, priority, known_state)


class RoutedCeleryExecutor(CeleryExecutor):
    """dagster-celery's executor, with warehouse writers sent to the warehouse queue."""

    def execute(self, plan_context, execution_plan):
        return core_celery_execution_loop(plan_context, execution_plan, step_execution_fn=_submit_routed)


@dg.executor(
    name="celery", config_schema=CELERY_CONFIG, requirements=dg.multiple_process_executor_requirements()
)
def routed_celery_executor(init_context: dg.InitExecutorContext) -> RoutedCeleryExecutor:
    config = init_context.executor_config
    return RoutedCeleryExecutor(
        broker=config.get("broker"),
        backend=config.get("backend"),
        config_source=config.get("config_source"),
        include=config.get("include"),
        retries=RetryMode.from_config(config["retries"]),
    )


def executor_config(path: Path = EXECUTOR_YAML) -> dict[str, Any]:
    """The ``execution.config`` block the workers are started with (``-y``)."""
    return yaml.safe_load(path.read_text())["execution"]["config"]


@dg.definitions
def defs() -> dg.Definitions:
    settings = load_settings()
    check_settings(settings)
    return dg.Definitions.merge(
        build_definitions(settings, executor=None),
        dg.Definitions(executor=routed_celery_executor.configured(executor_config())),
    )
