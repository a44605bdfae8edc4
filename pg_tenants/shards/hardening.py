"""Which databases a stack hardens (components.database_hardening), for the program and `validate --stacks` alike.

Unsharded, a stack hardens the databases that hold its tenants, and its servers' protected
databases that hold none (README: "Database hardening"). A sharded stack hardens its home
instead: the databases its `pg-tenants:shard` lists (every database of a listed server, as
this stack's config lists them), whether or not they hold tenants now, and the protected
databases of its listed servers. Tenants that reached it by `shard:` on another stack's
database leave that database's hardening to its home stack. So a database's PUBLIC-privilege
record never depends on which stack happens to hold its tenants: moving the last of them
away gives nothing back to PUBLIC while others remain.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from pg_tenants.stack_config import StackSettings

Place = tuple[str, str]  # (server key, database)


@dataclass(frozen=True)
class HardeningPlan:
    tenant_databases: frozenset[Place]  # hardened as databases that hold tenants (public schema too)
    protected_databases: frozenset[Place]  # hardened as protected databases (no tenants)


def hardening_plan(settings: StackSettings, placed: AbstractSet[Place]) -> HardeningPlan:
    """`placed`: where this stack's tenants are. Empty when hardening is off."""
    if not settings.harden_databases:
        return HardeningPlan(frozenset(), frozenset())
    if settings.shard is None:
        tenant_databases, servers = frozenset(placed), {server for server, _ in placed}
    else:
        listed = {(server, db) for server in settings.shard.servers for db in settings.servers[server].databases}
        listed |= {(ref.split("/", 1)[0], ref.split("/", 1)[1]) for ref in settings.shard.databases}
        tenant_databases, servers = frozenset(listed), set(settings.shard.servers)
    protected = {
        (server, db) for server in servers for db in settings.servers[server].protected_databases
        if (server, db) not in tenant_databases
    }
    return HardeningPlan(tenant_databases, frozenset(protected))
