"""The fleet as the stack outputs describe it: who each tenant is and how it logs in.

Reads what `pulumi stack output --json --show-secrets` prints:
`{"tenants": {name: {schema, username, server, database, isolation, state, readonly_login}}, "connections": {name: {..., "env": {PG*},
"readonly": {...}}}}`. `state` is active, suspended or offboarded (absent in older outputs: active); an offboarded
tenant has no entry in `connections`. `readonly_login` (absent in older outputs: false) says the tenant has a
read-only login `<username>_ro`, whose credentials are `connections.<name>.readonly`.
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
READONLY_SUFFIX = "_ro"  # pg_tenants.tenants.model: the read-only login is `<username>_ro`
STATES = ("active", "suspended", "offboarded")
NO_TEMP_FILE_LIMIT = -1  # the tenant model's "no per-role limit"


class OutputsError(Exception):
    """The stack outputs are missing, malformed or still hide their secrets; `fix` says what to do."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class Declared:
    """Role attributes and settings from the tenant files (only when verify is given the stack config)."""

    connection_limit: int
    valid_until: str
    statement_timeout: int = 0  # milliseconds, on every tenant role; 0: not set
    idle_in_transaction_session_timeout: int = 0  # milliseconds, on every tenant role; 0: not set
    temp_file_limit: int = NO_TEMP_FILE_LIMIT  # kB, on each role that logs in; -1: not set


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
    sslrootcert: str | None = None  # the CA file to verify the server with
    # repr=False: a Tenant printed in a traceback or a log must not show the password.
    password: str | None = field(default=None, repr=False, compare=False)
    login_role: str | None = None  # who logs in with `password`; None: `role` itself
    other_login_roles: tuple[str, ...] = ()  # e.g. the previous slot of a zero-downtime rotation
    state: str = "active"  # one of STATES
    declared: Declared | None = None
    readonly_role: str | None = None  # `<username>_ro`, the read-only login, if the tenant has one
    readonly_password: str | None = field(default=None, repr=False, compare=False)
    isolation: str = "schema"  # "database": `database` is the tenant's own (outputs written before tiers: schema)

    @property
    def suspended(self) -> bool:
        return self.state == "suspended"

    @property
    def offboarded(self) -> bool:
        return self.state == "offboarded"

    @property
    def has_credentials(self) -> bool:
        return self.password is not None

    @property
    def login_roles(self) -> tuple[str, ...]:
        """The roles that log in (NOLOGIN while suspended); none once the tenant is offboarded."""
        if self.offboarded:
            return ()
        return (self.login_role or self.role, *self.other_login_roles)

    @property
    def slots(self) -> tuple[str, ...]:
        """Zero-downtime login slots: login roles other than the owner role."""
        return tuple(r for r in self.login_roles if r != self.role)

    @property
    def split_roles(self) -> bool:
        """Owner role plus separate login roles (zero-downtime rotation)."""
        return bool(self.slots)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.role, *self.login_roles, *self.readonly_roles)))

    @property
    def readonly_roles(self) -> tuple[str, ...]:
        """The read-only login, if the tenant has one (never once offboarded)."""
        return (self.readonly_role,) if self.readonly_role and not self.offboarded else ()

    def logs_in(self, role: str) -> bool:
        """Whether `role` is one of the tenant's logins: its own, or its read-only one."""
        return role in self.login_roles or role in self.readonly_roles

    @property
    def former_slots(self) -> tuple[str, ...]:
        """Roles an offboarded tenant must no longer have: `<username>_a`, `<username>_b` and
        any login role the outputs still name."""
        if not self.offboarded:
            return ()
        named = (self.login_role, *self.other_login_roles, self.readonly_role)
        standard = (f"{self.role}_a", f"{self.role}_b", f"{self.role}{READONLY_SUFFIX}")
        return tuple(dict.fromkeys(r for r in (*standard, *named) if r and r != self.role))


