"""The policy pack's validators, called directly and through the SDK's analyzer (no server).

The analyzer tests feed the pack what the engine would: the real program's registrations
(SDK mock engine) marshalled with secrets marked, as `pulumi preview --policy-pack` does.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from google.protobuf import struct_pb2
from pulumi.runtime import proto
# pulumi-policy is a dev requirement (requirements-dev.txt): missing, this module fails to import.
from pulumi_policy import EnforcementLevel, Secret
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy

from pg_tenants.credentials.scram import scram_sha256_verifier
from tests.support.stack import write_tenant_file

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "policy"))
import keep_secrets  # noqa: E402
import tenant_policies as tp  # noqa: E402

VERIFIER = scram_sha256_verifier("a-generated-password-of-32-chars", b"0123456789abcdef")
PLAINTEXT = "hunter2-plaintext-password"


# ----------------------------------------------------------------------------- role attributes


def test_a_role_without_elevated_attributes_passes():
    props = {"name": "acme", "login": True, **{key: False for key in tp.FORBIDDEN_ROLE_ATTRIBUTES}}

    assert tp.role_attribute_violations(props) == []


@pytest.mark.parametrize(("key", "keyword"), sorted(tp.FORBIDDEN_ROLE_ATTRIBUTES.items()))
def test_each_elevated_attribute_is_a_violation(key, keyword):
    violations = tp.role_attribute_violations({"name": "acme", key: True})

    assert violations == [f"role acme would be {keyword}; tenant roles must not be"]


# ----------------------------------------------------------------------------- passwords


def test_a_scram_verifier_password_passes():
    assert tp.role_password_violation({"name": "acme", "password": Secret(VERIFIER)}) is None


def test_a_plaintext_password_is_a_violation_that_does_not_quote_it():
    message = tp.role_password_violation({"name": "acme", "password": Secret(PLAINTEXT)})

    assert message is not None and "not a SCRAM-SHA-256 verifier" in message
    assert PLAINTEXT not in message


def test_an_md5_hash_is_not_a_scram_verifier():
    assert tp.role_password_violation({"name": "acme", "password": "md5" + "0" * 32}) is not None


def test_a_role_without_a_password_passes():
    # e.g. a NOLOGIN owner role: nothing is stored, so nothing can be stored badly.
    assert tp.role_password_violation({"name": "acme_owner", "login": False}) is None


# ----------------------------------------------------------------------------- drop_cascade


def test_a_schema_without_drop_cascade_passes():
    assert tp.schema_drop_cascade_violation({"name": "acme", "dropCascade": False}, "acme", frozenset()) is None


def test_drop_cascade_on_a_tenant_not_marked_for_purge_is_a_violation():
    message = tp.schema_drop_cascade_violation({"name": "acme", "dropCascade": True}, "acme", frozenset({"globex"}))

    assert message is not None and "tenant acme is not marked for purge" in message


def test_drop_cascade_on_a_tenant_marked_for_purge_passes():
    assert tp.schema_drop_cascade_violation({"name": "acme", "dropCascade": True}, "acme", frozenset({"acme"})) is None


def test_drop_cascade_on_a_schema_of_no_tenant_is_a_violation():
    assert tp.schema_drop_cascade_violation({"name": "stray", "dropCascade": True}, None, frozenset({"acme"})) is not None


def _resource(resource_type: str, name: str, props: dict | None = None, parent: Any = None) -> SimpleNamespace:
    return SimpleNamespace(resource_type=resource_type, name=name, props=props or {}, parent=parent, urn=f"urn:{name}")


def test_a_schema_belongs_to_the_tenant_component_above_it():
    tenant = _resource(tp.TENANT, "acme")

    assert tp.tenant_of(_resource(tp.SCHEMA, "acme-schema", parent=tenant)) == "acme"


def test_a_tenant_component_reporting_on_remove_purge_is_marked():
    resources = [_resource(tp.TENANT, "acme", {"onRemove": "purge"}), _resource(tp.TENANT, "globex", {"onRemove": "retain"})]

    assert tp.purge_marked_tenants(resources, {}) == {"acme"}


def test_the_purge_tenants_policy_config_marks_tenants():
    assert tp.purge_marked_tenants([], {"purgeTenants": ["initech"]}) == {"initech"}


# ----------------------------------------------------------------------------- secret outputs


def test_secret_connection_outputs_pass():
    props = {"tenants": {"acme": {"schema": "acme"}}, "connections": Secret({"acme": {"uri": "postgresql://a:b@h/d"}})}

    assert tp.unprotected_credential_paths(props) == []


def test_a_plain_connections_output_is_reported_by_path():
    props = {"connections": {"acme": {"uri": "postgresql://acme:pw@db/app", "env": {"PGPASSWORD": "pw"}}}}

    assert tp.unprotected_credential_paths(props) == ["connections.acme.uri", "connections.acme.env.PGPASSWORD"]


def test_one_plain_format_inside_otherwise_secret_connections_is_reported():
    props = {"connections": {"acme": {"uri": Secret("postgresql://acme:pw@db/app"), "dsn": "host=db password=pw"}}}

    assert tp.unprotected_credential_paths(props) == ["connections.acme.dsn"]


def test_a_credential_string_under_another_name_is_reported():
    assert tp.unprotected_credential_paths({"debug": "postgresql://acme:pw@db/app"}) == ["debug"]


def test_the_non_secret_tenants_output_passes():
    props = {"tenants": {"acme": {"schema": "acme", "username": "acme", "server": "main", "database": "app"}}}

    assert tp.unprotected_credential_paths(props) == []


def test_values_unknown_during_preview_are_not_reported():
    props = unknown_checking_proxy({"connections": UNKNOWN_STRING_VALUE})

    assert tp.unprotected_credential_paths(props) == []


# ----------------------------------------------------------------------------- through the analyzer


def _marshal(value: Any, secret: bool = False) -> Any:
    return {SPECIAL_SIG_KEY: SPECIAL_SECRET_SIG, "value": value} if secret else value


def _struct(props: dict[str, Any]) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(props)
    return struct


def _registration_props(registration) -> dict[str, Any]:
    return {key: _marshal(value, key in registration.secret_inputs) for key, value in registration.inputs.items()}


def _stack_resource(run) -> proto.AnalyzerResource:
    outputs = {name: _marshal(output.value, output.secret) for name, output in run.outputs.items()}
    return proto.AnalyzerResource(urn="urn:pulumi:test::pg-tenants::pulumi:pulumi:Stack::pg-tenants-test",
                                  type=tp.STACK, name="pg-tenants-test", properties=_struct(outputs))


@pytest.fixture
def analyzer():
    keep_secrets.install()
    return _PolicyAnalyzerServicer("pg-tenants", "0.1.0", tp.POLICIES, EnforcementLevel.MANDATORY)


def _analyze_each(analyzer, run) -> list[str]:
    messages = []
    for r in run.registrations:
        request = proto.AnalyzeRequest(urn=r.urn, type=r.type, name=r.name, properties=_struct(_registration_props(r)))
        messages += [d.message for d in analyzer.Analyze(request, None).diagnostics]
    return messages


def _analyze_stack(analyzer, run, stack: proto.AnalyzerResource | None = None) -> list[str]:
    resources = [proto.AnalyzerResource(urn=r.urn, type=r.type, name=r.name, parent=r.parent,
                                        properties=_struct(_registration_props(r))) for r in run.registrations]
    request = proto.AnalyzeStackRequest(resources=[*resources, stack or _stack_resource(run)])
    return [d.message for d in analyzer.AnalyzeStack(request, None).diagnostics]


@pytest.mark.usefixtures("three_tenants")
def test_the_program_passes_every_resource_policy(analyzer, run):
    assert _analyze_each(analyzer, run()) == []


@pytest.mark.usefixtures("three_tenants")
def test_the_program_passes_every_stack_policy(analyzer, run):
    assert _analyze_stack(analyzer, run()) == []


@pytest.mark.usefixtures("three_tenants")
def test_the_analyzer_sees_a_connections_output_that_lost_its_secrecy(analyzer, run):
    result = run()
    exposed = {name: _marshal(output.value) for name, output in result.outputs.items()}  # nothing secret
    stack = proto.AnalyzerResource(urn="urn:stack", type=tp.STACK, name="stack", properties=_struct(exposed))

    messages = _analyze_stack(analyzer, result, stack)

    assert any("output connections.acme.uri holds credentials but is not a secret" in m for m in messages)


@pytest.mark.usefixtures("three_tenants")
def test_the_analyzer_reports_drop_cascade_on_a_tenant_schema(analyzer, run):
    result = run()
    schema = result.by_name("acme-schema")
    cascading = proto.AnalyzerResource(urn=schema.urn + "-cascade", type=tp.SCHEMA, name="acme-schema", parent=schema.parent,
                                       properties=_struct({**schema.inputs, "dropCascade": True}))
    resources = [proto.AnalyzerResource(urn=r.urn, type=r.type, name=r.name, parent=r.parent) for r in result.registrations
                 if r.type == tp.TENANT]

    request = proto.AnalyzeStackRequest(resources=[*resources, cascading])
    messages = [d.message for d in analyzer.AnalyzeStack(request, None).diagnostics]

    assert any("tenant acme is not marked for purge" in m for m in messages)


def test_the_analyzer_reports_a_plaintext_role_password_without_echoing_it(analyzer):
    props = {"name": "acme", "login": True, "password": _marshal(PLAINTEXT, secret=True)}
    request = proto.AnalyzeRequest(urn="urn:role", type=tp.ROLE, name="acme-role", properties=_struct(props))

    messages = [d.message for d in analyzer.Analyze(request, None).diagnostics]

    assert len(messages) == 1 and "not a SCRAM-SHA-256 verifier" in messages[0]
    assert PLAINTEXT not in messages[0]


def test_secrets_reach_the_policies_marked_once_keep_secrets_is_installed():
    marshalled = {"connections": _marshal({"acme": {"uri": "x"}}, secret=True), "plain": "y"}

    props = keep_secrets.deserialize_keeping_secrets(marshalled)

    assert isinstance(props["connections"], Secret) and props["plain"] == "y"



# ----------------------------------------------------------------------------- read-only logins

READ_ONLY_DEFAULT = {"owner": "acme", "role": "acme_ro", "schema": "acme", "objectType": "table", "privileges": ["SELECT"],
                     "database": "app"}


def test_the_read_only_logins_default_privileges_pass():
    assert tp.default_privileges_violation(READ_ONLY_DEFAULT) is None


@pytest.mark.parametrize("change", [
    {"privileges": ["SELECT", "INSERT"]}, {"objectType": "sequence"}, {"role": "globex_ro"}, {"role": "public"},
    {"schema": ""}, {"withGrantOption": True}, {"owner": "postgres", "role": "acme_ro"},
], ids=["more_than_select", "sequences", "another_tenants_login", "public", "every_schema", "grant_option", "for_the_admin"])
def test_any_other_default_privileges_are_a_violation(change):
    message = tp.default_privileges_violation({**READ_ONLY_DEFAULT, **change})
    assert message is not None and "the only default privileges allowed are SELECT on tables" in message


def test_a_select_grant_on_tables_passes_and_any_other_table_grant_is_a_violation():
    select = {"objectType": "table", "privileges": ["SELECT"], "role": "acme_ro", "schema": "acme"}
    assert tp.table_grant_violation(select) is None
    assert tp.table_grant_violation({"objectType": "schema", "privileges": ["USAGE"], "role": "acme_ro"}) is None
    assert tp.table_grant_violation({**select, "privileges": ["SELECT", "UPDATE"]}) is not None
    assert tp.table_grant_violation({**select, "objectType": "sequence", "privileges": ["USAGE"]}) is not None


def test_the_program_with_read_only_logins_passes_every_policy(analyzer, run, tenants_dir):
    from tests.support.stack import THREE_TENANTS, write_tenant_file

    write_tenant_file(tenants_dir, "tenants.yaml", [{**t, "readonly_login": True} for t in THREE_TENANTS]
                      + [{"name": "hooli", "zero_downtime_rotation": True, "readonly_login": True}])
    result = run()
    assert len(result.of_type(tp.DEFAULT_PRIVILEGES)) == 4
    assert _analyze_each(analyzer, result) == []
    assert _analyze_stack(analyzer, result) == []


# ----------------------------------------------------------------------------- a tenant's own database


def test_an_admin_owned_database_from_template0_of_a_silo_tenant_passes():
    props = {"name": "initech", "owner": "postgres", "template": "template0"}

    assert tp.own_database_violations(props, "initech", "database", {"initech"}) == []


def test_a_database_owned_by_a_tenant_role_or_copied_from_template1_is_a_violation():
    props = {"name": "initech", "owner": "initech", "template": "template1"}

    messages = tp.own_database_violations(props, "initech", "database", {"initech"})

    assert len(messages) == 2 and "owned by initech" in messages[0] and "copied from template1" in messages[1]


def test_a_database_of_a_tenant_that_is_not_isolation_database_is_a_violation():
    props = {"name": "app2", "owner": "postgres", "template": "template0"}

    assert tp.own_database_violations(props, "acme", "schema", {"acme"}) == [
        "database app2 is declared for tenant acme, which is not isolation: database"]


def test_the_program_with_silo_tenants_passes_every_policy_and_its_databases_are_checked(analyzer, run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", [{"name": "acme"}, {"name": "initech", "isolation": "database"}])
    result = run()
    # The mock engine keeps no component outputs; the engine gives the analyzer the Tenant's.
    isolation = {"acme": "schema", "initech": "database"}
    resources = [proto.AnalyzerResource(urn=r.urn, type=r.type, name=r.name, parent=r.parent, properties=_struct(
        {"isolation": isolation[r.name]} if r.type == tp.TENANT else _registration_props(r))) for r in result.registrations]
    database = result.by_name("initech-database")
    tampered = proto.AnalyzerResource(urn=database.urn + "-t", type=tp.DATABASE, name="initech-database", parent=database.parent,
                                      properties=_struct({**database.inputs, "owner": "initech"}))

    def messages(extra):
        request = proto.AnalyzeStackRequest(resources=[*resources, *extra, _stack_resource(result)])
        return [d.message for d in analyzer.AnalyzeStack(request, None).diagnostics]

    assert _analyze_each(analyzer, result) == [] and messages([]) == []
    assert [m.splitlines()[-1] for m in messages([tampered])] == [
        "database initech would be owned by initech; a tenant's own database must be owned by the admin"]
