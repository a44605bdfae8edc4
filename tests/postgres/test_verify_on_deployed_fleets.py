"""`pg-tenants verify` against fleets the program itself deployed, in every lifecycle state.

The fleets come from the real program applied with the provider double, never from SQL that
shares the program's constants: a clean deployment must pass, and tampering with one must not.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
from typing import Any

import pytest
import yaml
from psycopg import sql

from pg_tenants.cli import main as pg_tenants_main
from tests.support.deployment import ADMIN_PROFILES, MANAGED, Deployment, connect_as, stack_admin
from tests.support.verify_env import use_admin_login

# Deployed and verified with the server's superuser as the admin, then with a managed service's
# admin (CREATEROLE, not SUPERUSER; tests/support/deployment.py), which also runs verify.
ADMIN_PROFILES = ADMIN_PROFILES

# Every tenant kind and state, with every field that reaches a role setting.
FLEET = [
    {"name": "active_one"},
    {"name": "limited", "connection_limit": 3, "temp_file_limit": 2048, "statement_timeout": 5000,
     "idle_in_transaction_session_timeout": 60000, "valid_until": "2031-06-30T12:00:00+00:00"},
    {"name": "no_temp_limit", "temp_file_limit": -1, "connection_limit": -1},
    {"name": "rotating", "zero_downtime_rotation": True, "rotation": 1},
    {"name": "paused", "state": "suspended"},
    {"name": "paused_rotating", "state": "suspended", "zero_downtime_rotation": True},
    {"name": "gone", "state": "offboarded"},
    {"name": "gone_rotating", "state": "offboarded", "zero_downtime_rotation": True},
    {"name": "doomed", "on_remove": "purge"},
]


def fleet_for(profile: str) -> list[dict[str, Any]]:
    """FLEET as the profile can deploy it: a managed admin cannot set a per-role temp_file_limit
    (its stack says defaultTempFileLimit -1, and a tenant's own limit is refused)."""
    if profile != MANAGED:
        return FLEET
    return [{k: v for k, v in t.items() if k != "temp_file_limit"} for t in FLEET]


def write_stack_file(deployment: Deployment, path) -> None:
    """The stack file an operator has: settings in clear, the admin password as a secure value."""
    values, _ = deployment.stack.as_pulumi_config()
    config: dict[str, Any] = {k: v for k, v in values.items() if not k.endswith("AdminPassword")}
    config["pg-tenants:mainAdminPassword"] = {"secure": "v1:" + base64.b64encode(secrets.token_bytes(48)).decode()}
    path.write_text(yaml.safe_dump({"config": config}))


def run_verify(deployment: Deployment, tmp_path, monkeypatch) -> dict[str, Any]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({key: out.value for key, out in deployment.last_run.outputs.items()}))
    stack_file = tmp_path / "Pulumi.test.yaml"
    write_stack_file(deployment, stack_file)
    # Verify logs in as the stack's admin, as in a pipeline (a managed admin is no superuser).
    use_admin_login(monkeypatch, stack_admin(deployment).admin_conninfo())
    out = io.StringIO()
    pg_tenants_main(["verify", "--outputs", str(outputs), "--stack-config", str(stack_file), "--json", "--no-progress"],
                    stdout=out, stderr=io.StringIO())  # fmt: skip
    return json.loads(out.getvalue())


def findings(report: dict[str, Any]) -> list[tuple[str, str]]:
    per_tenant = [(t["tenant"], f["code"]) for t in report["tenants"] for f in t["findings"]]
    return per_tenant + [(f["subject"], f["code"]) for f in report["database_findings"]]


# A managed admin cannot take PUBLIC's CONNECT on template1 (the bootstrap superuser's; initdb
# leaves PUBLIC CONNECT only), so its stack does not protect it, and verify (which checks every
# database) says so, with the fix only the owner can run.
TEMPLATE1_OPEN = [("database template1", "public_connect_owner_only")]


def fleet_findings(report: dict[str, Any], profile: str) -> list[tuple[str, str]]:
    """The findings, but for template1's under the managed profile (asserted to be exactly those)."""
    found = findings(report)
    if profile != MANAGED:
        return found
    assert [f for f in found if f[0] == "database template1"] == TEMPLATE1_OPEN
    return [f for f in found if f[0] != "database template1"]


