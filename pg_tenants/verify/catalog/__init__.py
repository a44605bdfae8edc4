"""Isolation checks read from the catalogs as the admin, for the whole fleet at once.

Each query takes the fleet as parallel arrays (`unnest`) and returns only what is worth
looking at, so the cost grows with the fleet and its ACL entries, not with tenant pairs.
Cross-tenant access comes from exploding the ACLs once and joining grantees against the
roles each tenant can act as (itself plus its memberships, transitively) — the same
information `has_schema_privilege` consults, without asking it N² times.

The SQL is static and every value is a bound parameter; nothing is spliced in by hand.

    context          the fleet as query parameters, and who runs the checks
    role_sql         role_checks      cluster-wide, once per server: attributes, passwords,
                                      settings, memberships, former login slots
    database_sql     database_checks  per database: own schema and CONNECT, default privileges
                     grants           which ACL entries weaken isolation
    ownership_sql    ownership        who owns what in (and outside) the tenants' schemas
                     readonly_checks  what is particular to read-only logins (`<username>_ro`)
"""

from .context import AdminContext, admin_context
from .database_checks import DatabaseChecks, check_database
from .role_checks import check_roles

__all__ = ["AdminContext", "DatabaseChecks", "admin_context", "check_database", "check_roles"]
