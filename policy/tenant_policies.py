"""The pg-tenants policies: pure validator functions, and the Policy objects that call them.

Validators take plain property mappings (camelCase, as the engine sends them) and return
violation messages; they know nothing of gRPC, so tests call them directly. Values may
arrive wrapped in `pulumi_policy.Secret` (see keep_secrets.py): validators that need the
value unwrap it, the secrecy check relies on it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Secret,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UnknownValueError

from pg_tenants.credentials.scram import is_scram_verifier

ROLE = "postgresql:index/role:Role"
SCHEMA = "postgresql:index/schema:Schema"
GRANT = "postgresql:index/grant:Grant"
DEFAULT_PRIVILEGES = "postgresql:index/defaultPrivileges:DefaultPrivileges"
# A tenant's read-only login is `<owner>_ro` (pg_tenants.tenants.model.READONLY_SUFFIX).
READONLY_SUFFIX = "_ro"
DATABASE = "postgresql:index/database:Database"
TENANT = "pg-tenants:index:Tenant"
STACK = "pulumi:pulumi:Stack"

# Role inputs a tenant role must leave false, with the SQL keyword a reviewer knows.
FORBIDDEN_ROLE_ATTRIBUTES = {
    "superuser": "SUPERUSER",
    "createRole": "CREATEROLE",
    "createDatabase": "CREATEDB",
    "replication": "REPLICATION",
    "bypassRowLevelSecurity": "BYPASSRLS",
}
# Output keys that hold tenants' credentials: the stack's and the Tenant component's.
CONNECTION_KEYS = frozenset({"connections", "connection_formats", "connectionFormats"})
# Credentials that give themselves away even under an unexpected key.
_CREDENTIAL_TEXT = re.compile(r"://[^/@\s:]+:[^@\s]+@|\bpassword=|^[^:\s]+:\d+:[^:\s]+:[^:\s]+:.+$")
_CREDENTIAL_KEYS = frozenset({"PGPASSWORD", "password"})


def unwrap(value: Any) -> Any:
    return value.value if isinstance(value, Secret) else value


# ----------------------------------------------------------------------------- validators


def role_attribute_violations(props: Mapping[str, Any]) -> list[str]:
    """A tenant role may not be SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS."""
    granted = [keyword for key, keyword in FORBIDDEN_ROLE_ATTRIBUTES.items() if unwrap(props.get(key)) is True]
    return [f"role {unwrap(props.get('name'))!s} would be {keyword}; tenant roles must not be" for keyword in granted]


def role_password_violation(props: Mapping[str, Any]) -> str | None:
    """A role's password, when it has one, must be a SCRAM-SHA-256 verifier, never plaintext."""
    password = unwrap(props.get("password"))
    if password in (None, ""):
        return None
    if isinstance(password, str) and is_scram_verifier(password):
        return None
    # Never quote the value: it may be a plaintext password.
    return (f"role {unwrap(props.get('name'))!s}'s password is not a SCRAM-SHA-256 verifier; "
            "the plaintext would reach the server and its logs")


def schema_drop_cascade_violation(props: Mapping[str, Any], tenant: str | None,
                                  purge_marked: Collection[str]) -> str | None:
    """drop_cascade deletes a tenant's data with its schema: only for tenants marked for purge."""
    if unwrap(props.get("dropCascade")) is not True:
        return None
    if tenant is not None and tenant in purge_marked:
        return None
    who = f"tenant {tenant}" if tenant else "a schema of no known tenant"
    return (f"schema {unwrap(props.get('name'))!s} has drop_cascade, but {who} is not marked for purge "
            "(set `on_remove: purge` on the tenant, or list it in this policy's purgeTenants)")


