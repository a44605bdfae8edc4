"""What a silo tenant (`isolation: database`) registers: its own database, named explicitly,
under its Tenant component, on the one provider of its server; retained or purged like its
schema; and a placement that makes a move between tiers a replacement the engine refuses.
"""

import pytest

from tests.support import engine_plan
from tests.support.engine_plan import AppliedState
from tests.support.program_run import DATABASE, GRANT, POSTGRES_PROVIDER, ROLE, SCHEMA
from tests.support.stack import write_tenant_file

SILO = {"name": "initech", "isolation": "database"}
FLEET = [{"name": "acme"}, SILO, {"name": "umbrella", "isolation": "database", "database": "umbrella_db",
                                  "zero_downtime_rotation": True}]


@pytest.fixture
def fleet(run, tenants_dir):
    def _run(entries=FLEET, **kwargs):
        write_tenant_file(tenants_dir, "tenants.yaml", entries)
        return run(**kwargs)
    return _run


def test_a_silo_tenant_registers_its_database_by_name_under_its_component_from_template0(fleet):
    result = fleet()
    database = result.by_name("initech-database")
    component = result.by_name("initech")
    assert database.type == DATABASE and database.parent == component.urn
    assert database.inputs == {"name": "initech", "owner": "postgres", "template": "template0"}
    assert result.by_name("umbrella-database").inputs["name"] == "umbrella_db"
    assert not [r for r in result.registrations if r.type == DATABASE and r.name.startswith("acme")]


def test_providers_stay_one_per_shared_database_plus_one_per_server_for_every_silo(fleet):
    result = fleet()
    providers = {r.urn: r for r in result.registrations if r.type == POSTGRES_PROVIDER}
    assert sorted(p.name for p in providers.values()) == ["postgresql-main-app", "postgresql-main-postgres"]
    on = {r.name: providers[r.provider_urn].name for r in result.registrations if r.provider_urn in providers}
    assert on["initech-database"] == on["initech-role"] == on["umbrella-schema"] == "postgresql-main-postgres"
    assert on["acme-role"] == "postgresql-main-app"
    # The schema and grants name the silo's database; the provider connects to it for them.
    assert result.by_name("initech-schema").inputs["database"] == "initech"
    assert result.by_name("umbrella-database-connect-a").inputs["database"] == "umbrella_db"


def test_a_silo_database_is_closed_to_public_before_any_tenant_gets_connect(fleet):
    result = fleet()
    revoke, schema_revoke = result.by_name("initech-public-database"), result.by_name("initech-public-schema")
    assert (revoke.type, revoke.inputs["role"], revoke.inputs["privileges"], revoke.inputs["objectType"]) == (GRANT, "public", [], "database")
    assert (schema_revoke.inputs["schema"], schema_revoke.inputs["privileges"]) == ("public", ["USAGE"])
    assert revoke.urn in result.by_name("initech-database-connect").dependencies
    assert result.by_name("initech-database").urn in result.by_name("initech-role").dependencies
    # No hardening component for it: those are the shared database's and the protected ones'.
    hardened = sorted(r.name for r in result.registrations if r.type == "pg-tenants:index:DatabaseHardening")
    assert hardened == ["main-app", "main-postgres", "main-template1"]


def test_a_silo_database_is_kept_on_removal_and_dropped_only_once_purge_was_applied(fleet):
    kept = fleet([SILO]).by_name("initech-database")
    assert kept.retain_on_delete and not kept.protect
    purged = fleet([{**SILO, "on_remove": "purge"}])
    database = purged.by_name("initech-database")
    assert not database.retain_on_delete
    # The purge (DROP OWNED in the silo's database) runs first on removal, the database's DROP last.
    assert database.urn in purged.by_name("initech-purge").dependencies


def test_only_silo_placements_carry_the_isolation_key(fleet):
    result = fleet()
    assert result.by_name("acme-role").replacement_trigger == {"host": "db.example.internal", "port": 5432, "database": "app"}
    assert result.by_name("initech-role").replacement_trigger == {
        "host": "db.example.internal", "port": 5432, "database": "initech", "isolation": "database"}
    assert result.by_name("initech-database").replacement_trigger == result.by_name("initech-role").replacement_trigger


def test_default_isolation_in_the_stack_config_makes_tenants_silos_unless_they_say_schema(fleet, stack):
    stack.settings["defaultIsolation"] = "database"
    result = fleet([{"name": "acme", "isolation": "schema"}, {"name": "initech"}])
    assert result.outputs["tenants"].value["initech"]["isolation"] == "database"
    assert result.outputs["tenants"].value["acme"] == {
        "schema": "acme", "username": "acme", "server": "main", "database": "app", "isolation": "schema",
        "state": "active", "on_remove": "retain", "readonly_login": False}


@pytest.mark.parametrize(("before", "after"), [({"name": "initech"}, SILO), (SILO, {"name": "initech"})])
def test_moving_an_active_tenant_between_tiers_is_refused_at_preview(fleet, before, after):
    deployed = fleet([before], deterministic=True)
    the_plan = engine_plan.plan(AppliedState(resources=deployed.registrations), fleet([after], deterministic=True))
    assert any("initech-role" in error and "protect" in error for error in the_plan.errors), the_plan.errors
