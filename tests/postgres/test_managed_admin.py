"""A managed service's admin (RDS, Cloud SQL, Azure): what the program refuses during the preview
and how each fix works, what it does differently, and what cannot be done there.

The stack's admin here is the "managed" profile of tests/support/deployment.py: LOGIN
CREATEROLE CREATEDB, NOT SUPERUSER, owner of the tenant databases it created, member of the
group that owns the admin database, `createrole_self_grant = 'set, inherit'` on 16+ (Azure's
value); `rds_like` is the same admin with PostgreSQL's default '' (no membership in the roles it
creates: RDS, and every CREATEROLE admin on 15 and older). `deployment.pg` is the server's
superuser: what the service's operator could do, and what only a superuser may read.
"""

from __future__ import annotations

import psycopg
import pulumi
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from tests.support.deployment import (
    MANAGED,
    MANAGED_ADMIN,
    Deployment,
    connect_as,
    create_database,
    create_tenant_database,
    login_refusal,
    prepare_admin,
    reset_server,
    stack_admin,
    stack_for,
)
from tests.support.engine_plan import ApplyError
from tests.postgres.test_verify_on_deployed_fleets import run_verify

ADMIN_PROFILES = (MANAGED,)

ACME = {"name": "acme"}
INSUFFICIENT_PRIVILEGE = "42501"


def refusal(deployment: Deployment) -> str:
    """The preview's refusal (the program's RunError); nothing was applied."""
    with pytest.raises(pulumi.RunError) as refused:
        deployment.up()
    assert deployment.state.resources == []
    return str(refused.value)


def role_exists(pg, role: str) -> bool:
    with pg.admin_connect() as su:
        return su.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone() is not None


def as_superuser(deployment: Deployment, *statements: str | sql.Composable, database: str = "app") -> None:
    with deployment.pg.admin_connect(database) as su:
        for statement in statements:
            su.execute(statement)


@pytest.fixture
def rds_like(pg_server, admin_profile, new_deployment, tmp_path):
    """The managed admin with createrole_self_grant '' (PostgreSQL's default): on 16+ it holds only
    the ADMIN option on the roles it creates, on 15 and older no membership at all."""
    try:
        admin = prepare_admin(pg_server, MANAGED, self_grant="")
        create_tenant_database(pg_server, admin, "app")
        yield new_deployment(pg_server, stack_for(admin, tmp_path / "tenants", "app", profile=MANAGED))
    finally:
        reset_server(pg_server)


# ----------------------------------------------------------------------------- the provider's `superuser`


def test_the_default_superuser_true_is_refused_during_the_preview_with_the_fix(deployment):
    del deployment.stack.servers["main"]["superuser"]  # the default: true
    deployment.write([ACME])
    message = refusal(deployment)
    assert "pg-tenants:servers.main.superuser: server 'main': the stack says its admin 'tenants_admin' is a superuser" in message
    assert "(fix: run `pulumi config set --path 'pg-tenants:servers.main.superuser' false`)" in message
    assert not role_exists(deployment.pg, "acme")


def test_why_without_the_check_the_provider_fails_after_the_role_was_committed(deployment):
    del deployment.stack.servers["main"]["superuser"]
    deployment.stack.settings["checkExistingSchemas"] = False  # the catalogs are not read
    deployment.write([ACME])
    with pytest.raises(ApplyError, match="could not read role password from Postgres as connected user tenants_admin is not a SUPERUSER"):
        deployment.up()
    assert role_exists(deployment.pg, "acme")  # created, then the provider's read failed


def test_superuser_false_deploys_and_the_tenant_logs_in(deployment):
    assert deployment.stack.servers["main"]["superuser"] is False
    deployment.write([ACME, {"name": "hooli", "zero_downtime_rotation": True}])
    deployment.up()
    for name in ("acme", "hooli"):
        assert login_refusal(deployment.pg, deployment.connections[name]) is None


# ----------------------------------------------------------------------------- hardening that cannot take effect