def default_privileges_violation(props: Mapping[str, Any]) -> str | None:
    """The only default privileges the model has: FOR ROLE a tenant's owner, IN SCHEMA its schema,
    SELECT ON TABLES, to that owner's read-only login `<owner>_ro`, without grant option. Any other
    entry would hand privileges on objects nobody declared, or make the admin's objects reachable."""
    owner, role, schema = (unwrap(props.get(key)) for key in ("owner", "role", "schema"))
    kind, privileges = unwrap(props.get("objectType")), unwrap(props.get("privileges")) or []
    if (kind == "table" and sorted(privileges) == ["SELECT"] and schema and owner and role == f"{owner}{READONLY_SUFFIX}"
            and unwrap(props.get("withGrantOption")) is not True):
        return None
    return (f"default privileges for role {owner!s} in schema {schema!s} would grant {', '.join(map(str, privileges)) or 'nothing'} "
            f"on new {kind!s}s to {role!s}; the only default privileges allowed are SELECT on tables for the owner's "
            f"read-only login {owner!s}{READONLY_SUFFIX}, in a schema, without grant option")


def table_grant_violation(props: Mapping[str, Any]) -> str | None:
    """Tenants own their tables; the one table Grant is the read-only login's, SELECT only."""
    if unwrap(props.get("objectType")) not in ("table", "sequence", "column"):
        return None
    privileges = unwrap(props.get("privileges")) or []
    if unwrap(props.get("objectType")) == "table" and sorted(privileges) == ["SELECT"] and unwrap(props.get("withGrantOption")) is not True:
        return None
    return (f"grant of {', '.join(map(str, privileges)) or 'nothing'} on {unwrap(props.get('objectType'))!s}s in schema "
            f"{unwrap(props.get('schema'))!s} to {unwrap(props.get('role'))!s}: tenants own their tables, and the only "
            "grant on them is SELECT for a read-only login")


def own_database_violations(props: Mapping[str, Any], tenant: str | None, isolation: str | None,
                            tenant_roles: Collection[str]) -> list[str]:  # fmt: skip
    """A tenant's database (isolation: database) is owned by the admin, never by a role of the
    tenant (the owner could drop it and let others in), and copied from template0 (template1 can
    carry objects someone planted there); only a silo tenant has one."""
    name, owner, template = (unwrap(props.get(key)) for key in ("name", "owner", "template"))
    found = []
    if tenant is None or isolation != "database":
        found.append(f"database {name!s} is declared for {f'tenant {tenant}' if tenant else 'no known tenant'}, "
                     "which is not isolation: database")
    if owner in (None, "") or owner in tenant_roles:
        found.append(f"database {name!s} would be owned by {owner or 'the connecting role, undeclared'}; a tenant's own "
                     "database must be owned by the admin")
    if template != "template0":
        found.append(f"database {name!s} would be copied from {template or 'the provider default, undeclared'}; "
                     "declare template0, which nobody can connect to and plant objects in")
    return found


def unprotected_credential_paths(props: Mapping[str, Any]) -> list[str]:
    """Paths of connection outputs (or credential-looking values) that are not secret."""
    found: list[str] = []

    def walk(value: Any, path: str, under_connection_key: bool) -> None:
        if isinstance(value, Secret):
            return  # everything below a secret is protected
        if isinstance(value, Mapping):
            for key in list(value.keys()):
                try:
                    item = value[key]
                except UnknownValueError:
                    continue  # not known yet (preview): nothing to leak
                walk(item, f"{path}.{key}" if path else str(key), under_connection_key or key in CONNECTION_KEYS
                     or key in _CREDENTIAL_KEYS)
        elif isinstance(value, Sequence) and not isinstance(value, str):
            for index in range(len(value)):
                try:
                    item = value[index]
                except UnknownValueError:
                    continue
                walk(item, f"{path}[{index}]", under_connection_key)
        elif value is not None and (under_connection_key or (isinstance(value, str) and _CREDENTIAL_TEXT.search(value))):
            found.append(path)

    walk(props, "", False)
    return found


# ----------------------------------------------------------------------------- resource graph


def tenant_of(resource: Any) -> str | None:
    """The tenant key a resource belongs to: its Tenant component parent's name."""
    parent = getattr(resource, "parent", None)
    while parent is not None:
        if parent.resource_type == TENANT:
            return str(parent.name)
        parent = getattr(parent, "parent", None)
    return None


