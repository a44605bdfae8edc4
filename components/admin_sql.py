"""Dynamic resources for what pulumi-postgresql cannot declare (see pg_tenants.admin_sql)."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
from pulumi.dynamic import Resource

from pg_tenants.admin_sql import (
    LoginHandoverProvider,
    OwnedObjectsPurgeProvider,
    PasswordRemovalProvider,
    PublicPrivilegeRecordProvider,
    RoleTempFileLimitProvider,
)
from pg_tenants.readonly_sql import ReadOnlyDefaultProvider
from pg_tenants.stack_config import ServerSettings


def admin_connection(server: ServerSettings, database: str, password: pulumi.Output[str]) -> dict[str, pulumi.Input[object]]:
    """The admin's login for a dynamic resource; the password stays a secret in the state.

    TLS file paths only where set: the inputs of existing resources stay as they were."""
    return {
        "host": server.host,
        "port": server.port,
        "dbname": database,
        "user": server.admin_username,
        "password": pulumi.Output.secret(password),
        "sslmode": server.sslmode,
        "connect_timeout": server.connect_timeout,
        **server.tls_params(),
    }


class RoleTempFileLimit(Resource):
    def __init__(self, name: str, connection: dict[str, pulumi.Input[object]], roles: Sequence[pulumi.Input[str]], kilobytes: int,
                 opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__(RoleTempFileLimitProvider(), name, {**connection, "roles": list(roles), "kilobytes": kilobytes}, opts)


class OwnedObjectsPurge(Resource):
    def __init__(self, name: str, connection: dict[str, pulumi.Input[object]], roles: Sequence[pulumi.Input[str]],
                 grantees: Sequence[pulumi.Input[str]] = (), opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        # `grantees` only when there are some: the inputs of every other purge stay as they were.
        extra = {"grantees": list(grantees)} if grantees else {}
        super().__init__(OwnedObjectsPurgeProvider(), name, {**connection, "roles": list(roles), **extra}, opts)


class PasswordRemoval(Resource):
    def __init__(self, name: str, connection: dict[str, pulumi.Input[object]], role: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__(PasswordRemovalProvider(), name, {**connection, "role": role}, opts)


class PublicPrivilegeRecord(Resource):
    """Takes PUBLIC's privileges on a database (`target="database"`) or on its schema `public`
    (`target="public schema"`) away and gives back exactly what it took when deleted."""

    def __init__(self, name: str, connection: dict[str, pulumi.Input[object]], database: str, target: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__(PublicPrivilegeRecordProvider(), name, {**connection, "database": database, "target": target}, opts)


class LoginHandover(Resource):
    def __init__(self, name: str, connection: dict[str, pulumi.Input[object]], slots: Sequence[pulumi.Input[str]],
                 owner: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__(LoginHandoverProvider(), name, {**connection, "slots": list(slots), "owner": owner}, opts)


class ReadOnlyDefault(Resource):
    """`default_transaction_read_only = on` for a read-only login (pg_tenants.readonly_sql)."""

    def __init__(self, name: str, connection: dict[str, pulumi.Input[object]], role: pulumi.Input[str],
                 opts: pulumi.ResourceOptions | None = None) -> None:  # fmt: skip
        super().__init__(ReadOnlyDefaultProvider(), name, {**connection, "role": role}, opts)
