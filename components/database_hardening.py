"""Take PUBLIC's default privileges away where tenants could use them.

Out of the box every role can connect to every database and create temporary tables
through PUBLIC, and on PostgreSQL 14 and older create objects in schema `public` — the
gaps Cloacina leaves open. A Grant with no privileges is the provider's way to revoke.
"""

from __future__ import annotations

from collections.abc import Iterable

import pulumi
import pulumi_postgresql as postgresql


class ServerHardening(pulumi.ComponentResource):
    """Revokes PUBLIC's CONNECT/TEMPORARY on tenant databases, CREATE on their `public`
    schema, and CONNECT on the server's protected databases."""

    def __init__(
        self,
        server_key: str,
        tenant_databases: Iterable[str],
        protected_databases: Iterable[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("pg-tenants:index:ServerHardening", server_key, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.database_revokes: dict[str, postgresql.Grant] = {}
        for database in sorted(set(tenant_databases)):
            self.database_revokes[database] = postgresql.Grant(
                f"{server_key}-{database}-public-database",
                database=database,
                role="public",
                object_type="database",
                privileges=[],
                opts=child,
            )
            # PUBLIC keeps USAGE so shared extensions in `public` keep working; only CREATE goes.
            postgresql.Grant(
                f"{server_key}-{database}-public-schema",
                database=database,
                role="public",
                schema="public",
                object_type="schema",
                privileges=["USAGE"],
                opts=child,
            )
        for database in sorted(set(protected_databases) - set(tenant_databases)):
            postgresql.Grant(
                f"{server_key}-{database}-public-database",
                database=database,
                role="public",
                object_type="database",
                privileges=[],
                opts=child,
            )
        self.register_outputs({})
