"""Declare everything for a validated tenant list: providers, hardening, one Tenant
component per tenant, and the values the stack exports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql

from components.database_hardening import DatabaseHardening
from components.tenant import TenantArgs, TenantResources
from pg_tenants.program_input import ProgramInput
from pg_tenants.stack_config import NAMESPACE, ServerSettings, StackSettings
from pg_tenants.tenant_model import Tenant


@dataclass(frozen=True)
class FleetOutputs:
    tenants: dict[str, dict[str, str]]
    connections: pulumi.Output[dict[str, dict[str, object]]]


def database_provider(server_key: str, server: ServerSettings, database: str, config: pulumi.Config) -> postgresql.Provider:
    """A provider connected to `database`.

    The provider runs a role's REASSIGN OWNED / DROP OWNED in the database it connects to;
    connecting to the tenant's own database is what lets offboarding drop the role instead
    of failing on objects it owns there ("role cannot be dropped because some objects
    depend on it"). Every argument is explicit so PG* variables never leak in.
    """
    return postgresql.Provider(
        f"postgresql-{server_key}-{database}",
        host=server.host,
        port=server.port,
        database=database,
        username=server.admin_username,
        password=config.require_secret(server.admin_password_secret),
        sslmode=server.sslmode,
        superuser=server.superuser,
        connect_timeout=server.connect_timeout,
    )


class _Providers:
    """One provider per (server, database), however many places need it."""

    def __init__(self, settings: StackSettings) -> None:
        self._settings, self._config = settings, pulumi.Config(NAMESPACE)
        self._made: dict[tuple[str, str], postgresql.Provider] = {}

    def options(self, server_key: str, database: str) -> pulumi.ResourceOptions:
        key = (server_key, database)
        if key not in self._made:
            self._made[key] = database_provider(server_key, self._settings.servers[server_key], database, self._config)
        return pulumi.ResourceOptions(providers=[self._made[key]])


def declare_fleet(program_input: ProgramInput) -> FleetOutputs:
    settings, tenants, existing_roles = program_input.settings, program_input.tenants, program_input.existing_roles
    config = pulumi.Config(NAMESPACE)
    providers = _Providers(settings)
    placements: dict[tuple[str, str], list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        placements[(tenant.server, tenant.database)].append(tenant)

    components: dict[str, TenantResources] = {}
    for (server_key, database), placed in sorted(placements.items()):
        server = settings.servers[server_key]
        on_database = providers.options(server_key, database)
        hardening = []
        if settings.harden_databases:
            hardening.append(DatabaseHardening(server_key, database, holds_tenants=True, opts=on_database).database_revoke)
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
                    database_hardening=hardening,
                ),
                opts=on_database,
            )

    if settings.harden_databases:
        _harden_protected_databases(settings, {server for server, _ in placements}, providers)

    return FleetOutputs(
        tenants={
            t.name: {"schema": t.schema, "username": t.username, "server": t.server, "database": t.database}
            for t in tenants
        },
        connections=pulumi.Output.secret(
            pulumi.Output.all(**{name: c.connection_formats for name, c in components.items()}) if components else {}
        ),
    )


def _harden_protected_databases(settings: StackSettings, servers_in_use: set[str], providers: _Providers) -> None:
    for server_key in sorted(servers_in_use):
        server = settings.servers[server_key]
        for database in sorted(set(server.protected_databases) - set(server.databases)):
            opts = providers.options(server_key, server.admin_database)
            DatabaseHardening(server_key, database, holds_tenants=False, opts=opts)
