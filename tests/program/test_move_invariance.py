"""Across `pulumi state move`, a moved tenant's resources keep their URNs (but the stack) and inputs.

The program runs on the mock engine for the source stack's config and tenant list before the
move, then for the destination's after the edit move-plan prints (`shard:` on the tenant). If
any URN or input differed, the destination's first `pulumi up` after the move would create,
replace or update the tenant's resources instead of finding them as moved.
"""

from __future__ import annotations

import pytest

from pg_tenants.shards.move_plan import TENANT_TYPE
from tests.support.program_run import POSTGRES_PROVIDER, ProgramRun, Registration, run_program
from tests.support.shards import FLEET, eu1, eu2, with_shard, write_fleet
from tests.support.stack import StackConfig


def run_stack(config: StackConfig, stack: str) -> ProgramRun:
    values, secret_keys = config.as_pulumi_config()
    run = run_program(values, secret_keys, stack=stack)
    if run.error is not None:
        raise run.error
    return run


def without_stack(urn: str) -> str:
    """`urn:pulumi:<stack>::<project>::<type>::<name>` without its stack segment."""
    prefix, _, rest = urn.partition("::")
    assert prefix.startswith("urn:pulumi:"), urn
    return rest


def tenant_resources(run: ProgramRun, stack: str, tenant: str) -> dict[str, Registration]:
    """The tenant's component and everything under it, by URN without the stack segment.

    The mock engine puts the root stack's type into top-level URNs (`pulumi:pulumi:Stack$…`),
    which the real engine does not (the engine test checks move-plan's URN against it).
    """
    inside = {r.urn for r in run.registrations if r.type == TENANT_TYPE and r.name == tenant and stack in r.urn}
    for registration in run.registrations:  # parents are registered before their children
        if registration.parent in inside:
            inside.add(registration.urn)
    return {without_stack(r.urn): r for r in run.registrations if r.urn in inside}


def parent(registration: Registration) -> str:
    """Its parent's URN without the stack segment; the root stack (named `<project>-<stack>`) as such."""
    if "::pulumi:pulumi:Stack::" in registration.parent:
        return "(the root stack)"
    return without_stack(registration.parent)


def provider_of(run: ProgramRun, registration: Registration) -> Registration:
    return next(r for r in run.registrations if r.urn == registration.provider_urn)


@pytest.fixture(scope="module")
def tenants_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("move") / "tenants"


@pytest.fixture(scope="module")
def moved(tenants_dir):
    """acme (owned by eu-1 through its server) and initech (provided password) before and after the move to eu-2."""
    write_fleet(tenants_dir)
    before = run_stack(eu1(tenants_dir), "eu-1")
    write_fleet(tenants_dir, with_shard(with_shard(FLEET, "acme", "eu-2"), "initech", "eu-2"))
    destination = eu2(tenants_dir)
    destination.secrets["initechPassword"] = eu1(tenants_dir).secrets["initechPassword"]  # `pulumi config cp`
    after = run_stack(destination, "eu-2")
    return before, after


@pytest.mark.parametrize("tenant", ["acme", "initech"])
def test_every_urn_of_the_moved_tenant_is_unchanged_but_the_stack(moved, tenant):
    before, after = moved

    urns_before, urns_after = tenant_resources(before, "eu-1", tenant), tenant_resources(after, "eu-2", tenant)

    assert len(urns_before) >= 7  # component, salt, role, schema, grants, ...
    assert sorted(urns_after) == sorted(urns_before)


@pytest.mark.parametrize("tenant", ["acme", "initech"])
def test_every_input_of_the_moved_tenant_is_unchanged(moved, tenant):
    before, after = (tenant_resources(run, stack, tenant) for run, stack in zip(moved, ("eu-1", "eu-2")))

    assert {urn: r.inputs for urn, r in after.items()} == {urn: r.inputs for urn, r in before.items()}
    assert {urn: r.secret_inputs for urn, r in after.items()} == {urn: r.secret_inputs for urn, r in before.items()}


@pytest.mark.parametrize("tenant", ["acme", "initech"])
def test_parents_and_options_of_the_moved_tenant_are_unchanged(moved, tenant):
    def options(run: ProgramRun, stack: str) -> dict[str, tuple]:
        return {
            urn: (parent(r), r.protect, r.retain_on_delete,
                  r.delete_before_replace, r.ignore_changes, r.replace_on_changes, repr(r.replacement_trigger))
            for urn, r in tenant_resources(run, stack, tenant).items()
        }  # fmt: skip

    before, after = moved

    assert options(after, "eu-2") == options(before, "eu-1")


def test_the_destinations_provider_for_the_tenants_database_has_the_same_name_and_inputs(moved):
    before, after = moved
    role = "pg-tenants::pg-tenants:index:Tenant$postgresql:index/role:Role::acme-role"
    role_before, role_after = tenant_resources(before, "eu-1", "acme")[role], tenant_resources(after, "eu-2", "acme")[role]

    provider_before, provider_after = provider_of(before, role_before), provider_of(after, role_after)

    assert provider_after.type == provider_before.type == POSTGRES_PROVIDER
    assert without_stack(provider_after.urn) == without_stack(provider_before.urn) == (
        "pg-tenants::pulumi:pulumi:Stack$pulumi:providers:postgresql::postgresql-main-app")
    assert provider_after.inputs == provider_before.inputs


def test_the_source_no_longer_declares_the_moved_tenants(moved, tenants_dir):
    after_edit = run_stack(eu1(tenants_dir), "eu-1")

    assert tenant_resources(after_edit, "eu-1", "acme") == {}
    assert sorted(after_edit.outputs["tenants"].value) == []
