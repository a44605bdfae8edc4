"""The tenant list: the YAML shape (`TenantFile`) and the validated tenant (`Tenant`).

The pydantic models check structure and types only; rules that need the whole list or the
stack config (names, duplicates, servers, secrets) live in `tenant_list`.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from pg_tenants.shards.settings import SHARD_NAME_PATTERN

TenantState = Literal["active", "suspended", "offboarded"]
# schema: a schema in a shared database (pool); database: a database of its own (silo).
Isolation = Literal["schema", "database"]
# PostgreSQL's integer settings (milliseconds, kilobytes) and CONNECTION LIMIT are int4.
MAX_INT4 = 2**31 - 1

READONLY_SUFFIX = "_ro"

ConfigKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=128)]


class TenantEntry(BaseModel):
    """One item of a `tenants:` list, exactly as written in YAML."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)

    name: str = Field(description="Stable key of the tenant (a lowercase SQL identifier). Resources are named from it, so changing it replaces the tenant.")
    schema_name: str | None = Field(
        default=None, alias="schema", description="Schema owned by the admin where the tenant works. Default: the name."
    )
    username: str | None = Field(default=None, description="The tenant's login role. Default: the name.")
    server: str | None = Field(default=None, description="Key of a server in the stack config. Default: defaultServer.")
    database: str | None = Field(
        default=None,
        description="isolation schema: an existing database of that server (default: defaultDatabase, else the server's "
        "first database). isolation database: the name of the tenant's own database, which the stack creates (default: "
        "the name).",
    )
    isolation: Isolation | None = Field(
        default=None,
        description="schema: a schema in a database shared with other tenants. database: a database of its own, owned "
        "by the admin, that only the tenant may connect to. Default: the stack's defaultIsolation (schema). Changing "
        "it is a move: declare a new tenant, copy the data, offboard the old one.",
    )
    shard: Annotated[str, StringConstraints(pattern=SHARD_NAME_PATTERN)] | None = Field(
        default=None,
        description="Sharded fleets: the pg-tenants:shard.name of the stack that owns this tenant. Default: the stack "
        "whose pg-tenants:shard lists the tenant's server or database. Change it only as `pg-tenants move-plan` prints.",
    )
    password_secret: ConfigKey | None = Field(
        default=None,
        description="Name of a Pulumi secret config key (pg-tenants namespace) holding an admin-provided password. "
        "Default: a generated password.",
    )
    connection_limit: int | None = Field(
        default=None, ge=-1, le=MAX_INT4,
        description="Maximum concurrent connections per login role; -1 means no limit. Default: the stack's defaultConnectionLimit.",
    )
    temp_file_limit: int | None = Field(
        default=None, ge=-1, le=MAX_INT4,
        description="Kilobytes of temporary files one session may use, a limit the tenant cannot lift; -1 means no "
        "per-role limit. Default: the stack's defaultTempFileLimit.",
    )
    statement_timeout: int = Field(default=0, ge=0, le=MAX_INT4, description="Milliseconds; 0 means the server default.")
    idle_in_transaction_session_timeout: int = Field(
        default=0, ge=0, le=MAX_INT4, description="Milliseconds; 0 means the server default."
    )
    valid_until: str = Field(
        default="infinity", description="Password expiry: 'infinity' or an ISO 8601 timestamp with a time zone."
    )
    state: TenantState = Field(
        default="active",
        description="suspended: the tenant cannot log in; data, grants and password are kept. offboarded: its login "
        "roles, password and CONNECT are removed; its data stays owned by its own role, which cannot log in.",
    )
    on_remove: Literal["retain", "purge"] = Field(
        default="retain",
        description="What removing this entry does: retain (only once the tenant is offboarded) keeps its schema, "
        "data and owner role; purge drops the schema with its contents, everything its roles own and the roles "
        "(apply purge first, then remove the entry).",
    )
    rotation: int = Field(default=0, ge=0, le=MAX_INT4, description="Increase to give the tenant a new generated password.")
    zero_downtime_rotation: bool = Field(
        default=False,
        description="Two login roles sharing one NOLOGIN owner role; each rotation replaces the older password "
        "only, so the previous credentials keep working until the next rotation.",
    )
    readonly_login: bool = Field(
        default=False,
        description="A second login, <username>_ro, with its own generated password, that can SELECT every table and "
        "view in the tenant's schema (tables created later included) and nothing else. Exported as "
        "connections.<name>.readonly.",
    )
    readonly_rotation: int = Field(
        default=0, ge=0, le=MAX_INT4,
        description="Increase to give the read-only login a new generated password; the tenant's own logins keep theirs.",
    )
    adopt: bool = Field(
        default=False,
        description="Import an existing role and schema of these names (keeping their data) instead of creating "
        "them. Remove the flag after the import has been applied.",
    )
    previous_names: list[str] = Field(
        default_factory=list, description="Former names (keys) of this tenant, so renaming it moves resources instead of replacing them."
    )


class TenantFile(BaseModel):
    """A YAML file under tenants/: a `tenants:` list. Files are merged."""

    model_config = ConfigDict(extra="forbid", strict=True, title="pg-tenants tenant file")

    tenants: list[TenantEntry] = Field(description="Tenants declared in this file.")


@dataclass(frozen=True)
class Tenant:
    """A validated tenant with every default resolved."""

    name: str
    schema: str
    username: str
    server: str
    database: str
    password_secret: str | None
    connection_limit: int
    temp_file_limit: int
    statement_timeout: int
    idle_in_transaction_session_timeout: int
    valid_until: str
    state: TenantState
    on_remove: Literal["retain", "purge"]
    rotation: int
    zero_downtime_rotation: bool
    adopt: bool
    previous_names: tuple[str, ...]
    file: str
    line: int | None
    readonly_login: bool = False
    readonly_rotation: int = 0
    isolation: Isolation = "schema"

    @property
    def login_roles(self) -> tuple[str, ...]:
        """Role names the tenant logs in as; with zero-downtime rotation, two beside the owner."""
        if self.state == "offboarded":
            return ()
        if self.zero_downtime_rotation:
            return (f"{self.username}_a", f"{self.username}_b")
        return (self.username,)

    @property
    def readonly_role(self) -> str | None:
        """The read-only login `<username>_ro`; none unless asked for, and none once offboarded."""
        if not self.readonly_login or self.state == "offboarded":
            return None
        return f"{self.username}{READONLY_SUFFIX}"


def valid_until_problem(value: str) -> str | None:
    if value == "infinity":
        return None
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        return f"{value!r} is not 'infinity' or an ISO 8601 timestamp"
    if parsed.tzinfo is None:
        return f"{value!r} has no time zone, so PostgreSQL would read it in the server's zone"
    return None
