"""Each edit of the tenant list changes exactly the registrations it should, and no others."""

import pytest

from components.tenant import ADOPTED_ROLE_IGNORES, ADOPTED_SCHEMA_IGNORES
from pg_tenants.credentials.scram import verifier_matches
from tests.support.program_run import changed_urns
from tests.support.stack import THREE_TENANTS, write_tenant_file

PREFIX = "urn:pulumi:test::pg-tenants::pg-tenants:index:Tenant$"


def urn(type_token, name):
    return f"{PREFIX}{type_token}::{name}"


ROLE = "postgresql:index/role:Role"
SCHEMA = "postgresql:index/schema:Schema"
PASSWORD = "random:index/randomPassword:RandomPassword"
BYTES = "random:index/randomBytes:RandomBytes"
GRANT = "postgresql:index/grant:Grant"
DYNAMIC = "pulumi-python:dynamic:Resource"


def with_acme(**fields):
    tenants = [dict(t) for t in THREE_TENANTS]
    tenants[0].update(fields)
    return tenants


@pytest.fixture
def edit(run, tenants_dir):
    """Run the program before and after rewriting the tenant list."""

    def _edit(before, after):
        write_tenant_file(tenants_dir, "tenants.yaml", before)
        first = run()
        write_tenant_file(tenants_dir, "tenants.yaml", after)
        return first, run()

    return _edit


def test_suspend_only_takes_login_from_the_role(edit):
    before, after = edit(THREE_TENANTS, with_acme(state="suspended"))
    assert changed_urns(before, after) == {urn(ROLE, "acme-role"): {"login"}}
    assert after.by_name("acme-role").inputs["login"] is False


def test_reactivating_restores_login_with_the_same_password(edit):
    before, after = edit(with_acme(state="suspended"), THREE_TENANTS)
    assert changed_urns(before, after) == {urn(ROLE, "acme-role"): {"login"}}
    assert after.by_name("acme-role").inputs["password"] == before.by_name("acme-role").inputs["password"]


def test_offboarding_drops_login_password_and_connect_and_clears_the_stored_password(edit):
    before, after = edit(THREE_TENANTS, with_acme(state="offboarded"))
    assert changed_urns(before, after) == {
        urn(PASSWORD, "acme-password"): {"removed"},
        urn(BYTES, "acme-role-scram-salt"): {"removed"},
        urn(GRANT, "acme-database-connect"): {"removed"},
        urn(DYNAMIC, "acme-temp-file-limit"): {"removed"},
        urn(DYNAMIC, "acme-password-removal"): {"added"},
        urn(ROLE, "acme-role"): {"login", "password"},
        urn(GRANT, "acme-schema-usage"): {"options"},
    }
    owner = after.by_name("acme-role")
    assert owner.inputs["login"] is False and "password" not in owner.inputs
    assert after.by_name("acme-password-removal").inputs["role"] == "acme"
    assert (owner.protect, owner.retain_on_delete) == (False, True)
    assert after.by_name("acme-schema-usage").retain_on_delete is True


def test_offboarded_tenant_has_no_credentials_and_says_so(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(state="offboarded"))
    result = run()
    assert "acme" not in result.outputs["connections"].value
    assert result.outputs["tenants"].value["acme"]["state"] == "offboarded"


def test_removing_an_offboarded_entry_deletes_nothing_in_postgresql(edit):
    before, after = edit(with_acme(state="offboarded"), THREE_TENANTS[1:])
    removed = [r for r in before.registrations if r.urn in changed_urns(before, after)]
    # The component and its retained children: the engine forgets them, the provider deletes nothing.
    assert {r.name for r in removed} == {"acme", "acme-role", "acme-schema", "acme-schema-usage", "acme-password-removal"}
    assert all(r.retain_on_delete for r in removed if r.type in (ROLE, SCHEMA, GRANT))


def test_active_owner_role_is_protected_and_never_reassigns_on_delete(run, three_tenants):
    role = run().by_name("acme-role")
    assert (role.protect, role.retain_on_delete, role.inputs["skipReassignOwned"]) == (True, False, True)


def test_schema_is_kept_on_removal_by_default(run, three_tenants):
    schema = run().by_name("acme-schema")
    assert schema.retain_on_delete is True
    assert schema.inputs["dropCascade"] is False


def test_marking_purge_drops_cascade_unprotects_the_role_and_adds_the_purge(edit):
    before, after = edit(THREE_TENANTS, with_acme(on_remove="purge"))
    assert changed_urns(before, after) == {
        urn(SCHEMA, "acme-schema"): {"dropCascade"},
        urn(ROLE, "acme-role"): {"options"},
        urn(DYNAMIC, "acme-purge"): {"added"},
    }
    schema = after.by_name("acme-schema")
    assert (schema.retain_on_delete, schema.inputs["dropCascade"]) == (False, True)
    assert after.by_name("acme-role").protect is False


def test_purge_drops_what_every_role_of_the_tenant_owns_after_everything_else(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(on_remove="purge", zero_downtime_rotation=True))
    result = run()
    purge = result.by_name("acme-purge")
    assert purge.inputs["roles"] == ["acme", "acme_a", "acme_b"]
    siblings = {r.urn for r in result.registrations if r.parent == purge.parent and r.custom and r.name != "acme-purge"}
    # Its delete runs first: what depends on it is deleted before it.
    assert siblings - {r.urn for r in result.registrations if r.type in (PASSWORD, BYTES)} <= set(purge.dependencies)


