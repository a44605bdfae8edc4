"""What `verify` can find, and how a finding is written down.

Codes are stable identifiers: pipelines and tests match on them, people read `message`.
A finding never carries a password or a connection string; text that came from the
server or from libpq goes through `redact` before it lands in one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from enum import Enum

DATABASE_SUBJECT_PREFIX = "database "


class Code(str, Enum):
    # Role, as declared: attributes, password, settings, memberships.
    ROLE_MISSING = "role_missing"
    ROLE_ATTRIBUTE = "role_attribute"  # detail: the attribute that is wrong, e.g. CREATEDB
    PASSWORD_NOT_SCRAM = "password_not_scram"
    SEARCH_PATH_MISMATCH = "search_path_mismatch"
    UNEXPECTED_MEMBERSHIP = "unexpected_membership"  # the tenant is a member of another role
    ROLE_HAS_MEMBERS = "role_has_members"  # another role can act as the tenant
    # The tenant's own schema and database.
    SCHEMA_MISSING = "schema_missing"
    SCHEMA_OWNER = "schema_owner"
    OWN_SCHEMA_PRIVILEGE_MISSING = "own_schema_privilege_missing"
    CONNECT_MISSING = "connect_missing"
    DEFAULT_PRIVILEGES_MISSING = "default_privileges_missing"
    # Drift that weakens isolation, found in the catalogs.
    CROSS_TENANT_ACCESS = "cross_tenant_access"
    EXTRA_GRANT = "extra_grant"
    PUBLIC_GRANT = "public_grant"  # PUBLIC holds a privilege on a tenant's schema or objects
    CAN_CONNECT_OTHER_DATABASE = "can_connect_other_database"
    FOREIGN_OWNED_OBJECT = "foreign_owned_object"  # another tenant owns an object in this tenant's schema
    OBJECT_OUTSIDE_OWN_SCHEMA = "object_outside_own_schema"
    # Database hardening (subject is a database, not a tenant).
    PUBLIC_CONNECT = "public_connect"
    PUBLIC_TEMP = "public_temp"
    PUBLIC_CREATE_ON_PUBLIC_SCHEMA = "public_create_on_public_schema"
    # Hands-on: what the tenant experienced after logging in.
    NO_CREDENTIALS = "no_credentials"
    LOGIN_FAILED = "login_failed"
    SUSPENDED_CAN_LOG_IN = "suspended_can_log_in"
    OWN_SCHEMA_UNUSABLE = "own_schema_unusable"
    COULD_CREATE_IN_PUBLIC = "could_create_in_public"
    COULD_CREATE_SCHEMA = "could_create_schema"
    COULD_CREATE_ROLE = "could_create_role"
    COULD_CREATE_DATABASE = "could_create_database"
    COULD_USE_OTHER_SCHEMA = "could_use_other_schema"
    PROBE_INCONCLUSIVE = "probe_inconclusive"


# One line each: what to do about it. Kept beside the codes so no code ships without one.
FIXES: dict[Code, str] = {
    Code.ROLE_MISSING: "Run `pulumi up` (after `pulumi refresh`) to recreate the role.",
    Code.ROLE_ATTRIBUTE: "ALTER ROLE back to the declared attributes, or run `pulumi up` to reconcile.",
    Code.PASSWORD_NOT_SCRAM: "Set password_encryption = 'scram-sha-256' and rotate the tenant's password through the program.",
    Code.SEARCH_PATH_MISMATCH: "ALTER ROLE ... SET search_path TO the tenant's schema only (and RESET any per-database override).",
    Code.UNEXPECTED_MEMBERSHIP: "REVOKE the role from the tenant; tenants must not be members of any role.",
    Code.ROLE_HAS_MEMBERS: "REVOKE the tenant's role from that member; nobody but the admin may act as a tenant.",
    Code.SCHEMA_MISSING: "Run `pulumi up` to recreate the schema.",
    Code.SCHEMA_OWNER: "ALTER SCHEMA ... OWNER TO the admin role; a tenant must not own its schema.",
    Code.OWN_SCHEMA_PRIVILEGE_MISSING: "GRANT USAGE, CREATE ON SCHEMA to the tenant, or run `pulumi up`.",
    Code.CONNECT_MISSING: "GRANT CONNECT ON DATABASE to the tenant, or run `pulumi up`.",
    Code.DEFAULT_PRIVILEGES_MISSING: "Run `pulumi up` to restore the default privileges in the tenant's schema.",
    Code.CROSS_TENANT_ACCESS: "REVOKE the privilege (or the membership it comes through); tenants must not reach each other's schemas.",
    Code.EXTRA_GRANT: "REVOKE the privilege; a tenant holds privileges only on its own schema and CONNECT on its database.",
    Code.PUBLIC_GRANT: "REVOKE the privilege FROM PUBLIC; every role, other tenants included, holds it.",
    Code.CAN_CONNECT_OTHER_DATABASE: "REVOKE CONNECT ON DATABASE from the tenant (or from the role it inherits it through).",
    Code.FOREIGN_OWNED_OBJECT: "Drop the object or ALTER ... OWNER TO the schema's tenant or the admin.",
    Code.OBJECT_OUTSIDE_OWN_SCHEMA: "Move or drop the object; then REVOKE whatever let the tenant create it there.",
    Code.PUBLIC_CONNECT: "REVOKE CONNECT ON DATABASE ... FROM PUBLIC (the program's database hardening does this).",
    Code.PUBLIC_TEMP: "REVOKE TEMPORARY ON DATABASE ... FROM PUBLIC (the program's database hardening does this).",
    Code.PUBLIC_CREATE_ON_PUBLIC_SCHEMA: "REVOKE CREATE ON SCHEMA public FROM PUBLIC (the program's database hardening does this).",
    Code.NO_CREDENTIALS: "Pass the `connections` output with --show-secrets; without it the tenant cannot be tested hands-on.",
    Code.LOGIN_FAILED: "Check the role's password, LOGIN, VALID UNTIL and pg_hba.conf; `pulumi refresh` then `pulumi up`.",
    Code.SUSPENDED_CAN_LOG_IN: "ALTER ROLE ... NOLOGIN for every login role of the tenant, or run `pulumi up`.",
    Code.OWN_SCHEMA_UNUSABLE: "Restore USAGE, CREATE on the schema and the role's search_path (`pulumi up`).",
    Code.COULD_CREATE_IN_PUBLIC: "REVOKE CREATE ON SCHEMA public FROM PUBLIC and from the tenant.",
    Code.COULD_CREATE_SCHEMA: "REVOKE CREATE ON DATABASE from the tenant and from PUBLIC.",
    Code.COULD_CREATE_ROLE: "ALTER ROLE ... NOCREATEROLE NOSUPERUSER.",
    Code.COULD_CREATE_DATABASE: "ALTER ROLE ... NOCREATEDB NOSUPERUSER.",
    Code.COULD_USE_OTHER_SCHEMA: "REVOKE the privilege on the other tenant's schema (see cross_tenant_access).",
    Code.PROBE_INCONCLUSIVE: "Rerun verify; if it repeats, read the server log for the statement that failed.",
}


@dataclass(frozen=True, order=True)
class Finding:
    """One reason the fleet is not isolated as declared.

    `subject` is a tenant name, or "database <name>" for database-wide hardening findings.
    `detail` names the specific object or attribute (what a test or a script matches on).
    """

    subject: str
    code: Code
    detail: str
    message: str

    @property
    def fix(self) -> str:
        return FIXES[self.code]

    @property
    def is_database_wide(self) -> bool:
        return self.subject.startswith(DATABASE_SUBJECT_PREFIX)

    def as_json(self) -> dict[str, str]:
        data = asdict(self)
        data["code"] = self.code.value
        data["fix"] = self.fix
        return data


def database_subject(datname: str) -> str:
    return f"{DATABASE_SUBJECT_PREFIX}{datname}"


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Sorted, one per (subject, code, detail): catalogs and logins often see the same fault."""
    seen: dict[tuple[str, Code, str], Finding] = {}
    for finding in findings:
        seen.setdefault((finding.subject, finding.code, finding.detail), finding)
    return sorted(seen.values())


def redact(text: str, secrets: Iterable[str]) -> str:
    """Remove secrets (and their percent-encoded forms) from text bound for a finding."""
    from urllib.parse import quote

    for secret in secrets:
        if not secret:
            continue
        for form in {secret, quote(secret, safe=""), quote(secret)}:
            text = text.replace(form, "***")
    return text
