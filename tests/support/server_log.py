"""The server's log, read wherever the launcher started the server: tests read it, never skip it.

A refused login's SQLSTATE (libpq gives the client none), the no-plaintext-password check and
"whose code ran" all come from the log. A local server (`pg_tenants.local`) writes it
to `log_path`; a Docker-started one runs the logging collector into its data directory
(`pg_tenants.local.throwaway.CONTAINER_LOG_SETTINGS`), which the admin, a superuser, reads with
`pg_read_binary_file`. A server whose log neither way reaches raises `ServerLogUnreadable`:
the test fails, so a green run never hides a check that did not run.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import psycopg
from psycopg import sql

from pg_tenants.local.server import RunningPostgres

SYNC_TIMEOUT = 10.0  # seconds for the logging collector to write a line it was sent


class ServerLogUnreadable(RuntimeError):
    """Neither `log_path` nor the admin's `pg_read_binary_file` reaches the server's log."""


@dataclass(frozen=True)
class ServerLog:
    """The log of `pg`: its size now, and what was written after an offset."""

    pg: RunningPostgres
    collector_file: str | None  # pg_current_logfile(), relative to the data directory

    @classmethod
    def of(cls, pg: RunningPostgres) -> ServerLog:
        if pg.log_path is not None:
            return cls(pg, None)
        try:
            with pg.admin_connect() as admin:
                current = admin.execute("SELECT pg_current_logfile('stderr')").fetchone()[0]
                if current is not None:
                    admin.execute("SELECT size FROM pg_stat_file(%s)", (current,))
        except psycopg.Error as error:
            raise ServerLogUnreadable(
                f"the log of the {pg.source} server at {pg.host}:{pg.port} is not readable: its admin "
                f"{pg.admin_user!r} cannot read the log file ({error.sqlstate}: {str(error).strip()}). "
                "Start the server through pg_tenants.local (local, or Docker with its logging "
                "collector) as a superuser.") from None
        if current is None:
            raise ServerLogUnreadable(
                f"the log of the {pg.source} server at {pg.host}:{pg.port} is not readable: no local log "
                "file, and its logging collector is off (pg_current_logfile() is NULL). Start the server "
                "through pg_tenants.local, which sets pg_tenants.local.throwaway.CONTAINER_LOG_SETTINGS for "
                "Docker.")
        return cls(pg, current)

    def size(self) -> int:
        if self.collector_file is None:
            assert self.pg.log_path is not None
            return self.pg.log_path.stat().st_size
        with self.pg.admin_connect() as admin:
            return int(admin.execute("SELECT size FROM pg_stat_file(%s)", (self.collector_file,)).fetchone()[0])

    def since(self, offset: int) -> str:
        """Everything logged after `offset` bytes, up to now: a marker is logged and awaited first,
        since the logging collector writes what backends send it a moment later."""
        marker = f"pg-tenants log sync {secrets.token_hex(8)}"
        with self.pg.admin_connect() as admin:
            admin.execute(sql.SQL("DO {}").format(sql.Literal(f"BEGIN RAISE LOG '{marker}'; END")))
        deadline = time.monotonic() + SYNC_TIMEOUT
        while True:
            text = self._read(offset)
            if marker in text:
                return text
            if time.monotonic() > deadline:
                raise ServerLogUnreadable(f"the server's log did not show {marker!r} within {SYNC_TIMEOUT} s")
            time.sleep(0.05)

    def _read(self, offset: int) -> str:
        if self.collector_file is None:
            assert self.pg.log_path is not None
            with self.pg.log_path.open("rb") as log:
                log.seek(offset)
                return log.read().decode(errors="replace")
        with self.pg.admin_connect() as admin:
            data = admin.execute(
                "SELECT pg_read_binary_file(%(f)s, %(o)s, greatest((SELECT size FROM pg_stat_file(%(f)s)) - %(o)s, 0))",
                {"f": self.collector_file, "o": offset},
            ).fetchone()[0]
        return bytes(data).decode(errors="replace")
