"""Where the admin login for the catalog checks comes from.

Per server, later sources win: the server's entry in the stack config (host, port,
adminUsername, sslmode, its TLS files, and the admin password through `pulumi config get` when the
CLI can decrypt it), then an explicit conninfo or URI (`--admin-conninfo`, else $PG_TENANTS_ADMIN_URL,
the variable the local launcher prints; $PG_TENANTS_ADMIN_CONNINFO is its older name, still read).
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

ENV_ADMIN_URL = "PG_TENANTS_ADMIN_URL"
ENV_ADMIN_CONNINFO = "PG_TENANTS_ADMIN_CONNINFO"  # the older name, kept for existing pipelines


class AdminSettingsError(Exception):
    """The admin login settings contradict each other or cannot be read."""


def conninfo_from_environment(environ: Mapping[str, str]) -> tuple[str, str]:
    """$PG_TENANTS_ADMIN_URL, else the older $PG_TENANTS_ADMIN_CONNINFO (both set must agree), and
    which variable it came from."""
    url, older = environ.get(ENV_ADMIN_URL, ""), environ.get(ENV_ADMIN_CONNINFO, "")
    if url and older and url != older:
        # Never echo either: they may hold the admin password.
        raise AdminSettingsError(f"{ENV_ADMIN_URL} and {ENV_ADMIN_CONNINFO} are both set, to different values; "
                                 f"unset {ENV_ADMIN_CONNINFO} (the older name)")
    return (url, f"${ENV_ADMIN_URL}") if url else (older, f"${ENV_ADMIN_CONNINFO}")


@dataclass(frozen=True)
class SecretLookup:
    value: str | None = field(default=None, repr=False)
    problem: str | None = None  # why there is no value, for the admin-login hint


@dataclass(frozen=True)
class ServerAccess:
    params: Mapping[str, str] = field(default_factory=dict, repr=False)  # may hold the admin password
    admin_role: str | None = None  # owner of the tenants' schemas; None: the admin login itself
    password_source: str | None = None  # where params' password came from, for the admin-login hint
    password_problem: str | None = None  # why the stack's admin password could not be read


def explicit_params(conninfo: str) -> dict[str, str]:
    return {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}


def pulumi_config_secret(key: str, *, stack: str | None, cwd: Path | None) -> SecretLookup:
    """A secret from the stack config via the Pulumi CLI, or why it cannot be had."""
    command = ["pulumi", "config", "get", f"{NAMESPACE}:{key}"]
    if stack:
        command += ["--stack", stack]
    shown = f"`{' '.join(command)}`"
    try:
        done = subprocess.run(command, check=False, cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError:
        return SecretLookup(problem=f"{shown} could not run: the Pulumi CLI (`pulumi`) is not on PATH")
    except OSError as error:
        return SecretLookup(problem=f"{shown} could not run: {error.strerror}")
    except subprocess.TimeoutExpired:
        return SecretLookup(problem=f"{shown} did not answer within 60 s")
    value = done.stdout.rstrip("\n")
    if done.returncode != 0:
        said = [line.strip() for line in done.stderr.splitlines() if line.strip()]
        return SecretLookup(problem=f"{shown} failed: {said[0] if said else f'exit code {done.returncode}'}")
    return SecretLookup(value) if value else SecretLookup(problem=f"{shown} printed nothing")


def access_from_stack(settings: StackSettings, *, stack: str | None, cwd: Path | None,
                      fetch_password: bool) -> dict[str, ServerAccess]:
    access = {}
    for name, server in settings.servers.items():
        params = {"host": server.host, "port": str(server.port), "user": server.admin_username,
                  "sslmode": server.sslmode, **server.tls_params()}
        source, problem = None, None
        if fetch_password:
            lookup = pulumi_config_secret(server.admin_password_secret, stack=stack, cwd=cwd)
            if lookup.value is not None:
                params["password"] = lookup.value
                source = f"the stack config's {NAMESPACE}:{server.admin_password_secret}"
            problem = lookup.problem
        access[name] = ServerAccess(params, server.admin_username, source, problem)
    return access


def merge(base: ServerAccess | None, explicit: Mapping[str, str], admin_role: str | None,
          explicit_source: str) -> ServerAccess:
    params = {**(base.params if base else {}), **explicit}
    if "password" in explicit:
        source, problem = explicit_source, None
    else:
        source, problem = (base.password_source, base.password_problem) if base else (None, None)
    return ServerAccess(params, admin_role or (base.admin_role if base else None), source, problem)


def admin_params(access: ServerAccess, sample: Tenant, dbname: str) -> dict[str, str]:
    params = dict(access.params)
    fallbacks = (("host", "PGHOST", sample.host), ("port", "PGPORT", sample.port),
                 ("sslmode", "PGSSLMODE", sample.sslmode), ("sslrootcert", "PGSSLROOTCERT", sample.sslrootcert))
    for key, variable, value in fallbacks:
        if key not in params and variable not in os.environ and value is not None:
            params[key] = str(value)
    params["dbname"] = dbname
    return params
