"""Objects in a tenant's schema owned by anyone but its owner role, and tenant objects elsewhere."""

from __future__ import annotations

from ..findings import Code, Finding
from ..fleet import Tenant

# The ALTER statement for each kind of schema object; None: owned through another object.
_ALTER = {
    "table": "TABLE", "partitioned table": "TABLE", "view": "VIEW", "materialized view": "MATERIALIZED VIEW",
    "sequence": "SEQUENCE", "foreign table": "FOREIGN TABLE", "type": "TYPE", "domain": "DOMAIN",
    "function": "FUNCTION", "procedure": "PROCEDURE", "aggregate": "AGGREGATE", "operator": "OPERATOR",
    "collation": "COLLATION", "conversion": "CONVERSION", "operator class": "OPERATOR CLASS",
    "operator family": "OPERATOR FAMILY", "text search configuration": "TEXT SEARCH CONFIGURATION",
    "text search dictionary": "TEXT SEARCH DICTIONARY", "statistics": "STATISTICS", "schema": "SCHEMA",
}
# Kinds whose names share a namespace with tables, types, functions or operators are shown
# bare in a finding's detail (as always); the others carry their kind, so names cannot collide.
_BARE_DETAIL_KINDS = frozenset({
    "table", "partitioned table", "view", "materialized view", "sequence", "foreign table", "type", "domain",
    "index", "partitioned index", "TOAST table", "relation", "function", "procedure", "aggregate", "operator",
})


def _object_detail(kind: str, obj: str) -> str:
    return obj if kind in _BARE_DETAIL_KINDS else f"{kind} {obj}"


def _owner_description(row: dict, tenant: Tenant, by_name: dict[str, Tenant], admin_role: str) -> str:
    owner, owner_tenant = row["owner"], row["owner_tenant"]
    superuser = " (a superuser)" if row["owner_is_superuser"] else ""
    if owner_tenant == tenant.name:
        return f"its own login slot {owner}"
    if owner_tenant is not None:
        return f"role {owner} of tenant {by_name[owner_tenant].name}"
    if owner == admin_role:
        return f"the admin {owner}{superuser}"
    if row["owner_is_superuser"]:
        return f"superuser {owner}"
    return f"role {owner}"


def ownership_findings(row: dict, by_name: dict[str, Tenant], admin_role: str) -> list[Finding]:
    kind, obj = row["kind"], row["object"]
    detail = _object_detail(kind, obj)
    if row["schema_tenant"] is None:
        owner = by_name[row["owner_tenant"]]
        return [Finding(owner.name, Code.OBJECT_OUTSIDE_OWN_SCHEMA, detail,
                        f"role {row['owner']} owns {kind} {obj} outside its schema {owner.schema}")]
    tenant = by_name[row["schema_tenant"]]
    owner = _owner_description(row, tenant, by_name, admin_role)
    alter = _ALTER.get(kind)
    fix = f" (ALTER {alter} {obj} OWNER TO {row['owner_ident']}, or drop it)" if alter else ""
    findings = [Finding(tenant.name, Code.FOREIGN_OWNED_OBJECT, detail,
                        f"{kind} {obj} is owned by {owner}, not by the tenant's owner role {tenant.role}{fix}")]
    if row["secdef"]:
        findings.append(Finding(
            tenant.name, Code.PRIVILEGED_SECURITY_DEFINER, obj,
            f"SECURITY DEFINER {kind} {obj} runs with the privileges of {owner} for whoever calls it, "
            f"from a schema whose contents the tenant controls"))
    return findings
