"""Where the dbt project is, and whether its manifest is current.

The manifest (``dbt/target/manifest.json``) is prepared once, at install, by
``scripts/bootstrap.sh`` (``dbt parse`` takes seconds): loading the code location only reads it.
A missing manifest stops the load with the command that makes it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from dagster_dbt import DbtProject

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt"
DBT_PROJECT = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's venv), else the one on PATH.

    A code location started as ``.venv/bin/dagster`` without the venv activated has no ``dbt`` on
    PATH, though dbt-core is installed right beside it.
    """
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return str(beside)
    return shutil.which("dbt") or "dbt"


PARSE_COMMAND = ("dbt", "parse", "--quiet", "--project-dir", "dbt", "--profiles-dir", "dbt")


class ManifestMissingError(RuntimeError):
    """The dbt manifest has not been prepared; the message gives the command that prepares it."""


def manifest_is_stale(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """True when the manifest is missing or a project file is newer (the rule bootstrap.sh applies
    with ``find -newer``; dbt's own outputs and its ``.user.yml`` do not count)."""
    manifest = project_dir / "target" / "manifest.json"
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    skip = {project_dir / "target", project_dir / "logs", project_dir / "dbt_packages"}
    for root, folders, files in os.walk(project_dir):
        folders[:] = [name for name in folders if Path(root, name) not in skip]
        if any(Path(root, name).stat().st_mtime > built for name in files if name != ".user.yml"):
            return True
    return False


def prepare_manifest(project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """Run ``dbt parse`` when the manifest is stale; return whether it ran."""
    if not manifest_is_stale(project_dir):
        return False
    subprocess.run(  # noqa: S603  (a fixed command: dbt parse of this project)
        [dbt_executable(), *PARSE_COMMAND[1:]],
        cwd=project_dir.parent,
        check=True,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"},
    )
    return True


def require_manifest(project: DbtProject = DBT_PROJECT) -> Path:
    if not project.manifest_path.exists():
        raise ManifestMissingError(
            f"the dbt manifest {project.manifest_path} does not exist: run scripts/bootstrap.sh, "
            f"or `{' '.join(PARSE_COMMAND)}` from the project root."
        )
    return project.manifest_path
