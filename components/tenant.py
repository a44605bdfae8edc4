"""One tenant: its generated password, SCRAM verifier, login role, schema and grants.

Every child is named from the tenant's stable key and parented to the component, so its
URN never depends on where the tenant sits in the YAML and the server's provider is
inherited from the component.
"""

from __future__ import annotations

import base64
import string
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random

from pg_tenants.connection_formats import Credentials
from pg_tenants.scram import SALT_BYTES, scram_sha256_verifier
from pg_tenants.stack_config import ServerSettings
from pg_tenants.tenant_model import Tenant

PASSWORD_LENGTH = 32
# All 32 printable ASCII punctuation characters: with the 62 alphanumerics, 94 symbols and
# 32 * log2(94) ≈ 209.7 bits per password.
PUNCTUATION = string.punctuation

# Privileges a tenant gets on objects the admin creates in its schema later (migrations).
DEFAULT_PRIVILEGES = {
    "table": ["DELETE", "INSERT", "REFERENCES", "SELECT", "TRIGGER", "TRUNCATE", "UPDATE"],
    "sequence": ["SELECT", "UPDATE", "USAGE"],
    "function": ["EXECUTE"],
}


@dataclass(frozen=True)
class TenantArgs:
    tenant: Tenant
    server: ServerSettings
    scram_iterations: int
    # A Pulumi secret holding an admin-provided password; None means generate one.
    provided_password: pulumi.Output[str] | None
    # Resources that change PUBLIC's grants on the tenant's database: same pg_database row.
    database_hardening: Sequence[pulumi.Resource]


class TenantResources(pulumi.ComponentResource):
    connection_formats: pulumi.Output[dict[str, object]]

    def __init__(self, args: TenantArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        tenant = args.tenant
        super().__init__("pg-tenants:index:Tenant", tenant.name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        key = tenant.name

        password = self._password(args, child)
        salt = random.RandomBytes(f"{key}-scram-salt", length=SALT_BYTES, opts=child)
        verifier = pulumi.Output.secret(
            pulumi.Output.all(password, salt.base64).apply(
                lambda values: scram_sha256_verifier(values[0], base64.b64decode(values[1]), args.scram_iterations)
            )
        )

        role = postgresql.Role(
            f"{key}-role",
            name=tenant.username,
            login=True,
            password=verifier,
            superuser=False,
            create_database=False,
            create_role=False,
            replication=False,
            bypass_row_level_security=False,
            inherit=True,
            search_paths=[tenant.schema],
            connection_limit=tenant.connection_limit,
            statement_timeout=tenant.statement_timeout,
            idle_in_transaction_session_timeout=tenant.idle_in_transaction_session_timeout,
            valid_until=tenant.valid_until,
            opts=child,
        )
        # Owned by the admin so the tenant cannot drop or rename it; never adopt an
        # existing schema silently (its data would be handed to this tenant).
        schema = postgresql.Schema(
            f"{key}-schema",
            name=tenant.schema,
            database=tenant.database,
            owner=args.server.admin_username,
            if_not_exists=False,
            drop_cascade=False,
            opts=child,
        )
        postgresql.Grant(
            f"{key}-schema-usage",
            database=tenant.database,
            role=role.name,
            schema=schema.name,
            object_type="schema",
            privileges=["CREATE", "USAGE"],
            opts=child,
        )
        # Every CONNECT grant and PUBLIC's revoke rewrite the same pg_database row; the
        # revoke runs first so tenants never race it ("tuple concurrently updated").
        postgresql.Grant(
            f"{key}-database-connect",
            database=tenant.database,
            role=role.name,
            object_type="database",
            privileges=["CONNECT"],
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.database_hardening)),
        )
        for object_type, privileges in DEFAULT_PRIVILEGES.items():
            postgresql.DefaultPrivileges(
                f"{key}-default-{object_type}s",
                database=tenant.database,
                owner=args.server.admin_username,
                role=role.name,
                schema=schema.name,
                object_type=object_type,
                privileges=privileges,
                opts=child,
            )

        credentials = password.apply(
            lambda secret: Credentials(
                host=args.server.host,
                port=args.server.port,
                database=tenant.database,
                user=tenant.username,
                password=secret,
                sslmode=args.server.sslmode,
            ).all_formats()
        )
        # Ready only once the role can log in and reach its schema.
        self.connection_formats = pulumi.Output.secret(
            pulumi.Output.all(credentials, role.id, schema.id).apply(lambda values: values[0])
        )
        self.register_outputs({"connection_formats": self.connection_formats})

    def _password(self, args: TenantArgs, child: pulumi.ResourceOptions) -> pulumi.Output[str]:
        if args.provided_password is not None:
            return pulumi.Output.secret(args.provided_password)
        generated = random.RandomPassword(
            f"{args.tenant.name}-password",
            length=PASSWORD_LENGTH,
            upper=True,
            lower=True,
            numeric=True,
            special=True,
            override_special=PUNCTUATION,
            opts=child,
        )
        return pulumi.Output.secret(generated.result)
