"""Adoption refuses a schema holding objects owned by the admin or a superuser (real catalogs).

Under the old model offboarding ran `REASSIGN OWNED BY <tenant> TO <admin>`, and Cloacina's
tenants had tables created by the admin: adopting such a schema would hand the tenant code that
runs as the admin. The check runs before anything is declared, as `load_program_input` runs
it: tenant file -> `load_tenant_list` -> `existing_objects`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from psycopg import sql

from pg_tenants.existing_objects import MAX_LISTED, ExistingObjects, existing_objects
from pg_tenants.local.server import RunningPostgres
from pg_tenants.stack_config import ConfigSource, parse_stack_settings
from pg_tenants.tenants.tenant_list import load_tenant_list
from tests.support.deployment import create_database, reset_server, stack_for
from tests.support.stack import write_tenant_file

ACME = {"name": "acme", "adopt": True}
GLOBEX = {"name": "globex", "adopt": True}


@pytest.fixture
def pg(pg_server):
    """The server with an empty database `app`; reset (databases and roles) after the test."""
    create_database(pg_server, "app")
    yield pg_server
    reset_server(pg_server)


def check(pg: RunningPostgres, tmp_path: Path, tenants: list[dict[str, Any]]) -> ExistingObjects:
    """What the program reads before declaring anything, for these tenant entries."""
    tenants_dir = tmp_path / "tenants"
    write_tenant_file(tenants_dir, "tenants.yaml", tenants)
    stack = stack_for(pg, tenants_dir, "app")
    source = ConfigSource(
        file="stack config", has_secret=stack.secrets.__contains__, secret_value=stack.secrets.get, line_of=lambda path: None
    )
    settings = parse_stack_settings({"servers": stack.servers}, source)
    return existing_objects(load_tenant_list(tenants_dir, settings, source), settings, source.secret_value)


def run_as_admin(pg: RunningPostgres, *statements: str | sql.Composable) -> None:
    with pg.admin_connect("app") as admin:
        for statement in statements:
            admin.execute(statement)


def named(found: ExistingObjects) -> set[str]:
    """The objects the problems name: `function acme.f(integer)`, `view acme.v`, …"""
    return {m.group(1) for p in found.problems if (m := re.match(r"(.+?) in database 'app' of server 'main' is owned by ", p.message))}


def alter_statements(found: ExistingObjects) -> list[str]:
    return [m.group(1) for p in found.problems for m in re.finditer(r"`(ALTER [^`]+)`", p.fix)]


def test_admin_owned_function_view_and_table_with_trigger_are_refused_with_alter_owner_fixes(pg, tmp_path):
    # A retained schema as the old offboarding left it: the tenant's code, now the admin's.
    run_as_admin(
        pg,
        "CREATE SCHEMA acme",
        "CREATE FUNCTION acme.f(integer) RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT $1 + 1'",
        "CREATE TABLE acme.t (id serial PRIMARY KEY, note text)",
        "CREATE FUNCTION acme.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := current_user; RETURN NEW; END$$",
        "CREATE TRIGGER stamp BEFORE INSERT ON acme.t FOR EACH ROW EXECUTE FUNCTION acme.stamp()",
        "CREATE VIEW acme.v AS SELECT id FROM acme.t",
    )
    found = check(pg, tmp_path, [ACME])

    # Its index, serial sequence and row types follow the table: ALTER TABLE hands them over.
    assert named(found) == {"function acme.f(integer)", "function acme.stamp()", "table acme.t", "view acme.v"}
    assert len(found.problems) == 4
    admin = pg.admin_user
    for problem in found.problems:
        assert (problem.file, problem.field) == ("tenants/tenants.yaml", "acme.adopt")
        assert problem.line is not None
        assert f"is owned by {admin!r} (the admin)" in problem.message
        # The role is gone (a retained schema): create it first, NOLOGIN, and adoption imports it.
        assert problem.fix.startswith('first `CREATE ROLE "acme" NOLOGIN` (the adoption then imports it), then ')
        assert "never REASSIGN OWNED" in problem.fix
    assert sorted(alter_statements(found)) == [
        'ALTER FUNCTION acme.f(integer) OWNER TO "acme"',
        'ALTER FUNCTION acme.stamp() OWNER TO "acme"',
        'ALTER TABLE acme.t OWNER TO "acme"',
        'ALTER VIEW acme.v OWNER TO "acme"',
    ]
    assert found.roles == frozenset()

    # The fixes are what they say: applied, the schema is accepted and the role is imported.
    run_as_admin(pg, 'CREATE ROLE "acme" NOLOGIN', *alter_statements(found))
    fixed = check(pg, tmp_path, [ACME])
    assert fixed.problems == []
    assert fixed.roles == frozenset({("main", "acme")})


def test_an_object_owned_by_another_superuser_is_refused(pg, tmp_path):
    run_as_admin(
        pg,
        "CREATE ROLE dba SUPERUSER NOLOGIN",
        "CREATE ROLE acme NOLOGIN",
        "CREATE SCHEMA acme",
        "CREATE FUNCTION acme.whoami() RETURNS text LANGUAGE sql SECURITY DEFINER AS 'SELECT current_user::text'",
        "ALTER FUNCTION acme.whoami() OWNER TO dba",
        "CREATE TABLE acme.orders (id int)",
        "ALTER TABLE acme.orders OWNER TO acme",  # the tenant's own: accepted
    )
    found = check(pg, tmp_path, [ACME])
    assert [p.message for p in found.problems] == [
        "function acme.whoami() in database 'app' of server 'main' is owned by 'dba' (a superuser): "
        "adopted as it is, it would be a way for the tenant's code to run as 'dba'"
    ]
    # The role exists, so no CREATE ROLE.
    assert found.problems[0].fix == (
        "hand it to the tenant's role with `ALTER FUNCTION acme.whoami() OWNER TO \"acme\"`, or drop it; "
        "never REASSIGN OWNED, which moves everything 'dba' owns in the database"
    )
    run_as_admin(pg, *alter_statements(found))
    assert check(pg, tmp_path, [ACME]).problems == []


def test_every_kind_of_object_is_listed_for_every_adopting_tenant_and_each_fix_runs(pg, tmp_path):
    run_as_admin(
        pg,
        "CREATE ROLE acme NOLOGIN",
        "CREATE ROLE globex NOLOGIN",
        "CREATE SCHEMA acme",
        "CREATE SCHEMA globex",
        # acme: relations and types
        "CREATE TABLE acme.t (a int, b int)",
        "CREATE VIEW acme.v AS SELECT a FROM acme.t",
        "CREATE MATERIALIZED VIEW acme.mv AS SELECT a FROM acme.t",
        "CREATE TABLE acme.pt (a int) PARTITION BY RANGE (a)",
        "CREATE TABLE acme.pt_1 PARTITION OF acme.pt FOR VALUES FROM (0) TO (10)",
        "CREATE SEQUENCE acme.seq",
        "CREATE TYPE acme.pair AS (x int, y int)",
        "CREATE TYPE acme.mood AS ENUM ('ok')",
        "CREATE DOMAIN acme.positive AS integer CHECK (VALUE > 0)",
        "CREATE STATISTICS acme.st ON a, b FROM acme.t",
        # globex: routines, operators and the rest
        "CREATE FUNCTION globex.f(a integer, b text) RETURNS integer LANGUAGE sql AS 'SELECT $1'",
        "CREATE PROCEDURE globex.p() LANGUAGE sql AS 'SELECT 1'",
        "CREATE AGGREGATE globex.total(integer) (SFUNC = int4pl, STYPE = integer)",
        "CREATE AGGREGATE globex.tally(*) (SFUNC = int8inc, STYPE = int8, INITCOND = '0')",
        "CREATE OPERATOR globex.=== (LEFTARG = integer, RIGHTARG = integer, FUNCTION = int4eq)",
        'CREATE COLLATION globex.coll FROM "C"',
        "CREATE CONVERSION globex.conv FOR 'UTF8' TO 'LATIN1' FROM utf8_to_iso8859_1",
        "CREATE OPERATOR CLASS globex.int4_ops FOR TYPE integer USING btree AS "
        "OPERATOR 1 <, OPERATOR 2 <=, OPERATOR 3 =, OPERATOR 4 >=, OPERATOR 5 >, FUNCTION 1 btint4cmp(integer, integer)",
        "CREATE TEXT SEARCH CONFIGURATION globex.cfg (COPY = english)",
        "CREATE TEXT SEARCH DICTIONARY globex.dict (TEMPLATE = simple)",
    )
    found = check(pg, tmp_path, [ACME, GLOBEX])

    assert named(found) == {
        "table acme.t", "view acme.v", "materialized view acme.mv", "table acme.pt", "table acme.pt_1",
        "sequence acme.seq", "type acme.pair", "type acme.mood", "domain acme.positive", "statistics acme.st",
        "function globex.f(a integer, b text)", "procedure globex.p()", "aggregate globex.total(integer)",
        "aggregate globex.tally(*)", "operator globex.=== (integer, integer)", "collation globex.coll",
        "conversion globex.conv", "operator class globex.int4_ops USING btree",
        "operator family globex.int4_ops USING btree",  # made by CREATE OPERATOR CLASS, owned apart
        "text search configuration globex.cfg", "text search dictionary globex.dict",
    }  # fmt: skip
    assert {p.field for p in found.problems} == {"acme.adopt", "globex.adopt"}
    for problem in found.problems:
        tenant = problem.field.removesuffix(".adopt")
        assert f'OWNER TO "{tenant}"`' in problem.fix
    run_as_admin(pg, *alter_statements(found))
    fixed = check(pg, tmp_path, [ACME, GLOBEX])
    assert fixed.problems == []
    assert fixed.roles == frozenset({("main", "acme"), ("main", "globex")})


def test_a_schema_whose_objects_all_belong_to_the_tenants_role_is_accepted(pg, tmp_path):
    run_as_admin(
        pg,
        "CREATE ROLE acme NOLOGIN",
        "CREATE SCHEMA acme",
        "GRANT USAGE, CREATE ON SCHEMA acme TO acme",
        "SET ROLE acme",
        "CREATE TABLE acme.t (id serial PRIMARY KEY, note text)",
        "CREATE FUNCTION acme.stamp() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.note := 'x'; RETURN NEW; END$$",
        "CREATE TRIGGER stamp BEFORE INSERT ON acme.t FOR EACH ROW EXECUTE FUNCTION acme.stamp()",
        "CREATE VIEW acme.v AS SELECT id FROM acme.t",
        "CREATE TYPE acme.mood AS ENUM ('ok')",
        "CREATE INDEX ON acme.t (lower(note))",
        "RESET ROLE",
    )
    found = check(pg, tmp_path, [ACME])
    assert found.problems == []
    assert found.roles == frozenset({("main", "acme")})


@pytest.mark.parametrize("role_exists", [False, True], ids=["retained-without-role", "with-role"])
def test_an_empty_schema_is_accepted(pg, tmp_path, role_exists):
    run_as_admin(pg, "CREATE SCHEMA acme", *(["CREATE ROLE acme NOLOGIN"] if role_exists else []))
    found = check(pg, tmp_path, [ACME])
    assert found.problems == []
    assert found.roles == (frozenset({("main", "acme")}) if role_exists else frozenset())


def test_more_objects_than_the_limit_are_counted_not_listed(pg, tmp_path):
    count = MAX_LISTED + 3
    run_as_admin(
        pg,
        "CREATE SCHEMA acme",
        *(
            sql.SQL("CREATE FUNCTION {}() RETURNS integer LANGUAGE sql AS 'SELECT 1'").format(sql.Identifier("acme", f"f{i:02}"))
            for i in range(1, count + 1)
        ),
    )
    found = check(pg, tmp_path, [ACME])
    assert len(found.problems) == MAX_LISTED + 1
    assert named(found) == {f"function acme.f{i:02}()" for i in range(1, MAX_LISTED + 1)}
    (more,) = [p for p in found.problems if "more" in p.message]
    assert more.message == (
        "schema 'acme' in database 'app' of server 'main' holds 3 more objects owned by the admin or a superuser "
        f"than the {MAX_LISTED} listed ({count} in all)"
    )
    assert 'ALTER … OWNER TO "acme"' in more.fix and "never REASSIGN OWNED" in more.fix


def test_an_extension_in_the_schema_is_one_problem_that_moves_or_drops_it(pg, tmp_path):
    with pg.admin_connect("app") as admin:
        if admin.execute("SELECT FROM pg_available_extensions WHERE name = 'citext'").fetchone() is None:
            pytest.skip("the contrib extension citext is not installed on this server")
    run_as_admin(pg, "CREATE ROLE acme NOLOGIN", "CREATE SCHEMA acme", "CREATE EXTENSION citext SCHEMA acme")
    found = check(pg, tmp_path, [ACME])
    (problem,) = found.problems
    members = int(re.match(r"extension citext has (\d+) objects in schema 'acme' in database 'app' of server 'main', owned by ", problem.message).group(1))
    assert members > 10  # its type, functions, operators, operator classes…: one problem, not one each
    assert problem.fix.startswith("move the extension out with `ALTER EXTENSION citext SET SCHEMA <another schema>`")
    run_as_admin(pg, "ALTER EXTENSION citext SET SCHEMA public")
    assert check(pg, tmp_path, [ACME]).problems == []


def test_a_tenant_that_does_not_adopt_is_not_listed(pg, tmp_path):
    # Its own deployed schema (role present, no adopt): the ownership listing is for adoption only.
    run_as_admin(pg, "CREATE ROLE acme NOLOGIN", "CREATE SCHEMA acme", "CREATE TABLE acme.t (id int)")
    found = check(pg, tmp_path, [{"name": "acme"}])
    assert found.problems == []
    # The listing does not hide the existing problems: adopt of a schema that does not exist.
    missing = check(pg, tmp_path, [GLOBEX])
    assert [p.message for p in missing.problems] == [
        "schema 'globex' in database 'app' of server 'main' does not exist, so there is nothing to adopt"
    ]


def test_the_admin_connection_failing_is_reported_not_raised(pg, tmp_path):
    # One bad admin password: the listing's query is inside the same guarded connection.
    run_as_admin(pg, "CREATE SCHEMA acme")
    tenants_dir = tmp_path / "tenants"
    write_tenant_file(tenants_dir, "tenants.yaml", [ACME])
    stack = stack_for(pg, tenants_dir, "app")
    secrets = {"mainAdminPassword": "not-the-password"}
    source = ConfigSource(file="stack config", has_secret=secrets.__contains__, secret_value=secrets.get, line_of=lambda path: None)
    settings = parse_stack_settings({"servers": stack.servers}, source)
    found = existing_objects(load_tenant_list(tenants_dir, settings, source), settings, source.secret_value)
    assert [p.field for p in found.problems] == ["pg-tenants:servers.main"]
