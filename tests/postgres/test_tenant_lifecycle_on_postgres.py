"""Each edit of the tenant list, applied to a real server as `pulumi up` would, keeps data safe.

Before and after every edit the tests log in as the tenant or the admin and look.
"""

from __future__ import annotations

import psycopg
import pulumi
import pytest
from psycopg import sql

from tests.support.deployment import ADMIN_PROFILES, connect_as, login_refusal, stack_admin
from tests.support.engine_plan import ApplyError, EngineError

# Every test runs with the server's superuser as the stack's admin, then with a managed
# service's admin (CREATEROLE, not SUPERUSER): tests/support/deployment.py.
ADMIN_PROFILES = ADMIN_PROFILES

ACME = {"name": "acme"}
GLOBEX = {"name": "globex"}
INVALID_PASSWORD = "28P01"
LOGIN_NOT_PERMITTED = "28000"


def write_rows(formats, count=3):
    with connect_as(formats) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS orders (id int PRIMARY KEY, item text)")
        conn.execute("INSERT INTO orders SELECT g, 'item ' || g FROM generate_series(1, %s) g", (count,))


def admin_count(pg, schema, table="orders"):
    with pg.admin_connect("app") as admin:
        return admin.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(sql.Identifier(schema), sql.Identifier(table))).fetchone()[0]


def role_exists(pg, role):
    with pg.admin_connect() as admin:
        return admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (role,)).fetchone()[0] == 1


def schema_exists(pg, schema):
    with pg.admin_connect("app") as admin:
        return admin.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()[0] == 1


def stored_password(pg, role):
    with pg.admin_connect() as admin:
        return admin.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role,)).fetchone()[0]


def test_suspended_tenant_cannot_log_in_and_keeps_its_data(deployment):
    deployment.write([ACME])
    deployment.up()
    credentials = deployment.connections["acme"]
    write_rows(credentials)
    deployment.write([{**ACME, "state": "suspended"}])
    deployment.up()
    assert login_refusal(deployment.pg, credentials) == LOGIN_NOT_PERMITTED
    assert admin_count(deployment.pg, "acme") == 3


def test_reactivated_tenant_logs_in_with_the_same_credentials(deployment):
    deployment.write([ACME])
    deployment.up()
    credentials = deployment.connections["acme"]
    deployment.write([{**ACME, "state": "suspended"}])
    deployment.up()
    deployment.write([ACME])
    deployment.up()
    assert deployment.connections["acme"] == credentials
    assert login_refusal(deployment.pg, credentials) is None


def role_row(pg, role):
    with pg.admin_connect() as admin:
        return admin.execute(
            "SELECT rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = %s", (role,)
        ).fetchone()


def table_owner(pg, schema, table="orders"):
    with pg.admin_connect("app") as admin:
        return admin.execute("SELECT tableowner FROM pg_tables WHERE schemaname = %s AND tablename = %s", (schema, table)).fetchone()[0]


def offboard(deployment, *others, **fields):
    deployment.write([{**ACME, "state": "offboarded", **fields}, *others])
    deployment.up()


def test_offboarded_tenant_cannot_log_in_and_keeps_every_row(deployment):
    deployment.write([ACME, GLOBEX])
    deployment.up()
    credentials = deployment.connections["acme"]
    write_rows(credentials, count=5)
    offboard(deployment, GLOBEX)
    assert login_refusal(deployment.pg, credentials) is not None
    assert admin_count(deployment.pg, "acme") == 5
    assert "acme" not in deployment.connections


def test_offboarded_tenant_role_stays_without_login_or_password(deployment):
    deployment.write([ACME])
    deployment.up()
    offboard(deployment)
    assert role_row(deployment.pg, "acme") == (False, True)


def test_offboarding_never_hands_the_tenants_tables_to_the_admin(deployment):
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"])
    offboard(deployment)
    deployment.write([])
    deployment.up()
    assert table_owner(deployment.pg, "acme") == "acme"


def test_offboarded_role_holds_nothing_outside_its_schema(deployment):
    deployment.write([ACME])
    deployment.up()
    offboard(deployment)
    with deployment.pg.admin_connect("app") as admin:
        connect, usage, create = admin.execute(
            "SELECT has_database_privilege('acme', 'app', 'CONNECT'), has_schema_privilege('acme', 'acme', 'USAGE'),"
            " has_schema_privilege('acme', 'acme', 'CREATE')"
        ).fetchone()
    assert (connect, usage, create) == (False, True, True)


def test_removing_an_offboarded_entry_changes_nothing_in_postgresql(deployment):
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"])
    offboard(deployment)
    deployment.write([])
    deployment.up()
    assert role_row(deployment.pg, "acme") == (False, True)
    assert (schema_exists(deployment.pg, "acme"), admin_count(deployment.pg, "acme")) == (True, 3)


