"""Database hardening can be undone: turning it off, or the last tenant of a database leaving,
gives PUBLIC back exactly what hardening took, and PUBLIC's USAGE on `public` is never taken.

PostgreSQL's defaults differ by major: every database gives PUBLIC CONNECT and TEMPORARY; on
14 and older `public` gives PUBLIC CREATE and USAGE, on 15 and later USAGE only. Each test
reads PUBLIC's privileges before the first `up` and compares with them afterwards, so it
proves "exactly what it took" on whatever defaults the server has.
"""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from pg_tenants.cli import main as pg_tenants_main
from tests.fixtures.previous_model import deploy_previous_model
from tests.support import engine_plan
from tests.support.deployment import Deployment, connect_as, create_database
from tests.support.program_run import DYNAMIC, GRANT
from tests.support.verify_env import use_admin_login

ACME = {"name": "acme"}
GLOBEX = {"name": "globex", "database": "app2"}
PROTECTED = ("postgres", "template1")

DATABASE_PUBLIC = ("SELECT e.privilege_type FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) e"
                   " WHERE d.datname = current_database() AND e.grantee = 0")
SCHEMA_PUBLIC = ("SELECT e.privilege_type FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) e"
                 " WHERE n.nspname = 'public' AND e.grantee = 0")


def public_holds(pg, database: str) -> tuple[frozenset[str], frozenset[str]]:
    """PUBLIC's privileges on `database` and on its schema `public`, as PostgreSQL applies them."""
    with pg.admin_connect(database) as conn:
        return (frozenset(r[0] for r in conn.execute(DATABASE_PUBLIC)), frozenset(r[0] for r in conn.execute(SCHEMA_PUBLIC)))


def everywhere(pg, *databases: str) -> dict[str, tuple[frozenset[str], frozenset[str]]]:
    return {database: public_holds(pg, database) for database in (*databases, *PROTECTED)}


HARDENED_TENANT_DATABASE = (frozenset(), frozenset({"USAGE"}))


def harden(deployment: Deployment, on: bool) -> None:
    deployment.stack.settings["hardenDatabases"] = on
    deployment.up()


def records(deployment: Deployment) -> dict[str, str]:
    """name -> id of every hardening record in the state: the id says what it gives back."""
    return {r.name: r.id for r in deployment.state.resources if r.type == DYNAMIC and r.name.endswith("-record")}


@pytest.fixture
def two_databases(deployment):
    """`app` and `app2` on the server; the tenant list's default database is `app`."""
    create_database(deployment.pg, "app2")
    deployment.stack.servers["main"]["databases"] = ["app", "app2"]
    return deployment


def test_a_new_database_starts_with_postgresqls_defaults_for_public(deployment):
    database, public = public_holds(deployment.pg, "app")
    assert database == {"CONNECT", "TEMPORARY"}
    assert public == ({"CREATE", "USAGE"} if deployment.pg.major <= 14 else {"USAGE"})


def test_hardening_takes_connect_temporary_and_create_on_public_and_leaves_usage(deployment):
    deployment.write([ACME])
    deployment.up()

    hardened = everywhere(deployment.pg, "app")
    assert hardened["app"] == HARDENED_TENANT_DATABASE
    assert {db: hardened[db][0] for db in PROTECTED} == {"postgres": frozenset(), "template1": frozenset()}


def test_each_record_names_what_public_held_before(deployment):
    before = everywhere(deployment.pg, "app")
    deployment.write([ACME])
    deployment.up()

    def held(privileges: frozenset[str], order: tuple[str, ...]) -> str:
        return ",".join(p for p in order if p in privileges)

    expected = {f"main-{db}-public-database-record": f"{db}/database:{held(before[db][0], ('CONNECT', 'TEMPORARY', 'CREATE'))}"
                for db in ("app", *PROTECTED)}
    expected["main-app-public-schema-record"] = f"app/public schema:{held(before['app'][1], ('CREATE',))}"
    assert records(deployment) == expected
    # What differs by major: 14 gave PUBLIC CREATE on `public` and has it back when hardening
    # goes; 15 never did, and hardening gives it none.
    assert expected["main-app-public-schema-record"] == ("app/public schema:CREATE" if deployment.pg.major <= 14 else "app/public schema:")


def test_turning_hardening_off_gives_back_exactly_what_it_took(deployment):
    before = everywhere(deployment.pg, "app")
    deployment.write([ACME])
    deployment.up()
    harden(deployment, False)

    assert everywhere(deployment.pg, "app") == before
    assert records(deployment) == {}


@pytest.mark.provider_double_only("reads the double's statement log")
def test_off_forgets_the_grants_to_public_without_running_their_revoke(deployment):
    deployment.write([ACME])
    deployment.up()
    public_grants = {r.urn for r in deployment.state.resources if r.type == GRANT and r.inputs.get("role") == "public"}
    harden(deployment, False)

    assert len(public_grants) == 4
    assert [s.sql for s in deployment.double.statements if s.urn in public_grants] == []
    assert not public_grants & deployment.state.urns()


