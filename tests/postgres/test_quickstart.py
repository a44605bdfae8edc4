"""The README's main-job command works from a clean clone up to where the Pulumi CLI is needed."""

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from pg_tenants.local import persistent_status, stop_persistent
from pg_tenants.local.quickstart import INSTALL_URL

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def local_dir():
    # Not under pytest's tmp_path: as root the server runs as `postgres`, which must reach it.
    base = Path(tempfile.mkdtemp(prefix="pg-tenants-quickstart-"))
    base.chmod(0o755)
    yield base / "local"
    stop_persistent(base / "local" / "postgres")
    shutil.rmtree(base, ignore_errors=True)


def run_quickstart(local_dir, path):
    env = {**os.environ, "PG_TENANTS_LOCAL_DIR": str(local_dir), "PATH": path}
    return subprocess.run([sys.executable, "-m", "pg_tenants.local.quickstart"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300)


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


def test_quickstart_prints_no_password(local_dir, tmp_path):
    result = run_quickstart(local_dir, "/usr/bin:/bin")
    password = (local_dir / "postgres.password").read_text().strip()
    assert password and password not in result.stdout + result.stderr
