"""A sharded stack declares the tenants its pg-tenants:shard owns, and hardens its home databases."""

from __future__ import annotations

import pytest

from tests.support.program_run import ProgramRun, run_program
from tests.support.shards import FLEET, eu1, eu2, with_shard, write_fleet
from tests.support.stack import StackConfig

TENANT = "pg-tenants:index:Tenant"
HARDENING = "pg-tenants:index:DatabaseHardening"


def run_stack(config: StackConfig, stack: str) -> ProgramRun:
    values, secret_keys = config.as_pulumi_config()
    run = run_program(values, secret_keys, stack=stack)
    if run.error is not None:
        raise run.error
    return run


def names(run: ProgramRun, type_token: str) -> list[str]:
    return sorted(r.name for r in run.of_type(type_token))


@pytest.fixture
def fleet(tenants_dir):
    write_fleet(tenants_dir)


def test_each_stack_declares_only_the_tenants_it_owns(fleet, tenants_dir):
    assert names(run_stack(eu1(tenants_dir), "eu-1"), TENANT) == ["acme", "initech"]
    assert names(run_stack(eu2(tenants_dir), "eu-2"), TENANT) == ["globex", "hooli"]


def test_the_tenants_output_lists_only_the_stacks_own_tenants(fleet, tenants_dir):
    assert sorted(run_stack(eu2(tenants_dir), "eu-2").outputs["tenants"].value) == ["globex", "hooli"]


def test_a_tenant_on_a_server_the_stack_lacks_is_another_stacks_business(fleet, tenants_dir):
    # eu-1 has no server `second`, where globex lives: not an error in eu-1.
    run = run_stack(eu1(tenants_dir), "eu-1")

    assert "globex" in run_stack(eu2(tenants_dir), "eu-2").outputs["tenants"].value
    assert "globex" not in run.outputs["tenants"].value


def test_a_stack_hardens_its_home_databases_not_those_its_shard_tenants_visit(fleet, tenants_dir):
    assert names(run_stack(eu1(tenants_dir), "eu-1"), HARDENING) == ["main-app", "main-postgres", "main-template1"]
    # hooli lives on main/app through `shard: eu-2`: eu-1 keeps that database's hardening.
    assert names(run_stack(eu2(tenants_dir), "eu-2"), HARDENING) == ["second-app", "second-postgres", "second-template1"]


def test_the_visiting_tenants_connect_grant_waits_for_no_hardening_of_its_own_stack(fleet, tenants_dir):
    run = run_stack(eu2(tenants_dir), "eu-2")
    hardening_urns = {r.urn for r in run.registrations if HARDENING in r.urn}

    grant = run.by_name("hooli-database-connect")

    assert hardening_urns and not hardening_urns & set(grant.dependencies)


def test_moving_the_last_tenant_off_a_home_database_keeps_its_hardening(tenants_dir):
    everyone_away = with_shard(with_shard(FLEET, "acme", "eu-2"), "initech", "eu-2")
    write_fleet(tenants_dir, everyone_away)

    run = run_stack(eu1(tenants_dir), "eu-1")

    assert names(run, TENANT) == []
    assert names(run, HARDENING) == ["main-app", "main-postgres", "main-template1"]


def test_a_shard_naming_a_server_the_stack_lacks_is_refused(fleet, tenants_dir):
    config = eu1(tenants_dir)
    config.settings["shard"] = {"name": "eu-1", "servers": ["third"]}
    values, secret_keys = config.as_pulumi_config()

    run = run_program(values, secret_keys, stack="eu-1")

    assert run.registrations == []
    assert "stack config: pg-tenants:shard.servers: server 'third' is not in servers (fix: use one of: main)" in str(run.error)


def test_a_shard_name_that_is_not_a_plain_name_is_refused(fleet, tenants_dir):
    config = eu1(tenants_dir)
    config.settings["shard"] = {"name": "EU 1"}
    values, secret_keys = config.as_pulumi_config()

    run = run_program(values, secret_keys, stack="eu-1")

    assert run.registrations == []
    assert ("stack config: pg-tenants:shard.name: 'EU 1' is not a shard name (fix: use lowercase letters, digits, '-' "
            "and '_' (at most 63), starting with a letter or digit)") in str(run.error)


def test_a_tenant_shard_that_is_not_a_plain_name_is_refused(tenants_dir):
    write_fleet(tenants_dir, with_shard(FLEET, "acme", "Eu_1"))
    values, secret_keys = eu1(tenants_dir).as_pulumi_config()

    run = run_program(values, secret_keys, stack="eu-1")

    assert run.registrations == []
    assert "tenants[0].shard: 'Eu_1' is not a shard name" in str(run.error)