def test_on_off_on_off_ends_where_it_started_and_is_hardened_in_between(deployment):
    before = everywhere(deployment.pg, "app")
    deployment.write([ACME])
    deployment.up()
    first = everywhere(deployment.pg, "app")
    harden(deployment, False)
    harden(deployment, True)
    again = everywhere(deployment.pg, "app")
    harden(deployment, False)

    assert again == first
    assert again["app"] == HARDENED_TENANT_DATABASE
    assert everywhere(deployment.pg, "app") == before


def test_the_tenant_keeps_connecting_while_hardening_goes_off_and_on(deployment):
    deployment.write([ACME])
    deployment.up()
    credentials = deployment.connections["acme"]
    with connect_as(credentials) as conn:
        conn.execute("CREATE TABLE orders (id int)")
    harden(deployment, False)
    harden(deployment, True)
    with connect_as(credentials) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (0,)


def leave(deployment: Deployment, tenants: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Offboard `name`, then remove its entry: the only way an active tenant leaves."""
    deployment.write([{**t, "state": "offboarded"} if t["name"] == name else t for t in tenants])
    deployment.up()
    rest = [t for t in tenants if t["name"] != name]
    deployment.write(rest)
    deployment.up()
    return rest


def test_the_last_tenant_leaving_a_database_gives_public_back_its_privileges_there(two_databases):
    deployment = two_databases
    before = everywhere(deployment.pg, "app", "app2")
    deployment.write([ACME, GLOBEX])
    deployment.up()
    leave(deployment, [ACME, GLOBEX], "acme")

    after = everywhere(deployment.pg, "app", "app2")
    assert after["app"] == before["app"]
    # The server still holds a tenant: app2 and the protected databases stay hardened.
    assert after["app2"] == HARDENED_TENANT_DATABASE
    assert {db: after[db][0] for db in PROTECTED} == {"postgres": frozenset(), "template1": frozenset()}


def test_a_tenant_coming_back_hardens_the_database_again_and_leaving_again_restores_it(two_databases):
    deployment = two_databases
    before = everywhere(deployment.pg, "app", "app2")
    deployment.write([ACME, GLOBEX])
    deployment.up()
    rest = leave(deployment, [ACME, GLOBEX], "acme")
    initech = {"name": "initech"}
    deployment.write([*rest, initech])
    deployment.up()
    assert public_holds(deployment.pg, "app") == HARDENED_TENANT_DATABASE
    assert records(deployment)["main-app-public-database-record"] == "app/database:" + ",".join(
        p for p in ("CONNECT", "TEMPORARY", "CREATE") if p in before["app"][0])

    leave(deployment, [*rest, initech], "initech")
    assert public_holds(deployment.pg, "app") == before["app"]


def test_the_last_tenant_of_the_server_leaving_restores_the_protected_databases_too(deployment):
    before = everywhere(deployment.pg, "app")
    deployment.write([ACME])
    deployment.up()
    leave(deployment, [ACME], "acme")

    assert everywhere(deployment.pg, "app") == before


def test_pulumi_destroy_gives_public_back_what_hardening_took(deployment):
    before = everywhere(deployment.pg, "app")
    deployment.write([{**ACME, "on_remove": "purge"}])
    deployment.up()
    deployment.destroy()

    assert everywhere(deployment.pg, "app") == before


def test_usage_on_public_is_never_taken_at_any_step(two_databases):
    deployment = two_databases
    seen = []

    def look() -> None:
        seen.extend(public_holds(deployment.pg, db)[1] for db in ("app", "app2"))

    deployment.write([ACME, GLOBEX])
    deployment.up()
    look()
    harden(deployment, False)
    look()
    harden(deployment, True)
    look()
    leave(deployment, [ACME, GLOBEX], "acme")
    look()
    assert all("USAGE" in holds for holds in seen)


def test_what_public_had_already_lost_is_not_given_back(deployment):
    """An operator who revoked PUBLIC's CONNECT before hardening does not get it back."""
    with deployment.pg.admin_connect() as admin:
        admin.execute("REVOKE CONNECT, TEMPORARY ON DATABASE app FROM PUBLIC")
    before = everywhere(deployment.pg, "app")
    deployment.write([ACME])
    deployment.up()
    harden(deployment, False)

    assert everywhere(deployment.pg, "app") == before
    assert public_holds(deployment.pg, "app")[0] == frozenset()


def test_a_grant_to_public_by_another_grantor_stops_the_up_instead_of_passing_for_hardened(deployment):
    """A superuser's REVOKE acts as the owner; PUBLIC's CONNECT granted by someone else survives it."""
    with deployment.pg.admin_connect("app") as admin:
        admin.execute("CREATE ROLE granter")
        admin.execute("GRANT CONNECT ON DATABASE app TO granter WITH GRANT OPTION")
        admin.execute("SET ROLE granter")
        admin.execute("GRANT CONNECT ON DATABASE app TO PUBLIC")
    deployment.write([ACME])
    with pytest.raises(engine_plan.ApplyError, match="a role other than the owner granted it") as failed:
        deployment.up()
    assert failed.value.step.name == "main-app-public-database-record"


def test_a_protected_database_that_is_also_a_tenant_database_keeps_its_record_when_tenants_come_and_go(two_databases):
    """`app2` is protected and listed for tenants: its PUBLIC CONNECT stays revoked whether or not
    it holds a tenant, and `public` is hardened only while it does."""
    deployment = two_databases
    deployment.stack.servers["main"]["protectedDatabases"] = ["postgres", "template1", "app2"]
    before = public_holds(deployment.pg, "app2")
    deployment.write([ACME])
    deployment.up()
    assert public_holds(deployment.pg, "app2") == (frozenset(), before[1])
    deployment.write([ACME, GLOBEX])
    deployment.up()
    assert public_holds(deployment.pg, "app2") == HARDENED_TENANT_DATABASE
    leave(deployment, [ACME, GLOBEX], "globex")
    assert public_holds(deployment.pg, "app2") == (frozenset(), before[1])
    assert records(deployment)["main-app2-public-database-record"] == "app2/database:" + ",".join(
        p for p in ("CONNECT", "TEMPORARY", "CREATE") if p in before[0])


# ----------------------------------------------------------------------------- from the previous program


@pytest.fixture
def upgraded(deployment):
    """A stack hardened by the previous program, then one `up` of this one."""
    before = everywhere(deployment.pg, "app")
    deployment.write([ACME])
    deploy_previous_model(deployment)
    previous = everywhere(deployment.pg, "app")
    deployment.up()
    return deployment, before, previous


def test_the_previous_program_hardened_with_grants_that_keep_their_names(upgraded):
    deployment, _, previous = upgraded
    assert previous["app"] == HARDENED_TENANT_DATABASE
    kept = {s.name: s.op for s in deployment.last_plan.steps if s.type == GRANT and s.new.inputs.get("role") == "public"}
    assert kept == {f"main-{db}-public-database": "same" for db in ("app", *PROTECTED)} | {"main-app-public-schema": "same"}
    assert [s for s in deployment.last_plan.deletes if s.type == GRANT] == []


@pytest.mark.provider_double_only("reads the double's statement log")
def test_the_upgrade_leaves_public_exactly_as_the_previous_program_did_usage_included(upgraded):
    deployment, _, previous = upgraded
    assert everywhere(deployment.pg, "app") == previous
    assert [s.sql for s in deployment.double.statements if "ON SCHEMA" in s.sql and "FROM PUBLIC" in s.sql.upper()] == []


def test_after_the_upgrade_the_grants_are_retained_on_delete(upgraded):
    deployment, _, _ = upgraded
    grants = [r for r in deployment.state.resources if r.type == GRANT and r.inputs.get("role") == "public"]
    assert len(grants) == 4 and all(r.retain_on_delete for r in grants)


def test_turning_hardening_off_after_the_upgrade_keeps_usage_and_gives_back_only_what_it_recorded(upgraded):
    """The records start at the upgrade, when the previous program had already taken PUBLIC's
    privileges: there is nothing recorded to give back (README: grant it by hand), and USAGE
    on `public`, which the previous program's Grant delete would have stripped, stays."""
    deployment, before, previous = upgraded
    harden(deployment, False)

    after = everywhere(deployment.pg, "app")
    assert after == previous
    assert "USAGE" in after["app"][1]
    assert before["app"][0] == {"CONNECT", "TEMPORARY"}  # what a hand GRANT would bring back


# ----------------------------------------------------------------------------- databases hardening leaves alone


def run_verify(deployment: Deployment, tmp_path, monkeypatch) -> dict[str, Any]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({key: out.value for key, out in deployment.last_run.outputs.items()}))
    use_admin_login(monkeypatch, deployment.pg.admin_conninfo())
    out = io.StringIO()
    pg_tenants_main(["verify", "--outputs", str(outputs), "--json", "--no-progress"], stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def test_a_database_that_is_neither_a_tenant_nor_a_protected_database_stays_open_and_verify_says_how_to_close_it(
        deployment, tmp_path, monkeypatch):  # fmt: skip
    create_database(deployment.pg, "reports")
    deployment.write([ACME])
    deployment.up()

    with connect_as(deployment.connections["acme"]) as conn:
        row = conn.execute(sql.SQL("SELECT has_database_privilege('reports', 'CONNECT')")).fetchone()
    assert row == (True,)
    found = [f for f in run_verify(deployment, tmp_path, monkeypatch)["database_findings"] if f["detail"] == "reports"]
    assert [(f["code"], f["subject"]) for f in found] == [("public_connect", "database reports")]
    assert "protectedDatabases" in found[0]["fix"] and "--refresh" in found[0]["fix"]


def test_listing_that_database_as_protected_closes_it(deployment, tmp_path, monkeypatch):
    create_database(deployment.pg, "reports")
    deployment.stack.servers["main"]["protectedDatabases"] = ["postgres", "template1", "reports"]
    deployment.write([ACME])
    deployment.up()

    params = conninfo_to_dict(deployment.connections["acme"]["uri"]) | {"dbname": "reports"}
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(**params).close()
    assert [f for f in run_verify(deployment, tmp_path, monkeypatch)["database_findings"] if f["detail"] == "reports"] == []