def test_schema_depends_on_role_so_an_existing_role_fails_before_any_schema_is_touched(run, three_tenants):
    result = run()
    assert result.by_name("acme-role").urn in result.by_name("acme-schema").dependencies


def test_rotation_renews_only_that_tenants_password(edit):
    before, after = edit(THREE_TENANTS, with_acme(rotation=1))
    assert changed_urns(before, after) == {
        urn(PASSWORD, "acme-password"): {"keepers"},
        urn(ROLE, "acme-role"): {"password"},
    }
    new_password = after.by_name("acme-password").state["result"]
    assert new_password != before.by_name("acme-password").state["result"]
    assert verifier_matches(after.by_name("acme-role").inputs["password"], new_password)


def test_zero_downtime_tenant_has_a_nologin_owner_and_two_login_roles(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(zero_downtime_rotation=True))
    result = run()
    owner = result.by_name("acme-role")
    assert owner.inputs["login"] is False and "password" not in owner.inputs
    for slot in ("a", "b"):
        login = result.by_name(f"acme-login-{slot}")
        assert login.inputs["name"] == f"acme_{slot}"
        assert login.inputs["login"] is True
        assert login.inputs["inherit"] is False
        assert login.inputs["roles"] == ["acme"]
        assert login.inputs["assumeRole"] == "acme"
        assert verifier_matches(login.inputs["password"], result.by_name(f"acme-password-{slot}").state["result"])


def test_zero_downtime_schema_grant_goes_to_the_owner_and_connect_to_each_slot(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(zero_downtime_rotation=True))
    result = run()
    grants = {r.name: (r.inputs["role"], r.inputs["objectType"], r.inputs["privileges"]) for r in result.of_type(GRANT) if r.name.startswith("acme-")}
    assert grants == {
        "acme-schema-usage": ("acme", "schema", ["CREATE", "USAGE"]),
        "acme-database-connect-a": ("acme_a", "database", ["CONNECT"]),
        "acme-database-connect-b": ("acme_b", "database", ["CONNECT"]),
    }


@pytest.mark.parametrize(("rotation", "renewed", "current", "previous"), [(1, "b", "acme_b", "acme_a"), (2, "a", "acme_a", "acme_b")])
def test_zero_downtime_rotation_renews_one_slot_and_keeps_the_other(edit, rotation, renewed, current, previous):
    before, after = edit(with_acme(zero_downtime_rotation=True, rotation=rotation - 1), with_acme(zero_downtime_rotation=True, rotation=rotation))
    assert changed_urns(before, after) == {
        urn(PASSWORD, f"acme-password-{renewed}"): {"keepers"},
        urn(ROLE, f"acme-login-{renewed}"): {"password"},
    }
    connections = after.outputs["connections"].value["acme"]
    assert connections["env"]["PGUSER"] == current
    assert connections["previous"]["env"]["PGUSER"] == previous
    assert connections["previous"]["env"]["PGPASSWORD"] == before.outputs["connections"].value["acme"]["env"]["PGPASSWORD"]


def test_adopting_imports_role_and_schema_by_their_names(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(adopt=True))
    result = run()
    role, schema = result.by_name("acme-role"), result.by_name("acme-schema")
    assert (role.import_id, schema.import_id) == ("acme", "app.acme")
    assert (list(role.ignore_changes), list(schema.ignore_changes)) == (ADOPTED_ROLE_IGNORES, ADOPTED_SCHEMA_IGNORES)
    assert all(not r.import_id for r in result.registrations if not r.name.startswith("acme"))


def test_removing_adopt_after_import_makes_the_declared_password_an_update(edit):
    before, after = edit(with_acme(adopt=True), THREE_TENANTS)
    assert changed_urns(before, after) == {urn(ROLE, "acme-role"): {"options"}, urn(SCHEMA, "acme-schema"): {"options"}}
    assert after.by_name("acme-role").ignore_changes == ()


def test_renaming_with_previous_names_aliases_every_resource(edit):
    renamed = with_acme(name="acme_corp", previous_names=["acme"], schema="acme", username="acme")  # names kept
    before, after = edit(THREE_TENANTS, renamed)
    old_names = {r.name for r in before.registrations if r.name == "acme" or r.name.startswith("acme-")}
    new = [r for r in after.registrations if r.name == "acme_corp" or r.name.startswith("acme_corp-")]
    assert {alias for r in new for alias in r.alias_names} == old_names
    assert all(len(r.alias_names) == 1 for r in new)


def test_protect_switch_protects_every_schema_except_one_marked_for_purge(run, stack, tenants_dir):
    stack.settings["protectSchemas"] = True
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(on_remove="purge"))
    result = run()
    protected = {r.name: r.protect for r in result.registrations if r.type == SCHEMA}
    assert protected == {"acme-schema": False, "globex-schema": True, "initech-schema": True}
    assert {r.name for r in result.registrations if r.protect and r.type != SCHEMA} == {"globex-role", "initech-role"}


def test_zero_downtime_temp_file_limit_covers_both_login_slots(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", with_acme(zero_downtime_rotation=True, temp_file_limit=2048))
    limit = run().by_name("acme-temp-file-limit")
    assert (sorted(limit.inputs["roles"]), limit.inputs["kilobytes"]) == (["acme_a", "acme_b"], 2048)
