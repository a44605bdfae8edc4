"""A silo tenant's own database (`isolation: database`): created by the stack, owned by the admin.

Owned by the admin, not the tenant: only the owner (or a superuser) may drop or rename a
database, change its settings (`ALTER DATABASE … SET`) or grant CONNECT on it, so the tenant
can do none of these. Owning it gives the admin nothing the tenant wrote: event triggers
(`login` ones on 17+ too) need a superuser to create, `ALTER DATABASE … SET` needs the owner,
and on PostgreSQL 15+ the schema `public` belongs to the owner (`pg_database_owner`), so the
tenant cannot create objects the admin's sessions would resolve. It is copied from
`template0`, which nobody can connect to, so it carries nothing anyone planted in template1.

PUBLIC's CONNECT and TEMPORARY, and CREATE on `public` where PostgreSQL 14 and older grant it,
are taken away by the same Grants database hardening uses (components.database_hardening),
whatever `hardenDatabases` says: a silo database is born closed, and nobody's defaults need
restoring when it goes. CONNECT goes to the tenant's login roles only (components.tenant).

Lifecycle: removing an offboarded entry keeps the database with its data (`retain_on_delete`),
as the owner role and schema are kept; `on_remove: purge` applied first lets the removal drop
it (the provider's delete refuses new connections, terminates the open ones and runs
`DROP DATABASE … WITH (FORCE)`: TF resource_postgresql_database.go:239-299, 625-645).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql

from components.database_hardening import public_database_revoke, public_schema_revoke

Child = Callable[..., tuple[str, pulumi.ResourceOptions]]
# pristine: template1 may hold objects someone created there, and CREATE DATABASE copies them.
TEMPLATE = "template0"


@dataclass(frozen=True)
class OwnDatabase:
    database: postgresql.Database
    # What changes its pg_database row (PUBLIC's revoke): tenants' CONNECT grants come after it.
    hardening: tuple[pulumi.Resource, ...]


def own_database(child: Child, name: str, admin: str, *, purge: bool, protect: bool, placement: dict[str, object]) -> OwnDatabase:
    """The database `name`; `child(suffix, **options)` names a child of the tenant (components.tenant)."""
    resource_name, opts = child(
        "database",
        retain_on_delete=not purge,
        protect=protect and not purge,
        # Replaced on a move only while retained, like the schema.
        replacement_trigger=None if purge else placement,
    )
    database = postgresql.Database(resource_name, name=name, owner=admin, template=TEMPLATE, opts=opts)
    revoke_name, revoke_opts = child("public-database", depends_on=[database])
    schema_name, schema_opts = child("public-schema", depends_on=[database])
    hardening = (public_database_revoke(revoke_name, database.name, revoke_opts),
                 public_schema_revoke(schema_name, database.name, schema_opts))
    return OwnDatabase(database, hardening)
