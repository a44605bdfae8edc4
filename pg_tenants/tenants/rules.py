"""The rules each entry, and the list as a whole, must keep: names, _duplicates, lifecycle.

Every problem is collected, each with file, line, field and fix; warnings never block.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from pg_tenants.identifiers import MAX_IDENTIFIER_BYTES, identifier_problem
from pg_tenants.problems import Problem
from pg_tenants.shards.ownership import stack_owns
from pg_tenants.stack_config import ConfigSource, StackSettings
from pg_tenants.tenants.files import LocatedEntry
from pg_tenants.tenants.model import READONLY_SUFFIX, valid_until_problem
from pg_tenants.tenants.placement import database_of, isolation_of, placement_problems, schema_of, server_of, username_of


def entry_problems(entries: list[LocatedEntry], settings: StackSettings | None, config: ConfigSource | None) -> list[Problem]:
    admin_names = frozenset(s.admin_username for s in settings.servers.values()) if settings else frozenset()
    problems: list[Problem] = []
    now = datetime.datetime.now(datetime.timezone.utc)
    for located in entries:
        problems += _check_names(located, admin_names)
        problems += _expiry_warnings(located, now)
        # Another stack's tenant is placed by that stack's servers (validate --stacks checks it there).
        if settings is not None and config is not None and stack_owns(settings, located.entry):
            problems += placement_problems(located, settings, config)
    name_problems, repeated = _duplicates(entries, "name", lambda e: e.name, lambda e: None)
    problems += name_problems
    # A repeated name already explains its derived schema and username clashing.
    repeated_ids = {id(located) for located in repeated}
    distinct = [located for located in entries if id(located) not in repeated_ids]
    problems += _duplicates(distinct, "username", username_of, lambda e: server_of(e, settings), scope="server")[0]
    problems += _duplicates(distinct, "schema", schema_of, lambda e: (server_of(e, settings), database_of(e, settings)), scope="database")[0]
    # Each silo tenant's database is its own: two may not share one on a server.
    silos = [located for located in distinct if isolation_of(located.entry, settings) == "database"]
    problems += _duplicates(silos, "database", lambda e: database_of(e, settings), lambda e: server_of(e, settings), scope="server")[0]
    problems += _login_role_clashes(distinct, settings)
    problems += _readonly_role_clashes(distinct, settings, admin_names)
    problems += _previous_name_clashes(entries)
    return problems


def _login_role_clashes(entries: list[LocatedEntry], settings: StackSettings | None) -> list[Problem]:
    """Zero-downtime tenants add `<username>_a` and `_b`; roles are per server, not per database."""
    owners = {(server_of(l.entry, settings), username_of(l.entry)): l for l in entries}
    problems = []
    for located in entries:
        if not located.entry.zero_downtime_rotation:
            continue
        for suffix in ("_a", "_b"):
            role = f"{username_of(located.entry)}{suffix}"
            other = owners.get((server_of(located.entry, settings), role))
            if other is not None:
                problems.append(
                    located.problem(
                        "zero_downtime_rotation",
                        f"its login role {role!r} is the username of tenant {other.entry.name!r} ({other.document.file}:{other.line()})",
                        "give one of the two tenants another username",
                    )
                )
    return problems


def _readonly_role_clashes(entries: list[LocatedEntry], settings: StackSettings | None,
                           admin_names: frozenset[str]) -> list[Problem]:
    """`<username>_ro` must be no other tenant's username or login slot, nor an admin, on its server."""
    claimed: dict[tuple[str | None, str], LocatedEntry] = {}
    for located in entries:
        server, username = server_of(located.entry, settings), username_of(located.entry)
        slots = ("_a", "_b") if located.entry.zero_downtime_rotation else ()
        for role in (username, *(f"{username}{suffix}" for suffix in slots)):
            claimed.setdefault((server, role), located)
    problems = []
    for located in entries:
        if not located.entry.readonly_login:
            continue
        role = f"{username_of(located.entry)}{READONLY_SUFFIX}"
        other = claimed.get((server_of(located.entry, settings), role))
        if other is not None:
            problems.append(located.problem(
                "readonly_login",
                f"its read-only login {role!r} is a role of tenant {other.entry.name!r} ({other.document.file}:{other.line()})",
                "give one of the two tenants another username"))
        elif role in admin_names:
            problems.append(located.problem(
                "readonly_login", f"its read-only login {role!r} is the name of a server's admin",
                "give the tenant another username"))
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
    if entry.zero_downtime_rotation and len(username_of(entry).encode()) > MAX_IDENTIFIER_BYTES - 2:
        problems.append(
            located.problem(
                "username" if entry.username else "name",
                f"{username_of(entry)!r} leaves no room for the _a/_b suffix of zero-downtime rotation",
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
    problems += _readonly_problems(located)
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


def _readonly_problems(located: LocatedEntry) -> list[Problem]:
    entry, problems = located.entry, []
    if entry.readonly_rotation and not entry.readonly_login:
        problems.append(located.problem(
            "readonly_rotation", "readonly_rotation applies to the read-only login, which this tenant does not have",
            "remove readonly_rotation, or add `readonly_login: true`"))
    if not entry.readonly_login:
        return problems
    if len(username_of(entry).encode()) > MAX_IDENTIFIER_BYTES - len(READONLY_SUFFIX):
        problems.append(located.problem(
            "username" if entry.username else "name",
            f"{username_of(entry)!r} leaves no room for the {READONLY_SUFFIX} suffix of the read-only login",
            f"use a username of at most {MAX_IDENTIFIER_BYTES - len(READONLY_SUFFIX)} bytes"))
    if entry.adopt:
        problems.append(located.problem(
            "adopt", "an adopted tenant cannot get a read-only login in the same change",
            "adopt it first; once the import is applied and adopt is removed, turn on readonly_login"))
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
