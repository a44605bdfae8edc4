"""What the real engine reports maps into the structures the PostgreSQL tier's bodies read
(tests/support/engine_documents.py), so the engine tier can run them unchanged.

The documents are shaped as the Automation API receives them: engine events as the JSON lines
of the event log (`EngineEvent.from_json`, pulumi sdk/python/lib/pulumi/automation/events.py)
and the stack as `pulumi stack export --show-secrets` prints it (apitype DeploymentV3).
"""

from __future__ import annotations

import json

import pulumi
import pytest
from pulumi.automation import EngineEvent

from tests.support.engine_documents import (
    SECRET_SIG,
    SECRET_SIG_KEY,
    ProviderFailure,
    failure_from_events,
    plan_from_events,
    state_from_export,
    unwrap,
)
from tests.support.engine_plan import AppliedState, ApplyError, EngineError

PREFIX = "urn:pulumi:engine::pg-tenants::"
STACK_URN = PREFIX + "pulumi:pulumi:Stack::pg-tenants-engine"
ROLE, SCHEMA, GRANT = "postgresql:index/role:Role", "postgresql:index/schema:Schema", "postgresql:index/grant:Grant"


def urn(type_: str, name: str) -> str:
    return f"{PREFIX}pg-tenants:index:Tenant${type_}::{name}"


def state(type_: str, resource: str, **inputs) -> dict:
    return {"type": type_, "urn": urn(type_, resource), "custom": True, "parent": urn("pg-tenants:index:Tenant", resource.split("-")[0]),
            "provider": PREFIX + "pulumi:providers:postgresql::main::1", "inputs": inputs, "outputs": {}}  # fmt: skip


def step(op: str, type_: str, name: str, *, old: dict | None = None, new: dict | None = None,
         diffs: list[str] | None = None, keys: list[str] | None = None, sequence: int = 0) -> EngineEvent:
    metadata = {"op": op, "urn": urn(type_, name), "type": type_, "provider": "", "old": old, "new": new,
                "diffs": diffs, "keys": keys, "detailedDiff": None}  # fmt: skip
    return EngineEvent.from_json({"sequence": sequence, "timestamp": 0, "resourcePreEvent": {"metadata": metadata, "planning": False}})


def diagnostic(message: str, at: str = "", severity: str = "error") -> EngineEvent:
    return EngineEvent.from_json({"sequence": 0, "timestamp": 0, "diagnosticEvent": {
        "urn": at, "prefix": f"{severity}: ", "message": message + "\n", "color": "raw", "severity": severity}})


def failed(op: str, type_: str, name: str) -> EngineEvent:
    old = state(type_, name)
    return EngineEvent.from_json({"sequence": 0, "timestamp": 0, "resOpFailedEvent": {
        "metadata": {"op": op, "urn": urn(type_, name), "type": type_, "provider": "", "old": old, "new": old}, "status": 1, "steps": 0}})


def secret(value) -> dict:
    return {SECRET_SIG_KEY: SECRET_SIG, "plaintext": json.dumps(value)}


# ----------------------------------------------------------------------------- plans


def test_an_update_lists_each_step_with_the_keys_that_changed():
    events = [
        step("same", SCHEMA, "acme-schema", old=state(SCHEMA, "acme-schema"), new=state(SCHEMA, "acme-schema")),
        step("update", ROLE, "acme-role", old=state(ROLE, "acme-role"), new=state(ROLE, "acme-role", password="[secret]"),
             diffs=["password"]),
        step("create", ROLE, "globex-role", new=state(ROLE, "globex-role")),
        step("delete", GRANT, "initech-connect", old=state(GRANT, "initech-connect")),
    ]
    plan = plan_from_events(events)
    assert [(s.op, s.name, s.changed) for s in plan.steps] == [
        ("same", "acme-schema", ()), ("update", "acme-role", ("password",)), ("create", "globex-role", ())]
    assert [(s.op, s.name) for s in plan.deletes] == [("delete", "initech-connect")]
    assert plan.summary().splitlines()[0] == f"update {ROLE} acme-role [password]"
    assert plan.step("acme-role").new.secret_inputs == frozenset({"password"})


