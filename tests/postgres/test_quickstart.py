"""The README's quick start: `scripts/up.sh` and `scripts/setup.sh` from a clean clone, up to where
the Pulumi CLI is needed (a stand-in `pulumi` records how it was run)."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from pg_tenants.local.persistent import persistent_status, stop_persistent
from pg_tenants.local.quickstart import INSTALL_URL
from pg_tenants.verify.admin import ENV_ADMIN_URL

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_dir():
    # Not under pytest's tmp_path: as root the server runs as `postgres`, which must reach it.
    base = Path(tempfile.mkdtemp(prefix="pg-tenants-quickstart-"))
    base.chmod(0o755)
    yield base / "local"
    stop_persistent(base / "local" / "postgres")
    shutil.rmtree(base, ignore_errors=True)


def run_quickstart(local_dir, path, project=PROJECT, extra_env=None):
    env = {**os.environ, "PG_TENANTS_LOCAL_DIR": str(local_dir), "PATH": path, "PYTHONPATH": str(project), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "pg_tenants.local.quickstart"], cwd=project, env=env, capture_output=True, text=True, timeout=300)


def test_without_pulumi_cli_it_starts_the_database_then_stops_with_the_install_link(local_dir, tmp_path):
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    result = run_quickstart(local_dir, f"{empty_bin}:/usr/bin:/bin")
    assert result.returncode == 2, result.stderr
    assert INSTALL_URL in result.stderr
    running = persistent_status(local_dir / "postgres")
    assert running is not None
    with running.admin_connect("app") as conn:
        assert conn.execute("select current_database()").fetchone() == ("app",)
    assert f"python -m pg_tenants.local stop --data-dir {local_dir / 'postgres'}" in result.stdout


def test_quickstart_prints_no_password(local_dir, tmp_path):
    result = run_quickstart(local_dir, "/usr/bin:/bin")
    password = (local_dir / "postgres.password").read_text().strip()
    assert password and password not in result.stdout + result.stderr


FAKE_PULUMI = """#!/bin/sh
echo "$PULUMI_BACKEND_URL|$PULUMI_CONFIG_PASSPHRASE_FILE|$*" >> "$PULUMI_LOG"
[ "$1" = config ] && cat > /dev/null
exit 0
"""


def test_the_stack_it_makes_can_be_reached_afterwards_with_the_printed_exports(local_dir, tmp_path):
    # A copy of the package, so that the stack file the quick start writes lands there.
    project = tmp_path / "project"
    shutil.copytree(PROJECT / "pg_tenants", project / "pg_tenants", ignore=shutil.ignore_patterns("__pycache__"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(FAKE_PULUMI)
    (bin_dir / "pulumi").chmod(0o755)
    log = tmp_path / "pulumi.log"
    result = run_quickstart(local_dir, f"{bin_dir}:/usr/bin:/bin", project, {"PULUMI_LOG": str(log)})
    assert result.returncode == 0, result.stderr

    (backend, passphrase, args) = log.read_text().splitlines()[-1].split("|")
    assert args == "up --stack local"
    env_file = local_dir / "env"
    for line in (f"export PULUMI_BACKEND_URL={backend}", f"export PULUMI_CONFIG_PASSPHRASE_FILE={passphrase}",
                 f"export {ENV_ADMIN_URL}=", f". {env_file}"):
        assert line in result.stdout
    for command in ("pulumi stack output --stack local", "pulumi preview --stack local --diff",
                    "pg-tenants verify --stack local", f"python -m pg_tenants.local stop --data-dir {local_dir / 'postgres'}"):
        assert command in result.stdout
    assert "PostgreSQL" in result.stdout and "is running" in result.stdout  # the launcher's status block

    sourced = subprocess.run(
        ["bash", "-c", f'. "$0"; printf "%s\\n" "$PULUMI_BACKEND_URL" "$PULUMI_CONFIG_PASSPHRASE_FILE" "${ENV_ADMIN_URL}"', env_file],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert sourced[:2] == [backend, passphrase]
    with psycopg.connect(sourced[2]) as conn:
        assert conn.execute("select current_user").fetchone() == ("postgres",)
    password = (local_dir / "postgres.password").read_text().strip()
    assert password not in result.stdout + result.stderr + env_file.read_text()
    assert env_file.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- scripts

FAKE_PYTHON = """#!/bin/sh
echo "$*" >> "$PYTHON_LOG"
"""


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The scripts and requirements files of a clone, with a stand-in venv/bin/python that
    records what it is asked to run (pip, the launcher, the quick start) and does nothing."""
    project = tmp_path / "clone"
    (project / "scripts").mkdir(parents=True)
    for name in ("scripts/setup.sh", "scripts/up.sh", "requirements.txt", "requirements-dev.txt", "pyproject.toml"):
        shutil.copy2(PROJECT / name, project / name)
    python = project / "venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return project


def run_script(checkout: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str], float]:
    log = checkout / "python.log"
    log.unlink(missing_ok=True)
    started = time.monotonic()
    result = subprocess.run(list(args), cwd=checkout, env={**os.environ, "PYTHON_LOG": str(log)}, capture_output=True, text=True, timeout=120)
    elapsed = time.monotonic() - started
    return result, (log.read_text().splitlines() if log.exists() else []), elapsed


def pip_runs(calls: list[str]) -> list[str]:
    return [call for call in calls if call.startswith("-m pip install")]


def test_setup_installs_the_programs_requirements_only_and_a_second_run_installs_nothing(checkout):
    first, calls, _ = run_script(checkout, "scripts/setup.sh")
    assert first.returncode == 0, first.stderr
    assert any("-r requirements.txt" in call for call in pip_runs(calls))
    assert not any("requirements-dev.txt" in call for call in calls)
    second, calls, elapsed = run_script(checkout, "scripts/setup.sh")
    assert second.returncode == 0, second.stderr
    assert pip_runs(calls) == []
    assert elapsed < 2


def test_setup_runs_pip_again_when_a_requirements_file_changes(checkout):
    run_script(checkout, "scripts/setup.sh")
    with (checkout / "requirements.txt").open("a") as requirements:
        requirements.write("# changed\n")
    _, calls, _ = run_script(checkout, "scripts/setup.sh")
    assert any("-r requirements.txt" in call for call in pip_runs(calls))


def test_setup_dev_adds_the_test_tooling(checkout):
    result, calls, _ = run_script(checkout, "scripts/setup.sh", "--dev")
    assert result.returncode == 0, result.stderr
    assert any("-r requirements-dev.txt" in call for call in pip_runs(calls))


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_up_help_prints_usage_and_starts_nothing(checkout, flag):
    result, calls, _ = run_script(checkout, "scripts/up.sh", flag)
    assert result.returncode == 0
    assert result.stdout.startswith("usage: scripts/up.sh")
    assert calls == []  # no pip, no launcher, no quick start
