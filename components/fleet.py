"""Declare everything for a validated tenant list: providers, hardening, one Tenant
component per tenant, and the values the stack exports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql

from components.admin_sql import admin_connection
from components.database_hardening import DatabaseHardening
from components.tenant import TenantArgs, TenantResources
from pg_tenants.program_input import ProgramInput
from pg_tenants.shards.hardening import hardening_plan
from pg_tenants.stack_config import NAMESPACE, ServerSettings, StackSettings
from pg_tenants.tenants.model import Tenant


@dataclass(frozen=True)
class FleetOutputs:
    tenants: dict[str, dict[str, object]]
    connections: pulumi.Output[dict[str, dict[str, object]]]


def database_provider(name: str, server: ServerSettings, database: str, admin_password: pulumi.Output[str]) -> postgresql.Provider:
    """A provider connected to `database`.

    The provider runs a role's REASSIGN OWNED / DROP OWNED in the database it connects to;
    connecting to the tenant's own database is what lets offboarding drop the role instead
    of failing on objects it owns there ("role cannot be dropped because some objects
    depend on it"). Every argument is explicit so PG* variables never leak in.

    TLS files go to the provider as paths: `sslrootcert` and `clientcert {cert, key}` without
    `sslinline` (pulumi-postgresql 3.18.2 provider.py, ProviderClientcertArgs; TF provider.go
    and config.go connParams hand them to lib/pq as sslrootcert, sslcert and sslkey). They are
    left out when not set, so a stack without them keeps its provider configuration unchanged.
    """
    tls: dict[str, object] = {}
    if server.sslrootcert is not None:
        tls["sslrootcert"] = server.sslrootcert
    if server.sslcert is not None and server.sslkey is not None:
        tls["clientcert"] = postgresql.ProviderClientcertArgs(cert=server.sslcert, key=server.sslkey)
    return postgresql.Provider(
        name,
        host=server.host,
        port=server.port,
        database=database,
        username=server.admin_username,
        password=admin_password,
        sslmode=server.sslmode,
        superuser=server.superuser,
        connect_timeout=server.connect_timeout,
        **tls,
    )


class _Providers:
    """One provider per (server, database), however many places need it."""

    def __init__(self, settings: StackSettings) -> None:
        self._settings, self._config = settings, pulumi.Config(NAMESPACE)
        self._made: dict[tuple[str, str], postgresql.Provider] = {}
        self._passwords: dict[str, pulumi.Output[str]] = {}
        self._connections: dict[tuple[str, str], dict[str, pulumi.Input[object]]] = {}

    def admin_password(self, server_key: str) -> pulumi.Output[str]:
        if server_key not in self._passwords:
            self._passwords[server_key] = self._config.require_secret(self._settings.servers[server_key].admin_password_secret)
        return self._passwords[server_key]

    def admin_connection(self, server_key: str, database: str) -> dict[str, pulumi.Input[object]]:
        """The admin's login to `database`, for the dynamic resources: one per database, shared by
        its tenants (each a secret Output; the resources copy the dict, never change it)."""
        key = (server_key, database)
        if key not in self._connections:
            self._connections[key] = admin_connection(self._settings.servers[server_key], database, self.admin_password(server_key))
        return self._connections[key]

    def options(self, server_key: str, database: str) -> pulumi.ResourceOptions:
        key = (server_key, database)
        if key not in self._made:
            server = self._settings.servers[server_key]
            self._made[key] = database_provider(f"postgresql-{server_key}-{database}", server, database, self.admin_password(server_key))
        return pulumi.ResourceOptions(providers=[self._made[key]])


def declare_fleet(program_input: ProgramInput) -> FleetOutputs:
    settings, tenants, existing_roles = program_input.settings, program_input.tenants, program_input.existing_roles
    config = pulumi.Config(NAMESPACE)
    providers = _Providers(settings)
    placements: dict[tuple[str, str], list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        placements[(tenant.server, tenant.database)].append(tenant)

    # A silo tenant's database is its alone (tenants.rules) and hardened by its component.
    silos = {(t.server, t.database) for t in tenants if t.isolation == "database"}
    plan = hardening_plan(settings, set(placements))
    hardening: dict[tuple[str, str], list[pulumi.Resource]] = {}
    for server_key, database in sorted(plan.tenant_databases - silos):
        hardened = DatabaseHardening(server_key, database, holds_tenants=True, opts=providers.options(server_key, database),
                                     admin_connection=providers.admin_connection(server_key, settings.servers[server_key].admin_database))
        hardening[(server_key, database)] = [hardened.database_record, hardened.database_revoke]
    components: dict[str, TenantResources] = {}
    for (server_key, database), placed in sorted(placements.items()):
        server = settings.servers[server_key]
        # A silo's database does not exist before its tenant creates it: the server's provider on
        # the admin database creates it, and opens connections to it for the schema and grants
        # itself (TF helpers.go:startTransaction, config.go:NewClient), so providers stay one
        # per server for any number of silos.
        on_database = providers.options(server_key, server.admin_database if (server_key, database) in silos else database)
        for tenant in placed:
            provided = config.require_secret(tenant.password_secret) if tenant.password_secret else None
            components[tenant.name] = TenantResources(
                TenantArgs(
                    tenant=tenant,
                    server=server,
                    scram_iterations=settings.scram_iterations,
                    protect_schemas=settings.protect_schemas,
                    provided_password=provided,
                    # Unknown (catalogs not read): import the role along with the schema.
                    import_role=tenant.adopt and (existing_roles is None or (server_key, tenant.username) in existing_roles),
                    # None on another stack's database: its home stack hardens it (pg_tenants.shards.hardening).
                    database_hardening=hardening.get((server_key, database), []),
                    admin_connection=providers.admin_connection(server_key, database),
                ),
                opts=on_database,
            )

    for server_key, database in sorted(plan.protected_databases):
        opts = providers.options(server_key, settings.servers[server_key].admin_database)
        DatabaseHardening(server_key, database, holds_tenants=False, opts=opts,
                          admin_connection=providers.admin_connection(server_key, settings.servers[server_key].admin_database))

    return FleetOutputs(
        tenants={
            t.name: {"schema": t.schema, "username": t.username, "server": t.server, "database": t.database,
                     "isolation": t.isolation, "state": t.state, "on_remove": t.on_remove,
                     # Whether `connections.<name>.readonly` exists: never once offboarded.
                     "readonly_login": t.readonly_role is not None}
            for t in tenants
        },
        connections=_connections(components),
    )


def _connections(components: dict[str, TenantResources]) -> pulumi.Output[dict[str, dict[str, object]]]:
    """Tenant name -> connection formats; offboarded tenants have no credentials.

    One `Output.all` over the tenants' secret outputs, each holding an object (not a dict), so
    nothing is lifted value by value; secret because every tenant's is. `Output.secret` of the
    result would lift the whole fleet's dict again.
    """
    with_credentials = {name: c.connections for name, c in components.items() if c.connections is not None}
    if not with_credentials:
        return pulumi.Output.secret({})
    names = list(with_credentials)
    return pulumi.Output.all(*with_credentials.values()).apply(
        lambda entries: {name: entry.formats for name, entry in zip(names, entries, strict=True)}
    )

