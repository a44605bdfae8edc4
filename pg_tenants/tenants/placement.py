"""Where each tenant goes: its server, database, username and schema from the stack config.

Also what the stack must hold for a tenant (its provided password's secret), and the typed
`Tenant` every other module trusts, with every default resolved.
"""

from __future__ import annotations

from pg_tenants.identifiers import identifier_problem
from pg_tenants.problems import Problem
from pg_tenants.stack_config import NAMESPACE, ConfigSource, ServerSettings, StackSettings
from pg_tenants.tenants.files import LocatedEntry
from pg_tenants.tenants.model import Isolation, Tenant, TenantEntry

MIN_PROVIDED_PASSWORD = 16
# Databases every server has: a tenant's own database never takes one of these names.
BUILT_IN_DATABASES = ("postgres", "template0", "template1")


def username_of(entry: TenantEntry) -> str:
    return entry.username or entry.name


def schema_of(entry: TenantEntry) -> str:
    return entry.schema_name or entry.name


def server_of(entry: TenantEntry, settings: StackSettings | None) -> str | None:
    return settings.server_for(entry.server) if settings else entry.server


def isolation_of(entry: TenantEntry, settings: StackSettings | None) -> Isolation:
    if entry.isolation is not None:
        return entry.isolation
    return settings.default_isolation if settings else "schema"


def database_of(entry: TenantEntry, settings: StackSettings | None) -> str | None:
    if entry.database is not None:
        return entry.database
    if isolation_of(entry, settings) == "database":
        return entry.name  # a database of its own, named after the tenant
    if settings is None:
        return None
    server = settings.servers.get(settings.server_for(entry.server) or "")
    if server is None:
        return None
    return settings.default_database if settings.default_database in server.databases else server.databases[0]


def placement_problems(located: LocatedEntry, settings: StackSettings, config: ConfigSource) -> list[Problem]:
    entry, problems = located.entry, []
    server_name = settings.server_for(entry.server)
    known = ", ".join(sorted(settings.servers))
    if server_name is None:
        problems.append(located.problem("server", "no server given and the stack has no default server", f"add `server:` with one of: {known}"))
    elif server_name not in settings.servers:
        problems.append(located.problem("server", f"server {server_name!r} is not in the stack config", f"use one of: {known}"))
    else:
        server = settings.servers[server_name]
        database = database_of(entry, settings)
        if isolation_of(entry, settings) == "database":
            problems += _own_database_problems(located, database or "", server_name, server)
        elif database not in server.databases:
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
    elif not acceptable_password(config.secret_value(entry.password_secret)):
        problems.append(
            located.problem(
                "password_secret",
                f"the password in {NAMESPACE}:{entry.password_secret} is not {MIN_PROVIDED_PASSWORD}+ printable ASCII characters",
                f"set a longer password with `pulumi config set --secret {NAMESPACE}:{entry.password_secret}`, "
                "or remove password_secret to have one generated",
            )
        )
    return problems


def _own_database_problems(located: LocatedEntry, database: str, server_name: str, server: ServerSettings) -> list[Problem]:
    """A silo tenant's database is created by the stack: never a name the server already uses
    for something else (two silos sharing one are refused with the other duplicates, rules.py)."""
    if located.entry.adopt:
        return [located.problem("adopt", "adopt takes over an existing schema in a shared database; a tenant with "
                                "isolation: database gets a new database of its own",
                                "adopt the schema with isolation: schema, then move the tenant (README: \"Choosing an isolation tier\")")]
    field = "database" if located.entry.database is not None else "name"
    found = identifier_problem(database)
    if found:
        return [located.problem(field, *found)]
    taken = {
        **{name: "a built-in database" for name in BUILT_IN_DATABASES},
        **{name: "a protected database of the server" for name in server.protected_databases},
        server.admin_database: "the server's admin database",
        **{name: "a shared database for tenants with isolation: schema" for name in server.databases},
    }
    if database not in taken:
        return []
    return [located.problem(
        field,
        f"isolation: database creates database {database!r} on server {server_name!r}, which is {taken[database]} "
        f"({NAMESPACE}:servers.{server_name})",
        "give the tenant's own database another name with `database:`" if field == "database" else
        "name the tenant's own database with `database:` (it defaults to the tenant's name)",
    )]


def acceptable_password(password: str | None) -> bool:
    """Unreadable (a stack file's ciphertext) counts as acceptable; the program checks again.

    Only printable ASCII: PostgreSQL SASLpreps passwords before SCRAM, and the verifier we
    compute must match what the server derives at login.
    """
    if password is None:
        return True
    return len(password) >= MIN_PROVIDED_PASSWORD and all(" " <= char <= "~" for char in password)


def resolve(located: LocatedEntry, settings: StackSettings) -> Tenant:
    entry = located.entry
    return Tenant(
        name=entry.name,
        schema=schema_of(entry),
        username=username_of(entry),
        server=settings.server_for(entry.server) or "",
        database=database_of(entry, settings) or "",
        isolation=isolation_of(entry, settings),
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
        readonly_login=entry.readonly_login,
        readonly_rotation=entry.readonly_rotation,
        adopt=entry.adopt,
        previous_names=tuple(entry.previous_names),
        file=located.document.file,
        line=located.line(),
    )
