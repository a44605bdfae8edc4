"""Drift repair: what someone changed by hand is put back by `pulumi up --refresh`, not by a bare
`pulumi up`, and `pg-tenants verify` then passes.

A bare `pulumi up` diffs the program against the stored state, which still says everything is
as declared: it changes nothing. The refresh reads every resource back first (the Role's
attributes and settings, each Grant's privileges), so the update puts the declared values back.
verify's fix texts say so; the deploy workflow runs `pulumi up` with `refresh: true`.
"""

from __future__ import annotations

import base64
import io
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from psycopg import sql

from pg_tenants.cli import main as pg_tenants_main
from pg_tenants.verify.findings import FIXES, Code
from tests.support.deployment import Deployment
from tests.support.verify_env import use_admin_login

FLEET = [{"name": "acme"}, {"name": "globex", "connection_limit": 5}, {"name": "initech", "zero_downtime_rotation": True}]

# A hand change, what verify calls it, and who it concerns.
TAMPERING = {
    "createdb": ("ALTER ROLE acme CREATEDB", {("acme", "role_attribute"), ("acme", "could_create_database")}),
    "connection limit": ("ALTER ROLE globex CONNECTION LIMIT 500", {("globex", "role_attribute")}),
    "search_path": ("ALTER ROLE globex SET search_path TO public, globex", {("globex", "search_path_mismatch")}),
    "slot login": ("ALTER ROLE initech_a NOLOGIN", {("initech", "login_failed")}),
    "grant on the database": ("GRANT CREATE, TEMPORARY ON DATABASE app TO acme", {("acme", "extra_grant")}),
    "own schema revoked": ("REVOKE CREATE ON SCHEMA acme FROM acme", {("acme", "own_schema_privilege_missing")}),
    "connect revoked": ("REVOKE CONNECT ON DATABASE app FROM globex", {("globex", "connect_missing")}),
    "public connect": ("GRANT CONNECT, TEMPORARY ON DATABASE app TO PUBLIC",
                       {("database app", "public_connect"), ("database app", "public_temp")}),
    "public create": ("GRANT CREATE ON SCHEMA public TO PUBLIC", {("database app", "public_create_on_public_schema")}),
}


def write_stack_file(deployment: Deployment, path: Path) -> None:
    """The stack file an operator has: settings in clear, the admin password as a secure value."""
    values, _ = deployment.stack.as_pulumi_config()
    config: dict[str, Any] = {k: v for k, v in values.items() if not k.endswith("AdminPassword")}
    config["pg-tenants:mainAdminPassword"] = {"secure": "v1:" + base64.b64encode(secrets.token_bytes(48)).decode()}
    path.write_text(yaml.safe_dump({"config": config}))


def verify(deployment: Deployment, tmp_path: Path, monkeypatch) -> dict[str, Any]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({key: out.value for key, out in deployment.last_run.outputs.items()}))
    stack_file = tmp_path / "Pulumi.test.yaml"
    write_stack_file(deployment, stack_file)
    use_admin_login(monkeypatch, deployment.pg.admin_conninfo())
    out = io.StringIO()
    pg_tenants_main(["verify", "--outputs", str(outputs), "--stack-config", str(stack_file), "--json", "--no-progress"],
                    stdout=out, stderr=io.StringIO())  # fmt: skip
    return json.loads(out.getvalue())


def findings(report: dict[str, Any]) -> set[tuple[str, str]]:
    per_tenant = {(t["tenant"], f["code"]) for t in report["tenants"] for f in t["findings"]}
    return per_tenant | {(f["subject"], f["code"]) for f in report["database_findings"]}


def fixes(report: dict[str, Any]) -> dict[str, str]:
    found = [f for t in report["tenants"] for f in t["findings"]] + report["database_findings"]
    return {f["code"]: f["fix"] for f in found}


def tamper(deployment: Deployment, statement: str) -> None:
    with deployment.pg.admin_connect("app") as admin:
        admin.execute(sql.SQL(statement))  # type: ignore[arg-type]


@pytest.fixture
def deployed(deployment, tmp_path, monkeypatch):
    deployment.write(FLEET)
    deployment.up()
    assert findings(verify(deployment, tmp_path, monkeypatch)) == set()
    return deployment


@pytest.mark.parametrize("change", TAMPERING, ids=list(TAMPERING))
def test_verify_sees_the_hand_change_and_its_fix_says_refresh(deployed, tmp_path, monkeypatch, change):
    statement, expected = TAMPERING[change]
    tamper(deployed, statement)

    report = verify(deployed, tmp_path, monkeypatch)

    assert expected <= findings(report)
    for code in {code for _, code in expected}:
        assert "pulumi up --refresh" in fixes(report)[code], code


@pytest.mark.parametrize("change", TAMPERING, ids=list(TAMPERING))
def test_a_bare_up_changes_nothing_and_up_with_refresh_repairs_it(deployed, tmp_path, monkeypatch, change):
    statement, expected = TAMPERING[change]
    tamper(deployed, statement)

    deployed.up()
    assert {s.op for s in [*deployed.last_plan.steps, *deployed.last_plan.deletes]} == {"same"}
    assert expected <= findings(verify(deployed, tmp_path, monkeypatch))

    deployed.up(refresh=True)
    assert findings(verify(deployed, tmp_path, monkeypatch)) == set()


def test_every_hand_change_at_once_refresh_then_up(deployed, tmp_path, monkeypatch):
    for statement, _ in TAMPERING.values():
        tamper(deployed, statement)
    assert len(findings(verify(deployed, tmp_path, monkeypatch))) >= len(TAMPERING)

    deployed.refresh()
    deployed.up()

    report = verify(deployed, tmp_path, monkeypatch)
    assert findings(report) == set() and report["verdict"] == "pass"


def test_the_repair_keeps_every_credential(deployed):
    before = deployed.connections
    for statement, _ in TAMPERING.values():
        tamper(deployed, statement)
    deployed.up(refresh=True)
    assert deployed.connections == before


def test_every_fix_that_names_pulumi_asks_for_a_refresh():
    bare = {code.value: fix for code, fix in FIXES.items()
            if "pulumi" in fix and "pulumi up --refresh" not in fix and "pulumi refresh" not in fix}
    assert bare == {}
