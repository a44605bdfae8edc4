"""The fleet as query parameters (one row per tenant role), and who runs the checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg

from ..fleet import Tenant

# One row per tenant role: the owner role (is_owner) and its login roles (logs_in; the owner
# itself for a single-login tenant, none once offboarded). owner_name: the tenant's owner role.
FLEET_CTE = """
t(tenant, rolname, nspname, datname, is_owner, owner_name, logs_in, connlimit, valid_until) AS (
    SELECT * FROM unnest(%(tenants)s::text[], %(roles)s::text[], %(schemas)s::text[], %(databases)s::text[],
                         %(owners)s::boolean[], %(owner_names)s::text[], %(logs_in)s::boolean[],
                         %(connlimits)s::int[], %(valid_untils)s::text[])
),
tr AS (SELECT t.*, r.oid AS roleid FROM t JOIN pg_roles r ON r.rolname = t.rolname)
"""
# Schemas of the system, which no tenant owns or is granted anything in.
NON_SYSTEM_SCHEMAS = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_)'"


@dataclass(frozen=True)
class AdminContext:
    """Who runs the checks, and what that login may read."""

    admin_role: str  # the role that owns tenant schemas
    can_read_passwords: bool  # pg_authid is readable (superuser)
    server_version_num: int = 0  # e.g. 160004


def fleet_params(tenants: Sequence[Tenant], admin_role: str) -> dict[str, object]:
    rows = [(t, role) for t in tenants for role in t.roles]
    return {
        "tenants": [t.name for t, _ in rows],
        "roles": [role for _, role in rows],
        "schemas": [t.schema for t, _ in rows],
        "databases": [t.database for t, _ in rows],
        "owners": [role == t.role for t, role in rows],
        "owner_names": [t.role for t, _ in rows],
        "logs_in": [role in t.login_roles for t, role in rows],
        "connlimits": [t.declared.connection_limit if t.declared else None for t, _ in rows],
        "valid_untils": [t.declared.valid_until if t.declared else None for t, _ in rows],
        "admin": admin_role,
    }


def admin_context(conn: psycopg.Connection, admin_role: str | None) -> AdminContext:
    row = conn.execute(
        "SELECT current_user, has_table_privilege('pg_catalog.pg_authid', 'SELECT'),"
        " current_setting('server_version_num')::int"
    ).fetchone()
    assert row is not None
    return AdminContext(admin_role=admin_role or row[0], can_read_passwords=bool(row[1]), server_version_num=int(row[2]))