@pytest.fixture
def fleet(admin_profile):
    return fleet_for(admin_profile)


@pytest.fixture
def deployed(deployment, fleet):
    deployment.write(fleet)
    deployment.up()
    return deployment


def test_a_fleet_in_every_state_passes_verify(deployed, admin_profile, tmp_path, monkeypatch):
    report = run_verify(deployed, tmp_path, monkeypatch)
    assert fleet_findings(report, admin_profile) == []
    assert report["verdict"] == ("fail" if admin_profile == MANAGED else "pass")  # managed: template1 only


def test_verify_reports_every_state_as_deployed(deployed, tmp_path, monkeypatch):
    report = run_verify(deployed, tmp_path, monkeypatch)
    states = {t["tenant"]: (t["state"], t["login"]) for t in report["tenants"]}
    assert states == {
        "active_one": ("active", "ok"), "limited": ("active", "ok"), "no_temp_limit": ("active", "ok"),
        "rotating": ("active", "ok"), "paused": ("suspended", "refused"), "paused_rotating": ("suspended", "refused"),
        "gone": ("offboarded", "skipped"), "gone_rotating": ("offboarded", "skipped"), "doomed": ("active", "ok"),
    }  # fmt: skip


def test_a_fleet_after_offboarding_and_reactivation_passes_verify(deployed, fleet, admin_profile, tmp_path, monkeypatch):
    for tenant in fleet:
        with_rows = deployed.connections.get(tenant["name"])
        if with_rows is not None and tenant.get("state", "active") == "active":
            with connect_as(with_rows) as conn:
                conn.execute("CREATE TABLE kept (id int)")
    deployed.write([{**t, "state": "offboarded"} if t["name"] == "active_one" else t for t in fleet])
    deployed.up()
    deployed.write([{**t, "state": "active"} if t["name"] in ("gone", "gone_rotating") else t for t in fleet])
    deployed.up()
    assert fleet_findings(run_verify(deployed, tmp_path, monkeypatch), admin_profile) == []


@pytest.mark.parametrize(
    ("tamper", "tenant", "code"),
    [
        ("ALTER ROLE {gone} LOGIN", "gone", "role_attribute"),
        ("ALTER ROLE {gone} PASSWORD 'readable-again-123456'", "gone", "offboarded_has_password"),
        ("GRANT CONNECT ON DATABASE app TO {gone}", "gone", "offboarded_has_connect"),
        ("ALTER ROLE {limited} RESET temp_file_limit", "limited", "role_setting_mismatch"),
        ("ALTER ROLE {limited} SET temp_file_limit = 4096", "limited", "role_setting_mismatch"),
        ("ALTER ROLE {limited} CONNECTION LIMIT 50", "limited", "role_attribute"),
        ("ALTER ROLE {rotating_a} INHERIT", "rotating", "login_slot_inherits"),
        ("CREATE FUNCTION active_one.f() RETURNS int LANGUAGE sql AS 'SELECT 1'", "active_one", "foreign_owned_object"),
        ("ALTER DEFAULT PRIVILEGES IN SCHEMA active_one GRANT TRIGGER ON TABLES TO {active_one}", "active_one", "default_privileges_present"),
    ],
)
def test_verify_catches_tampering_with_a_deployed_fleet(deployed, admin_profile, tmp_path, monkeypatch, tamper, tenant, code):
    if "RESET temp_file_limit" in tamper and admin_profile == MANAGED:
        pytest.skip("a managed admin declares no per-role temp_file_limit to reset (the SET case covers it)")
    if code == "offboarded_has_password" and admin_profile == MANAGED:
        pytest.skip("pg_authid is readable by superusers only: a managed admin's verify cannot see a password")
    roles = {"gone": "gone", "limited": "limited", "rotating_a": "rotating_a", "active_one": "active_one"}
    # Tampering by the server's superuser (someone else): what anyone could have done by hand.
    with deployed.pg.admin_connect("app") as admin:
        admin.execute(sql.SQL(tamper).format(**{k: sql.Identifier(v) for k, v in roles.items()}))
    assert (tenant, code) in findings(run_verify(deployed, tmp_path, monkeypatch))
