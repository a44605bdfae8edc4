"""Where the admin login for the catalog checks comes from.

Per server, later sources win: the server's entry in the stack config (host, port,
adminUsername, sslmode, its TLS files, and the admin password through `pulumi config get` when the CLI
can decrypt it), then an explicit conninfo (`--admin-conninfo` / PG_TENANTS_ADMIN_CONNINFO).
What both leave out, libpq takes from PG* variables and ~/.pgpass; the host and port fall
back to the ones in the tenants' credentials. The database is always the tenants' own.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from pg_tenants.stack_config import NAMESPACE, StackSettings

from .fleet import Tenant

ENV_ADMIN_CONNINFO = "PG_TENANTS_ADMIN_CONNINFO"


@dataclass(frozen=True)
class ServerAccess:
    params: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold the admin password
    admin_role: str | None = None  # owner of the tenants' schemas; None: the admin login itself


def explicit_params(conninfo: str) -> dict[str, str]:
    return {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}


def pulumi_config_secret(key: str, *, stack: str | None, cwd: Path | None) -> str | None:
    """A secret from the stack config via the Pulumi CLI, or None when it cannot be had."""
    command = ["pulumi", "config", "get", f"{NAMESPACE}:{key}"]
    if stack:
        command += ["--stack", stack]
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.rstrip("\n")
    return value if done.returncode == 0 and value else None


def access_from_stack(settings: StackSettings, *, stack: str | None, cwd: Path | None,
                      fetch_password: bool) -> dict[str, ServerAccess]:
    access = {}
    for name, server in settings.servers.items():
        params = {"host": server.host, "port": str(server.port), "user": server.admin_username,
                  "sslmode": server.sslmode, **server.tls_params()}
        if fetch_password:
            password = pulumi_config_secret(server.admin_password_secret, stack=stack, cwd=cwd)
            if password is not None:
                params["password"] = password
        access[name] = ServerAccess(params, server.admin_username)
    return access


def merge(base: ServerAccess | None, explicit: Mapping[str, str], admin_role: str | None) -> ServerAccess:
    params = {**(base.params if base else {}), **explicit}
    return ServerAccess(params, admin_role or (base.admin_role if base else None))


def admin_params(access: ServerAccess, sample: Tenant, dbname: str) -> dict[str, str]:
    params = dict(access.params)
    fallbacks = (("host", "PGHOST", sample.host), ("port", "PGPORT", sample.port),
                 ("sslmode", "PGSSLMODE", sample.sslmode), ("sslrootcert", "PGSSLROOTCERT", sample.sslrootcert))
    for key, variable, value in fallbacks:
        if key not in params and variable not in os.environ and value is not None:
            params[key] = str(value)
    params["dbname"] = dbname
    return params