@dataclass(frozen=True)
class Fleet:
    tenants: tuple[Tenant, ...]

    @property
    def passwords(self) -> tuple[str, ...]:
        return tuple(p for t in self.tenants for p in (t.password, t.readonly_password) if p)

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
                "PGPASSWORD": "password", "PGSSLMODE": "sslmode", "PGSSLROOTCERT": "sslrootcert"}
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
        state = info.get("state") or "active"
        if state not in STATES:
            raise OutputsError(f"tenants.{name}.state is {state!r}; expected one of {', '.join(STATES)}")
        # An offboarded tenant has no credentials; should the outputs still hold some, they are not used.
        connection = connections.get(name) if state != "offboarded" else None
        params = _login_params(connection) if isinstance(connection, Mapping) else {}
        previous = connection.get("previous") if isinstance(connection, Mapping) else None
        previous_user = _login_params(previous).get("user") if isinstance(previous, Mapping) else None
        if REDACTED_BY_PULUMI in params.values():
            raise OutputsError("`connections` is hidden: run `pulumi stack output --json --show-secrets`")
        readonly = connection.get("readonly") if isinstance(connection, Mapping) else None
        readonly_params = _login_params(readonly) if isinstance(readonly, Mapping) else {}
        if REDACTED_BY_PULUMI in readonly_params.values():
            raise OutputsError("`connections` is hidden: run `pulumi stack output --json --show-secrets`")
        port = params.get("port")
        role = str(info["username"])
        has_readonly = bool(info.get("readonly_login")) or bool(readonly_params)
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
                sslrootcert=params.get("sslrootcert"),
                password=params.get("password"),
                login_role=login_role if login_role != role else None,
                other_login_roles=tuple(r for r in (previous_user,) if r and r not in (role, login_role)),
                state=str(state),
                readonly_role=readonly_params.get("user", f"{role}{READONLY_SUFFIX}") if has_readonly else None,
                readonly_password=readonly_params.get("password"),
                isolation=str(info.get("isolation") or "schema"),
            )
        )
    return Fleet(tuple(fleet))


def with_declarations(fleet: Fleet, declared: Iterable[Any]) -> Fleet:
    """Attach what the tenant files declare (pg_tenants.tenants.model.Tenant) to the fleet."""
    by_name = {d.name: d for d in declared}
    tenants = []
    for tenant in fleet.tenants:
        d = by_name.get(tenant.name)
        if d is not None:
            state = getattr(d, "state", "active")
            if state == "offboarded":  # the declaration wins: no login, whatever the outputs still hold
                tenant = replace(tenant, password=None, readonly_password=None)
            declared_readonly = getattr(d, "readonly_role", None)
            if declared_readonly and tenant.readonly_role is None:  # declared, not yet deployed: checked all the same
                tenant = replace(tenant, readonly_role=declared_readonly)
            tenant = replace(tenant, state=state, declared=Declared(
                connection_limit=d.connection_limit,
                valid_until=d.valid_until,
                statement_timeout=getattr(d, "statement_timeout", 0),
                idle_in_transaction_session_timeout=getattr(d, "idle_in_transaction_session_timeout", 0),
                # The tenant model is gaining this field; until it lands, nothing is declared.
                temp_file_limit=getattr(d, "temp_file_limit", NO_TEMP_FILE_LIMIT),
            ))
        tenants.append(tenant)
    return Fleet(tuple(tenants))


def _pulumi_stack_output(stack: str | None, cwd: Path | None) -> str:
    command = ["pulumi", "stack", "output", "--json", "--show-secrets"]
    if stack:
        command += ["--stack", stack]
    instead = "or pass --outputs FILE holding what `pulumi stack output --json --show-secrets` printed"
    try:
        # The CLI's own stderr goes straight through: it explains login/backend problems best.
        return subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.PIPE, text=True).stdout
    except FileNotFoundError:
        raise OutputsError("cannot read the stack outputs: the Pulumi CLI (`pulumi`) is not on PATH",
                           f"install it (https://www.pulumi.com/docs/install/), {instead}") from None
    except subprocess.CalledProcessError as error:
        raise OutputsError(
            f"`{' '.join(command)}` failed with exit code {error.returncode} (its message is above)",
            "if no stack is selected, name it with --stack ORG/PROJECT/STACK (or `pulumi stack select`); run in the "
            f"Pulumi project directory (or pass --cwd) after `pulumi login` to the stack's backend; {instead}") from None


def read_outputs(source: str | None, *, stack: str | None, cwd: Path | None, stdin: IO[str]) -> Fleet:
    """Outputs from a file, from stdin ("-"), or from the Pulumi CLI when no source is given."""
    try:
        if source == "-":
            text = stdin.read()
        elif source:
            text = Path(source).read_text(encoding="utf-8")
        else:
            text = _pulumi_stack_output(stack, cwd)
    except FileNotFoundError as error:
        raise OutputsError(f"cannot read the stack outputs: {error.strerror}: {error.filename}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        # Deliberately no excerpt of the text: it holds passwords.
        raise OutputsError(f"the stack outputs are not JSON (line {error.lineno}, column {error.colno})") from None
    if not isinstance(data, Mapping):
        raise OutputsError("the stack outputs are not a JSON object")
    return parse_outputs(data)
