"""`python -m pg_tenants.local start|stop|status --data-dir DIR`: the persistent local server;
`python -m pg_tenants.local find [--major N]`: which installed binaries it would use."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from pg_tenants.local.binaries import DEFAULT_MAJOR, SUPPORTED_MAJORS, resolve_installed
from pg_tenants.local.processes import LocalPostgresError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pg_tenants.local",
        description="Run a local PostgreSQL for pg-tenants that persists between runs.",
    )
    parser.add_argument("command", choices=["start", "stop", "status", "find"])
    parser.add_argument("--data-dir", type=Path, help="cluster directory (created on first start); not for find")
    parser.add_argument("--major", type=int, choices=SUPPORTED_MAJORS,
                        help=f"default {DEFAULT_MAJOR} if installed, else the newest installed major")
    parser.add_argument("--port", type=int, help="default: the port of the last start, else a free one")
    parser.add_argument("--database", action="append", default=[], help="create this database too (repeatable)")
    args = parser.parse_args(argv)
    if args.command != "find" and args.data_dir is None:
        parser.error(f"{args.command} needs --data-dir")
    try:
        if args.command == "find":
            major, binaries = resolve_installed(args.major)
            print(f"PostgreSQL {major}: {binaries.bin_dir}")
            return 0
        # Imported here: psycopg takes most of a second to import, and setup.sh runs `find` every time.
        from pg_tenants.local.persistent import describe, persistent_status, start_persistent, stop_persistent

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
