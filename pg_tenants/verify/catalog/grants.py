"""Which ACL entries, reaching a tenant or PUBLIC, weaken isolation."""

from __future__ import annotations

from collections.abc import Collection

from ..findings import Code, Finding, database_subject
from ..fleet import Tenant


def classify_grant(row: dict, by_name: dict[str, Tenant], datname: str,
                   tenant_databases: Collection[str], admin_role: str) -> Finding | None:
    """Decide whether one ACL entry (reaching a tenant, or PUBLIC) weakens isolation."""
    kind, obj, privilege = row["kind"], row["object"], row["privilege"]
    object_tenant = row["object_tenant"]
    grant = f"{privilege}{' WITH GRANT OPTION' if row['grantable'] else ''} on {obj}"
    if row["tenant"] is None:  # PUBLIC
        if kind == "database":
            target = database_subject(row["datname"])
            if privilege == "CONNECT" and not row["admin_acts_as_owner"]:
                return Finding(target, Code.PUBLIC_CONNECT_OWNER_ONLY, row["datname"],
                               f"PUBLIC has CONNECT on {obj}: every tenant can connect to it, and only its owner "
                               f"{row['owner_name']} can revoke that (the admin {admin_role} neither is nor acts as it)")
            if privilege == "CONNECT":
                return Finding(target, Code.PUBLIC_CONNECT, row["datname"],
                               f"PUBLIC has CONNECT on {obj}: every tenant can connect to it")
            if privilege == "TEMPORARY" and row["datname"] in tenant_databases:
                return Finding(target, Code.PUBLIC_TEMP, row["datname"],
                               f"PUBLIC has TEMPORARY on {obj}: every tenant can create temporary tables")
            return Finding(target, Code.PUBLIC_GRANT, grant, f"PUBLIC has {grant}")
        if kind == "schema" and row["nspname"] == "public" and privilege == "CREATE":
            return Finding(database_subject(datname), Code.PUBLIC_CREATE_ON_PUBLIC_SCHEMA, "public",
                           f"PUBLIC has CREATE on schema public in database {datname}: every tenant can create there")
        if object_tenant is not None and not (kind == "function" and privilege == "EXECUTE"):
            # EXECUTE for PUBLIC is PostgreSQL's default on new functions; schema USAGE still guards them.
            return Finding(object_tenant, Code.PUBLIC_GRANT, grant,
                           f"PUBLIC has {grant}: every other tenant holds it too")
        return None

    tenant = by_name[row["tenant"]]
    via = f" through role {row['via']}" if row["via"] else ""
    if kind == "database":
        if row["datname"] == tenant.database and privilege == "CONNECT":
            return None  # its own database; an offboarded tenant's CONNECT is offboarded_has_connect
        if privilege == "CONNECT":
            return Finding(tenant.name, Code.CAN_CONNECT_OTHER_DATABASE, row["datname"],
                           f"role {tenant.role} can connect to {obj}{via}")
        return Finding(tenant.name, Code.EXTRA_GRANT, grant, f"role {tenant.role} holds {grant}{via}")
    if object_tenant is not None and object_tenant != tenant.name:
        return Finding(tenant.name, Code.CROSS_TENANT_ACCESS, f"{privilege} on {obj}",
                       f"role {tenant.role} holds {grant}{via}, which belongs to tenant {object_tenant}")
    if row["via"]:
        return None  # inherited privileges on its own or non-tenant objects: the membership is the finding
    if kind == "default privileges":
        return None  # granted to the tenant itself: a default_privileges_present finding
    if object_tenant == tenant.name:
        if kind == "schema" and row["grantable"]:
            return Finding(tenant.name, Code.EXTRA_GRANT, grant,
                           f"role {tenant.role} holds {grant}: it can share its schema with other roles")
        return None
    return Finding(tenant.name, Code.EXTRA_GRANT, grant, f"role {tenant.role} holds {grant} outside its own schema")
