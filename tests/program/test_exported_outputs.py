"""The stack outputs, byte for byte, and where the state keeps each tenant's credentials (program tier).

tests/fixtures/exported_outputs.json holds the outputs the program exported for FLEET before the
per-tenant Output plumbing was rewritten (issue 11), on the deterministic mocks (passwords and
salts seeded from the resource's name: no real secret). A change to what is exported shows here
first; regenerate the file only for an intended change of the outputs, and review its diff:

    python -m tests.program.test_exported_outputs
"""

import json
import sys
import tempfile
from pathlib import Path

import pytest

from tests.support.program_run import run_program
from tests.support.stack import INITECH_PASSWORD, one_server_stack, write_tenant_file

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "exported_outputs.json"
FLEET = [
    {"name": "acme", "connection_limit": 20},
    {"name": "globex", "schema": "globex_data", "username": "globex_app"},
    {"name": "initech", "password_secret": "initechPassword"},
    {"name": "hooli", "zero_downtime_rotation": True, "rotation": 3, "readonly_login": True},
    {"name": "soylent", "readonly_login": True},
    {"name": "umbrella", "state": "suspended"},
    {"name": "vandelay", "state": "offboarded"},
    {"name": "wonka", "on_remove": "purge"},
    {"name": "massive", "isolation": "database"},
]
STACK = "pulumi:pulumi:Stack"


@pytest.fixture
def fleet_run(tenants_dir, run):
    write_tenant_file(tenants_dir, "tenants.yaml", FLEET)
    result = run()
    assert result.error is None
    return result


def test_exported_values_and_secrecy_are_byte_identical_to_the_recorded_outputs(fleet_run):
    golden = json.loads(GOLDEN.read_text())
    assert {name: output.secret for name, output in fleet_run.outputs.items()} == {"tenants": False, "connections": True}
    for name, output in fleet_run.outputs.items():
        # json.dumps keeps key order: the outputs' bytes, not only their equality.
        assert json.dumps(output.value) == json.dumps(golden[name]["value"]), name
        assert output.secret == golden[name]["secret"], name


def _registered_outputs_text(run) -> dict[tuple[str, str], str]:
    return {(urn, key): json.dumps(output.value) for urn, outputs in run.resource_outputs.items() for key, output in outputs.items()}


def test_the_state_holds_each_tenants_connection_formats_once(fleet_run):
    connections = fleet_run.outputs["connections"].value
    # Every output any component or the stack registered, and every resource's inputs and state.
    texts = list(_registered_outputs_text(fleet_run).values())
    texts += [json.dumps(r.inputs) + json.dumps(r.state) for r in fleet_run.registrations]
    for tenant, formats in connections.items():
        for login in (formats, formats.get("previous"), formats.get("readonly")):
            if login is not None:
                for value in (login["uri"], login["dsn"], login["pgpass"]):
                    as_in_json = json.dumps(value)[1:-1]
                    assert sum(text.count(as_in_json) for text in texts) == 1, tenant


def test_the_only_secret_output_registered_is_the_stacks_connections(fleet_run):
    secret = [(urn.rsplit("::", 1)[0].rsplit("::", 1)[-1], key)
              for urn, outputs in fleet_run.resource_outputs.items() for key, output in outputs.items() if output.secret]
    assert secret == [(STACK, "connections")]


def test_tenant_components_register_only_what_the_policy_pack_reads(fleet_run):
    components = [r for r in fleet_run.registrations if r.type == "pg-tenants:index:Tenant"]
    assert len(components) == len(FLEET)
    for component in components:
        outputs = fleet_run.resource_outputs[component.urn]
        entry = next(t for t in FLEET if t["name"] == component.name)
        assert {key: output.value for key, output in outputs.items()} == {
            "onRemove": entry.get("on_remove", "retain"), "isolation": entry.get("isolation", "schema")}


def test_provided_password_reaches_the_outputs_and_no_component(fleet_run):
    assert fleet_run.outputs["connections"].value["initech"]["env"]["PGPASSWORD"] == INITECH_PASSWORD
    component_outputs = [text for (urn, _), text in _registered_outputs_text(fleet_run).items() if "Tenant::" in urn]
    assert not any(INITECH_PASSWORD in text for text in component_outputs)


def _record_golden() -> None:
    """Write GOLDEN from a run of the current program (the stack the conftest's `stack` fixture makes)."""
    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        write_tenant_file(tenants_dir, "tenants.yaml", FLEET)
        stack = one_server_stack(tenants_dir)
        stack.secrets["initechPassword"] = INITECH_PASSWORD
        result = run_program(*stack.as_pulumi_config())
    if result.error is not None:
        raise result.error
    outputs = {name: {"secret": output.secret, "value": output.value} for name, output in result.outputs.items()}
    GOLDEN.write_text(json.dumps(outputs, indent=1) + "\n")
    print(f"wrote {GOLDEN}", file=sys.stderr)


if __name__ == "__main__":
    _record_golden()
