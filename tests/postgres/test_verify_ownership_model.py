"""`pg-tenants verify` against the ownership model of docs/ownership-model.md, on a real PostgreSQL.

The fleets come from tests/postgres/test_verify.py's provisioning (plain SQL, exactly the
model); each test tampers with one thing and names the finding it must produce, or shows
that what the model allows produces none. Expected names and values are written out here.
"""

from __future__ import annotations

import pytest
from psycopg import sql

from pg_tenants.credentials.scram import scram_sha256_verifier
from tests.postgres.test_verify import (  # noqa: F401  (fixtures)
    ProvisionedFleet,
    fleet,
    provision,
    run_verify,
    server,
    tamper,
    write_declarations,
)


def as_tenant(fleet: ProvisionedFleet, name: str, *statements: sql.Composable) -> None:
    """Run statements as the tenant's owner role, as its migrations would."""
    with fleet.admin() as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(fleet.role(name)))
        for statement in statements:
            conn.execute(statement)


def slot(fleet: ProvisionedFleet, name: str, index: int) -> sql.Identifier:
    return sql.Identifier(fleet.tenants[name].slots[index])


def logins(run) -> dict[str, str]:
    return {t["tenant"]: t["login"] for t in run.report["tenants"]}


def large_objects(run) -> dict[str, int]:
    return {t["tenant"]: t["large_objects"] for t in run.report["tenants"]}


# ----------------------------------------------------------------------------- clean fleets


def test_a_fleet_with_login_slots_and_an_offboarded_tenant_verifies_clean(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"}, offboarded={"initech"})

    run = run_verify(fleet, tmp_path)

    assert run.findings() == set()
    assert run.exit_code == 0


def test_a_fleet_with_every_state_verifies_clean_against_its_declarations(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"}, suspended={"acme"}, offboarded={"initech"})
    stack_file = write_declarations(fleet, tmp_path)

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert run.findings() == set()


def test_an_offboarded_tenant_is_not_logged_in(provision, tmp_path):
    fleet = provision(offboarded={"initech"})

    run = run_verify(fleet, tmp_path)

    assert logins(run) == {"acme": "ok", "globex": "ok", "initech": "skipped"}


def test_the_report_carries_each_tenants_state(provision, tmp_path):
    fleet = provision(suspended={"acme"}, offboarded={"initech"})

    run = run_verify(fleet, tmp_path)

    assert {t["tenant"]: t["state"] for t in run.report["tenants"]} == {
        "acme": "suspended", "globex": "active", "initech": "offboarded"}


def test_a_declared_offboarding_is_not_logged_in_while_the_outputs_still_hold_credentials(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path, initech={"state": "offboarded"})

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert logins(run)["initech"] == "skipped"


def test_objects_a_tenant_creates_in_its_own_schema_are_no_finding(fleet, tmp_path):
    schema = fleet.schema("acme")
    as_tenant(fleet, "acme", *(sql.SQL(statement).format(schema=schema) for statement in (
        "CREATE TABLE {schema}.invoices (id serial PRIMARY KEY, total int)",
        "CREATE INDEX ON {schema}.invoices (total)",
        "CREATE TABLE {schema}.events (at date, id int GENERATED ALWAYS AS IDENTITY) PARTITION BY RANGE (at)",
        "CREATE TABLE {schema}.events_2024 PARTITION OF {schema}.events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
        "CREATE INDEX ON {schema}.events (at)",
        "CREATE VIEW {schema}.totals AS SELECT sum(total) FROM {schema}.invoices",
        "CREATE MATERIALIZED VIEW {schema}.snapshot AS SELECT * FROM {schema}.invoices",
        "CREATE TYPE {schema}.mood AS ENUM ('ok', 'not ok')",
        "CREATE TYPE {schema}.pair AS (a int, b int)",
        "CREATE TYPE {schema}.span AS RANGE (subtype = int4)",
        "CREATE DOMAIN {schema}.positive AS int CHECK (VALUE > 0)",
        "CREATE FUNCTION {schema}.double(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1 * 2'",
        "CREATE FUNCTION {schema}.audited() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
        "CREATE STATISTICS {schema}.invoices_stats ON id, total FROM {schema}.invoices",
        "CREATE TEXT SEARCH CONFIGURATION {schema}.search (COPY = pg_catalog.simple)",
    )))

    run = run_verify(fleet, tmp_path)

    assert run.findings() == set()


# ----------------------------------------------------------------------------- default privileges


def test_default_privileges_for_the_admin_in_a_tenant_schema_are_default_privileges_present(fleet, tmp_path):
    admin = fleet.pg.admin_user
    tamper(fleet, sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT, INSERT ON TABLES TO {}").format(
        sql.Identifier(admin), fleet.schema("acme"), fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    role = fleet.tenants["acme"].role
    assert ("acme", "default_privileges_present", f"tables for role {admin} in schema acme to {role}") in run.findings()


def test_global_default_privileges_granted_to_a_tenant_are_default_privileges_present(fleet, tmp_path):
    admin = fleet.pg.admin_user
    tamper(fleet, sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} GRANT EXECUTE ON FUNCTIONS TO {}").format(
        sql.Identifier(admin), fleet.role("globex")))

    run = run_verify(fleet, tmp_path)

    role = fleet.tenants["globex"].role
    assert ("globex", "default_privileges_present", f"functions for role {admin} to {role}") in run.findings()


def test_default_privileges_granted_to_a_login_slot_are_default_privileges_present(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT SELECT ON TABLES TO {}").format(
        fleet.role("globex"), fleet.schema("globex"), slot(fleet, "globex", 0)))

    run = run_verify(fleet, tmp_path)

    owner, slot_a = fleet.tenants["globex"].role, fleet.tenants["globex"].slots[0]
    assert ("globex", "default_privileges_present", f"tables for role {owner} in schema globex to {slot_a}") \
        in run.findings()


