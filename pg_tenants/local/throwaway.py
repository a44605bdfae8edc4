"""Throwaway servers for the tests: ``running_postgres()`` yields a server from the first source
that is available, and stops it afterwards:

1. ``PG_TENANTS_ADMIN_URL`` (a libpq URI of a superuser): an existing server;
2. a testcontainers ``PostgresContainer`` when a Docker engine answers a ping;
3. local server binaries (initdb + pg_ctl) in a temporary directory.

See docs/local-postgres.md.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from pg_tenants.local.binaries import SUPPORTED_MAJORS, check_major, resolve_binaries
from pg_tenants.local.cluster import ADMIN_DATABASE, ADMIN_USER, BASE_SETTINGS, initdb, pg_ctl_start, pg_ctl_stop
from pg_tenants.local.processes import LocalPostgresError, chown, server_user
from pg_tenants.local.server import ENV_ADMIN_URL, RunningPostgres, Source, check_databases, create_databases, local_result, server_major

DEFAULT_VERSIONS_UNDER_TEST = "14,15"
ENV_VERSIONS = "PG_TENANTS_PG_VERSIONS"

ALL_SOURCES: tuple[Source, ...] = ("env", "docker", "local")

# Set by the launcher itself; a caller overriding them would break host/port/log_path.
_RESERVED_SETTINGS = frozenset({"port", "listen_addresses", "unix_socket_directories"})
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

# A container's stderr is only the Docker engine's: its log goes to one file in the data
# directory instead, which the admin (a superuser) reads with pg_read_binary_file
# (tests/support/server_log.py), so tests that read the log run on Docker too.
CONTAINER_LOG_SETTINGS: dict[str, str] = {
    "logging_collector": "on",
    "log_directory": "log",
    "log_filename": "postgresql.log",
    "log_rotation_age": "0",
    "log_rotation_size": "0",
}
# A throwaway cluster gains nothing from durability and these make it faster.
_THROWAWAY_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def pg_versions_under_test() -> list[int]:
    """Majors the test suite runs against, from PG_TENANTS_PG_VERSIONS.

    A comma list such as "14,15" (the default), or "all" for every supported major.
    """
    raw = os.environ.get(ENV_VERSIONS, "").strip() or DEFAULT_VERSIONS_UNDER_TEST
    if raw.lower() == "all":
        return list(SUPPORTED_MAJORS)
    majors: list[int] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part.isdigit():
            raise ValueError(f"{ENV_VERSIONS}={raw!r}: expected e.g. '14,15' or 'all'")
        major = check_major(int(part))
        if major not in majors:
            majors.append(major)
    return majors



def _check_settings(settings: Mapping[str, str]) -> dict[str, str]:
    for key in settings:
        if not _SETTING_NAME.match(key):
            raise ValueError(f"invalid server setting name: {key!r}")
        if key in _RESERVED_SETTINGS:
            raise ValueError(f"server setting {key!r} is chosen by the launcher and cannot be overridden")
    return {k: str(v) for k, v in settings.items()}



@contextmanager
def _env_server(url: str, settings: Mapping[str, str], databases: Sequence[str]) -> Iterator[RunningPostgres]:
    if settings:
        warnings.warn(
            f"{ENV_ADMIN_URL} is set: server_settings {sorted(settings)} are not applied to that server",
            stacklevel=4,
        )
    params = conninfo_to_dict(url)
    params.setdefault("connect_timeout", "10")
    base = make_conninfo(**params)
    with psycopg.connect(base, autocommit=True) as conn:
        major = server_major(conn)
        row = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
        info = conn.info
        host, port, user, password, dbname = info.host, info.port, info.user, info.password, info.dbname
    if not (row and row[0]):
        raise LocalPostgresError(f"{ENV_ADMIN_URL} must name a superuser; {user!r} is not one")
    if major not in SUPPORTED_MAJORS:
        raise LocalPostgresError(f"{ENV_ADMIN_URL} points at PostgreSQL {major}; supported: {SUPPORTED_MAJORS}")
    pg = RunningPostgres(
        source="env", host=host, port=port, admin_user=user, admin_password=password or None,
        admin_database=dbname, major=major, log_path=None, data_dir=None, password_file=None,
        base_conninfo=base,
    )  # fmt: skip
    created: list[str] = []
    try:
        created = create_databases(pg, databases)
        yield pg
    finally:
        # We did not start this server, so only undo what we created on it.
        if created:
            with pg.admin_connect() as conn:
                for name in created:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def docker_available(timeout: float = 2.0) -> bool:
    """True if a Docker engine answers a ping within `timeout` seconds."""
    try:
        import docker  # imported lazily: optional, and only needed for this check

        client = docker.from_env(timeout=int(max(1, timeout)))
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no package, no socket, refused, timed out: all mean "no engine"
        return False


@contextmanager
def _container_server(
    major: int, settings: Mapping[str, str], databases: Sequence[str]
) -> Iterator[RunningPostgres]:
    try:
        from testcontainers.community.postgres import (
            PostgresContainer,  # testcontainers >= 4.15
        )
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    password = secrets.token_urlsafe(24)
    container = PostgresContainer(
        f"postgres:{major}", username=ADMIN_USER, password=password, dbname=ADMIN_DATABASE, driver=None
    )
    # Same auth as the local path: SCRAM for TCP, verifier stored as SCRAM.
    container.with_env("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256")
    container.with_env("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256")
    command = ["postgres"]
    for key, value in {**BASE_SETTINGS, **CONTAINER_LOG_SETTINGS, **settings}.items():
        command += ["-c", f"{key}={value}"]
    container.with_command(command)
    with container:
        port = int(container.get_exposed_port(5432))
        host = container.get_container_host_ip()
        base = make_conninfo(
            host=host, port=port, user=ADMIN_USER, password=password, dbname=ADMIN_DATABASE, connect_timeout=10
        )
        with psycopg.connect(base, autocommit=True) as conn:
            found_major = server_major(conn)
        pg = RunningPostgres(
            source="docker", host=host, port=port, admin_user=ADMIN_USER, admin_password=password,
            admin_database=ADMIN_DATABASE, major=found_major, log_path=None, data_dir=None,
            password_file=None, base_conninfo=base,
        )  # fmt: skip
        create_databases(pg, databases)
        yield pg


@contextmanager
def _temp_local_server(
    major: int, settings: Mapping[str, str], databases: Sequence[str]
) -> Iterator[RunningPostgres]:
    binaries = resolve_binaries(major)
    owner = server_user()
    tmp = Path(tempfile.mkdtemp(prefix="pg-tenants-"))
    data_dir = tmp / "data"
    try:
        chown(tmp, owner)
        password = secrets.token_urlsafe(24)
        initdb(binaries, data_dir, password, no_sync=True)
        log_path = tmp / "postgres.log"
        port = pg_ctl_start(
            binaries, data_dir, log_path, socket_dir=tmp,
            settings={**BASE_SETTINGS, **_THROWAWAY_SETTINGS, **settings}, port=None,
        )  # fmt: skip
        pg = local_result(port, password, log_path, data_dir)
        create_databases(pg, databases)
        yield pg
    finally:
        # Also runs on exceptions and KeyboardInterrupt in the caller's block.
        pg_ctl_stop(binaries, data_dir, "immediate")
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def running_postgres(
    major: int | None = None,
    *,
    server_settings: Mapping[str, str] | None = None,
    databases: Sequence[str] = (),
    sources: Sequence[Source] = ALL_SOURCES,
) -> Iterator[RunningPostgres]:
    """Yield a running PostgreSQL and its admin connection details; stop it afterwards.

    Sources, first available wins: "env" ($PG_TENANTS_ADMIN_URL; its major is whatever
    that server runs and server_settings are not applied), "docker" (testcontainers),
    "local" (initdb/pg_ctl in a temp dir).  `sources` narrows the choice, e.g. tests
    that need `log_path` pass ("local",).  `databases` are created at start.
    """
    wanted = check_major(major)
    settings = _check_settings(server_settings or {})
    dbs = check_databases(databases)
    url = os.environ.get(ENV_ADMIN_URL, "").strip()
    if "env" in sources and url:
        server = _env_server(url, settings, dbs)
    elif "docker" in sources and docker_available():
        server = _container_server(wanted, settings, dbs)
    elif "local" in sources:
        server = _temp_local_server(wanted, settings, dbs)
    else:
        raise LocalPostgresError(f"none of the sources {list(sources)} is available")
    with server as pg:
        yield pg


