"""Fixtures shared by the whole suite: real S3 on loopback (moto's server), lakes, PostgreSQL, and the
README's `dagster dev`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from cdp_platform.io.lake import LocalLake, S3Lake
from cdp_platform_tests.support import dagster_dev as dev
from cdp_platform_tests.support.services import free_port, require_service

# Modules sharing a build that is made once per worker process (a session fixture: ``dagster_dev``)
# or once per session under a file lock (the sandbox marts, the crafted profile warehouse): under
# ``--dist loadscope`` each group is one work unit, so one worker makes the build and runs its users
# while the other works on, instead of making it a second time or waiting on the lock.
SHARED_BUILDS: dict[str, tuple[str, ...]] = {
    "dagster_dev": (
        "cdp_platform_tests/test_dagster_dev.py",
        "cdp_platform_tests/ui/test_asset_graph.py",  # request.getfixturevalue("dagster_dev")
    ),
    "sandbox_marts": (
        "cdp_platform_tests/identity/test_review_pipeline.py",
        "cdp_platform_tests/predictive/test_sentiment_accuracy.py",
        "cdp_platform_tests/privacy/test_consent.py",
        "cdp_platform_tests/privacy/test_erasure.py",
        "cdp_platform_tests/privacy/test_pseudonymize.py",
    ),
    "built": (  # cdp_platform_tests/profile/conftest.py
        "cdp_platform_tests/profile/test_country_codes.py",
        "cdp_platform_tests/profile/test_profile_build.py",
    ),
}
_WORK_UNIT = {
    module: f"shared build: {name}" for name, modules in SHARED_BUILDS.items() for module in modules
}


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """``--dist loadscope`` with the modules of a shared build in one work unit (SHARED_BUILDS)."""
    if config.getoption("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedBuildScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _WORK_UNIT.get(nodeid.split("::")[0], super()._split_scope(nodeid))

    return SharedBuildScheduling(config, log)


def _check_shared_builds(items: list[pytest.Item]) -> None:
    """A module that asks for a shared build by argument is listed with it in SHARED_BUILDS."""
    for item in items:
        module = item.nodeid.split("::")[0]
        for name in SHARED_BUILDS.keys() & set(getattr(item, "fixturenames", ())):
            if module not in SHARED_BUILDS[name]:
                raise pytest.UsageError(
                    f"{module} uses the shared build {name!r}: add it to SHARED_BUILDS in cdp_platform_tests/conftest.py"
                )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a pytest-xdist worker (scripts/test.sh runs two, ``--dist loadscope``: a module is a work
    unit, so its module fixtures are built once), the modules holding a slow test go first: started
    last, a long module would leave the other worker idle at the end. A serial run keeps its order.
    (Not ``--dist loadgroup``: with pytest 9 its ``xdist_group`` marks have no effect, since xdist
    3.8 groups by rewriting ``item._nodeid``, which pytest no longer reads.)"""
    _check_shared_builds(items)
    if not hasattr(config, "workerinput"):
        return
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow") is not None}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint on a free loopback port, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    return bucket


@pytest.fixture(params=["local", "s3"])
def lake_root(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str | None]:
    """(lake root, S3 endpoint or None): every lake test runs on a folder and on real S3."""
    if request.param == "local":
        return str(tmp_path / "lake"), None
    endpoint = request.getfixturevalue("s3_endpoint")
    bucket = request.getfixturevalue("s3_bucket")
    return f"s3://{bucket}/cdp", endpoint


@pytest.fixture
def lake(lake_root: tuple[str, str | None]) -> LocalLake | S3Lake:
    root, endpoint = lake_root
    if root.startswith("s3://"):
        bucket, _, prefix = root.removeprefix("s3://").partition("/")
        return S3Lake(bucket, prefix, endpoint_url=endpoint)
    return LocalLake(Path(root))


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", "127.0.0.1", 5432)
    return "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def fresh_database(postgres_url) -> Iterator[str]:
    """A new, empty PostgreSQL database for one test, dropped after it."""
    import psycopg2

    name = f"cdp_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'create database "{name}"')
    try:
        yield name
    finally:
        with admin.cursor() as cur:
            cur.execute(f'drop database if exists "{name}" with (force)')
        admin.close()


@pytest.fixture
def ducklake_environ(fresh_database: str, s3_endpoint: str, s3_bucket: str) -> dict[str, str]:
    """The settings of a DuckLake warehouse: its catalog in a fresh database of the machine's
    PostgreSQL, its Parquet files in a fresh bucket of moto's S3 server (skips, or fails under CI,
    when PostgreSQL is unreachable)."""
    return {
        "CDP_WAREHOUSE": "ducklake",
        "CDP_DUCKLAKE_CATALOG": f"dbname={fresh_database} host=127.0.0.1 port=5432 user=postgres",
        "CDP_DUCKLAKE_DATA_PATH": f"s3://{s3_bucket}/warehouse",
        "CDP_S3_ENDPOINT_URL": s3_endpoint,
    }


def parquet_objects(s3_endpoint: str, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every Parquet object under ``prefix`` of a bucket, by key, with its bytes."""
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            if item["Key"].endswith(".parquet"):
                found[item["Key"]] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


@pytest.fixture(scope="session")
def dagster_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dev.DevServer]:
    """The README's run command (``bash scripts/dev.sh``) on a free port, from an empty home: started
    once for the tests that need the running UI (it takes a while to load), stopped at the end."""
    folder = tmp_path_factory.mktemp("dagster_dev")
    port = free_port()
    server = dev.start(
        dev.readme_command(port), dev.dev_environment(folder), port, folder / "dagster-dev.log"
    )
    try:
        yield server
    finally:
        graceful, leaked = dev.stop(server)
    assert graceful, (
        "dagster dev (scripts/dev.sh) did not stop within a minute of Ctrl-C (SIGINT to its process group)"
    )
    assert not leaked, "dagster dev (scripts/dev.sh) left processes running"