def test_removing_an_active_entry_is_refused_by_the_preview_and_changes_nothing(deployment):
    deployment.write([ACME])
    deployment.up()
    credentials = deployment.connections["acme"]
    write_rows(credentials)
    deployment.write([])
    with pytest.raises(EngineError, match="protected"):
        deployment.up()
    assert login_refusal(deployment.pg, credentials) is None
    with connect_as(credentials) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_reactivating_an_offboarded_tenant_gives_it_new_credentials_and_its_rows(deployment):
    deployment.write([ACME])
    deployment.up()
    old = deployment.connections["acme"]
    write_rows(old)
    offboard(deployment)
    deployment.write([ACME])
    deployment.up()
    new = deployment.connections["acme"]
    assert new["env"]["PGPASSWORD"] != old["env"]["PGPASSWORD"]
    assert login_refusal(deployment.pg, old) is not None
    with connect_as(new) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_offboarding_does_not_touch_other_tenants(deployment):
    deployment.write([ACME, GLOBEX])
    deployment.up()
    globex = deployment.connections["globex"]
    write_rows(globex)
    before = stored_password(deployment.pg, "globex")
    offboard(deployment, GLOBEX)
    deployment.write([GLOBEX])
    deployment.up()
    assert stored_password(deployment.pg, "globex") == before
    assert login_refusal(deployment.pg, globex) is None
    with connect_as(globex) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)


def test_purge_leaves_no_role_schema_or_large_object(deployment):
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"])
    with connect_as(deployment.connections["acme"]) as conn:
        conn.execute("SELECT lo_from_bytea(0, 'tenant data')")
    deployment.write([{**ACME, "on_remove": "purge"}])
    deployment.up()
    assert schema_exists(deployment.pg, "acme")  # marking purge alone destroys nothing
    deployment.write([])
    deployment.up()
    assert not role_exists(deployment.pg, "acme")
    assert not schema_exists(deployment.pg, "acme")
    with deployment.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone() == (0,)


def test_purge_of_a_zero_downtime_tenant_drops_its_slots_and_owner(deployment):
    tenant = {**ACME, "zero_downtime_rotation": True, "on_remove": "purge"}
    deployment.write([tenant])
    deployment.up()
    write_rows(deployment.connections["acme"])
    deployment.write([])
    deployment.up()
    assert [role_exists(deployment.pg, r) for r in ("acme", "acme_a", "acme_b")] == [False, False, False]


def test_rotation_refuses_the_old_password_and_accepts_the_new(deployment):
    deployment.write([ACME, GLOBEX])
    deployment.up()
    old = deployment.connections["acme"]
    globex_before = stored_password(deployment.pg, "globex")
    deployment.write([{**ACME, "rotation": 1}, GLOBEX])
    deployment.up()
    new = deployment.connections["acme"]
    assert new["env"]["PGPASSWORD"] != old["env"]["PGPASSWORD"]
    assert login_refusal(deployment.pg, old) == INVALID_PASSWORD
    assert login_refusal(deployment.pg, new) is None
    assert stored_password(deployment.pg, "globex") == globex_before


def test_rotation_updates_the_role_in_place(deployment):
    deployment.write([ACME])
    deployment.up()
    deployment.write([{**ACME, "rotation": 1}])
    deployment.up()
    ops = {(s.op, s.name) for s in deployment.last_plan.steps if s.op != "same"}
    assert ops == {("replace", "acme-password"), ("update", "acme-role")}


def test_zero_downtime_rotation_keeps_both_credentials_through_the_overlap(deployment):
    tenant = {**ACME, "zero_downtime_rotation": True}
    deployment.write([tenant])
    deployment.up()
    first = deployment.connections["acme"]
    deployment.write([{**tenant, "rotation": 1}])
    deployment.up()
    second = deployment.connections["acme"]
    assert second["previous"] == {k: v for k, v in first.items() if k != "previous"}
    assert login_refusal(deployment.pg, second) is None
    assert login_refusal(deployment.pg, second["previous"]) is None


def test_zero_downtime_previous_credentials_stop_after_the_next_rotation(deployment):
    tenant = {**ACME, "zero_downtime_rotation": True}
    deployment.write([tenant])
    deployment.up()
    first = deployment.connections["acme"]
    for rotation in (1, 2):
        deployment.write([{**tenant, "rotation": rotation}])
        deployment.up()
    assert login_refusal(deployment.pg, first) == INVALID_PASSWORD
    assert login_refusal(deployment.pg, deployment.connections["acme"]) is None
    assert login_refusal(deployment.pg, deployment.connections["acme"]["previous"]) is None