def purge_marked_tenants(resources: Iterable[Any], config: Mapping[str, Any]) -> frozenset[str]:
    """Tenants marked for purge: `on_remove: purge` as the Tenant component reports it, plus
    the policy's `purgeTenants` list (a reviewed override for packs run outside the repo)."""
    marked = {str(name) for name in config.get("purgeTenants", ()) or ()}
    for resource in resources:
        if resource.resource_type != TENANT:
            continue
        for key in ("onRemove", "on_remove"):
            try:
                if unwrap(resource.props.get(key)) == "purge":
                    marked.add(str(resource.name))
            except UnknownValueError:
                pass
    return frozenset(marked)


# ----------------------------------------------------------------------------- policies


def _for_type(resource_type: str, check: Callable[[ResourceValidationArgs], Iterable[str]]):
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type == resource_type:
            for message in check(args):
                report_violation(message, None)
    return validate


def _optional(message: str | None) -> list[str]:
    return [message] if message else []


def _no_drop_cascade(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    purge_marked = purge_marked_tenants(args.resources, args.get_config())
    for resource in args.resources:
        if resource.resource_type == SCHEMA:
            message = schema_drop_cascade_violation(resource.props, tenant_of(resource), purge_marked)
            if message:
                report_violation(message, resource.urn)


def _own_databases(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    isolation: dict[str, Any] = {}
    roles: dict[str | None, set[str]] = {}
    for resource in args.resources:
        if resource.resource_type == TENANT:
            try:
                isolation[str(resource.name)] = unwrap(resource.props.get("isolation"))
            except UnknownValueError:
                pass
        elif resource.resource_type == ROLE:
            roles.setdefault(tenant_of(resource), set()).add(str(unwrap(resource.props.get("name"))))
    for resource in args.resources:
        if resource.resource_type == DATABASE:
            tenant = tenant_of(resource)
            for message in own_database_violations(resource.props, tenant, isolation.get(tenant or ""), roles.get(tenant, set())):
                report_violation(message, resource.urn)


def _connections_secret(args: StackValidationArgs, report_violation: ReportViolation) -> None:
    for resource in args.resources:
        if resource.resource_type == STACK or resource.resource_type == TENANT:
            for path in unprotected_credential_paths(resource.props):
                report_violation(f"output {path} holds credentials but is not a secret", resource.urn)


POLICIES = [
    ResourceValidationPolicy(
        name="tenant-role-least-privilege",
        description="No tenant role may be SUPERUSER, CREATEROLE, CREATEDB, REPLICATION or BYPASSRLS.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_for_type(ROLE, lambda args: role_attribute_violations(args.props)),
    ),
    ResourceValidationPolicy(
        name="role-password-is-scram-verifier",
        description="Every Role password is a SCRAM-SHA-256 verifier, so no plaintext reaches the server.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_for_type(ROLE, lambda args: _optional(role_password_violation(args.props))),
    ),
    ResourceValidationPolicy(
        name="default-privileges-only-for-read-only-logins",
        description="The only default privileges: FOR ROLE a tenant's owner, SELECT on its new tables, to its read-only login.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_for_type(DEFAULT_PRIVILEGES, lambda args: _optional(default_privileges_violation(args.props))),
    ),
    ResourceValidationPolicy(
        name="table-grants-only-select",
        description="No Grant on tables, sequences or columns but SELECT on tables (a tenant's read-only login).",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_for_type(GRANT, lambda args: _optional(table_grant_violation(args.props))),
    ),
    StackValidationPolicy(
        name="schema-drop-cascade-only-for-purge",
        description="No Schema has drop_cascade unless its tenant is marked for purge.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_no_drop_cascade,
        config_schema=PolicyConfigSchema(
            properties={"purgeTenants": {"type": "array", "items": {"type": "string"}}}),
    ),
    StackValidationPolicy(
        name="own-database-owned-by-admin",
        description="A tenant's own database (isolation: database) belongs to the admin, never to a tenant role, and is "
                    "copied from template0; only silo tenants have one.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_own_databases,
    ),
    StackValidationPolicy(
        name="connection-outputs-are-secret",
        description="Every output holding tenant credentials (connection strings, passwords) is a secret.",
        enforcement_level=EnforcementLevel.MANDATORY,
        validate=_connections_secret,
    ),
]
