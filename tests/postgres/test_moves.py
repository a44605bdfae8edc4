"""A tenant's server or database never changes in place.

pulumi-postgresql would apply it as a provider change (its DiffConfig replaces nothing): the
outputs would name a role that does not exist at the new place while the old credentials
kept working. The program sets each tenant's placement (host, port, database) as the
`replacement_trigger` of its roles, schema and schema grant, so the engine replaces them
instead, and the owner role of an active or suspended tenant is protected: the move is
refused during `pulumi preview`, and nothing changes. An offboarded tenant has no
credentials: it is created anew at the new place and the old one is kept, data included.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import psycopg
import pytest
from psycopg import sql

from pg_tenants.local.throwaway import running_postgres
from tests.fixtures.previous_model import PREVIOUS_SETTINGS, PROGRAM_DIR as PREVIOUS_PROGRAM_DIR
from tests.support import engine_plan
from tests.support.deployment import SERVER_SETTINGS, Deployment, connect_as, create_database, reset_server
from tests.support.engine_plan import ApplyError, EngineError
from tests.support.program_run import GRANT, ROLE, SCHEMA, run_program
from tests.support.provider_double import ProviderDouble

ACME = {"name": "acme"}
GLOBEX = {"name": "globex"}
PROTECTED = "as it is currently marked for protection"


@pytest.fixture(scope="module")
def other_server(pg_server):
    """A second server of the same major: the `other` server of the stack."""
    with running_postgres(pg_server.major, server_settings=SERVER_SETTINGS, sources=("docker", "local")) as pg:
        yield pg


@pytest.fixture
def fleet(deployment, other_server):
    """Servers `main` (databases app, app2) and `other` (database app); tenants default to main/app."""
    create_database(deployment.pg, "app2")
    create_database(other_server, "app")
    deployment.stack.servers["main"]["databases"] = ["app", "app2"]
    deployment.stack.servers["other"] = {
        "host": other_server.host, "port": other_server.port, "adminUsername": other_server.admin_user,
        "adminPasswordSecret": "otherAdminPassword", "sslmode": "disable", "databases": ["app"],
    }
    deployment.stack.secrets["otherAdminPassword"] = other_server.admin_password
    deployment.stack.settings["defaultServer"] = "main"
    yield deployment
    reset_server(other_server)


def write_rows(credentials: dict[str, Any]) -> None:
    with connect_as(credentials) as conn:
        conn.execute("CREATE TABLE orders (id int PRIMARY KEY)")
        conn.execute("INSERT INTO orders SELECT generate_series(1, 3)")


def rows(credentials: dict[str, Any]) -> int:
    with connect_as(credentials) as conn:
        return conn.execute("SELECT count(*) FROM orders").fetchone()[0]


def role(pg, name: str) -> tuple[bool, bool] | None:
    """(can log in, has a password) of a role, None if it does not exist."""
    with pg.admin_connect() as admin:
        return admin.execute("SELECT rolcanlogin, rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", (name,)).fetchone()


def schema_exists(pg, database: str, schema: str) -> bool:
    with pg.admin_connect(database) as admin:
        return admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is not None


def refused_move(deployment: Deployment, tenants: list[dict[str, Any]]) -> str:
    """Apply a move that must be refused during the preview; the preview's error text."""
    state, run = deployment.state, deployment.last_run
    deployment.write(tenants)
    with pytest.raises(EngineError, match="preview failed") as refused:
        deployment.up()
    assert deployment.state is state and deployment.last_run is run  # nothing recorded, outputs as before
    return str(refused.value)


def urn_of(deployment: Deployment, name: str) -> str:
    return deployment.state.by_name(name).urn


@pytest.mark.parametrize("move", [{"database": "app2"}, {"server": "other"}], ids=["database", "server"])
def test_moving_an_active_tenant_is_refused_during_preview_and_nothing_changes(fleet, move):
    fleet.write([ACME, GLOBEX])
    fleet.up()
    credentials = fleet.connections["acme"]
    write_rows(credentials)

    message = refused_move(fleet, [{**ACME, **move}, GLOBEX])

    assert f"unable to replace resource {urn_of(fleet, 'acme-role')!r}\n{PROTECTED}" in message
    assert "globex" not in message
    assert rows(credentials) == 3 and role(fleet.pg, "acme") == (True, True)
    assert not schema_exists(fleet.pg, "app2", "acme")
    assert fleet.connections["acme"] == credentials


def test_the_refused_preview_shows_the_moved_tenants_roles_replaced_by_the_trigger_and_nothing_else(fleet):
    fleet.write([ACME, GLOBEX])
    fleet.up()
    fleet.write([{**ACME, "database": "app2"}, GLOBEX])
    with pytest.raises(EngineError):
        fleet.up()

    replaced = {(s.type, s.name): s.replace_keys for s in fleet.last_plan.of("replace")}
    assert replaced == {
        (ROLE, "acme-role"): ("replacementTrigger",),
        # The trigger fired: the engine does not ask the provider (no ForceNew keys, no
        # delete-before-replace from it).
        (SCHEMA, "acme-schema"): ("replacementTrigger",),
        (GRANT, "acme-schema-usage"): ("replacementTrigger",),
        (GRANT, "acme-database-connect"): ("database",),
    }
    assert fleet.last_plan.errors == [fleet.last_plan.step("acme-role").blocked]