def test_a_replacement_whose_old_went_first_is_delete_before_replace():
    old, new = state(SCHEMA, "acme-schema", database="app"), state(SCHEMA, "acme-schema", database="app2")
    events = [
        step("delete-replaced", SCHEMA, "acme-schema", old=old, new=new, keys=["database"]),
        step("replace", SCHEMA, "acme-schema", old=old, new=new, keys=["database"], diffs=["database"]),
        step("create-replacement", SCHEMA, "acme-schema", old=old, new=new, keys=["database"]),
    ]
    plan = plan_from_events(events)
    assert [(s.op, s.replace_keys, s.delete_before_replace) for s in plan.steps] == [("replace", ("database",), True)]
    assert [s.op for s in plan.deletes] == ["delete-replaced"]


def test_a_replacement_created_first_is_not_delete_before_replace_and_a_repeated_event_counts_once():
    old, new = state(GRANT, "acme-usage", privileges=["USAGE"]), state(GRANT, "acme-usage", objectType="table")
    events = [step("create-replacement", GRANT, "acme-usage", old=old, new=new),
              step("replace", GRANT, "acme-usage", old=old, new=new, keys=["objectType"]),
              step("replace", GRANT, "acme-usage", old=old, new=new, keys=["objectType"]),
              step("delete-replaced", GRANT, "acme-usage", old=old, new=new)]  # fmt: skip
    plan = plan_from_events(events)
    assert [(s.op, s.delete_before_replace) for s in plan.steps] == [("replace", False)]


def test_an_import_is_listed_as_an_import():
    events = [step("import", ROLE, "acme-role", new=state(ROLE, "acme-role"))]
    assert [s.name for s in plan_from_events(events).of("import")] == ["acme-role"]


# ----------------------------------------------------------------------------- the stack's state


EXPORT = {"manifest": {}, "resources": [
    {"urn": STACK_URN, "custom": False, "type": "pulumi:pulumi:Stack",
     "outputs": {"connections": secret({"acme": {"uri": "postgresql://acme:pw@h/app"}})}},
    {**state(ROLE, "acme-role", name="acme", login=True, password=secret("generated-password")), "id": "acme",
     "outputs": {"name": "acme", "password": secret("generated-password"), "validUntil": "infinity"},
     "protect": True, "dependencies": [urn("random:index/randomPassword:RandomPassword", "acme-password")]},
    {**state(GRANT, "acme-connect", role="acme"), "id": "acme_app_database", "retainOnDelete": True,
     "initErrors": ["pq: tuple concurrently updated"]},
    {**state(SCHEMA, "old-schema", name="old"), "id": "app.old", "delete": True},
]}  # fmt: skip


def test_the_export_becomes_the_applied_state_with_its_secrets_opened():
    exported = state_from_export(EXPORT)
    role = exported.by_name("acme-role")
    assert (role.id, role.inputs["password"], role.state["password"]) == ("acme", "generated-password", "generated-password")
    assert role.secret_inputs == frozenset({"password"}) and role.protect
    assert role.dependencies == (urn("random:index/randomPassword:RandomPassword", "acme-password"),)
    assert exported.by_name("acme-connect").retain_on_delete
    assert exported.init_errors == {urn(GRANT, "acme-connect"): ["pq: tuple concurrently updated"]}
    assert [r.name for r in exported.pending_delete] == ["old-schema"]
    assert exported.by_name("pg-tenants-engine").state["connections"] == {"acme": {"uri": "postgresql://acme:pw@h/app"}}


def test_an_empty_stack_exports_no_resources():
    assert state_from_export({"manifest": {}}).resources == []
    assert state_from_export(None).resources == []


def test_a_secret_exported_without_its_plaintext_is_refused():
    with pytest.raises(ValueError, match="--show-secrets"):
        unwrap({SECRET_SIG_KEY: SECRET_SIG, "ciphertext": "v1:abc"})


def test_nested_secrets_are_opened_and_reported():
    assert unwrap({"a": [1, secret({"b": "c"})]}) == ({"a": [1, {"b": "c"}]}, True)
    assert unwrap({"a": [1, "x"]}) == ({"a": [1, "x"]}, False)


# ----------------------------------------------------------------------------- failures


def test_an_error_of_the_program_alone_is_its_run_error():
    error = failure_from_events([diagnostic("schema 'acme' in database 'app' of server 'main' already exists", STACK_URN)],
                                AppliedState(), "fallback")  # fmt: skip
    assert isinstance(error, pulumi.RunError)
    assert "already exists" in str(error)


