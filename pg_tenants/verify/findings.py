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
    ROLE_SETTING_MISMATCH = "role_setting_mismatch"  # pg_db_role_setting differs from the declared settings
    LOGIN_SLOT_INHERITS = "login_slot_inherits"  # detail: INHERIT (the role) or inherit_option (the membership)
    LOGIN_SHARED_BY_SLOTS = "login_shared_by_slots"  # one role can act as both zero-downtime slots
    UNEXPECTED_MEMBERSHIP = "unexpected_membership"  # the tenant is a member of another role
    ROLE_HAS_MEMBERS = "role_has_members"  # another role can act as the tenant
    # The tenant's own schema and database.
    SCHEMA_MISSING = "schema_missing"
    SCHEMA_OWNER = "schema_owner"
    OWN_SCHEMA_PRIVILEGE_MISSING = "own_schema_privilege_missing"
    CONNECT_MISSING = "connect_missing"
    DEFAULT_PRIVILEGES_PRESENT = "default_privileges_present"  # the model has none
    # An offboarded tenant: its owner role keeps the data, nothing can log in as it.
    OFFBOARDED_HAS_PASSWORD = "offboarded_has_password"
    OFFBOARDED_HAS_CONNECT = "offboarded_has_connect"
    OFFBOARDED_SLOT_PRESENT = "offboarded_slot_present"
    # Drift that weakens isolation, found in the catalogs.
    CROSS_TENANT_ACCESS = "cross_tenant_access"
    EXTRA_GRANT = "extra_grant"
    PUBLIC_GRANT = "public_grant"  # PUBLIC holds a privilege on a tenant's schema or objects
    CAN_CONNECT_OTHER_DATABASE = "can_connect_other_database"
    FOREIGN_OWNED_OBJECT = "foreign_owned_object"  # a role other than the tenant's owner owns an object in its schema
    PRIVILEGED_SECURITY_DEFINER = "privileged_security_definer"  # ... and it is a SECURITY DEFINER function
    OBJECT_OUTSIDE_OWN_SCHEMA = "object_outside_own_schema"
    LARGE_OBJECTS_OWNED = "large_objects_owned"  # a login slot owns large objects
    # Database hardening (subject is a database, not a tenant).
    PUBLIC_CONNECT = "public_connect"
    PUBLIC_CONNECT_OWNER_ONLY = "public_connect_owner_only"  # ... on a database whose owner's privileges the admin lacks
    PUBLIC_TEMP = "public_temp"
    PUBLIC_CREATE_ON_PUBLIC_SCHEMA = "public_create_on_public_schema"
    # A silo tenant's own database (isolation: database; subject is the tenant).
    OWN_DATABASE_OWNER = "own_database_owner"  # not owned by the admin
    OWN_DATABASE_CONNECT = "own_database_connect"  # a role that is not a tenant's holds CONNECT on it
    OWN_DATABASE_SHARED = "own_database_shared"  # another tenant of the fleet lives in it
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
    # The read-only login `<username>_ro` (catalogs and hands-on): SELECT in its schema, nothing else.
    READONLY_CANNOT_READ = "readonly_cannot_read"  # detail: the relation
    READONLY_DEFAULT_PRIVILEGES_MISSING = "readonly_default_privileges_missing"  # new tables would be unreadable
    READONLY_CAN_WRITE = "readonly_can_write"  # detail: "<privilege> on <relation>"
    READONLY_CAN_USE_SEQUENCE = "readonly_can_use_sequence"
    READONLY_CAN_CREATE = "readonly_can_create"  # detail: where (its schema, temporary tables, the database)
    READONLY_CAN_RUN_DEFINER = "readonly_can_run_definer"  # a SECURITY DEFINER function runs as the owner for it
    READONLY_CAN_BECOME_OTHER_ROLE = "readonly_can_become_other_role"  # SET ROLE succeeded