def test_objects_made_through_either_login_role_belong_to_the_owner(deployment):
    deployment.write([{**ACME, "zero_downtime_rotation": True}])
    deployment.up()
    formats = deployment.connections["acme"]
    for credentials, table in ((formats, "made_by_a"), (formats["previous"], "made_by_b")):
        with connect_as(credentials) as conn:
            conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(table)))
    with deployment.pg.admin_connect("app") as admin:
        owners = admin.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'acme'").fetchall()
    assert owners == [("acme",)]


def test_a_login_slot_cannot_create_objects_of_its_own_after_reset_role(deployment):
    deployment.write([{**ACME, "zero_downtime_rotation": True}])
    deployment.up()
    with connect_as(deployment.connections["acme"]) as conn:
        conn.execute("SET ROLE NONE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE acme.own_table (id int)")


def make_cloacina_tenant(pg, schema, user, password):
    """What Cloacina's DatabaseAdmin::create_tenant runs (../shared/ref/anchors.md), as `pg`'s
    admin: the stack's admin (`stack_admin`), which is what ran Cloacina on that server."""
    with pg.admin_connect("app") as admin, admin.transaction():
        admin.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        admin.execute(sql.SQL("CREATE USER {} WITH PASSWORD {}").format(sql.Identifier(user), sql.Literal(password)))
        admin.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(user)))
        admin.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(user)))
        admin.execute(sql.SQL("GRANT ALL ON ALL SEQUENCES IN SCHEMA {} TO {}").format(sql.Identifier(schema), sql.Identifier(user)))
        admin.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT ALL ON TABLES TO {}").format(sql.Identifier(schema), sql.Identifier(user)))
        admin.execute(sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA {} GRANT ALL ON SEQUENCES TO {}").format(sql.Identifier(schema), sql.Identifier(user)))
        admin.execute(sql.SQL("CREATE TABLE {}.orders (id int PRIMARY KEY, item text)").format(sql.Identifier(schema)))
        admin.execute(sql.SQL("INSERT INTO {}.orders SELECT g, 'legacy ' || g FROM generate_series(1, 4) g").format(sql.Identifier(schema)))


def hand_over(admin, alter_owner, role):
    """`ALTER … OWNER TO role` as the refusal's fix says: an admin that cannot SET ROLE to the
    role (a managed admin on 15 and older) grants it to itself first and revokes it after."""
    can_set = admin.execute("SELECT pg_has_role(current_user, %s, %s)",
                            (role, "SET" if admin.info.server_version >= 160000 else "MEMBER")).fetchone()[0]
    if not can_set:
        admin.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(role)))
    admin.execute(alter_owner)
    if not can_set:
        admin.execute(sql.SQL("REVOKE {} FROM CURRENT_USER").format(sql.Identifier(role)))


def test_adopting_a_cloacina_tenant_is_refused_while_the_admin_owns_its_tables(deployment):
    make_cloacina_tenant(stack_admin(deployment), "acme", "acme", "cloacina-old-password-123")
    deployment.write([{**ACME, "adopt": True}])
    with pytest.raises(pulumi.RunError, match=r"table acme\.orders .* is owned by .*ALTER TABLE acme\.orders OWNER TO"):
        deployment.up()
    assert not deployment.state.resources


def test_adopting_a_cloacina_tenant_keeps_its_rows_and_the_new_credentials_log_in(deployment):
    make_cloacina_tenant(stack_admin(deployment), "acme", "acme", "cloacina-old-password-123")
    with stack_admin(deployment).admin_connect("app") as admin:
        hand_over(admin, "ALTER TABLE acme.orders OWNER TO acme", "acme")  # the fix the refusal gives
    deployment.write([{**ACME, "adopt": True}])
    deployment.up()
    assert {s.name for s in deployment.last_plan.of("import")} == {"acme-role", "acme-schema"}
    deployment.write([ACME])
    deployment.up()
    assert ("update", "acme-role") in {(s.op, s.name) for s in deployment.last_plan.steps}
    credentials = deployment.connections["acme"]
    with connect_as(credentials) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (4,)
    old = {**credentials, "uri": credentials["uri"].split(":", 2)[0] + "://acme:cloacina-old-password-123@" + credentials["uri"].split("@", 1)[1]}
    assert login_refusal(deployment.pg, old) == INVALID_PASSWORD
    assert admin_count(deployment.pg, "acme") == 4


def test_an_existing_schema_is_never_taken_over_without_adopt(deployment):
    make_cloacina_tenant(stack_admin(deployment), "acme", "someone_else", "another-old-password-1")
    deployment.write([ACME])
    with pytest.raises(pulumi.RunError) as refused:
        deployment.up()
    assert "schema 'acme' in database 'app' of server 'main' already exists and is not this tenant's" in str(refused.value)
    assert not role_exists(deployment.pg, "acme")
    with deployment.pg.admin_connect("app") as admin:
        acl = admin.execute("SELECT nspacl::text FROM pg_namespace WHERE nspname = 'acme'").fetchone()[0]
    assert "acme=" not in acl
    assert admin_count(deployment.pg, "acme") == 4