def test_an_error_on_a_resource_without_a_failed_step_is_the_engines():
    message = (f'resource "{urn(ROLE, "acme-role")}" cannot be deleted\nbecause it is protected. To unprotect the '
               "resource, either remove the `protect` flag from the resource in your Pulumi program and run `pulumi up`")
    error = failure_from_events([diagnostic(message, urn(ROLE, "acme-role")), diagnostic("preview failed", STACK_URN)],
                                AppliedState(), "fallback")  # fmt: skip
    assert isinstance(error, EngineError)
    assert "protected" in str(error) and "preview failed" not in str(error)
    in_preview = failure_from_events([diagnostic(message, urn(ROLE, "acme-role"))], AppliedState(), "fallback", preview=True)
    assert str(in_preview).startswith("preview failed: resource ")  # as Deployment.up words the preview's refusal


def test_a_failed_provider_operation_is_an_apply_error_with_its_cause_and_the_state_after():
    after = state_from_export(EXPORT)
    events = [diagnostic('1 error occurred:\n\t* pq: role "acme" does not exist', urn(GRANT, "acme-connect")),
              failed("update", GRANT, "acme-connect"), diagnostic("update failed", STACK_URN)]  # fmt: skip
    error = failure_from_events(events, after, "fallback")
    assert isinstance(error, ApplyError)
    assert (error.step.op, error.step.name) == ("update", "acme-connect")
    assert isinstance(error.cause, ProviderFailure) and 'role "acme" does not exist' in str(error.cause)
    assert error.state is after


def test_a_failure_without_error_events_keeps_the_commands_output():
    error = failure_from_events([diagnostic("just a warning", STACK_URN, severity="warning")], AppliedState(),
                                "code: 255\n stderr: error: could not load plugin")  # fmt: skip
    assert isinstance(error, pulumi.RunError) and "could not load plugin" in str(error)


# ----------------------------------------------------------------------------- the stack config CliDeployment writes


class RecordingStack:
    """Stands in for the Automation API's Stack: records the secrets set through the CLI."""

    def __init__(self) -> None:
        self.secrets: list[dict[str, tuple[str, bool]]] = []

    def set_all_config(self, config) -> None:
        self.secrets.append({key: (value.value, value.secret) for key, value in config.items()})


@pytest.fixture
def cli_deployment(tmp_path):
    """A CliDeployment's configuration step, without the CLI (its constructor needs one)."""
    from tests.support.engine_stack import CliDeployment
    from tests.support.stack import one_server_stack

    deployment = CliDeployment.__new__(CliDeployment)
    deployment.pg, deployment.work_dir, deployment.stack_name = None, tmp_path, "engine"
    deployment.stack = one_server_stack(tmp_path / "tenants", admin_password="admin-secret")
    deployment.engine_stack = RecordingStack()
    (tmp_path / "Pulumi.engine.yaml").write_text("encryptionsalt: v1:salt\nconfig:\n  pg-tenants:stale: 1\n")
    return deployment


def test_each_command_writes_the_whole_config_and_keeps_the_passphrase_salt(cli_deployment):
    import yaml

    cli_deployment._configure(None, {})
    document = yaml.safe_load((cli_deployment.work_dir / "Pulumi.engine.yaml").read_text())
    assert document["encryptionsalt"] == "v1:salt"
    assert set(document["config"]) == {"pg-tenants:servers", "pg-tenants:tenantsDir", "pg-tenants:checkExistingSchemas"}
    assert document["config"]["pg-tenants:servers"]["main"]["databases"] == ["app"]  # structured, not a string
    assert "admin-secret" not in (cli_deployment.work_dir / "Pulumi.engine.yaml").read_text()
    assert cli_deployment.engine_stack.secrets == [{"pg-tenants:mainAdminPassword": ("admin-secret", True)}]
    assert "main" not in yaml.safe_load((cli_deployment.work_dir / "Pulumi.yaml").read_text())


def test_another_program_runs_as_the_projects_main_with_its_extra_settings(cli_deployment):
    import yaml

    from tests.fixtures.previous_model import PREVIOUS_SETTINGS, PROGRAM_DIR

    cli_deployment._configure(PROGRAM_DIR, PREVIOUS_SETTINGS)
    project = yaml.safe_load((cli_deployment.work_dir / "Pulumi.yaml").read_text())
    assert (cli_deployment.work_dir / project["main"]).resolve() == PROGRAM_DIR
    config = yaml.safe_load((cli_deployment.work_dir / "Pulumi.engine.yaml").read_text())["config"]
    assert config["pg-tenants:defaultConnectionLimit"] == -1
    cli_deployment._configure(None, {})  # the next command runs the project's own program again
    assert "main" not in yaml.safe_load((cli_deployment.work_dir / "Pulumi.yaml").read_text())
