"""Per-database checks: own schema and CONNECT, default privileges, ACL drift, ownership."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import psycopg
from psycopg.rows import dict_row

from pg_tenants.problems import plural

from ..findings import Code, Finding
from ..fleet import Tenant
from .context import AdminContext, fleet_params
from .database_sql import DEFAULT_ACL_SQL, OWN_STATE_SQL, PRIVILEGES_SQL
from .grants import classify_grant
from .ownership import ownership_findings
from .ownership_sql import LARGE_OBJECTS_SQL, OWNERSHIP_SQL
from . import readonly_checks

# pg_default_acl.defaclobjtype, as ALTER DEFAULT PRIVILEGES names them.
DEFAULT_ACL_OBJECTS = {"r": "tables", "S": "sequences", "f": "functions", "T": "types", "n": "schemas",
                       "L": "large objects"}


@dataclass
class DatabaseChecks:
    """What the checks of one database found, and the large objects each tenant owns there."""

    findings: list[Finding]
    large_objects: dict[str, int]  # tenant name -> count owned by its owner role


def check_database(conn: psycopg.Connection, tenants: Sequence[Tenant], ctx: AdminContext) -> DatabaseChecks:
    """Own-schema state, ACL drift, default privileges, object and large object ownership in the
    database `conn` is connected to.

    `tenants` is every tenant on the server: tenants of other databases can still be granted
    access here, and count as "other tenants" for this database's schemas.
    """
    params = fleet_params(tenants, ctx.admin_role)
    by_name = {t.name: t for t in tenants}
    datname = conn.info.dbname
    tenant_databases = {t.database for t in tenants}
    findings: list[Finding] = []
    large_objects: dict[str, int] = {}
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(OWN_STATE_SQL, params):
            findings += _own_state_findings(row, by_name[row["tenant"]], ctx.admin_role)
        for row in cur.execute(DEFAULT_ACL_SQL, params):
            if not readonly_checks.is_expected_default_acl(row, by_name[row["tenant"]]):
                findings.append(_default_acl_finding(row, by_name[row["tenant"]], datname))
        for row in cur.execute(PRIVILEGES_SQL, params):
            finding = classify_grant(row, by_name, datname, tenant_databases, ctx.admin_role)
            if finding is not None:
                findings.append(finding)
        for row in cur.execute(OWNERSHIP_SQL, params):
            findings += ownership_findings(row, by_name, ctx.admin_role)
        for row in cur.execute(LARGE_OBJECTS_SQL, params):
            tenant = by_name[row["tenant"]]
            if row["rolname"] == tenant.role:
                large_objects[tenant.name] = large_objects.get(tenant.name, 0) + int(row["large_objects"])
            else:
                findings.append(Finding(
                    tenant.name, Code.LARGE_OBJECTS_OWNED, row["rolname"],
                    f"login slot {row['rolname']} owns {plural(int(row['large_objects']), 'large object')} "
                    f"in database {datname}; "
                    f"they belong to the owner role {tenant.role}, or the other slot cannot reach them"))
        findings += readonly_checks.check_database(cur, tenants, datname)
    return DatabaseChecks(findings, large_objects)


def _own_state_findings(row: dict, tenant: Tenant, admin_role: str) -> list[Finding]:
    name, role = tenant.name, row["rolname"]
    findings = readonly_checks.own_state_findings(row, tenant)
    if row["is_owner"]:
        if not row["schema_exists"]:
            return [Finding(name, Code.SCHEMA_MISSING, tenant.schema, f"schema {tenant.schema} does not exist")]
        owner = row["schema_owner"]
        if owner != admin_role:
            why = "the tenant itself, so it can grant its schema to others" if owner == tenant.role else owner
            findings.append(Finding(name, Code.SCHEMA_OWNER, owner,
                                    f"schema {tenant.schema} is owned by {why}; expected the admin role {admin_role}"))
        for column, privilege in (("has_usage", "USAGE"), ("has_create", "CREATE")):
            if row[column] is False:
                findings.append(Finding(name, Code.OWN_SCHEMA_PRIVILEGE_MISSING, privilege,
                                        f"role {role} lacks {privilege} on its schema {tenant.schema}"))
    if tenant.offboarded and row["has_connect"]:
        findings.append(Finding(name, Code.OFFBOARDED_HAS_CONNECT, tenant.database,
                                f"role {role} of offboarded tenant {name} can still connect to database "
                                f"{tenant.database} (a grant to it, a role it inherits from, or PUBLIC)"))
    elif tenant.logs_in(role) and row["has_connect"] is False:
        detail = tenant.database if role == tenant.role else f"{tenant.database} for {role}"
        findings.append(Finding(name, Code.CONNECT_MISSING, detail,
                                f"role {role} lacks CONNECT on its database {tenant.database}"))
    return findings


def _default_acl_finding(row: dict, tenant: Tenant, datname: str) -> Finding:
    objects = DEFAULT_ACL_OBJECTS.get(row["objtype"], f"objects of type {row['objtype']}")
    scope = f" in schema {row['nspname']}" if row["nspname"] is not None else ""
    grantee = row["grantee"]
    return Finding(
        tenant.name, Code.DEFAULT_PRIVILEGES_PRESENT, f"{objects} for role {row['for_role']}{scope} to {grantee}",
        f"default privileges for role {row['for_role']}{scope} (database {datname}) grant {row['privileges']} on new "
        f"{objects} to {grantee}: the ownership model has no default privileges")
