"""Edits that cannot be applied in place are caught against the last deployment's outputs."""

from pathlib import Path

from pg_tenants.deployment_changes import unsupported_changes
from pg_tenants.tenants.model import Tenant

DEPLOYED = {"acme": {"schema": "acme", "username": "acme", "server": "main", "database": "app"}}


def tenant(name="acme", **fields) -> Tenant:
    values = dict(
        name=name, schema="acme", username="acme", server="main", database="app", password_secret=None,
        connection_limit=-1, temp_file_limit=-1, statement_timeout=0, idle_in_transaction_session_timeout=0, valid_until="infinity",
        state="active", on_remove="retain", rotation=0, zero_downtime_rotation=False, adopt=False,
        previous_names=(), file=str(Path("tenants/t.yaml")), line=2,
    )  # fmt: skip
    values.update(fields)
    return Tenant(**values)


def test_unchanged_tenant_is_fine():
    assert unsupported_changes([tenant()], DEPLOYED) == []


def test_moving_to_another_database_is_refused_with_the_safe_way():
    [problem] = unsupported_changes([tenant(database="billing")], DEPLOYED)
    assert str(problem) == (
        "tenants/t.yaml:2: acme.database: changing database from 'app' to 'billing' cannot be applied in place: its "
        "schema would be replaced: the old one stays behind with the data and the tenant starts empty (fix: keep "
        "database: app; to move or rename a tenant's objects, declare a new tenant, copy the data (pg_dump --schema), "
        "then offboard the old one)"
    )


def test_changing_the_username_is_refused():
    [problem] = unsupported_changes([tenant(username="acme_app")], DEPLOYED)
    assert problem.message == (
        "changing username from 'acme' to 'acme_app' cannot be applied in place: the provider renames the object, then "
        "fails to revoke the old grants from the old name"
    )


def test_rename_without_previous_names_is_refused():
    [problem] = unsupported_changes([tenant(name="acme_corp")], DEPLOYED)
    assert problem.message == (
        "tenant 'acme' was removed and 'acme_corp' takes its schema 'acme': without previous_names this drops the old "
        "role and creates a new one"
    )
    assert problem.fix == "if this is a rename, add `previous_names: [acme]`"


def test_rename_with_previous_names_is_fine():
    assert unsupported_changes([tenant(name="acme_corp", previous_names=("acme",))], DEPLOYED) == []


def test_renamed_tenant_moving_database_is_still_refused():
    problems = unsupported_changes([tenant(name="acme_corp", previous_names=("acme",), database="billing")], DEPLOYED)
    assert [p.field for p in problems] == ["acme_corp.database"]


def test_removing_an_active_tenant_is_refused_with_offboarding_first():
    [problem] = unsupported_changes([], DEPLOYED)
    assert problem.field == "acme.state"
    assert problem.message.startswith("tenant 'acme' was removed while active: its owner role is protected")
    assert problem.fix.startswith("put the entry back with `state: offboarded` and apply")


def test_removing_an_offboarded_tenant_is_fine():
    assert unsupported_changes([], {"acme": {**DEPLOYED["acme"], "state": "offboarded"}}) == []


def test_removing_a_tenant_marked_for_purge_is_fine():
    assert unsupported_changes([], {"acme": {**DEPLOYED["acme"], "on_remove": "purge"}}) == []


def test_moving_between_isolation_tiers_is_refused_with_the_way_to_move():
    [problem] = unsupported_changes([tenant(isolation="database", database="acme")], DEPLOYED)
    assert problem.field == "acme.isolation"
    assert problem.message.startswith("changing isolation from 'schema' to 'database' cannot be applied in place")
    assert problem.fix == (
        "keep isolation: schema; to move the tenant between tiers, declare a new tenant with isolation: database (another "
        "name and username), copy the data with pg_dump --schema as the README's procedures do, then offboard the old tenant"
    )


def test_outputs_without_isolation_were_written_by_a_shared_tier_only_program():
    assert "isolation" not in DEPLOYED["acme"]
    assert unsupported_changes([tenant()], DEPLOYED) == []
    [problem] = unsupported_changes([tenant(isolation="database")], DEPLOYED)
    assert problem.field == "acme.isolation"


def test_a_silo_tenant_moving_back_to_a_shared_database_is_refused():
    deployed = {"acme": {**DEPLOYED["acme"], "database": "acme", "isolation": "database"}}
    [problem] = unsupported_changes([tenant()], deployed)
    assert problem.message.startswith("changing isolation from 'database' to 'schema'")
