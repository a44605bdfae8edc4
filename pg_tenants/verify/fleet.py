"""The fleet as the stack outputs describe it: who each tenant is and how it logs in.

Reads what `pulumi stack output --json --show-secrets` prints:
`{"tenants": {name: {schema, username, server, database}}, "connections": {name: {..., "env": {PG*}}}}`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from psycopg.conninfo import conninfo_to_dict

REDACTED_BY_PULUMI = "[secret]"


class OutputsError(Exception):
    """The stack outputs are missing, malformed or still hide their secrets."""


@dataclass(frozen=True)
class Declared:
    """Role attributes from the tenant files (only when verify is given the stack config)."""

    connection_limit: int
    valid_until: str


@dataclass(frozen=True)
class Tenant:
    name: str
    role: str  # the role holding the grants (`username`); with zero-downtime rotation a NOLOGIN owner
    schema: str
    server: str
    database: str
    host: str | None = None
    port: int | None = None
    sslmode: str | None = None
    # repr=False: a Tenant printed in a traceback or a log must not show the password.
    password: str | None = field(default=None, repr=False, compare=False)
    login_role: str | None = None  # who logs in with `password`; None: `role` itself
    other_login_roles: tuple[str, ...] = ()  # e.g. the previous slot of a zero-downtime rotation
    suspended: bool = False
    declared: Declared | None = None

    @property
    def has_credentials(self) -> bool:
        return self.password is not None

    @property
    def login_roles(self) -> tuple[str, ...]:
        return (self.login_role or self.role, *self.other_login_roles)

    @property
    def split_roles(self) -> bool:
        """Owner role plus separate login roles (zero-downtime rotation)."""
        return self.login_roles != (self.role,)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.role, *self.login_roles)))


@dataclass(frozen=True)
class Fleet:
    tenants: tuple[Tenant, ...]

    @property
    def passwords(self) -> tuple[str, ...]:
        return tuple(t.password for t in self.tenants if t.password)

    def only(self, names: set[str]) -> Fleet:
        unknown = names - {t.name for t in self.tenants}
        if unknown:
            raise OutputsError(f"not in the stack outputs: {', '.join(sorted(unknown))}")
        return Fleet(tuple(t for t in self.tenants if t.name in names))

    def by_server(self) -> dict[str, list[Tenant]]:
        groups: dict[str, list[Tenant]] = {}
        for tenant in self.tenants:
            groups.setdefault(tenant.server, []).append(tenant)
        return groups


def _login_params(connection: Mapping[str, Any]) -> dict[str, str]:
    """libpq parameters from one `connections` entry; `env` first, the URI as fallback."""
    env = connection.get("env")
    if isinstance(env, Mapping) and env.get("PGUSER"):
        keys = {"PGHOST": "host", "PGPORT": "port", "PGDATABASE": "dbname", "PGUSER": "user",
                "PGPASSWORD": "password", "PGSSLMODE": "sslmode"}
        return {param: str(env[var]) for var, param in keys.items() if env.get(var) not in (None, "")}
    for key in ("uri", "dsn"):
        if isinstance(connection.get(key), str):
            return {k: str(v) for k, v in conninfo_to_dict(connection[key]).items() if v is not None}
    return {}


def parse_outputs(outputs: Mapping[str, Any]) -> Fleet:
    tenants = outputs.get("tenants")
    if not isinstance(tenants, Mapping) or not tenants:
        raise OutputsError("the stack outputs have no `tenants` map")
    connections = outputs.get("connections") or {}
    if connections == REDACTED_BY_PULUMI or not isinstance(connections, Mapping):
        raise OutputsError("`connections` is hidden: run `pulumi stack output --json --show-secrets`")
    fleet = []
    for name, info in sorted(tenants.items()):
        if not isinstance(info, Mapping) or not {"schema", "username", "database"} <= info.keys():
            raise OutputsError(f"tenants.{name} needs schema, username and database")
        connection = connections.get(name)
        params = _login_params(connection) if isinstance(connection, Mapping) else {}
        previous = connection.get("previous") if isinstance(connection, Mapping) else None
        previous_user = _login_params(previous).get("user") if isinstance(previous, Mapping) else None
        if REDACTED_BY_PULUMI in params.values():
            raise OutputsError("`connections` is hidden: run `pulumi stack output --json --show-secrets`")
        port = params.get("port")
        role = str(info["username"])
        login_role = params.get("user", role)
        fleet.append(
            Tenant(
                name=str(name),
                role=role,
                schema=str(info["schema"]),
                server=str(info.get("server") or params.get("host") or "default"),
                database=str(info["database"]),
                host=params.get("host"),
                port=int(port) if port else None,
                sslmode=params.get("sslmode"),
                password=params.get("password"),
                login_role=login_role if login_role != role else None,
                other_login_roles=tuple(r for r in (previous_user,) if r and r not in (role, login_role)),
                suspended=info.get("state") == "suspended",
            )
        )
    return Fleet(tuple(fleet))


def with_declarations(fleet: Fleet, declared: Iterable[Any]) -> Fleet:
    """Attach what the tenant files declare (pg_tenants.tenant_model.Tenant) to the fleet."""
    by_name = {d.name: d for d in declared}
    tenants = []
    for tenant in fleet.tenants:
        d = by_name.get(tenant.name)
        if d is not None:
            tenant = replace(tenant, suspended=getattr(d, "state", "active") == "suspended",
                             declared=Declared(connection_limit=d.connection_limit, valid_until=d.valid_until))
        tenants.append(tenant)
    return Fleet(tuple(tenants))


def read_outputs(source: str | None, *, stack: str | None, cwd: Path | None, stdin: IO[str]) -> Fleet:
    """Outputs from a file, from stdin ("-"), or from the Pulumi CLI when no source is given."""
    try:
        if source == "-":
            text = stdin.read()
        elif source:
            text = Path(source).read_text(encoding="utf-8")
        else:
            command = ["pulumi", "stack", "output", "--json", "--show-secrets"]
            if stack:
                command += ["--stack", stack]
            # The CLI's own stderr goes straight through: it explains login/backend problems best.
            text = subprocess.run(command, cwd=cwd, check=True, capture_output=False,
                                  stdout=subprocess.PIPE, text=True).stdout
    except FileNotFoundError as error:
        raise OutputsError(f"cannot read the stack outputs: {error.strerror}: {error.filename}") from None
    except subprocess.CalledProcessError as error:
        raise OutputsError(f"`pulumi stack output` failed with exit code {error.returncode}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        # Deliberately no excerpt of the text: it holds passwords.
        raise OutputsError(f"the stack outputs are not JSON (line {error.lineno}, column {error.colno})") from None
    if not isinstance(data, Mapping):
        raise OutputsError("the stack outputs are not a JSON object")
    return parse_outputs(data)
