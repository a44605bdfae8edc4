"""`python -m pg_tenants.local start|stop|status --data-dir DIR`: the persistent local server."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path

from pg_tenants.local.binaries import DEFAULT_MAJOR, SUPPORTED_MAJORS
from pg_tenants.local.persistent import (
    persistent_status,
    start_persistent,
    stop_persistent,
)
from pg_tenants.local.processes import LocalPostgresError
from pg_tenants.local.server import RunningPostgres
from pg_tenants.local.throwaway import ENV_ADMIN_URL


def describe(pg: RunningPostgres) -> str:
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
        prog="python -m pg_tenants.local",
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
            print(describe(start_persistent(args.data_dir, args.major, args.port, args.database)))
            return 0
        if args.command == "stop":
            print("stopped" if stop_persistent(args.data_dir) else "not running")
            return 0
        pg = persistent_status(args.data_dir)
        print(describe(pg) if pg else f"not running ({args.data_dir})")
        return 0 if pg else 3  # 3 = not running, as `pg_ctl status`
    except (LocalPostgresError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