def test_a_tenant_database_the_admin_does_not_own_is_refused_and_the_fixes_work(deployment):
    create_database(deployment.pg, "other")  # by the superuser, which owns it
    deployment.stack.servers["main"]["databases"] = ["app", "other"]
    deployment.write([{**ACME, "database": "other"}])
    message = refusal(deployment)
    assert "the admin 'tenants_admin' cannot change who may connect to database 'other' of server 'main'" in message
    assert "`ALTER DATABASE \"other\" OWNER TO \"tenants_admin\"`" in message
    as_superuser(deployment, "ALTER DATABASE other OWNER TO tenants_admin", database="other")
    if deployment.pg.major < 15:  # initdb's `public` (PUBLIC may CREATE) is still the bootstrap superuser's
        message = refusal(deployment)
        assert "cannot take PUBLIC's CREATE on schema public of database 'other'" in message
        assert "`ALTER SCHEMA public OWNER TO \"tenants_admin\"`" in message
        as_superuser(deployment, "ALTER SCHEMA public OWNER TO tenants_admin", database="other")
    deployment.up()
    with connect_as(deployment.connections["acme"]) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("other",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE public.planted (id int)")


def test_why_a_non_owners_grant_and_revoke_change_nothing(deployment):
    create_database(deployment.pg, "other")
    with stack_admin(deployment).admin_connect("other") as admin:
        admin.execute("CREATE ROLE probe")
        notices: list[str] = []
        admin.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
        admin.execute("REVOKE CONNECT ON DATABASE other FROM PUBLIC")
        admin.execute("GRANT CONNECT ON DATABASE other TO probe")
        acl = admin.execute("SELECT datacl::text FROM pg_database WHERE datname = 'other'").fetchone()[0]
    assert notices == ['no privileges could be revoked for "other"', 'no privileges were granted for "other"']
    owner = deployment.pg.admin_user
    assert acl == f"{{=Tc/{owner},{owner}=CTc/{owner}}}"  # the default ACL: PUBLIC keeps CONNECT, probe got nothing


def test_template1_cannot_be_protected_by_a_managed_admin(deployment):
    deployment.stack.servers["main"]["protectedDatabases"] = ["postgres", "template1"]
    deployment.write([ACME])
    message = refusal(deployment)
    assert "the admin 'tenants_admin' cannot harden protected database 'template1' of server 'main'" in message
    assert "leave it out of pg-tenants:servers.main.protectedDatabases" in message
    assert "`pulumi config set pg-tenants:hardenDatabases false`" in message
    assert "protected database 'postgres'" not in message  # its owner is the admin's group
    deployment.stack.servers["main"]["protectedDatabases"] = ["postgres"]  # the fix this profile uses
    deployment.up()
    credentials = deployment.connections["acme"]
    assert login_refusal(deployment.pg, credentials, dbname="postgres") == INSUFFICIENT_PRIVILEGE
    assert login_refusal(deployment.pg, credentials, dbname="template1") is None  # what cannot be done here


def test_verify_says_only_template1s_owner_can_close_it_and_passes_once_the_owner_did(deployment, tmp_path, monkeypatch):
    deployment.write([ACME])
    deployment.up()
    report = run_verify(deployment, tmp_path, monkeypatch)  # as the managed admin, as in a pipeline
    assert [(f["subject"], f["code"]) for f in report["database_findings"]] == [("database template1", "public_connect_owner_only")]
    finding = report["database_findings"][0]
    assert f"only its owner {deployment.pg.admin_user} can revoke that (the admin tenants_admin" in finding["message"]
    assert "REVOKE CONNECT, TEMPORARY ON DATABASE ... FROM PUBLIC" in finding["fix"] and "TEMPLATE template0" in finding["fix"]
    assert all(not t["findings"] for t in report["tenants"])
    as_superuser(deployment, "REVOKE CONNECT ON DATABASE template1 FROM PUBLIC")  # the fix, run by the owner
    report = run_verify(deployment, tmp_path, monkeypatch)
    assert (report["database_findings"], report["verdict"]) == ([], "pass")
    assert login_refusal(deployment.pg, deployment.connections["acme"], dbname="template1") == INSUFFICIENT_PRIVILEGE


def test_a_public_schema_the_admin_cannot_harden_is_refused_and_the_fix_works(deployment):
    # Someone else owns `public` and lets PUBLIC create there (the default on 14 and older).
    as_superuser(deployment, "ALTER SCHEMA public OWNER TO CURRENT_USER", "GRANT CREATE ON SCHEMA public TO PUBLIC")
    deployment.write([ACME])
    message = refusal(deployment)
    owner = deployment.pg.admin_user
    assert (f"the admin 'tenants_admin' cannot take PUBLIC's CREATE on schema public of database 'app' of server 'main': "
            f"it is not a superuser and does not have the privileges of the schema's owner '{owner}'") in message
    as_superuser(deployment, "ALTER SCHEMA public OWNER TO tenants_admin")
    deployment.up()
    with connect_as(deployment.connections["acme"]) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("CREATE TABLE public.planted (id int)")


def test_with_hardening_off_those_databases_are_not_checked(deployment):
    deployment.stack.servers["main"]["protectedDatabases"] = ["postgres", "template1"]
    deployment.stack.settings["hardenDatabases"] = False
    deployment.write([ACME])
    deployment.up()
    assert login_refusal(deployment.pg, deployment.connections["acme"]) is None


# ----------------------------------------------------------------------------- temp_file_limit


def test_a_per_role_temp_file_limit_is_refused_for_a_managed_admin(deployment):
    del deployment.stack.settings["defaultTempFileLimit"]  # the default: 1 GiB per role
    deployment.write([ACME, {"name": "globex", "temp_file_limit": 2048}])
    message = refusal(deployment)
    assert "pg-tenants:defaultTempFileLimit: 1 tenant on server 'main' would get the default per-role temp_file_limit (1048576 kB)" in message
    assert "run `pulumi config set pg-tenants:defaultTempFileLimit -- -1`" in message
    assert "globex.temp_file_limit: tenant 'globex' sets temp_file_limit 2048 kB" in message
    assert not role_exists(deployment.pg, "acme")


def test_granting_set_on_temp_file_limit_lets_a_managed_admin_set_it(deployment):
    if deployment.pg.major < 15:
        pytest.skip("GRANT SET ON PARAMETER exists from PostgreSQL 15")
    as_superuser(deployment, "GRANT SET ON PARAMETER temp_file_limit TO tenants_admin")
    deployment.write([{**ACME, "temp_file_limit": 2048}])
    deployment.up()
    with connect_as(deployment.connections["acme"]) as conn:
        assert conn.execute("SHOW temp_file_limit").fetchone() == ("2MB",)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET temp_file_limit = '4MB'")


# ----------------------------------------------------------------------------- purge and slots without membership


def test_why_drop_owned_needs_the_tenants_privileges(rds_like):
    rds_like.write([ACME])
    rds_like.up()
    with stack_admin(rds_like).admin_connect("app") as admin:
        assert admin.execute("SELECT pg_has_role('acme', 'USAGE')").fetchone() == (False,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied to drop objects"):
            admin.execute("DROP OWNED BY acme")


def test_offboarding_slots_and_purging_work_without_membership_and_leave_none(rds_like):
    tenants = [{**ACME, "on_remove": "purge"}, {"name": "hooli", "zero_downtime_rotation": True, "on_remove": "purge"}]
    rds_like.write(tenants)
    rds_like.up()
    for name in ("acme", "hooli"):
        with connect_as(rds_like.connections[name]) as conn:
            conn.execute("CREATE TABLE orders (id int)")
            conn.execute("SELECT lo_from_bytea(0, 'tenant data')")
    with connect_as(rds_like.connections["hooli"]) as conn:  # a slot's own large object (LoginHandover)
        conn.execute("SET ROLE NONE")
        conn.execute("SELECT lo_from_bytea(0, 'the slot''s own')")
    rds_like.write([tenants[0], {**tenants[1], "state": "offboarded"}])  # the slots go
    rds_like.up()
    assert not role_exists(rds_like.pg, "hooli_a") and not role_exists(rds_like.pg, "hooli_b")
    rds_like.write([])  # the purge
    rds_like.up()
    assert [role_exists(rds_like.pg, r) for r in ("acme", "hooli")] == [False, False]
    with rds_like.pg.admin_connect("app") as su:
        assert su.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchone() == (0,)
        assert su.execute("SELECT count(*) FROM pg_namespace WHERE nspname IN ('acme', 'hooli')").fetchone() == (0,)


def test_purge_takes_the_tenants_privileges_only_for_its_transaction(rds_like):
    rds_like.write([{**ACME, "on_remove": "purge"}])
    rds_like.up()
    # Something acme owns in another database: the purge's DROP OWNED BY (in `app`) succeeds,
    # the role's DROP ROLE then fails, and acme stays.
    create_database(rds_like.pg, "other")
    as_superuser(rds_like, "CREATE TABLE elsewhere (id int)", "ALTER TABLE elsewhere OWNER TO acme", database="other")
    before = membership_options(rds_like, "acme")
    rds_like.write([])
    with pytest.raises(ApplyError, match='role "acme" cannot be dropped because some objects depend on it'):
        rds_like.up()
    assert role_exists(rds_like.pg, "acme")
    assert membership_options(rds_like, "acme") == before
    # 16+: the ADMIN option CREATE ROLE gives its creator, nothing more; 15 and older: nothing.
    assert before == ([(True, False, False)] if rds_like.pg.major >= 16 else [])


def membership_options(deployment: Deployment, role: str) -> list[tuple[bool, ...]]:
    """(admin, inherit, set) of each grant of `role` to the managed admin (15 and older: admin, True, True)."""
    v16 = deployment.pg.major >= 16
    columns = "m.admin_option, m.inherit_option, m.set_option" if v16 else "m.admin_option, true, true"
    with deployment.pg.admin_connect() as su:
        return su.execute(
            f"SELECT {columns} FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles a ON a.oid = m.member"
            " WHERE a.rolname = %s AND g.rolname = %s", (MANAGED_ADMIN, role)).fetchall()


# ----------------------------------------------------------------------------- roles and schemas it did not create


def test_a_role_another_admin_created_is_refused_on_16_and_the_fix_works(deployment):
    if deployment.pg.major < 16:
        pytest.skip("before PostgreSQL 16 CREATEROLE may alter every role that is not a superuser")
    as_superuser(deployment, "CREATE ROLE acme LOGIN PASSWORD 'someone-elses-password-1'")
    with stack_admin(deployment).admin_connect("app") as admin:
        admin.execute("CREATE SCHEMA acme")  # the admin's, as Cloacina left it
        admin.execute("GRANT USAGE, CREATE ON SCHEMA acme TO acme")
    deployment.write([{**ACME, "adopt": True}])
    message = refusal(deployment)
    assert "role 'acme' of tenant 'acme' exists, and the admin 'tenants_admin' of server 'main' holds no ADMIN option on it" in message
    assert "`GRANT \"acme\" TO \"tenants_admin\" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE`" in message
    as_superuser(deployment, "GRANT acme TO tenants_admin WITH ADMIN OPTION, INHERIT FALSE, SET FALSE")
    deployment.up()
    deployment.write([ACME])
    deployment.up()
    assert login_refusal(deployment.pg, deployment.connections["acme"]) is None


def test_adopting_a_schema_owned_by_another_role_is_refused_and_the_fix_works(deployment):
    as_superuser(deployment, "CREATE SCHEMA acme")  # the superuser's
    with stack_admin(deployment).admin_connect("app") as admin:
        admin.execute("CREATE ROLE acme NOLOGIN")
    deployment.write([{**ACME, "adopt": True}])
    message = refusal(deployment)
    assert f"schema 'acme' in database 'app' of server 'main' is owned by '{deployment.pg.admin_user}'" in message
    assert "`ALTER SCHEMA \"acme\" OWNER TO \"tenants_admin\"`" in message
    as_superuser(deployment, "ALTER SCHEMA acme OWNER TO tenants_admin")
    deployment.up()
    deployment.write([ACME])
    deployment.up()
    assert login_refusal(deployment.pg, deployment.connections["acme"]) is None


def test_the_adoption_refusal_tells_a_managed_admin_how_to_hand_objects_over(deployment):
    with stack_admin(deployment).admin_connect("app") as admin:
        admin.execute("CREATE ROLE acme NOLOGIN")
        admin.execute("CREATE SCHEMA acme")
        admin.execute("CREATE TABLE acme.orders (id int)")
    deployment.write([{**ACME, "adopt": True}])
    message = refusal(deployment)
    assert ("`ALTER TABLE acme.orders OWNER TO \"acme\"` (the admin, not a superuser, must be able to SET ROLE \"acme\": "
            "where it cannot, `GRANT \"acme\" TO \"tenants_admin\"` first and REVOKE it after") in message


# ----------------------------------------------------------------------------- the provider's advisory locks


def test_zero_downtime_tenants_apply_in_parallel_without_deadlocks(deployment):
    """On 16+ the admin is a member of every role it created, so pulumi-postgresql's pgLockRole
    (the role, then each member) takes the admin's lock in every grant and role update; a slot's
    grant and its owner's schema grant at once deadlocked before the slots waited for it."""
    tenants = [{"name": f"zd_{i:02d}", "zero_downtime_rotation": True} for i in range(12)]
    deployment.write(tenants)
    deployment.up(parallelism=32)
    deployment.write([{**t, "rotation": 1} for t in tenants])
    deployment.up(parallelism=32)
    deployment.write([{**t, "rotation": 1, "state": "offboarded"} for t in tenants])
    deployment.up(parallelism=32)
    with deployment.pg.admin_connect() as su:
        assert su.execute("SELECT count(*) FROM pg_roles WHERE rolname LIKE 'zd\\_%'").fetchone() == (12,)


# ----------------------------------------------------------------------------- what cannot be done there


def test_on_14_and_older_tenants_can_plant_objects_in_template1_and_template0_carries_none(deployment):
    """template1 stays open under a managed admin: on 14 and older PUBLIC may also create in its
    `public`, and CREATE DATABASE copies template1. A database made from template0 copies nothing."""
    deployment.write([ACME])
    deployment.up()
    planted = "CREATE FUNCTION public.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'"
    with psycopg.connect(**(conninfo_to_dict(deployment.connections["acme"]["uri"]) | {"dbname": "template1"}), autocommit=True) as conn:
        if deployment.pg.major < 15:
            conn.execute(planted)
        else:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(planted)
    try:
        with stack_admin(deployment).admin_connect() as admin:
            admin.execute("CREATE DATABASE from_template1")
            admin.execute("CREATE DATABASE from_template0 TEMPLATE template0")
        counts = []
        for database in ("from_template1", "from_template0"):
            with deployment.pg.admin_connect(database) as su:
                counts.append(su.execute("SELECT count(*) FROM pg_proc WHERE proname = 'planted'").fetchone()[0])
        assert counts == ([1, 0] if deployment.pg.major < 15 else [0, 0])
    finally:  # template1 outlives the test's reset
        as_superuser(deployment, "DROP FUNCTION IF EXISTS public.planted()", database="template1")


def test_verify_as_a_managed_admin_cannot_see_passwords(deployment, tmp_path, monkeypatch):
    """pg_authid is readable by superusers only: verify as this admin reports neither a
    plaintext/MD5 password nor one an offboarded role got back (the logins still prove SCRAM)."""
    deployment.write([ACME, {"name": "gone", "state": "offboarded"}])
    deployment.up()
    as_superuser(deployment, "ALTER ROLE gone PASSWORD 'readable-again-123456'",
                 "SET password_encryption = 'md5'", "ALTER ROLE acme PASSWORD 'md5-now-1234567890'")
    report = run_verify(deployment, tmp_path, monkeypatch)
    codes = {f["code"] for t in report["tenants"] for f in t["findings"]}
    assert not codes & {"offboarded_has_password", "password_not_scram"}
    assert "login_failed" in codes  # acme's exported password no longer logs in
