"""What a tenant's read-only login `<username>_ro` holds, beside its Role and CONNECT grant.

- USAGE on the tenant's schema (a Grant of its own: the owner's grant holds USAGE, CREATE);
- SELECT on the tables and views the tenant's owner role creates from now on: default
  privileges FOR ROLE <owner> IN SCHEMA <schema> ON TABLES. The entry belongs to the owner,
  so it makes nobody else own anything, and the admin never creates objects there. pulumi-
  postgresql applies it in one transaction: pgLockRole(owner), then, for an admin that is not
  a superuser, withRolesGranted([owner]) joins the owner role (`GRANT owner TO admin`) for that
  transaction only, runs `ALTER DEFAULT PRIVILEGES FOR ROLE owner IN SCHEMA s REVOKE ALL ON
  TABLES FROM ro` and the GRANT, and revokes the membership again before commit (TF
  resource_postgresql_default_privileges.go resourcePostgreSQLDefaultPrivilegesCreate 116-188,
  Delete 191-225; helpers.go withRolesGranted 142). No statement there runs tenant code.
- SELECT on the tables and views already there: `GRANT SELECT ON ALL TABLES IN SCHEMA`
  (sequences are not tables: no nextval/setval), after the default privileges so that a table
  created in between gets it either way.
- `default_transaction_read_only = on` (pg_tenants.readonly_sql).

Each resource waits for the one before it, and the first for the login's Role, which waits for
every other login resource of the tenant (so they are deleted in the reverse order). The
owner's schema grant and this USAGE grant change the same pg_namespace row, which the provider does not lock ("tuple concurrently
updated"); the default privileges lock the owner role and its members, as the owner's schema
grant does, so they must not run beside a login slot's grant (see TenantResources._login_slot).
"""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_postgresql as postgresql

from components.admin_sql import ReadOnlyDefault
from pg_tenants.tenant_privileges import READONLY_SCHEMA_PRIVILEGES, READONLY_TABLE_PRIVILEGES

Child = Callable[..., tuple[str, pulumi.ResourceOptions]]


def readonly_privileges(child: Child, database: str, owner: postgresql.Role, schema: postgresql.Schema,
                        login: postgresql.Role, admin_connection: dict[str, pulumi.Input[object]]) -> list[pulumi.Resource]:
    """The read-only login's grants and setting, one after the other, after `login`."""
    name, opts = child("schema-usage-ro")
    usage = postgresql.Grant(name, database=database, role=login.name, schema=schema.name, object_type="schema",
                             privileges=READONLY_SCHEMA_PRIVILEGES, opts=opts)
    name, opts = child("default-select-ro", depends_on=[usage])
    future = postgresql.DefaultPrivileges(name, database=database, owner=owner.name, role=login.name, schema=schema.name,
                                          object_type="table", privileges=READONLY_TABLE_PRIVILEGES, opts=opts)
    name, opts = child("table-select-ro", depends_on=[future])
    existing = postgresql.Grant(name, database=database, role=login.name, schema=schema.name, object_type="table",
                                privileges=READONLY_TABLE_PRIVILEGES, opts=opts)
    name, opts = child("read-only-default", depends_on=[existing])
    setting = ReadOnlyDefault(name, admin_connection, login.name, opts=opts)
    return [usage, future, existing, setting]
