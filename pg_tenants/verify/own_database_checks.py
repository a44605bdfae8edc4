"""Checks of a silo tenant's own database (`isolation: database`), beside the checks every tenant
database gets (pg_tenants.verify.catalog: PUBLIC's privileges, other tenants' CONNECT,
objects owned by others in the tenant's schema).

What only a database of one's own must keep: the admin owns it (its owner could drop it, change
its settings and grant CONNECT), no role but the tenant's login roles (and the owner) may
connect, and no other tenant of the fleet lives in it. One query per silo database.
"""

from __future__ import annotations

from collections.abc import Sequence

import psycopg

from .findings import Code, Finding
from .fleet import Tenant

# The owner of the connected database, and every role holding CONNECT on it through its ACL
# (PUBLIC, grantee 0, is the catalog checks' public_connect; the owner's own entry is left out).
_OWN_DATABASE_SQL = """
SELECT pg_get_userbyid(d.datdba) AS owner,
       ARRAY(SELECT DISTINCT pg_get_userbyid(e.grantee) FROM aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) e
              WHERE e.privilege_type = 'CONNECT' AND e.grantee NOT IN (0, d.datdba) ORDER BY 1) AS connect_holders
FROM pg_database d WHERE d.datname = current_database()
"""


def check_own_database(conn: psycopg.Connection, tenants: Sequence[Tenant], admin_role: str) -> list[Finding]:
    """Findings for the silo tenant whose database `conn` is connected to; `tenants` is every
    tenant of the server (a tenant of the fleet holding CONNECT here is reported by
    pg_tenants.verify.catalog as can_connect_other_database, so it is not repeated)."""
    datname = conn.info.dbname
    here = [t for t in tenants if t.database == datname]
    silo = next((t for t in here if t.isolation == "database"), None)
    if silo is None:
        return []
    findings = [
        Finding(silo.name, Code.OWN_DATABASE_SHARED, other.name,
                f"tenant {other.name} lives in {silo.name}'s own database {datname}")
        for other in here if other is not silo
    ]
    row = conn.execute(_OWN_DATABASE_SQL).fetchone()
    assert row is not None
    owner, holders = row
    if owner != admin_role:
        findings.append(Finding(silo.name, Code.OWN_DATABASE_OWNER, owner,
                                f"database {datname} is owned by {owner}, not by the admin {admin_role}"))
    fleet_roles = {role for tenant in tenants for role in tenant.roles}
    for holder in holders:
        if holder not in fleet_roles and holder != admin_role:
            findings.append(Finding(silo.name, Code.OWN_DATABASE_CONNECT, holder,
                                    f"role {holder} may connect to {silo.name}'s own database {datname}"))
    return findings
