"""A local PostgreSQL for the tests and the quick start (docs/local-postgres.md).

binaries (find or fetch initdb/pg_ctl/postgres) → cluster (initdb, pg_ctl) → server (a running
server and its admin login) → throwaway (the tests' servers) or persistent (the quick start's),
command_line (`python -m pg_tenants.local start|stop|status`), quickstart (`scripts/up.sh`).
What the rest of the project uses is re-exported here.
"""

from pg_tenants.local.binaries import SUPPORTED_MAJORS, resolve_binaries
from pg_tenants.local.persistent import (
    persistent_status,
    start_persistent,
    stop_persistent,
    write_private_file,
)
from pg_tenants.local.processes import LocalPostgresError
from pg_tenants.local.server import RunningPostgres
from pg_tenants.local.throwaway import pg_versions_under_test, running_postgres

__all__ = [
    "SUPPORTED_MAJORS",
    "LocalPostgresError",
    "RunningPostgres",
    "persistent_status",
    "pg_versions_under_test",
    "resolve_binaries",
    "running_postgres",
    "start_persistent",
    "stop_persistent",
    "write_private_file",
]
