"""Load every tenant file under a directory, validate the merged list once, resolve defaults.

All problems are collected and reported together, each with file, line, field and fix; the
program registers nothing unless the whole list is valid.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pg_tenants.identifiers import MAX_IDENTIFIER_BYTES, identifier_problem
from pg_tenants.problems import ConfigurationInvalid, Problem
from pg_tenants.pydantic_problems import field_path, problems_from_validation_error
from pg_tenants.stack_config import NAMESPACE, ConfigSource, StackSettings
from pg_tenants.tenant_model import Tenant, TenantEntry, TenantFile, valid_until_problem
from pg_tenants.yaml_source import YamlDocument, YamlSyntaxError, load_yaml

MIN_PROVIDED_PASSWORD = 16
TENANT_FIELDS = sorted(field.alias or name for name, field in TenantEntry.model_fields.items())


@dataclass(frozen=True)
class _Located:
    entry: TenantEntry
    document: YamlDocument
    index: int

    def line(self, field: str | None = None) -> int | None:
        path: tuple[str | int, ...] = ("tenants", self.index)
        return self.document.line_of((*path, field) if field else path)

    def problem(self, field: str | None, message: str, fix: str) -> Problem:
        path: tuple[str | int, ...] = ("tenants", self.index, *((field,) if field else ()))
        return Problem(self.document.file, self.line(field), field_path(path), message, fix)


def tenant_files(tenants_dir: Path) -> list[Path]:
    return sorted(p for p in tenants_dir.rglob("*") if p.is_file() and p.suffix in {".yaml", ".yml"})


def load_tenant_list(tenants_dir: Path, settings: StackSettings, config: ConfigSource) -> list[Tenant]:
    """Validated tenants sorted by name; raises ConfigurationInvalid listing every problem."""
    entries, problems = _read_entries(tenants_dir)
    problems += _check_entries(entries, settings, config)
    if problems:
        raise ConfigurationInvalid(problems)
    return sorted((_resolve(located, settings) for located in entries), key=lambda t: t.name)


def tenant_list_problems(tenants_dir: Path, settings: StackSettings | None, config: ConfigSource | None) -> list[Problem]:
    """Every problem in the tenant files; without settings, the checks that need them are skipped."""
    entries, problems = _read_entries(tenants_dir)
    return problems + _check_entries(entries, settings, config)


def _display(path: Path, tenants_dir: Path) -> str:
    """`tenants/acme.yaml`: stable in messages wherever the checkout lives."""
    return str(path.relative_to(tenants_dir.parent))


def _read_entries(tenants_dir: Path) -> tuple[list[_Located], list[Problem]]:
    if not tenants_dir.is_dir():
        problem = Problem(str(tenants_dir), None, "(directory)", "the tenants directory does not exist", f"create it or set {NAMESPACE}:tenantsDir")
        return [], [problem]
    entries: list[_Located] = []
    problems: list[Problem] = []
    for path in tenant_files(tenants_dir):
        display = _display(path, tenants_dir)
        if path.suffix == ".yml":
            problems.append(Problem(display, None, "(file)", "tenant files must end in .yaml; this file would be ignored", f"rename it to {path.stem}.yaml"))
            continue
        try:
            document = load_yaml(path, display)
        except YamlSyntaxError as error:
            problems.append(Problem(error.file, error.line, "(file)", f"not valid YAML: {error.message}", "fix the YAML syntax"))
            continue
        file_entries, file_problems = _parse_document(document)
        entries += file_entries
        problems += file_problems
    return entries, problems


def _parse_document(document: YamlDocument) -> tuple[list[_Located], list[Problem]]:
    problems = [
        Problem(document.file, line, field_path(path), "appears twice in the same mapping", "keep one of them")
        for path, line in document.duplicate_keys
    ]
    data = document.data
    if data is None:
        problems.append(Problem(document.file, 1, "tenants", "the file is empty", "add a `tenants:` list, or delete the file"))
        return [], problems
    data = _without_literal_passwords(data, document, problems)
    try:
        parsed = list(enumerate(TenantFile.model_validate(data).tenants))
    except ValidationError as error:
        problems += problems_from_validation_error(
            error, file=document.file, line_of=document.line_of, known_fields=_known_fields
        )
        parsed = _valid_entries_only(data, error)
    return [_Located(entry, document, index) for index, entry in parsed], problems


def _known_fields(loc: tuple[str | int, ...]) -> list[str]:
    return TENANT_FIELDS if len(loc) == 2 else ["tenants"]


def _without_literal_passwords(data: Any, document: YamlDocument, problems: list[Problem]) -> Any:
    """Refuse `password:` in YAML: a password in git is a leaked password. Never echo it."""
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        return data
    cleaned = []
    for index, item in enumerate(data["tenants"]):
        if isinstance(item, dict) and "password" in item:
            key = f"{item['name']}Password" if isinstance(item.get("name"), str) else "tenantPassword"
            problems.append(
                Problem(
                    document.file,
                    document.line_of(("tenants", index, "password")),
                    f"tenants[{index}].password",
                    "a literal password is not allowed in a tenant file (it would be stored in git)",
                    f"remove it, run `pulumi config set --secret {NAMESPACE}:{key}` (it prompts for the password) "
                    f"and write `password_secret: {key}` instead",
                )
            )
            item = {k: v for k, v in item.items() if k != "password"}
        cleaned.append(item)
    return {**data, "tenants": cleaned}


def _valid_entries_only(data: Any, error: ValidationError) -> list[tuple[int, TenantEntry]]:
    """Keep checking the entries that did parse, so one typo does not hide other problems."""
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        return []
    broken = {e["loc"][1] for e in error.errors() if len(e["loc"]) > 1 and e["loc"][0] == "tenants"}
    return [
        (index, TenantEntry.model_validate(item))
        for index, item in enumerate(data["tenants"])
        if index not in broken
    ]


def _check_entries(entries: list[_Located], settings: StackSettings | None, config: ConfigSource | None) -> list[Problem]:
    admin_names = frozenset(s.admin_username for s in settings.servers.values()) if settings else frozenset()
    problems: list[Problem] = []
    for located in entries:
        problems += _check_names(located, admin_names)
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


def _login_role_clashes(entries: list[_Located], settings: StackSettings | None) -> list[Problem]:
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


def _previous_name_clashes(entries: list[_Located]) -> list[Problem]:
    current = {l.entry.name: l for l in entries}
    claimed: dict[str, _Located] = {}
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


def _check_names(located: _Located, admin_names: frozenset[str]) -> list[Problem]:
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


def _check_placement(located: _Located, settings: StackSettings, config: ConfigSource) -> list[Problem]:
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
    entries: Iterable[_Located], field: str, value_of: Any, scope_of: Any, scope: str | None = None
) -> tuple[list[Problem], list[_Located]]:
    """Problems for every entry repeating an earlier one's value in the same scope, and those entries."""
    first_seen: dict[tuple[Any, str], _Located] = {}
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


def _resolve(located: _Located, settings: StackSettings) -> Tenant:
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
