"""Running PostgreSQL's programs: as ourselves, or as root as the unprivileged `postgres` user
(initdb and postgres refuse to run as root)."""

from __future__ import annotations

import os
import pwd
import shlex
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

SERVER_OS_USER = "postgres"  # initdb/postgres refuse root; as root we run them as this user


class LocalPostgresError(RuntimeError):
    """A server could not be provided; the message says what to do."""


@dataclass(frozen=True)
class OsUser:
    uid: int
    gid: int


def server_user() -> OsUser | None:
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
    return OsUser(entry.pw_uid, entry.pw_gid)


def chown(path: Path, owner: OsUser | None) -> None:
    if owner is not None:
        os.chown(path, owner.uid, owner.gid)


def run_tool(
    cmd: Sequence[str], env: Mapping[str, str], *, timeout: float, cwd: Path | None = None, check: bool = True
) -> str:
    """Run a server tool as the server's OS user; returns stdout+stderr."""
    owner = server_user()
    try:
        proc = subprocess.run(
            list(cmd),
            env=dict(env),
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
