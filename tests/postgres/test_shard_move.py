"""A tenant moved between two stacks of a sharded fleet keeps its role, schema and data.

Both stacks hold tenants on one database: eu-1 is its home (it hardens it), eu-2 holds a
tenant there through `shard:`. The move is what `pulumi state move` does with the one URN
`pg-tenants move-plan` prints (pg_tenants.shards.move_plan): the tenant's component and
children leave eu-1's state for eu-2's, whose provider for the database is the same. After
the edit, neither stack's `up` touches the tenant, and on the server it is the same role and
schema, with its rows, its login, and PUBLIC still without CONNECT.
"""

from __future__ import annotations

import copy

import pytest

from tests.support.deployment import MANAGED, SUPERUSER, Deployment, connect_as

ADMIN_PROFILES = (SUPERUSER, MANAGED)
ACME, HOOLI = {"name": "acme", "server": "main"}, {"name": "hooli", "server": "main", "shard": "eu-2"}


def move_state(source: Deployment, dest: Deployment, tenant: str) -> None:
    """`pulumi state move` of the tenant's component: it and its children change stacks (both
    stacks are named `test` here, so not even the URNs' stack segment changes)."""
    moving = {r.urn for r in source.state.resources if r.type == "pg-tenants:index:Tenant" and r.name == tenant}
    for registration in source.state.resources:  # parents come before their children
        if registration.parent in moving:
            moving.add(registration.urn)
    dest.state.resources += [r for r in source.state.resources if r.urn in moving]
    source.state.resources = [r for r in source.state.resources if r.urn not in moving]


def catalog_ids(deployment: Deployment) -> tuple[int, int]:
    with deployment.pg.admin_connect("app") as admin:
        return admin.execute("SELECT (SELECT oid FROM pg_roles WHERE rolname = 'acme'), "
                             "(SELECT oid FROM pg_namespace WHERE nspname = 'acme')").fetchone()


def changes(deployment: Deployment) -> list[tuple[str, str]]:
    assert deployment.last_plan is not None
    return [(s.op, s.name) for s in [*deployment.last_plan.steps, *deployment.last_plan.deletes] if s.op != "same"]


def test_a_tenant_moved_between_stacks_keeps_its_role_schema_rows_and_login(deployment):
    eu1 = deployment
    eu1.stack.settings["shard"] = {"name": "eu-1", "servers": ["main"]}
    eu2 = Deployment(eu1.pg, copy.deepcopy(eu1.stack))
    eu2.stack.settings["shard"] = {"name": "eu-2"}
    eu1.write([ACME, HOOLI])
    eu1.up()
    eu2.up()
    with connect_as(eu1.connections["acme"]) as acme:
        acme.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        acme.execute("INSERT INTO orders SELECT generate_series(1, 3)")
    before = catalog_ids(eu1)

    move_state(eu1, eu2, "acme")
    eu1.write([{**ACME, "shard": "eu-2"}, HOOLI])
    eu1.up()
    eu2.up()

    assert (changes(eu1), changes(eu2)) == ([], [])
    assert catalog_ids(eu1) == before
    assert sorted(eu2.last_run.outputs["tenants"].value) == ["acme", "hooli"]
    with connect_as(eu2.connections["acme"]) as acme:
        assert acme.execute("SELECT count(*) FROM orders").fetchone() == (3,)
    with eu1.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT has_database_privilege('public', 'app', 'CONNECT')").fetchone() == (False,)
