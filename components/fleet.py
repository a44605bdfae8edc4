"""Declare everything for a validated tenant list: one provider per server, hardening,
one Tenant component per tenant, and the values the stack exports."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import pulumi
import pulumi_postgresql as postgresql

from components.database_hardening import ServerHardening
from components.tenant import TenantArgs, TenantResources
from pg_tenants.stack_config import NAMESPACE, ServerSettings, StackSettings
from pg_tenants.tenant_model import Tenant


@dataclass(frozen=True)
class FleetOutputs:
    tenants: dict[str, dict[str, str]]
    connections: pulumi.Output[dict[str, dict[str, object]]]


def server_provider(key: str, server: ServerSettings, config: pulumi.Config) -> postgresql.Provider:
    # Every argument is explicit so PG* variables in the operator's shell never leak in.
    return postgresql.Provider(
        f"server-{key}",
        host=server.host,
        port=server.port,
        database=server.admin_database,
        username=server.admin_username,
        password=config.require_secret(server.admin_password_secret),
        sslmode=server.sslmode,
        superuser=server.superuser,
        connect_timeout=server.connect_timeout,
    )


def declare_fleet(settings: StackSettings, tenants: list[Tenant]) -> FleetOutputs:
    config = pulumi.Config(NAMESPACE)
    by_server: dict[str, list[Tenant]] = defaultdict(list)
    for tenant in tenants:
        by_server[tenant.server].append(tenant)

    components: dict[str, TenantResources] = {}
    for server_key, server_tenants in sorted(by_server.items()):
        server = settings.servers[server_key]
        provider = server_provider(server_key, server, config)
        on_server = pulumi.ResourceOptions(providers=[provider])
        hardening: dict[str, list[pulumi.Resource]] = defaultdict(list)
        if settings.harden_databases:
            hardened = ServerHardening(
                server_key,
                tenant_databases=[t.database for t in server_tenants],
                protected_databases=server.protected_databases,
                opts=on_server,
            )
            for database, revoke in hardened.database_revokes.items():
                hardening[database].append(revoke)
        for tenant in server_tenants:
            provided = config.require_secret(tenant.password_secret) if tenant.password_secret else None
            components[tenant.name] = TenantResources(
                TenantArgs(
                    tenant=tenant,
                    server=server,
                    scram_iterations=settings.scram_iterations,
                    provided_password=provided,
                    database_hardening=hardening[tenant.database],
                ),
                opts=on_server,
            )

    return FleetOutputs(
        tenants={
            t.name: {"schema": t.schema, "username": t.username, "server": t.server, "database": t.database}
            for t in tenants
        },
        connections=pulumi.Output.secret(
            pulumi.Output.all(**{name: c.connection_formats for name, c in components.items()}) if components else {}
        ),
    )
