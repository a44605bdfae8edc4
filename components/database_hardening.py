"""Take PUBLIC's default privileges away where tenants could use them, and give them back.

Out of the box every role can connect to every database and create temporary tables
through PUBLIC, and on PostgreSQL 14 and older create objects in schema `public` — the
gaps Cloacina leaves open.

Two resources per target, because pulumi-postgresql can take privileges from PUBLIC but never
give them back (deleting its Grant only runs `REVOKE ALL … FROM public`, which on `public`
also strips the USAGE everyone needs):

- a `PublicPrivilegeRecord` (components.admin_sql) records what PUBLIC held and revokes it;
  deleting it — hardening turned off, the last tenant of the database gone, `pulumi destroy` —
  grants back exactly that;
- the Grant to PUBLIC that earlier versions used alone keeps its name, so a stack deployed by
  them upgrades without deleting it (its delete would strip USAGE). It keeps PUBLIC at
  nothing (database) or USAGE only (`public`), repairs a hand GRANT to PUBLIC on `pulumi up
  --refresh`, and is `retain_on_delete`: removing it never runs its REVOKE ALL.
"""

from __future__ import annotations

import pulumi
import pulumi_postgresql as postgresql

from components.admin_sql import PublicPrivilegeRecord
from pg_tenants.admin_sql import PUBLIC_DATABASE, PUBLIC_SCHEMA


class DatabaseHardening(pulumi.ComponentResource):
    """Revokes PUBLIC's CONNECT, TEMPORARY (and CREATE) on one database and, where tenants live
    in it, CREATE on its `public` schema; deleting it gives back what PUBLIC held before."""

    # Everything that changes the database's pg_database row (PUBLIC's CONNECT/TEMPORARY):
    # tenants' CONNECT grants depend on these, so no two run at once on that row.
    database_revoke: postgresql.Grant
    database_record: PublicPrivilegeRecord

    def __init__(self, server_key: str, database: str, *, holds_tenants: bool,
                 admin_connection: dict[str, pulumi.Input[object]], opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        key = f"{server_key}-{database}"
        super().__init__("pg-tenants:index:DatabaseHardening", key, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.database_record = PublicPrivilegeRecord(
            f"{key}-public-database-record", admin_connection, database, PUBLIC_DATABASE, opts=child)
        self.database_revoke = public_database_revoke(
            f"{key}-public-database", database, pulumi.ResourceOptions(parent=self, depends_on=[self.database_record]))
        if holds_tenants:
            schema_record = PublicPrivilegeRecord(f"{key}-public-schema-record", admin_connection, database, PUBLIC_SCHEMA, opts=child)
            public_schema_revoke(f"{key}-public-schema", database, pulumi.ResourceOptions(parent=self, depends_on=[schema_record]))
        self.register_outputs({})


def public_database_revoke(name: str, database: pulumi.Input[str], opts: pulumi.ResourceOptions) -> postgresql.Grant:
    """PUBLIC holds nothing on `database` (CONNECT, TEMPORARY, CREATE); kept on removal, since the
    provider's delete (REVOKE ALL) gives nothing back anyway."""
    return postgresql.Grant(
        name,
        database=database,
        role="public",
        object_type="database",
        privileges=[],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )


def public_schema_revoke(name: str, database: pulumi.Input[str], opts: pulumi.ResourceOptions) -> postgresql.Grant:
    """PUBLIC keeps only USAGE on schema `public` of `database`: shared extensions in `public` keep
    working, CREATE goes. Kept on removal: the provider's delete would strip USAGE too."""
    return postgresql.Grant(
        name,
        database=database,
        role="public",
        schema="public",
        object_type="schema",
        privileges=["USAGE"],
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(retain_on_delete=True)),
    )
