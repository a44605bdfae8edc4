"""`pg-tenants verify` knows read-only logins: a clean fleet passes, every kind of drift is a finding.

One fleet per admin profile, deployed by the real program with the provider double: read-only
logins in every state, and tenants that each get one kind of tampering (by the tenant itself
where it can, else by the server's superuser, as anyone could by hand). Verify runs once on the
clean fleet and once after the tampering, and the findings must be exactly the expected ones.
"""

from __future__ import annotations

import pytest

from tests.postgres.test_verify_on_deployed_fleets import fleet_findings, run_verify
from tests.support.deployment import (
    ADMIN_PROFILES,
    MANAGED,
    connect_as,
    create_tenant_database,
    prepare_admin,
    reset_server,
    stack_for,
)

ADMIN_PROFILES = ADMIN_PROFILES

RO = {"readonly_login": True}
# Tenants whose read-only login gets tampered with, a few independent kinds each.
TAMPERED = ("objects", "role", "member", "no_default", "extra_default")
# Tenants without a read-only login are verify's other tests' (test_verify_on_deployed_fleets).
FLEET = [
    {"name": "ro_clean", "on_remove": "purge", **RO},
    {"name": "ro_rotating", "zero_downtime_rotation": True, **RO},
    {"name": "ro_paused", "state": "suspended", **RO},
    {"name": "ro_gone", "state": "offboarded", **RO},
    *({"name": name, **RO} for name in TAMPERED),
]

# (as whom, statement): the tenant itself ("tenant <name>"), or the server's superuser.
TAMPERING = [
    ("tenant objects", "GRANT INSERT ON rows TO objects_ro"),
    ("tenant objects", "CREATE TABLE hidden (id int)"),
    ("tenant objects", "REVOKE SELECT ON hidden FROM objects_ro"),
    ("tenant objects", "CREATE SEQUENCE counter"),
    ("tenant objects", "GRANT USAGE ON SEQUENCE counter TO objects_ro"),
    ("tenant objects", "CREATE FUNCTION bump() RETURNS void LANGUAGE sql SECURITY DEFINER AS 'INSERT INTO objects.rows VALUES (9)'"),
    ("superuser", "ALTER ROLE role_ro INHERIT"),
    ("superuser", "ALTER ROLE role_ro RESET default_transaction_read_only"),
    ("superuser", "GRANT TEMPORARY ON DATABASE app TO role_ro"),
    ("superuser", "GRANT member TO member_ro"),
    ("tenant no_default", "ALTER DEFAULT PRIVILEGES IN SCHEMA no_default REVOKE SELECT ON TABLES FROM no_default_ro"),
    ("tenant no_default", "CREATE TABLE later (id int)"),
    ("tenant extra_default", "ALTER DEFAULT PRIVILEGES IN SCHEMA extra_default GRANT INSERT ON TABLES TO extra_default_ro"),
    ("superuser", "ALTER ROLE ro_paused_ro LOGIN"),
    ("superuser", "CREATE ROLE ro_gone_ro NOLOGIN"),
]
EXPECTED = {
    ("objects", "readonly_can_write", "INSERT on objects.rows"),
    ("objects", "readonly_cannot_read", "objects.hidden"),
    ("objects", "readonly_can_use_sequence", "USAGE on objects.counter"),
    ("objects", "readonly_can_run_definer", "objects.bump()"),
    ("role", "role_attribute", "INHERIT"),
    ("role", "role_setting_mismatch", "role_ro default_transaction_read_only"),
    ("role", "readonly_can_create", "TEMPORARY on database app"),
    ("role", "extra_grant", "TEMPORARY on database app"),
    ("member", "unexpected_membership", "member"),
    ("member", "role_has_members", "member_ro"),
    ("member", "readonly_can_become_other_role", "SET ROLE member"),
    ("no_default", "readonly_default_privileges_missing", "no_default"),
    ("no_default", "readonly_cannot_read", "no_default.later"),
    ("extra_default", "default_privileges_present", "tables for role extra_default in schema extra_default to extra_default_ro"),
    ("ro_paused", "role_attribute", "LOGIN"),
    ("ro_paused", "suspended_can_log_in", "ro_paused_ro"),
    ("ro_gone", "offboarded_slot_present", "ro_gone_ro"),
}


@pytest.fixture(scope="module")
def fleet(pg_server, admin_profile, new_deployment, tmp_path_factory):
    admin = prepare_admin(pg_server, admin_profile)
    try:
        create_tenant_database(pg_server, admin, "app")
        deployment = new_deployment(pg_server, stack_for(admin, tmp_path_factory.mktemp("verify_ro") / "tenants", "app",
                                                     profile=admin_profile))
        deployment.write(FLEET)
        deployment.up()
        for name, formats in deployment.connections.items():
            if name == "ro_paused":  # suspended: cannot log in
                continue
            with connect_as(formats) as tenant:
                tenant.execute("CREATE TABLE rows (id int)")
        yield deployment
    finally:
        reset_server(pg_server)


def detailed(report) -> set[tuple[str, str, str]]:
    return {(t["tenant"], f["code"], f["detail"]) for t in report["tenants"] for f in t["findings"]}


def test_verify_passes_a_fleet_with_read_only_logins_in_every_state(fleet, admin_profile, tmp_path, monkeypatch):
    report = run_verify(fleet, tmp_path, monkeypatch)
    assert fleet_findings(report, admin_profile) == []
    readonly = {t["tenant"]: t["readonly_role"] for t in report["tenants"]}
    assert readonly == {"ro_gone": None, **{t["name"]: f"{t['name']}_ro" for t in FLEET if t["name"] != "ro_gone"}}


def test_verify_finds_every_kind_of_drift_of_a_read_only_login(fleet, admin_profile, tmp_path, monkeypatch):
    for who, statement in TAMPERING:
        if who == "superuser":
            with fleet.pg.admin_connect("app") as admin:
                admin.execute(statement)
        else:
            with connect_as(fleet.connections[who.split()[1]]) as tenant:
                tenant.execute(statement)
    report = run_verify(fleet, tmp_path, monkeypatch)
    found = detailed(report)
    if admin_profile == MANAGED:
        found -= {(t, c, d) for t, c, d in found if t == "database template1"}
    assert found == EXPECTED
    database_wide = [(f["subject"], f["code"]) for f in report["database_findings"]]
    assert [f for f in database_wide if f[0] != "database template1"] == []
