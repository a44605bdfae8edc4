"""Which stack owns a tenant entry, by the rule in pg_tenants.shards.settings."""

from __future__ import annotations

from pg_tenants.stack_config import StackSettings
from pg_tenants.tenants.model import TenantEntry
from pg_tenants.tenants.placement import database_of, server_of


def stack_owns(settings: StackSettings, entry: TenantEntry) -> bool:
    shard = settings.shard
    if shard is None:
        return True
    if entry.shard is not None:
        return entry.shard == shard.name
    server = server_of(entry, settings)
    return server in shard.servers or f"{server}/{database_of(entry, settings)}" in shard.databases


def ownership_reason(settings: StackSettings, entry: TenantEntry) -> str:
    """Why a stack owns an entry it owns, for messages: `shard: eu-1`, `server main`, `database main/app`."""
    if settings.shard is None:
        return "it owns every tenant (no pg-tenants:shard)"
    if entry.shard is not None:
        return f"shard: {entry.shard}"
    server = server_of(entry, settings)
    return f"server {server}" if server in settings.shard.servers else f"database {server}/{database_of(entry, settings)}"