@pytest.mark.parametrize("tenant", [
    {**ACME, "state": "suspended"},
    {**ACME, "zero_downtime_rotation": True},
    {**ACME, "zero_downtime_rotation": True, "state": "suspended"},
], ids=["suspended", "zero-downtime", "zero-downtime-suspended"])
def test_moving_a_tenant_that_has_credentials_is_refused_in_every_state(fleet, other_server, tenant):
    fleet.write([tenant])
    fleet.up()
    before = fleet.connections["acme"]

    message = refused_move(fleet, [{**tenant, "server": "other"}])

    assert f"unable to replace resource {urn_of(fleet, 'acme-role')!r}" in message
    assert role(fleet.pg, "acme") is not None and role(other_server, "acme") is None
    assert fleet.connections["acme"] == before


def test_changing_a_servers_address_counts_as_a_move(fleet):
    """The program cannot tell another address of the same server from another server: it refuses
    both (README: "Moving a tenant" says how to re-address a server)."""
    fleet.write([ACME])
    fleet.up()

    fleet.stack.servers["main"]["host"] = "localhost" if fleet.pg.host != "localhost" else "127.0.0.1"
    message = refused_move(fleet, [ACME])

    assert PROTECTED in message


def test_moving_an_offboarded_tenant_to_another_server_creates_it_there_and_keeps_the_old_with_its_data(fleet, other_server):
    fleet.write([ACME])
    fleet.up()
    write_rows(fleet.connections["acme"])
    fleet.write([{**ACME, "state": "offboarded"}])
    fleet.up()

    fleet.write([{**ACME, "state": "offboarded", "server": "other"}])
    fleet.up()

    assert role(other_server, "acme") == (False, False) and schema_exists(other_server, "app", "acme")
    assert role(fleet.pg, "acme") == (False, False) and schema_exists(fleet.pg, "app", "acme")
    with fleet.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT count(*), min(tableowner) FROM acme.orders, pg_tables"
                             " WHERE schemaname = 'acme'").fetchone() == (3, "acme")
    assert "acme" not in fleet.connections
    assert fleet.last_run.outputs["tenants"].value["acme"]["server"] == "other"


def test_moving_an_offboarded_tenant_to_another_database_of_its_server_fails_before_changing_anything(fleet):
    """Roles belong to the server: the replacement's CREATE ROLE finds the old one (42710)."""
    fleet.write([ACME])
    fleet.up()
    write_rows(fleet.connections["acme"])
    fleet.write([{**ACME, "state": "offboarded"}])
    fleet.up()

    fleet.write([{**ACME, "state": "offboarded", "database": "app2"}])
    with pytest.raises(ApplyError) as failed:
        fleet.up()

    assert failed.value.step.name == "acme-role" and getattr(failed.value.cause, "sqlstate", None) == "42710"
    assert role(fleet.pg, "acme") == (False, False)
    assert not schema_exists(fleet.pg, "app2", "acme")
    with fleet.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT count(*) FROM acme.orders").fetchone() == (3,)


# ----------------------------------------------------------------------------- no churn on upgrade


def deploy_previous_model(deployment: Deployment) -> None:
    stack = dataclasses.replace(deployment.stack, settings={**deployment.stack.settings, **PREVIOUS_SETTINGS})
    values, secret_keys = stack.as_pulumi_config()
    run = run_program(values, secret_keys, deterministic=False, program_dir=PREVIOUS_PROGRAM_DIR)
    if run.error is not None:
        raise run.error
    the_plan = engine_plan.plan(deployment.state, run)
    deployment.state = engine_plan.apply(the_plan, ProviderDouble(run.registrations), parallelism=10, old=deployment.state)
    deployment.last_run = run


def test_state_without_triggers_upgrades_without_replacing_anything_then_moves_are_refused(fleet):
    fleet.write([ACME, {**GLOBEX, "zero_downtime_rotation": True}])
    deploy_previous_model(fleet)
    assert all(r.replacement_trigger is None for r in fleet.state.resources)

    fleet.up()

    assert fleet.last_plan.of("replace") == [] and fleet.last_plan.errors == []
    triggers = {r.name: r.replacement_trigger for r in fleet.state.resources if r.type == ROLE}
    placement = {"host": fleet.pg.host, "port": fleet.pg.port, "database": "app"}
    assert triggers == dict.fromkeys(["acme-role", "globex-role", "globex-login-a", "globex-login-b"], placement)
    refused_move(fleet, [{**ACME, "database": "app2"}, {**GLOBEX, "zero_downtime_rotation": True}])


def test_this_programs_own_state_from_before_the_trigger_replaces_nothing(fleet):
    fleet.write([ACME, GLOBEX])
    fleet.up()
    fleet.state = dataclasses.replace(
        fleet.state, resources=[dataclasses.replace(r, replacement_trigger=None) for r in fleet.state.resources])

    fleet.up()

    assert {s.op for s in [*fleet.last_plan.steps, *fleet.last_plan.deletes]} == {"same"}
    assert all(r.replacement_trigger is not None for r in fleet.state.resources if r.type == ROLE)
