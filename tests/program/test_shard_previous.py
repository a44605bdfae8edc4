"""`validate --previous` for one stack of a sharded fleet: a tenant leaving it is refused until `pulumi state move` has run."""

from __future__ import annotations

import io
import json

import pytest

from pg_tenants.cli import main
from tests.support.shards import FLEET, eu1, with_shard, write_fleet, write_stack_file

PLACED = {"schema": "acme", "username": "acme", "server": "main", "database": "app", "state": "active", "on_remove": "retain"}
INITECH = {**PLACED, "schema": "initech", "username": "initech"}


def validate_previous(project, previous: dict) -> tuple[int, str]:
    (project / "previous.json").write_text(json.dumps(previous))
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(project)
        code = main(["validate", "--stack-config", "Pulumi.eu-1.yaml", "--previous", "previous.json"], stdout=out, stderr=err)
    assert err.getvalue() == ""
    return code, out.getvalue()


def export(tenants_in_state: list[str]) -> dict:
    """`pulumi stack export` of eu-1: its outputs list acme and initech; the state holds the components named."""
    root = "urn:pulumi:eu-1::pg-tenants::pulumi:pulumi:Stack::pg-tenants-eu-1"
    resources = [{"urn": root, "type": "pulumi:pulumi:Stack", "outputs": {"tenants": {"acme": PLACED, "initech": INITECH}}}]
    for name in tenants_in_state:
        resources.append({"urn": f"urn:pulumi:eu-1::pg-tenants::pg-tenants:index:Tenant::{name}", "type": "pg-tenants:index:Tenant", "parent": root})
    return {"version": 3, "deployment": {"manifest": {}, "resources": resources}}


@pytest.fixture
def project(tenants_dir):
    write_stack_file(tenants_dir.parent, "eu-1", eu1(tenants_dir))
    write_fleet(tenants_dir, with_shard(FLEET, "acme", "eu-2"))  # the move's edit
    return tenants_dir.parent


def test_a_tenant_handed_to_another_stack_is_refused_while_this_stack_still_holds_it(project):
    code, out = validate_previous(project, export(["acme", "initech"]))

    assert code == 1
    assert out.splitlines()[:2] == [
        "tenants/tenants.yaml:2: acme.shard: tenant 'acme' no longer belongs to this stack, whose state still holds it: "
        "`pulumi up` would delete it here, and the stack that now owns it would try to create it again",
        "    fix: to move it, follow `pg-tenants move-plan --from <this stack> --to <its new stack> --tenant acme` "
        "(`pulumi state move` first, then pass `pulumi stack export` as --previous); otherwise undo the edit",
    ]


def test_stack_outputs_cannot_show_the_move_so_they_refuse_it_too(project):
    code, out = validate_previous(project, {"tenants": {"acme": PLACED, "initech": INITECH}})

    assert code == 1
    assert "acme.shard: tenant 'acme' no longer belongs to this stack" in out


def test_once_the_state_move_has_run_the_edit_is_accepted(project):
    code, out = validate_previous(project, export(["initech"]))

    assert code == 0, out
    assert out.startswith("OK: the stack config and tenants are valid")


def test_an_offboarded_tenant_leaving_the_shard_is_refused_as_well(project):
    previous = export(["acme", "initech"])
    previous["deployment"]["resources"][0]["outputs"]["tenants"]["acme"] = {**PLACED, "state": "offboarded"}

    code, out = validate_previous(project, previous)

    assert code == 1
    assert "acme.shard: tenant 'acme' no longer belongs to this stack" in out


def test_a_tenant_that_left_the_list_is_refused_as_before(project, tenants_dir):
    write_fleet(tenants_dir, [t for t in FLEET if t["name"] != "acme"])

    code, out = validate_previous(project, export(["acme", "initech"]))

    assert code == 1
    assert "(removed entry): acme.state: tenant 'acme' was removed while active" in out


def test_a_stack_left_with_no_tenant_of_its_own_is_still_checked(project, tenants_dir):
    write_fleet(tenants_dir, [{**t, "shard": "eu-2"} for t in FLEET])

    code, out = validate_previous(project, export(["acme", "initech"]))

    assert code == 1
    assert "acme.shard: tenant 'acme' no longer belongs to this stack" in out
    assert "initech.shard: tenant 'initech' no longer belongs to this stack" in out