def test_a_tenant_revoking_execute_from_public_on_its_future_functions_is_no_finding(fleet, tmp_path):
    as_tenant(fleet, "acme", sql.SQL("ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC"))

    run = run_verify(fleet, tmp_path)

    assert run.findings() == set()


# ----------------------------------------------------------------------------- login slots


def test_a_login_slot_made_inherit_is_login_slot_inherits(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("ALTER ROLE {} INHERIT").format(slot(fleet, "globex", 1)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "login_slot_inherits", f"{fleet.tenants['globex'].slots[1]} INHERIT") in run.findings()


def test_a_slot_membership_granted_with_inherit_is_login_slot_inherits(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    if fleet.pg.major < 16:
        pytest.skip("pg_auth_members.inherit_option exists from PostgreSQL 16")
    tamper(fleet, sql.SQL("GRANT {} TO {} WITH INHERIT TRUE").format(fleet.role("globex"), slot(fleet, "globex", 0)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "login_slot_inherits", f"{fleet.tenants['globex'].slots[0]} inherit_option") in run.findings()


def test_an_owner_role_made_noinherit_is_a_role_attribute_finding(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("ALTER ROLE {} NOINHERIT").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "role_attribute", "NOINHERIT") in run.findings()


def test_a_login_slot_without_connect_is_connect_missing(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("REVOKE CONNECT ON DATABASE {} FROM {}").format(
        sql.Identifier(fleet.database), slot(fleet, "globex", 1)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "connect_missing", f"{fleet.database} for {fleet.tenants['globex'].slots[1]}") in run.findings()


def test_a_login_slot_that_no_longer_switches_to_the_owner_is_role_setting_mismatch(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("ALTER ROLE {} RESET role").format(slot(fleet, "globex", 0)))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("globex", "role_setting_mismatch", f"{fleet.tenants['globex'].slots[0]} role") in run.findings()


def test_a_role_member_of_both_login_slots_is_login_shared_by_slots(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    holder = fleet.make_role("holder", "LOGIN")
    tamper(fleet, sql.SQL("GRANT {}, {} TO {}").format(slot(fleet, "globex", 0), slot(fleet, "globex", 1),
                                                        sql.Identifier(holder)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "login_shared_by_slots", holder) in run.findings()


def test_a_role_reaching_both_login_slots_through_a_group_is_login_shared_by_slots(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    group, holder = fleet.make_role("group"), fleet.make_role("holder", "LOGIN")
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(slot(fleet, "globex", 0), sql.Identifier(group)))
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(slot(fleet, "globex", 1), sql.Identifier(group)))
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(holder)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "login_shared_by_slots", holder) in run.findings()


def test_a_login_slot_member_of_the_other_slot_is_login_shared_by_slots(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(slot(fleet, "globex", 1), slot(fleet, "globex", 0)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "login_shared_by_slots", fleet.tenants["globex"].slots[0]) in run.findings()


def test_a_role_member_of_one_login_slot_only_is_not_login_shared_by_slots(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    holder = fleet.make_role("holder", "LOGIN")
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(slot(fleet, "globex", 0), sql.Identifier(holder)))

    run = run_verify(fleet, tmp_path)

    assert "login_shared_by_slots" not in run.codes_for("globex")


# ----------------------------------------------------------------------------- offboarded tenants


def test_an_offboarded_owner_that_can_log_in_is_a_role_attribute_finding(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    tamper(fleet, sql.SQL("ALTER ROLE {} LOGIN").format(fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "role_attribute", "LOGIN") in run.findings()


def test_an_offboarded_owner_with_a_password_is_offboarded_has_password(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    verifier = scram_sha256_verifier("a-password-that-should-be-gone-by-now", b"0123456789abcdef")
    tamper(fleet, sql.SQL("ALTER ROLE {} PASSWORD {}").format(fleet.role("initech"), sql.Literal(verifier)))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "offboarded_has_password", fleet.tenants["initech"].role) in run.findings()


def test_an_offboarded_owner_with_connect_is_offboarded_has_connect(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    tamper(fleet, sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(fleet.database), fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "offboarded_has_connect", fleet.database) in run.findings()


def test_a_login_slot_left_behind_by_offboarding_is_offboarded_slot_present(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    leftover = f"{fleet.tenants['initech'].role}_b"
    tamper(fleet, sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(leftover)))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "offboarded_slot_present", leftover) in run.findings()


def test_a_dropped_offboarded_owner_is_role_missing(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    with fleet.admin() as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(fleet.role("initech")))
        conn.execute(sql.SQL("DROP ROLE {}").format(fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "role_missing", fleet.tenants["initech"].role) in run.findings()


def test_an_offboarded_owner_that_lost_create_on_its_schema_is_own_schema_privilege_missing(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    tamper(fleet, sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(fleet.schema("initech"), fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "own_schema_privilege_missing", "CREATE") in run.findings()


# ----------------------------------------------------------------------------- object ownership

# (what, statements run as the admin in the fleet's database, detail of the finding on acme)
ADMIN_OWNED_OBJECTS = [
    ("table", ["CREATE TABLE {schema}.ledger (id int)"], "acme.ledger"),
    ("partitioned table", ["CREATE TABLE {schema}.events (at date) PARTITION BY RANGE (at)"], "acme.events"),
    ("view", ["CREATE VIEW {schema}.totals AS SELECT 1 AS one"], "acme.totals"),
    ("materialized view", ["CREATE MATERIALIZED VIEW {schema}.snapshot AS SELECT 1 AS one"], "acme.snapshot"),
    ("sequence", ["CREATE SEQUENCE {schema}.counter"], "acme.counter"),
    ("foreign table", ["CREATE FOREIGN DATA WRAPPER verify_fdw",
                       "CREATE SERVER verify_server FOREIGN DATA WRAPPER verify_fdw",
                       "CREATE FOREIGN TABLE {schema}.remote (id int) SERVER verify_server"], "acme.remote"),
    ("composite type", ["CREATE TYPE {schema}.pair AS (a int, b int)"], "acme.pair"),
    ("enum type", ["CREATE TYPE {schema}.mood AS ENUM ('ok')"], "acme.mood"),
    ("range type", ["CREATE TYPE {schema}.span AS RANGE (subtype = int4)"], "acme.span"),
    ("domain", ["CREATE DOMAIN {schema}.positive AS int CHECK (VALUE > 0)"], "acme.positive"),
    ("function", ["CREATE FUNCTION {schema}.f(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1'"], "acme.f(integer)"),
    ("procedure", ["CREATE PROCEDURE {schema}.p() LANGUAGE sql AS 'SELECT 1'"], "acme.p()"),
    ("aggregate", ["CREATE AGGREGATE {schema}.total(integer) (sfunc = int4pl, stype = integer)"], "acme.total(integer)"),
    ("operator", ["CREATE OPERATOR {schema}.=== (leftarg = integer, rightarg = integer, function = int4eq)"],
     "acme.===(integer, integer)"),
    ("collation", ['CREATE COLLATION {schema}.bytewise FROM "C"'], "collation acme.bytewise"),
    ("conversion", ["CREATE CONVERSION {schema}.latin FOR 'LATIN1' TO 'UTF8' FROM iso8859_1_to_utf8"],
     "conversion acme.latin"),
    ("operator family", ["CREATE OPERATOR FAMILY {schema}.fam USING btree"], "operator family acme.fam USING btree"),
    ("operator class", ["CREATE OPERATOR CLASS {schema}.ops FOR TYPE integer USING hash "
                        "AS OPERATOR 1 =, FUNCTION 1 hashint4(integer)"], "operator class acme.ops USING hash"),
    ("text search configuration", ["CREATE TEXT SEARCH CONFIGURATION {schema}.cfg (COPY = pg_catalog.simple)"],
     "text search configuration acme.cfg"),
    ("text search dictionary", ["CREATE TEXT SEARCH DICTIONARY {schema}.dict (TEMPLATE = pg_catalog.simple)"],
     "text search dictionary acme.dict"),
]


@pytest.mark.parametrize(("statements", "detail"), [(s, d) for _, s, d in ADMIN_OWNED_OBJECTS],
                         ids=[what for what, _, _ in ADMIN_OWNED_OBJECTS])
def test_an_object_the_admin_owns_in_a_tenant_schema_is_foreign_owned_object(fleet, tmp_path, statements, detail):
    for statement in statements:
        tamper(fleet, sql.SQL(statement).format(schema=fleet.schema("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("acme", "foreign_owned_object", detail) in run.findings()


def test_statistics_the_admin_creates_on_a_tenant_table_are_foreign_owned_object(fleet, tmp_path):
    as_tenant(fleet, "acme", sql.SQL("CREATE TABLE {}.pairs (a int, b int)").format(fleet.schema("acme")))
    tamper(fleet, sql.SQL("CREATE STATISTICS {}.pairs_stats ON a, b FROM {}.pairs").format(
        fleet.schema("acme"), fleet.schema("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("acme", "foreign_owned_object", "statistics acme.pairs_stats") in run.findings()


def test_an_admin_owned_table_is_one_finding_not_also_its_row_type_array_type_or_index(fleet, tmp_path):
    tamper(fleet, sql.SQL("CREATE TABLE {}.ledger (id int PRIMARY KEY)").format(fleet.schema("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert {d for s, code, d in run.findings() if code == "foreign_owned_object"} == {"acme.ledger"}


def test_a_table_owned_by_another_superuser_is_foreign_owned_object(fleet, tmp_path):
    superuser = fleet.make_role("dba", "SUPERUSER NOLOGIN")
    tamper(fleet, sql.SQL("CREATE TABLE {}.ledger (id int)").format(fleet.schema("globex")))
    tamper(fleet, sql.SQL("ALTER TABLE {}.ledger OWNER TO {}").format(fleet.schema("globex"), sql.Identifier(superuser)))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("globex", "foreign_owned_object", "globex.ledger") in run.findings()


def test_a_table_owned_by_the_tenants_own_login_slot_is_foreign_owned_object(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("CREATE TABLE {}.ledger (id int)").format(fleet.schema("globex")))
    tamper(fleet, sql.SQL("ALTER TABLE {}.ledger OWNER TO {}").format(fleet.schema("globex"), slot(fleet, "globex", 0)))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("globex", "foreign_owned_object", "globex.ledger") in run.findings()


def test_a_foreign_owned_object_is_fixed_by_alter_owner_to_the_tenant_never_by_reassign(fleet, tmp_path):
    tamper(fleet, sql.SQL("CREATE FUNCTION {}.f(integer) RETURNS integer LANGUAGE sql AS 'SELECT $1'").format(
        fleet.schema("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    finding = next(f for t in run.report["tenants"] for f in t["findings"] if f["code"] == "foreign_owned_object")
    assert f"ALTER FUNCTION acme.f(integer) OWNER TO {fleet.tenants['acme'].role}" in finding["message"]
    assert "never REASSIGN" in finding["fix"]


# ----------------------------------------------------------------------------- SECURITY DEFINER


def test_a_security_definer_function_the_admin_owns_in_a_tenant_schema_is_privileged_security_definer(fleet, tmp_path):
    tamper(fleet, sql.SQL("CREATE FUNCTION {}.elevate() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'").format(
        fleet.schema("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("acme", "privileged_security_definer", "acme.elevate()") in run.findings()


def test_a_security_definer_function_another_tenant_owns_is_privileged_security_definer(fleet, tmp_path):
    tamper(fleet, sql.SQL("CREATE FUNCTION {}.elevate() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'").format(
        fleet.schema("acme")))
    tamper(fleet, sql.SQL("ALTER FUNCTION {}.elevate() OWNER TO {}").format(fleet.schema("acme"), fleet.role("globex")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("acme", "privileged_security_definer", "acme.elevate()") in run.findings()


def test_a_security_definer_function_the_tenant_owns_is_no_finding(fleet, tmp_path):
    as_tenant(fleet, "acme", sql.SQL(
        "CREATE FUNCTION {}.elevate() RETURNS integer LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'").format(
        fleet.schema("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert run.findings() == set()


# ----------------------------------------------------------------------------- role and database settings


def test_an_undeclared_role_setting_is_not_judged_without_the_stack_config(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} SET work_mem = '64MB'").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert run.findings() == set()


def test_an_undeclared_role_setting_is_role_setting_mismatch_with_the_stack_config(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER ROLE {} SET work_mem = '64MB'").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("acme", "role_setting_mismatch", f"{fleet.tenants['acme'].role} work_mem") in run.findings()


def test_a_declared_statement_timeout_that_is_not_set_is_role_setting_mismatch(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path, acme={"statement_timeout": 5000})

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("acme", "role_setting_mismatch", f"{fleet.tenants['acme'].role} statement_timeout") in run.findings()


def test_a_declared_statement_timeout_set_with_a_unit_matches(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path, acme={"statement_timeout": 5000})
    tamper(fleet, sql.SQL("ALTER ROLE {} SET statement_timeout = '5s'").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert run.findings() == set()


def test_an_idle_in_transaction_timeout_other_than_declared_is_role_setting_mismatch(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path, globex={"idle_in_transaction_session_timeout": 60000})
    tamper(fleet, sql.SQL("ALTER ROLE {} SET idle_in_transaction_session_timeout = '2min'").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("globex", "role_setting_mismatch", f"{fleet.tenants['globex'].role} idle_in_transaction_session_timeout") \
        in run.findings()


def test_a_statement_timeout_on_a_tenant_declaring_none_is_role_setting_mismatch(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER ROLE {} SET statement_timeout = 0").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("globex", "role_setting_mismatch", f"{fleet.tenants['globex'].role} statement_timeout") in run.findings()


def test_a_lifted_temp_file_limit_is_role_setting_mismatch(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER ROLE {} SET temp_file_limit = -1").format(fleet.role("initech")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("initech", "role_setting_mismatch", f"{fleet.tenants['initech'].role} temp_file_limit") in run.findings()


def test_a_temp_file_limit_written_in_gigabytes_matches_the_declared_kilobytes(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER ROLE {} SET temp_file_limit = '1GB'").format(fleet.role("initech")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert run.findings() == set()


def test_a_temp_file_limit_on_a_tenant_declaring_none_is_role_setting_mismatch(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path, acme={"temp_file_limit": -1})

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("acme", "role_setting_mismatch", f"{fleet.tenants['acme'].role} temp_file_limit") in run.findings()


def test_a_temp_file_limit_on_a_zero_downtime_owner_role_is_role_setting_mismatch(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER ROLE {} SET temp_file_limit = 1048576").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert ("globex", "role_setting_mismatch", f"{fleet.tenants['globex'].role} temp_file_limit") in run.findings()


def test_a_role_setting_in_another_database_is_role_setting_mismatch(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} IN DATABASE postgres SET search_path TO public").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert ("acme", "role_setting_mismatch", f"{fleet.tenants['acme'].role} search_path in database postgres") \
        in run.findings()


def test_a_database_wide_search_path_of_a_tenant_database_is_role_setting_mismatch(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER DATABASE {} SET search_path TO public").format(sql.Identifier(fleet.database)))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert (f"database {fleet.database}", "role_setting_mismatch", "search_path") in run.findings()


def test_a_database_wide_setting_of_a_tenant_database_is_not_judged_without_the_stack_config(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER DATABASE {} SET work_mem = '64MB'").format(sql.Identifier(fleet.database)))

    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert run.findings() == set()


def test_a_database_wide_setting_of_a_tenant_database_is_role_setting_mismatch_with_the_stack_config(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER DATABASE {} SET work_mem = '64MB'").format(sql.Identifier(fleet.database)))

    run = run_verify(fleet, tmp_path, "--catalog-only", "--stack-config", str(stack_file))

    assert (f"database {fleet.database}", "role_setting_mismatch", "work_mem") in run.findings()


# ----------------------------------------------------------------------------- large objects


def test_large_objects_of_the_owner_role_are_counted_not_reported(fleet, tmp_path):
    as_tenant(fleet, "acme", sql.SQL("SELECT lo_create(0)"), sql.SQL("SELECT lo_create(0)"))

    run = run_verify(fleet, tmp_path)

    assert large_objects(run) == {"acme": 2, "globex": 0, "initech": 0}
    assert run.findings() == set()


def test_large_objects_show_in_the_table_under_their_tenant(fleet, tmp_path):
    as_tenant(fleet, "acme", sql.SQL("SELECT lo_create(0)"))

    run = run_verify(fleet, tmp_path, json_output=False)

    lines = run.stdout.splitlines()
    acme_row = next(i for i, line in enumerate(lines) if line.startswith("acme "))
    assert lines[acme_row + 1].strip() == f"large objects: 1 (owned by {fleet.tenants['acme'].role})"


def test_the_table_shows_no_large_objects_when_there_are_none(fleet, tmp_path):
    run = run_verify(fleet, tmp_path, json_output=False)

    assert "large objects" not in run.stdout


def test_large_objects_of_an_offboarded_tenant_are_counted(provision, tmp_path):
    fleet = provision(offboarded={"initech"})
    as_tenant(fleet, "initech", sql.SQL("SELECT lo_create(0)"))

    run = run_verify(fleet, tmp_path)

    assert large_objects(run)["initech"] == 1


def test_large_objects_owned_by_a_login_slot_are_large_objects_owned(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    with fleet.admin() as conn:
        oid = conn.execute("SELECT lo_create(0)").fetchone()[0]
        conn.execute(sql.SQL("ALTER LARGE OBJECT {} OWNER TO {}").format(sql.Literal(oid), slot(fleet, "globex", 1)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "large_objects_owned", fleet.tenants["globex"].slots[1]) in run.findings()