# One line each: what to do about it. Kept beside the codes so no code ships without one.
FIXES: dict[Code, str] = {
    Code.ROLE_MISSING: "Run `pulumi up --refresh` to recreate the role (a bare `pulumi up` trusts the stored state and changes nothing).",
    Code.ROLE_ATTRIBUTE: "Run `pulumi up --refresh` (or `pulumi refresh`, then `pulumi up`): the refresh reads the role back, so the update puts "
                         "the declared attributes back; a bare `pulumi up` sees no change. Or ALTER ROLE back by hand.",
    Code.PASSWORD_NOT_SCRAM: "Set password_encryption = 'scram-sha-256' and rotate the tenant's password through the program.",
    Code.SEARCH_PATH_MISMATCH: "Run `pulumi up --refresh` (it sets the role's search_path back), or ALTER ROLE ... SET search_path "
                               "TO the tenant's schema only by hand; RESET any per-database override (ALTER ROLE ... IN "
                               "DATABASE ... RESET search_path), which no refresh reads.",
    Code.ROLE_SETTING_MISMATCH: "ALTER ROLE ... SET the declared value, or RESET an undeclared setting (ALTER ROLE ... IN DATABASE ... RESET, "
                                "ALTER DATABASE ... RESET for a database-wide one); `pulumi up --refresh` restores search_path, role, "
                                "statement_timeout and idle_in_transaction_session_timeout (not temp_file_limit) and removes no "
                                "extra setting.",
    Code.LOGIN_SLOT_INHERITS: "ALTER ROLE <slot> NOINHERIT; on PostgreSQL 16+ also GRANT <owner> TO <slot> WITH INHERIT FALSE "
                              "(or revoke and grant again after NOINHERIT). Slots reach the owner's privileges only via SET role.",
    Code.LOGIN_SHARED_BY_SLOTS: "REVOKE the slot from that role: each slot is a login of its own, a member of the owner role only, "
                                "so rotating one credential never leaves a login holding both.",
    Code.UNEXPECTED_MEMBERSHIP: "REVOKE the role from the tenant; tenants must not be members of any role.",
    Code.ROLE_HAS_MEMBERS: "REVOKE the tenant's role from that member; nobody but the admin may act as a tenant.",
    Code.SCHEMA_MISSING: "Run `pulumi up --refresh` to recreate the schema (empty: the data went with it; restore it from a backup).",
    Code.SCHEMA_OWNER: "ALTER SCHEMA ... OWNER TO the admin role; a tenant must not own its schema.",
    Code.OWN_SCHEMA_PRIVILEGE_MISSING: "Run `pulumi up --refresh` (the refresh reads the grant back, the update grants it again), or GRANT USAGE, "
                                      "CREATE ON SCHEMA to the tenant by hand.",
    Code.CONNECT_MISSING: "Run `pulumi up --refresh`, or GRANT CONNECT ON DATABASE to the tenant by hand.",
    Code.DEFAULT_PRIVILEGES_PRESENT: "ALTER DEFAULT PRIVILEGES FOR ROLE <role> [IN SCHEMA <schema>] REVOKE ALL ON <objects> FROM "
                                     "<tenant role>: the ownership model has none (migrations run as the tenant).",
    Code.OFFBOARDED_HAS_PASSWORD: "ALTER ROLE ... PASSWORD NULL by hand: an offboarded tenant has no credentials, and a refresh does "
                                  "not read back a password the program never set.",
    Code.OFFBOARDED_HAS_CONNECT: "REVOKE CONNECT ON DATABASE ... FROM the owner role (and from PUBLIC or the role it inherits it "
                                 "through); the program holds no CONNECT grant of an offboarded tenant that a refresh could repair.",
    Code.OFFBOARDED_SLOT_PRESENT: "Run `pulumi up --refresh` (it drops a slot the stack still holds, e.g. after a failed offboarding), "
                                  "else DROP ROLE it by hand; if it owns objects, ALTER ... OWNER TO the tenant's owner role first, "
                                  "never REASSIGN OWNED.",
    Code.CROSS_TENANT_ACCESS: "REVOKE the privilege (or the membership it comes through); tenants must not reach each other's schemas.",
    Code.EXTRA_GRANT: "REVOKE the privilege; a tenant holds privileges only on its own schema and CONNECT on its database. On "
                      "those two, `pulumi up --refresh` puts the declared privileges back; anywhere else only a REVOKE does.",
    Code.PUBLIC_GRANT: "REVOKE the privilege FROM PUBLIC; every role, other tenants included, holds it.",
    Code.CAN_CONNECT_OTHER_DATABASE: "REVOKE CONNECT ON DATABASE from the tenant (or from the role it inherits it through): the "
                                     "program grants a tenant CONNECT on its own database only. PUBLIC's CONNECT is public_connect.",
    Code.FOREIGN_OWNED_OBJECT: "ALTER ... OWNER TO the tenant's owner role (the statement is in the message), or drop the object; "
                               "never REASSIGN OWNED, which moves everything else the role owns too.",
    Code.PRIVILEGED_SECURITY_DEFINER: "ALTER FUNCTION ... OWNER TO the tenant's owner role, or drop it: it runs with its owner's "
                                      "privileges, in a schema whose contents the tenant controls. Never REASSIGN OWNED.",
    Code.OBJECT_OUTSIDE_OWN_SCHEMA: "Move or drop the object; then REVOKE whatever let the tenant create it there.",
    Code.LARGE_OBJECTS_OWNED: "ALTER LARGE OBJECT <oid> OWNER TO the tenant's owner role, for each large object of the slot; "
                              "never REASSIGN OWNED.",
    Code.PUBLIC_CONNECT: "A database that holds tenants, or is in the server's protectedDatabases: run `pulumi up --refresh` (with "
                         "hardenDatabases on, the refresh reads the Grant to PUBLIC back and the update revokes it again). Any "
                         "other database of the server is not hardened by the program: add it to protectedDatabases and run "
                         "`pulumi up`, or REVOKE CONNECT, TEMPORARY ON DATABASE ... FROM PUBLIC by hand.",
    Code.PUBLIC_CONNECT_OWNER_ONLY: "Neither the program nor its admin can revoke it: only the database's owner or a superuser can (on a "
                                    "managed service, template1 belongs to the service's own superuser), so have them run REVOKE "
                                    "CONNECT, TEMPORARY ON DATABASE ... FROM PUBLIC, or make the database the admin's. Until then "
                                    "a tenant can connect there but reaches no tenant's data; on PostgreSQL 14 and older it can "
                                    "also create objects in its schema public, which CREATE DATABASE copies from template1: "
                                    "create tenant databases WITH TEMPLATE template0.",
    Code.PUBLIC_TEMP: "Run `pulumi up --refresh` (with hardenDatabases on, it revokes it again), or REVOKE TEMPORARY ON DATABASE ... FROM "
                      "PUBLIC by hand.",
    Code.PUBLIC_CREATE_ON_PUBLIC_SCHEMA: "Run `pulumi up --refresh` (with hardenDatabases on, it revokes it again), or REVOKE CREATE ON SCHEMA "
                                        "public FROM PUBLIC by hand (never USAGE: shared extensions live there).",
    Code.OWN_DATABASE_OWNER: "ALTER DATABASE ... OWNER TO the admin role: its owner may drop it, change its settings and let others "
                             "in, and a tenant must be able to do none of these.",
    Code.OWN_DATABASE_CONNECT: "REVOKE CONNECT ON DATABASE ... FROM that role: only the tenant's login roles (and the admin, its "
                               "owner) may connect to a tenant's own database.",
    Code.OWN_DATABASE_SHARED: "Move the other tenant out (declare it anew elsewhere, copy its data, offboard it): a database of "
                              "one's own is shared with no other tenant.",
    Code.NO_CREDENTIALS: "Pass the `connections` output with --show-secrets; without it the tenant cannot be tested hands-on.",
    Code.LOGIN_FAILED: "Check the role's password, LOGIN, VALID UNTIL and pg_hba.conf; `pulumi up --refresh` puts the declared password and "
                       "attributes back.",
    Code.SUSPENDED_CAN_LOG_IN: "Run `pulumi up --refresh`, or ALTER ROLE ... NOLOGIN for every login role of the tenant by hand.",
    Code.OWN_SCHEMA_UNUSABLE: "Run `pulumi up --refresh`: it restores USAGE, CREATE on the schema and the role's search_path.",
    Code.COULD_CREATE_IN_PUBLIC: "Run `pulumi up --refresh` (with hardenDatabases on, it revokes PUBLIC's CREATE on public again); "
                                 "REVOKE CREATE ON SCHEMA public FROM the tenant if it was granted to the tenant itself.",
    Code.COULD_CREATE_SCHEMA: "REVOKE CREATE ON DATABASE from the tenant and from PUBLIC.",
    Code.COULD_CREATE_ROLE: "Run `pulumi up --refresh` (tenant roles are declared NOCREATEROLE NOSUPERUSER), or ALTER ROLE ... "
                            "NOCREATEROLE NOSUPERUSER by hand; REVOKE any role membership that gives it.",
    Code.COULD_CREATE_DATABASE: "Run `pulumi up --refresh` (tenant roles are declared NOCREATEDB NOSUPERUSER), or ALTER ROLE ... "
                                "NOCREATEDB NOSUPERUSER by hand; REVOKE any role membership that gives it.",
    Code.COULD_USE_OTHER_SCHEMA: "REVOKE the privilege on the other tenant's schema (see cross_tenant_access).",
    Code.PROBE_INCONCLUSIVE: "A probe statement failed for a reason other than a refused privilege (the message names it), so "
                             "it proved nothing; a privilege the tenant holds is still reported under its own code. Remove the "
                             "cause (e.g. ALTER ROLE ... RESET default_transaction_read_only, an event trigger that raises, a "
                             "lock held on the catalogs, a full disk; the server log has the whole error), then verify again.",
    Code.READONLY_CANNOT_READ: "GRANT SELECT ON the relation TO <username>_ro as the tenant (it owns it). For a plain table, "
                               "`pulumi up --refresh` does it too: the refresh reads the SELECT grant back and the update "
                               "grants it on every table of the schema again (the provider reads back plain tables only).",
    Code.READONLY_DEFAULT_PRIVILEGES_MISSING: "Run `pulumi up --refresh`: it puts back ALTER DEFAULT PRIVILEGES FOR ROLE <owner> IN SCHEMA "
                                              "<schema> GRANT SELECT ON TABLES TO <username>_ro, so tables the tenant creates "
                                              "later are readable again.",
    Code.READONLY_CAN_WRITE: "REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER (and MAINTAIN) ON the relation FROM "
                             "<username>_ro (the tenant owns it, so it or the admin can); `pulumi up --refresh` revokes every "
                             "privilege on the schema's tables from it and grants SELECT again.",
    Code.READONLY_CAN_USE_SEQUENCE: "REVOKE ALL ON SEQUENCE ... FROM <username>_ro (and from PUBLIC): the read-only login must not "
                                    "call nextval or setval.",
    Code.READONLY_CAN_CREATE: "REVOKE CREATE ON SCHEMA / CREATE, TEMPORARY ON DATABASE from <username>_ro, and from PUBLIC "
                              "(public_temp: `pulumi up --refresh` with hardenDatabases on).",
    Code.READONLY_CAN_RUN_DEFINER: "If the read-only login must not run it: REVOKE EXECUTE ON FUNCTION ... FROM PUBLIC as the tenant "
                                   "and GRANT it to the roles meant to call it, or make it SECURITY INVOKER. A SECURITY DEFINER "
                                   "function runs with the tenant's own privileges for whoever may call it.",
    Code.READONLY_CAN_BECOME_OTHER_ROLE: "REVOKE the membership that allows it (see unexpected_membership); `pulumi up --refresh` "
                                         "revokes every membership of the read-only login.",
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
