"""A local server that outlives the process (the quick start's): initdb once, then start and stop
it across runs with the same major, port and admin password.

Layout, for a data dir `<dir>/<name>`: `<dir>/<name>.password` (mode 0600, the admin password),
`<dir>/<name>.json` (major and port), `<dir>/<name>/server.log`.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pg_tenants.local.binaries import check_major, resolve_binaries, resolve_installed
from pg_tenants.local.cluster import BASE_SETTINGS, initdb, pg_ctl_running, pg_ctl_start, pg_ctl_stop
from pg_tenants.local.processes import SERVER_OS_USER, LocalPostgresError, chown, server_user
from pg_tenants.local.server import ENV_ADMIN_URL, RunningPostgres, check_databases, create_databases, local_result


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


def _init_persistent(layout: _PersistentLayout, major: int | None) -> None:
    data_dir = layout.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise LocalPostgresError(
            f"{data_dir} is not empty and was not created by this launcher "
            f"(expected {layout.state_file} and {data_dir}/PG_VERSION)"
        )
    created_dir = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)
    chown(data_dir, server_user())
    password = secrets.token_urlsafe(24)
    try:
        write_private_file(layout.password_file, password + "\n")
        major, binaries = resolve_installed(major)
        initdb(binaries, data_dir, password, no_sync=False)
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
    dbs = check_databases(databases)
    if not layout.initialized():
        _init_persistent(layout, None if major is None else check_major(major))
    state = layout.state()
    if major is not None and check_major(major) != state["major"]:
        raise LocalPostgresError(f"{layout.data_dir} holds PostgreSQL {state['major']}, not {major}")
    binaries = resolve_binaries(state["major"], fetch=False)
    password = layout.password_file.read_text().strip()
    if pg_ctl_running(binaries, layout.data_dir):
        if port is not None and port != state["port"]:
            raise LocalPostgresError(f"server already runs on port {state['port']}; stop it to change port")
    else:
        wanted_port = port or state["port"] or None
        state["port"] = pg_ctl_start(
            binaries, layout.data_dir, layout.log_path, socket_dir=layout.data_dir,
            settings=BASE_SETTINGS, port=wanted_port,
        )  # fmt: skip
        write_private_file(layout.state_file, json.dumps(state) + "\n")
    pg = local_result(state["port"], password, layout.log_path, layout.data_dir, layout.password_file)
    create_databases(pg, dbs, if_missing=True)
    return pg


def stop_persistent(data_dir: Path) -> bool:
    """Stop the persistent server in data_dir (fast shutdown).  False if it was not running."""
    layout = _layout(data_dir)
    if not layout.initialized():
        return False
    binaries = resolve_binaries(layout.state()["major"], fetch=False)
    if not pg_ctl_running(binaries, layout.data_dir):
        return False
    pg_ctl_stop(binaries, layout.data_dir, "fast")
    return True


def persistent_status(data_dir: Path) -> RunningPostgres | None:
    """The persistent server in data_dir if it is running, else None."""
    layout = _layout(data_dir)
    if not layout.initialized():
        return None
    state = layout.state()
    if not pg_ctl_running(resolve_binaries(state["major"], fetch=False), layout.data_dir):
        return None
    password = layout.password_file.read_text().strip()
    return local_result(state["port"], password, layout.log_path, layout.data_dir, layout.password_file)


def describe(pg: RunningPostgres) -> str:
    """The status block of a persistent server (`python -m pg_tenants.local status`)."""
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