def test_adopt_of_a_schema_that_does_not_exist_is_refused(deployment):
    deployment.write([{**ACME, "adopt": True}])
    with pytest.raises(pulumi.RunError) as refused:
        deployment.up()
    assert "schema 'acme' in database 'app' of server 'main' does not exist, so there is nothing to adopt" in str(refused.value)


def test_a_removed_offboarded_tenant_comes_back_through_adopt_with_its_role_and_rows(deployment):
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"])
    offboard(deployment)
    deployment.write([])
    deployment.up()
    deployment.write([{**ACME, "adopt": True}])
    deployment.up()
    assert {s.name for s in deployment.last_plan.of("import")} == {"acme-role", "acme-schema"}
    deployment.write([ACME])
    deployment.up()
    with connect_as(deployment.connections["acme"]) as conn:
        assert conn.execute("SELECT count(*) FROM orders").fetchone() == (3,)
    assert table_owner(deployment.pg, "acme") == "acme"


def test_renaming_with_previous_names_changes_no_postgresql_object(deployment):
    deployment.write([{**ACME, "schema": "acme", "username": "acme"}])
    deployment.up()
    credentials = deployment.connections["acme"]
    write_rows(credentials)
    deployment.write([{"name": "acme_corp", "previous_names": ["acme"], "schema": "acme", "username": "acme"}])
    deployment.up()
    assert {s.op for s in deployment.last_plan.steps} == {"same"}
    assert deployment.last_plan.deletes == []
    assert deployment.connections["acme_corp"] == credentials
    assert login_refusal(deployment.pg, credentials) is None


def test_changing_a_username_cannot_be_applied_by_the_provider(deployment):
    """Why validation refuses username and schema changes: the grants are replaced after the
    role was renamed, and revoking from the old name fails."""
    deployment.write([ACME])
    deployment.up()
    deployment.write([{"name": "acme", "username": "acme_corp"}])
    with pytest.raises(pulumi.RunError):  # the catalog check already refuses it: schema without its role
        deployment.up()
    deployment.stack.settings["checkExistingSchemas"] = False
    with pytest.raises(ApplyError) as failed:
        deployment.up()
    assert 'role "acme" does not exist' in str(failed.value.cause)


def test_protected_schema_makes_removal_fail_and_keeps_everything(deployment):
    deployment.stack.settings["protectSchemas"] = True
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"])
    offboard(deployment)
    deployment.write([])
    with pytest.raises((ApplyError, EngineError)) as failed:
        deployment.up()
    assert "protected" in str(failed.value)
    assert schema_exists(deployment.pg, "acme")
    assert admin_count(deployment.pg, "acme") == 3


def test_a_large_fleet_applies_in_parallel_without_catalog_conflicts(deployment):
    deployment.write([{"name": f"tenant_{i:02d}"} for i in range(40)])
    deployment.up(parallelism=32)
    with deployment.pg.admin_connect("app") as admin:
        assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'tenant\\_%'").fetchone() == (40,)
        granted = admin.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'tenant\\_%' AND has_database_privilege(oid, 'app', 'CONNECT')").fetchone()
    assert granted == (40,)


def test_a_forgotten_retained_tenant_is_purged_by_adopting_it_for_purge(deployment):
    deployment.write([ACME])
    deployment.up()
    write_rows(deployment.connections["acme"])
    offboard(deployment)
    deployment.write([])
    deployment.up()
    deployment.write([{**ACME, "adopt": True, "state": "offboarded", "on_remove": "purge"}])
    deployment.up()
    deployment.write([])
    deployment.up()
    assert (role_exists(deployment.pg, "acme"), schema_exists(deployment.pg, "acme")) == (False, False)


def test_valid_until_is_declared_as_the_server_reads_it_back_in_its_time_zone(deployment):
    with deployment.pg.admin_connect() as admin:
        admin.execute("ALTER DATABASE app SET TimeZone = 'Europe/Berlin'")
    deployment.write([{**ACME, "valid_until": "2027-12-31T23:59:59+00:00"}])
    run = deployment.up()
    assert run.by_name("acme-role").inputs["validUntil"] == "2028-01-01 00:59:59+01"
    with deployment.pg.admin_connect() as admin:
        assert admin.execute("SELECT rolvaliduntil = '2027-12-31T23:59:59+00:00' FROM pg_roles WHERE rolname = 'acme'").fetchone() == (True,)
