"""Take PUBLIC's default privileges away where tenants could use them.

Out of the box every role can connect to every database and create temporary tables
through PUBLIC, and on PostgreSQL 14 and older create objects in schema `public` — the
gaps Cloacina leaves open. A Grant with no privileges is the provider's way to revoke.
"""

from __future__ import annotations

import pulumi
import pulumi_postgresql as postgresql


class DatabaseHardening(pulumi.ComponentResource):
    """Revokes PUBLIC's CONNECT and TEMPORARY on one database and, where tenants live in
    it, CREATE on its `public` schema."""

    database_revoke: postgresql.Grant

    def __init__(self, server_key: str, database: str, *, holds_tenants: bool, opts: pulumi.ResourceOptions | None = None) -> None:
        key = f"{server_key}-{database}"
        super().__init__("pg-tenants:index:DatabaseHardening", key, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.database_revoke = postgresql.Grant(
            f"{key}-public-database",
            database=database,
            role="public",
            object_type="database",
            privileges=[],
            opts=child,
        )
        if holds_tenants:
            # PUBLIC keeps USAGE so shared extensions in `public` keep working; only CREATE goes.
            postgresql.Grant(
                f"{key}-public-schema",
                database=database,
                role="public",
                schema="public",
                object_type="schema",
                privileges=["USAGE"],
                opts=child,
            )
        self.register_outputs({})
