"""Validate the merged tenant list once and resolve defaults.

The files are found and read by `tenant_files`; here the entries are checked together (names,
duplicates across files, servers, databases, secrets, lifecycle rules). All problems are
collected and reported together, each with file, line, field and fix; the program registers
nothing unless the whole list is valid. Warnings are reported but never block.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pg_tenants.identifiers import MAX_IDENTIFIER_BYTES, identifier_problem
from pg_tenants.problems import ConfigurationInvalid, Problem, explained
from pg_tenants.stack_config import NAMESPACE, ConfigSource, StackSettings
from pg_tenants.tenant_files import LocatedEntry, read_tenant_paths
from pg_tenants.tenant_model import Tenant, TenantEntry, valid_until_problem

MIN_PROVIDED_PASSWORD = 16
TENANT_FIELDS = sorted(field.alias or name for name, field in TenantEntry.model_fields.items())


@dataclass(frozen=True)
class TenantListCheck:
    problems: list[Problem]  # errors and warnings
    files: int  # files read (or found unreadable)
    tenants: int  # items of every `tenants:` list, valid or not
    resolved: list[Tenant]  # sorted by name, when asked for, the list is valid and settings were given

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.is_error]


def load_tenant_list(tenants_dir: Path, settings: StackSettings, config: ConfigSource) -> list[Tenant]:
    """Validated tenants sorted by name; raises ConfigurationInvalid listing every error."""
    checked = check_tenant_paths([tenants_dir], settings, config, resolve=True)
    if checked.errors:
        raise ConfigurationInvalid(checked.errors)
    return checked.resolved


def tenant_list_problems(tenants_dir: Path, settings: StackSettings | None, config: ConfigSource | None) -> list[Problem]:
    """Every error in the tenant files; without settings, the checks that need them are skipped."""
    return check_tenant_paths([tenants_dir], settings, config).errors


def check_tenant_paths(
    paths: Sequence[Path], settings: StackSettings | None, config: ConfigSource | None, *, resolve: bool = False
) -> TenantListCheck:
    """Tenant directories (by the rule of `find_tenant_files`) and files, merged into one list and checked."""
    read = read_tenant_paths(paths)
    problems = explained(read.problems + _check_entries(read.entries, settings, config), read.unclear)
    resolved: list[Tenant] = []
    if resolve and settings is not None and not any(p.is_error for p in problems):
        resolved = sorted((_resolve(located, settings) for located in read.entries), key=lambda t: t.name)
    return TenantListCheck(problems, read.files, read.tenants, resolved)


def empty_fleet_problem(where: str, *, allowed: bool) -> Problem:
    """No tenant at all: an error unless the caller says an empty fleet is intended."""
    if allowed:
        return Problem(where, None, "tenants", "no tenant is declared", "nothing to do: --allow-empty says an empty tenant list is intended", "warning")
    return Problem(where, None, "tenants", "no tenant is declared", "add a tenant, or pass --allow-empty if an empty tenant list is intended")


def _check_entries(entries: list[LocatedEntry], settings: StackSettings | None, config: ConfigSource | None) -> list[Problem]:
    admin_names = frozenset(s.admin_username for s in settings.servers.values()) if settings else frozenset()
    problems: list[Problem] = []
    now = datetime.datetime.now(datetime.timezone.utc)
    for located in entries:
        problems += _check_names(located, admin_names)
        problems += _expiry_warnings(located, now)
        if settings is not None and config is not None:
            problems += _check_placement(located, settings, config)
    name_problems, repeated = _duplicates(entries, "name", lambda e: e.name, lambda e: None)
    problems += name_problems
    # A repeated name already explains its derived schema and username clashing.
    repeated_ids = {id(located) for located in repeated}
    distinct = [located for located in entries if id(located) not in repeated_ids]
    problems += _duplicates(distinct, "username", _username, lambda e: _server(e, settings), scope="server")[0]
    problems += _duplicates(distinct, "schema", _schema, lambda e: (_server(e, settings), _database(e, settings)), scope="database")[0]
    problems += _login_role_clashes(distinct, settings)
    problems += _previous_name_clashes(entries)
    return problems


def _login_role_clashes(entries: list[LocatedEntry], settings: StackSettings | None) -> list[Problem]:
    """Zero-downtime tenants add `<username>_a` and `_b`; roles are per server, not per database."""
    owners = {(_server(l.entry, settings), _username(l.entry)): l for l in entries}
    problems = []
    for located in entries:
        if not located.entry.zero_downtime_rotation:
            continue
        for suffix in ("_a", "_b"):
            role = f"{_username(located.entry)}{suffix}"
            other = owners.get((_server(located.entry, settings), role))
            if other is not None:
                problems.append(
                    located.problem(
                        "zero_downtime_rotation",
                        f"its login role {role!r} is the username of tenant {other.entry.name!r} ({other.document.file}:{other.line()})",
                        "give one of the two tenants another username",
                    )
                )
    return problems


def _previous_name_clashes(entries: list[LocatedEntry]) -> list[Problem]:
    current = {l.entry.name: l for l in entries}
    claimed: dict[str, LocatedEntry] = {}
    problems = []
    for located in entries:
        for old in located.entry.previous_names:
            if old in current:
                problems.append(
                    located.problem("previous_names", f"{old!r} is the name of a current tenant", "a previous name must no longer be in use; remove it from previous_names")
                )
            elif old in claimed:
                first = claimed[old]
                problems.append(
                    located.problem("previous_names", f"{old!r} is also a previous name of tenant {first.entry.name!r}", "a former name belongs to one tenant only")
                )
            claimed.setdefault(old, located)
    return problems


def _username(entry: TenantEntry) -> str:
    return entry.username or entry.name


def _schema(entry: TenantEntry) -> str:
    return entry.schema_name or entry.name


def _server(entry: TenantEntry, settings: StackSettings | None) -> str | None:
    return settings.server_for(entry.server) if settings else entry.server


def _database(entry: TenantEntry, settings: StackSettings | None) -> str | None:
    if entry.database is not None or settings is None:
        return entry.database
    server = settings.servers.get(settings.server_for(entry.server) or "")
    if server is None:
        return None
    return settings.default_database if settings.default_database in server.databases else server.databases[0]


def _check_names(located: LocatedEntry, admin_names: frozenset[str]) -> list[Problem]:
    entry, problems = located.entry, []
    checks = [("name", entry.name), ("schema", entry.schema_name), ("username", entry.username)]
    for field, value in checks:
        if value is None:
            continue
        found = identifier_problem(value, admin_names)
        if found:
            problems.append(located.problem(field, *found))
    for old in entry.previous_names:
        found = identifier_problem(old, admin_names)
        if found:
            problems.append(located.problem("previous_names", *found))
    if entry.zero_downtime_rotation and len(_username(entry).encode()) > MAX_IDENTIFIER_BYTES - 2:
        problems.append(
            located.problem(
                "username" if entry.username else "name",
                f"{_username(entry)!r} leaves no room for the _a/_b suffix of zero-downtime rotation",
                "use a username of at most 61 bytes",
            )
        )
    if entry.previous_names:
        for field, explicit in (("schema", entry.schema_name), ("username", entry.username)):
            if explicit is None:
                problems.append(
                    located.problem(
                        "previous_names",
                        f"renaming the tenant would also change its {field}, which defaults to the name",
                        f"keep it: write `{field}: {entry.previous_names[-1]}` (or its earlier explicit value); "
                        "a schema or username cannot change in place",
                    )
                )
    if entry.adopt and entry.zero_downtime_rotation:
        problems.append(
            located.problem(
                "adopt",
                "an adopted tenant cannot switch to zero-downtime rotation in the same change",
                "adopt it first; once the import is applied and adopt is removed, turn on zero_downtime_rotation",
            )
        )
    expiry = valid_until_problem(entry.valid_until)
    if expiry:
        problems.append(located.problem("valid_until", expiry, "write 'infinity' or a timestamp like 2027-01-31T00:00:00+00:00"))
    return problems


def _expiry_warnings(located: LocatedEntry, now: datetime.datetime) -> list[Problem]:
    """An active tenant whose password has expired cannot log in: allowed, but rarely meant."""
    value = located.entry.valid_until
    if located.entry.state != "active" or valid_until_problem(value) or value == "infinity":
        return []
    if datetime.datetime.fromisoformat(value) > now:
        return []
    problem = located.problem(
        "valid_until", f"the password expired on {value}: the tenant cannot log in",
        "write a later timestamp or 'infinity' (nothing to do if the expiry is intended)",
    )
    return [problem.as_warning()]


def _check_placement(located: LocatedEntry, settings: StackSettings, config: ConfigSource) -> list[Problem]:
    entry, problems = located.entry, []
    server_name = settings.server_for(entry.server)
    known = ", ".join(sorted(settings.servers))
    if server_name is None:
        problems.append(located.problem("server", "no server given and the stack has no default server", f"add `server:` with one of: {known}"))
    elif server_name not in settings.servers:
        problems.append(located.problem("server", f"server {server_name!r} is not in the stack config", f"use one of: {known}"))
    else:
        server = settings.servers[server_name]
        database = _database(entry, settings)
        if database not in server.databases:
            problems.append(
                located.problem(
                    "database",
                    f"database {database!r} is not a database of server {server_name!r}",
                    f"use one of: {', '.join(server.databases)}, or add it to {NAMESPACE}:servers.{server_name}.databases",
                )
            )
    if entry.password_secret is None:
        return problems
    for field, value in (("rotation", entry.rotation), ("zero_downtime_rotation", entry.zero_downtime_rotation)):
        if value:
            problems.append(
                located.problem(
                    field,
                    "rotation applies to generated passwords, but this tenant's password is provided by password_secret",
                    f"rotate it by setting a new value with `pulumi config set --secret {NAMESPACE}:{entry.password_secret}`, "
                    "or remove password_secret to have passwords generated",
                )
            )
    if not config.has_secret(entry.password_secret):
        problems.append(
            located.problem(
                "password_secret",
                f"config key {NAMESPACE}:{entry.password_secret} is not set as a secret in this stack",
                f"run `pulumi config set --secret {NAMESPACE}:{entry.password_secret}`, which prompts for the value",
            )
        )
    elif not _acceptable_password(config.secret_value(entry.password_secret)):
        problems.append(
            located.problem(
                "password_secret",
                f"the password in {NAMESPACE}:{entry.password_secret} is not {MIN_PROVIDED_PASSWORD}+ printable ASCII characters",
                f"set a longer password with `pulumi config set --secret {NAMESPACE}:{entry.password_secret}`, "
                "or remove password_secret to have one generated",
            )
        )
    return problems


def _acceptable_password(password: str | None) -> bool:
    """Unreadable (a stack file's ciphertext) counts as acceptable; the program checks again.

    Only printable ASCII: PostgreSQL SASLpreps passwords before SCRAM, and the verifier we
    compute must match what the server derives at login.
    """
    if password is None:
        return True
    return len(password) >= MIN_PROVIDED_PASSWORD and all(" " <= char <= "~" for char in password)


def _duplicates(
    entries: Iterable[LocatedEntry], field: str, value_of: Any, scope_of: Any, scope: str | None = None
) -> tuple[list[Problem], list[LocatedEntry]]:
    """Problems for every entry repeating an earlier one's value in the same scope, and those entries."""
    first_seen: dict[tuple[Any, str], LocatedEntry] = {}
    problems, repeated = [], []
    for located in entries:
        key = (scope_of(located.entry), value_of(located.entry))
        if key not in first_seen:
            first_seen[key] = located
            continue
        repeated.append(located)
        first = first_seen[key]
        where = f" on the same {scope}" if scope else ""
        field_shown = field if getattr(located.entry, "schema_name" if field == "schema" else field) is not None else "name"
        problems.append(
            located.problem(
                field_shown,
                f"{field} {key[1]!r} is already used{where} by tenant {first.entry.name!r} ({first.document.file}:{first.line()})",
                f"give this tenant another {field}",
            )
        )
    return problems, repeated


def _resolve(located: LocatedEntry, settings: StackSettings) -> Tenant:
    entry = located.entry
    return Tenant(
        name=entry.name,
        schema=_schema(entry),
        username=_username(entry),
        server=settings.server_for(entry.server) or "",
        database=_database(entry, settings) or "",
        password_secret=entry.password_secret,
        connection_limit=settings.default_connection_limit if entry.connection_limit is None else entry.connection_limit,
        temp_file_limit=settings.default_temp_file_limit if entry.temp_file_limit is None else entry.temp_file_limit,
        statement_timeout=entry.statement_timeout,
        idle_in_transaction_session_timeout=entry.idle_in_transaction_session_timeout,
        valid_until=entry.valid_until,
        state=entry.state,
        on_remove=entry.on_remove,
        rotation=entry.rotation,
        zero_downtime_rotation=entry.zero_downtime_rotation,
        adopt=entry.adopt,
        previous_names=tuple(entry.previous_names),
        file=located.document.file,
        line=located.line(),
    )
