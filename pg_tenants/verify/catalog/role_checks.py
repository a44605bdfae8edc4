"""Role checks, cluster-wide and once per server: attributes, passwords, settings, memberships
and the former login slots of offboarded tenants."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from ..findings import Code, Finding, database_subject
from ..fleet import Tenant
from ..role_settings import Mismatch, as_dict, database_mismatches, role_mismatches
from ..search_path import parse_search_path, setting_value
from . import readonly_checks
from .context import AdminContext, fleet_params
from .role_sql import (
    FORMER_SLOTS_SQL,
    MEMBERSHIPS_SQL,
    PASSWORD_KIND_SQL,
    ROLES_SQL,
    SETTINGS_SQL,
    SLOT_MEMBERS_SQL,
    SLOT_MEMBERSHIP_INHERITS_SQL,
)

# Attributes a tenant role must (True) or must not (False) have, keyed by pg_roles column.
# LOGIN depends on the role's part (login or owner role) and on the state; INHERIT on the
# part too (the owner INHERIT, login slots NOINHERIT): see _role_findings.
EXPECTED_ATTRIBUTES: dict[str, tuple[bool, str]] = {
    "rolsuper": (False, "SUPERUSER"),
    "rolcreatedb": (False, "CREATEDB"),
    "rolcreaterole": (False, "CREATEROLE"),
    "rolreplication": (False, "REPLICATION"),
    "rolbypassrls": (False, "BYPASSRLS"),
}


def check_roles(conn: psycopg.Connection, tenants: Sequence[Tenant], ctx: AdminContext) -> list[Finding]:
    """Attributes, passwords, settings, memberships and former slots: cluster-wide, once per server."""
    password_kind = sql.SQL(PASSWORD_KIND_SQL if ctx.can_read_passwords else "NULL::text")
    inherits = sql.SQL(SLOT_MEMBERSHIP_INHERITS_SQL if ctx.server_version_num >= 160000 else "NULL::boolean")
    query = sql.SQL(ROLES_SQL).format(password_kind=password_kind, membership_inherits=inherits)
    params = fleet_params(tenants, ctx.admin_role)
    by_name = {t.name: t for t in tenants}
    findings: list[Finding] = []
    existing: set[tuple[str, str]] = set()
    with conn.cursor(row_factory=dict_row) as cur:
        for row in cur.execute(query, params):
            findings += _role_findings(row, by_name[row["tenant"]], ctx)
            if row["role_exists"]:
                existing.add((row["tenant"], row["rolname"]))
        for row in cur.execute(MEMBERSHIPS_SQL, params):
            finding = _membership_finding(row, by_name[row["tenant"]])
            if finding is not None:
                findings.append(finding)
        findings += _slot_sharing_findings(cur.execute(SLOT_MEMBERS_SQL, params).fetchall(), by_name)
        findings += _setting_findings(cur.execute(SETTINGS_SQL, params).fetchall(), tenants, existing)
        findings += _former_slot_findings(cur, tenants)
    return findings


def _role_findings(row: dict, tenant: Tenant, ctx: AdminContext) -> list[Finding]:
    name, role = tenant.name, row["rolname"]
    if not row["role_exists"]:
        return [Finding(name, Code.ROLE_MISSING, role, f"role {role} does not exist")]
    findings = []
    for column, (expected, wrong_name) in EXPECTED_ATTRIBUTES.items():
        if bool(row[column]) != expected:
            findings.append(Finding(name, Code.ROLE_ATTRIBUTE, wrong_name,
                                    f"role {role} is {wrong_name}; it is declared without it"))
    findings += _inherit_findings(row, tenant)
    should_log_in = tenant.logs_in(role) and tenant.state == "active"
    if row["rolcanlogin"] and not should_log_in:
        why = {"suspended": "the tenant is suspended", "offboarded": "the tenant is offboarded"}.get(
            tenant.state, "it is the owner role, not a login role")
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "LOGIN", f"role {role} is LOGIN, but {why}"))
    elif should_log_in and not row["rolcanlogin"]:
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "NOLOGIN",
                                f"role {role} is NOLOGIN; the tenant must be able to log in"))
    kind = row["password_kind"]
    if tenant.offboarded:
        if kind is not None and kind != "none":
            findings.append(Finding(name, Code.OFFBOARDED_HAS_PASSWORD, role,
                                    f"role {role} of offboarded tenant {name} still has a password ({kind})"))
    elif kind is not None and kind != "scram" and not (kind == "none" and not tenant.logs_in(role)):
        findings.append(Finding(name, Code.PASSWORD_NOT_SCRAM, kind,
                                f"role {role}'s password is stored as {kind}, not as a SCRAM-SHA-256 verifier"))
    value = setting_value(row["search_path"])
    if value is None or parse_search_path(value) != [tenant.schema]:
        shown = "not set" if value is None else f"set to {value}"
        findings.append(Finding(name, Code.SEARCH_PATH_MISMATCH, value or "",
                                f"role {role}'s search_path is {shown}; declared: {tenant.schema} only"))
    if row["declared_connlimit"] is not None and row["rolconnlimit"] != row["declared_connlimit"]:
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "CONNECTION LIMIT",
                                f"role {role} has CONNECTION LIMIT {row['rolconnlimit']}; "
                                f"declared: {row['declared_connlimit']}"))
    if row["valid_until_ok"] is False:
        actual = "has no VALID UNTIL (it never expires)" if row["valid_until"] is None else f"is VALID UNTIL {row['valid_until']}"
        findings.append(Finding(name, Code.ROLE_ATTRIBUTE, "VALID UNTIL",
                                f"role {role} {actual}; declared: {row['declared_valid_until']}"))
    return findings


def _inherit_findings(row: dict, tenant: Tenant) -> list[Finding]:
    """The owner role INHERIT; a login slot NOINHERIT, and on 16+ its membership without INHERIT;
    the read-only login NOINHERIT (readonly_checks)."""
    role = row["rolname"]
    if role in tenant.readonly_roles:
        return readonly_checks.inherit_findings(row, tenant)
    if role not in tenant.slots:
        if not row["rolinherit"]:
            return [Finding(tenant.name, Code.ROLE_ATTRIBUTE, "NOINHERIT",
                            f"role {role} is NOINHERIT; it is declared INHERIT")]
        return []
    findings = []
    if row["rolinherit"]:
        findings.append(Finding(tenant.name, Code.LOGIN_SLOT_INHERITS, f"{role} INHERIT",
                                f"login slot {role} is INHERIT: it holds the privileges of {tenant.role} without "
                                f"SET role, so after RESET ROLE it can create objects it owns itself"))
    if row["membership_inherits"]:
        findings.append(Finding(tenant.name, Code.LOGIN_SLOT_INHERITS, f"{role} inherit_option",
                                f"login slot {role}'s membership in {tenant.role} has INHERIT TRUE: it holds "
                                f"the owner's privileges without SET role"))
    return findings


def _membership_finding(row: dict, tenant: Tenant) -> Finding | None:
    role, other = row["rolname"], row["other"]
    if row["direction"] == "member_of":
        if role in tenant.slots and other == tenant.role:
            return None  # a zero-downtime login slot acting as its owner role
        return Finding(tenant.name, Code.UNEXPECTED_MEMBERSHIP, other,
                       f"role {role} is a member of {other} and gains its privileges")
    if role == tenant.role and other in tenant.slots:
        return None
    return Finding(tenant.name, Code.ROLE_HAS_MEMBERS, other,
                   f"role {other} is a member of {role} and can act as this tenant")


def _slot_sharing_findings(rows: list[dict], by_name: dict[str, Tenant]) -> list[Finding]:
    reached: dict[tuple[str, str], set[str]] = {}
    for row in rows:
        reached.setdefault((row["tenant"], row["member"]), set()).add(row["slot"])
    findings = []
    for (name, member), slots in sorted(reached.items()):
        tenant = by_name[name]
        both = set(tenant.slots)
        if member in both:
            slots = slots | {member}
        if len(both) < 2 or not both <= slots:
            continue
        if member in both:
            other = next(s for s in tenant.slots if s != member)
            message = (f"login slot {member} is a member of the other slot {other}: one login holds both "
                       f"credentials, so rotating {other}'s password does not lock it out")
        else:
            message = (f"role {member} is a member of both login slots {', '.join(tenant.slots)}: one login "
                       f"holds both credentials, so no rotation ever locks it out")
        findings.append(Finding(name, Code.LOGIN_SHARED_BY_SLOTS, member, message))
    return findings


def _setting_findings(rows: list[dict], tenants: Sequence[Tenant], existing: set[tuple[str, str]]) -> list[Finding]:
    """pg_db_role_setting against the declared settings (role_settings); missing roles are role_missing."""
    by_role = {(t.name, role): t for t in tenants for role in t.roles if (t.name, role) in existing}
    role_wide: dict[tuple[str, str], dict[str, str]] = {key: {} for key in by_role}
    per_database: dict[tuple[str, str], dict[str, dict[str, str]]] = {key: {} for key in by_role}
    database_wide: dict[str, dict[str, str]] = {}
    for row in rows:
        settings = as_dict(row["setconfig"])
        if row["tenant"] is None:  # a tenant database, for every role
            database_wide.setdefault(row["datname"], {}).update(settings)
        elif row["datname"] is None:
            role_wide[(row["tenant"], row["rolname"])].update(settings)
        else:
            per_database[(row["tenant"], row["rolname"])].setdefault(row["datname"], {}).update(settings)
    findings = []
    for (name, role), tenant in by_role.items():
        for database, mismatch in role_mismatches(tenant, role, role_wide[(name, role)], per_database[(name, role)]):
            findings.append(_setting_finding(name, role, database, mismatch))
    declared_databases = {t.database for t in tenants if t.declared is not None}
    for datname, settings in sorted(database_wide.items()):
        for mismatch in database_mismatches(settings, known=datname in declared_databases):
            findings.append(Finding(
                database_subject(datname), Code.ROLE_SETTING_MISMATCH, mismatch.setting,
                f"database {datname} sets {mismatch.setting}={mismatch.actual} for every role, its tenants "
                f"included; nothing declares it"))
    return findings


def _setting_finding(name: str, role: str, database: str | None, mismatch: Mismatch) -> Finding:
    where = "" if database is None else f" in database {database}"
    detail = f"{role} {mismatch.setting}{where}"
    if database is not None:
        message = (f"role {role} has {mismatch.setting}={mismatch.actual}{where} (ALTER ROLE … IN DATABASE); "
                   f"nothing declares a per-database setting")
    elif mismatch.expected is None:
        message = f"role {role} has {mismatch.setting}={mismatch.actual}; it is not declared"
    elif mismatch.actual is None:
        message = f"role {role} has no {mismatch.setting}; declared: {mismatch.expected}"
    else:
        message = f"role {role} has {mismatch.setting}={mismatch.actual}; declared: {mismatch.expected}"
    return Finding(name, Code.ROLE_SETTING_MISMATCH, detail, message)


def _former_slot_findings(cur: psycopg.Cursor, tenants: Sequence[Tenant]) -> list[Finding]:
    fleet_roles = {role for t in tenants for role in t.roles}
    pairs = [(t, slot) for t in tenants for slot in t.former_slots if slot not in fleet_roles]
    if not pairs:
        return []
    by_name = {t.name: t for t in tenants}
    rows = cur.execute(FORMER_SLOTS_SQL, {"tenants": [t.name for t, _ in pairs], "roles": [s for _, s in pairs]})
    findings = []
    for row in rows.fetchall():
        tenant, slot = by_name[row["tenant"]], row["rolname"]
        can = "and can log in" if row["rolcanlogin"] else "(NOLOGIN)"
        findings.append(Finding(tenant.name, Code.OFFBOARDED_SLOT_PRESENT, slot,
                                f"login slot {slot} of offboarded tenant {tenant.name} still exists {can}"))
    return findings
