"""`pg-tenants verify` against a real PostgreSQL: a correct fleet passes, each tampering is named.

The fleet is provisioned here with plain SQL exactly as docs/ownership-model.md defines it
(client-computed SCRAM verifiers, admin-owned schemas, USAGE+CREATE for the owner role,
CONNECT and temp_file_limit for each role that logs in, zero-downtime login slots NOINHERIT
with `SET role` to the owner, no default privileges, hardened databases), then tampered with
as an operator or an attacker might. Roles are cluster-wide, so every test gets its own
database and role-name suffix.
"""

from __future__ import annotations

import io
import json
import secrets
import string
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from pg_tenants.cli import main
from pg_tenants.credentials.formats import Credentials
from pg_tenants.local.server import RunningPostgres
from pg_tenants.local.throwaway import pg_versions_under_test, running_postgres
from pg_tenants.credentials.scram import scram_sha256_verifier
from tests.support.verify_env import use_admin_login

PROTECTED_DATABASES = ("postgres", "template1")
TENANT_NAMES = ("acme", "globex", "initech")
PASSWORD_ALPHABET = string.ascii_letters + string.digits + string.punctuation
# What docs/ownership-model.md gives every tenant role by default (the stack's
# defaultConnectionLimit and defaultTempFileLimit), written out as the model states them.
CONNECTION_LIMIT = 20
TEMP_FILE_LIMIT_KB = 1048576


# ----------------------------------------------------------------------------- fixture helper


@dataclass(frozen=True)
class ProvisionedTenant:
    name: str
    role: str  # the owner role: holds the schema privileges, owns the tenant's objects
    schema: str
    password: str | None  # of the first login role; None once offboarded
    login_roles: tuple[str, ...]  # (role,), (role_a, role_b) with zero-downtime rotation, () once offboarded
    previous_password: str | None = None  # of the second login role
    state: str = "active"

    @property
    def slots(self) -> tuple[str, ...]:
        return tuple(r for r in self.login_roles if r != self.role)


@dataclass(frozen=True)
class ProvisionedFleet:
    pg: RunningPostgres
    database: str
    tenants: dict[str, ProvisionedTenant]
    suffix: str = ""
    extra_roles: list[str] = field(default_factory=list)  # made by a test; dropped with the fleet

    def credentials(self, user: str, password: str) -> dict:
        return Credentials(host=self.pg.host, port=self.pg.port, database=self.database, user=user,
                           password=password, sslmode="disable").all_formats()

    def outputs(self) -> dict:
        """What `pulumi stack output --json --show-secrets` would print for this fleet."""
        connections = {}
        for t in self.tenants.values():
            if t.password is None:  # offboarded: no credentials
                continue
            connections[t.name] = self.credentials(t.login_roles[0], t.password)
            if t.previous_password is not None:
                connections[t.name]["previous"] = self.credentials(t.login_roles[1], t.previous_password)
        return {
            "tenants": {t.name: {"schema": t.schema, "username": t.role, "server": "main", "database": self.database,
                                 "state": t.state}
                        for t in self.tenants.values()},
            "connections": connections,
        }

    def admin(self) -> psycopg.Connection:
        return self.pg.admin_connect(self.database)

    def role(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.tenants[name].role)

    def schema(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.tenants[name].schema)

    def make_role(self, label: str, options: str = "NOLOGIN") -> str:
        """A role outside the fleet (dropped with it), e.g. `CREATE ROLE helper_<suffix> NOLOGIN`."""
        name = f"{label}_{self.suffix}"
        with self.pg.admin_connect() as conn:
            conn.execute(sql.SQL("CREATE ROLE {} " + options).format(sql.Identifier(name)))
        self.extra_roles.append(name)
        return name


def harden_protected_databases(pg: RunningPostgres) -> None:
    with pg.admin_connect() as conn:
        for database in PROTECTED_DATABASES:
            conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database)))


def _password() -> str:
    return "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(32))


def _create_role(conn: psycopg.Connection, role: str, schema: str, password: str | None, *, login: bool,
                 inherit: bool, expires: bool = True) -> None:
    secret = sql.SQL("")
    if password is not None:
        # A client-computed SCRAM verifier, as the program sends it: the plaintext never reaches the server.
        verifier = scram_sha256_verifier(password, secrets.token_bytes(16))
        secret = sql.SQL(" PASSWORD {}").format(sql.Literal(verifier))
    conn.execute(sql.SQL(
        "CREATE ROLE {} WITH {}{} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS {} CONNECTION LIMIT {}{}").format(
        sql.Identifier(role), sql.SQL("LOGIN" if login else "NOLOGIN"), secret,
        sql.SQL("INHERIT" if inherit else "NOINHERIT"), sql.Literal(CONNECTION_LIMIT),
        # Without VALID UNTIL, rolvaliduntil stays NULL: no ALTER ROLE can set it back to that.
        sql.SQL(" VALID UNTIL 'infinity'" if expires else "")))
    conn.execute(sql.SQL("ALTER ROLE {} SET search_path TO {}").format(sql.Identifier(role), sql.Identifier(schema)))


def provision_fleet(pg: RunningPostgres, database: str, names: Sequence[str], suffix: str, *,
                    zero_downtime: Collection[str] = (), suspended: Collection[str] = (),
                    offboarded: Collection[str] = (), without_valid_until: Collection[str] = ()) -> ProvisionedFleet:
    """Create a database and its tenants as the program would leave them after `pulumi up`.

    The owner role `<name>_<suffix>` is INHERIT and holds USAGE, CREATE on the schema.
    `zero_downtime` tenants get a NOLOGIN owner role without a password, and two login slots
    (`<owner>_a`, `<owner>_b`): NOINHERIT members of it that switch to it at login (`SET
    role`). Each role that logs in holds CONNECT and has temp_file_limit set. `suspended`
    tenants' login roles are NOLOGIN; `offboarded` tenants keep only a NOLOGIN, passwordless
    owner role with its schema privileges, no CONNECT and no slots. `without_valid_until` tenants'
    roles are created without VALID UNTIL (as by hand, or adopted), the others VALID UNTIL 'infinity'.
    """
    admin = sql.Identifier(pg.admin_user)
    db = sql.Identifier(database)
    with pg.admin_connect() as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(db))
        conn.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(db))
    tenants = {}
    with pg.admin_connect(database, autocommit=False) as conn:
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
        for name in names:
            owner = f"{name}_{suffix}"
            split = name in zero_downtime
            state = "offboarded" if name in offboarded else "suspended" if name in suspended else "active"
            if state == "offboarded":
                tenant = ProvisionedTenant(name, owner, name, None, (), None, state)
            elif split:
                tenant = ProvisionedTenant(name, owner, name, _password(), (f"{owner}_a", f"{owner}_b"), _password(), state)
            else:
                tenant = ProvisionedTenant(name, owner, name, _password(), (owner,), None, state)
            tenants[name] = tenant
            role, schema = sql.Identifier(tenant.role), sql.Identifier(tenant.schema)
            owner_logs_in = tenant.login_roles == (owner,)
            _create_role(conn, owner, tenant.schema, tenant.password if owner_logs_in else None,
                         login=owner_logs_in and state == "active", inherit=True, expires=name not in without_valid_until)
            for slot, password in zip(tenant.slots, (tenant.password, tenant.previous_password)):
                _create_role(conn, slot, tenant.schema, password, login=state == "active", inherit=False)
                conn.execute(sql.SQL("GRANT {} TO {}").format(role, sql.Identifier(slot)))
                conn.execute(sql.SQL("ALTER ROLE {} SET role TO {}").format(sql.Identifier(slot), sql.Literal(owner)))
            conn.execute(sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(schema, admin))
            conn.execute(sql.SQL("GRANT CREATE, USAGE ON SCHEMA {} TO {}").format(schema, role))
            for login_role in tenant.login_roles:
                conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(db, sql.Identifier(login_role)))
                conn.execute(sql.SQL("ALTER ROLE {} SET temp_file_limit = {}").format(
                    sql.Identifier(login_role), sql.Literal(TEMP_FILE_LIMIT_KB)))
        conn.commit()
    return ProvisionedFleet(pg, database, tenants, suffix)


def drop_fleet(fleet: ProvisionedFleet) -> None:
    with fleet.pg.admin_connect() as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(fleet.database)))
        existing = {row[0] for row in conn.execute("SELECT rolname FROM pg_roles")}
        names = {*fleet.extra_roles}
        for tenant in fleet.tenants.values():
            # _a and _b too: a test may have left a slot behind an offboarded tenant.
            names |= {*tenant.login_roles, tenant.role, f"{tenant.role}_a", f"{tenant.role}_b"}
        for name in sorted(names & existing):
            role = sql.Identifier(name)
            for database in PROTECTED_DATABASES:  # a test may have granted CONNECT there
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(database), role))
            conn.execute(sql.SQL("DROP ROLE {}").format(role))


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def server(request) -> Iterator[RunningPostgres]:
    with running_postgres(request.param) as pg:
        harden_protected_databases(pg)
        yield pg


@pytest.fixture
def provision(server, monkeypatch) -> Iterator:
    """Provision fleets for one test (`provision(zero_downtime=..., suspended=..., offboarded=...)`); dropped afterwards."""
    made: list[ProvisionedFleet] = []
    # The admin login comes from the environment, as in a pipeline.
    use_admin_login(monkeypatch, server.admin_conninfo())

    def _provision(**options) -> ProvisionedFleet:
        suffix = secrets.token_hex(4)
        made.append(provision_fleet(server, f"app_{suffix}", TENANT_NAMES, suffix, **options))
        return made[-1]

    try:
        yield _provision
    finally:
        for provisioned in made:
            drop_fleet(provisioned)


@pytest.fixture
def fleet(provision) -> ProvisionedFleet:
    return provision()


def write_declarations(fleet: ProvisionedFleet, project: Path, **per_tenant: dict) -> Path:
    """Tenant files and a stack config declaring `fleet` as provisioned (defaults of the stack
    for connection_limit and temp_file_limit), for verify's "as declared" checks; `per_tenant`
    adds or overrides fields of one tenant's entry."""
    entries = []
    for t in fleet.tenants.values():
        entry: dict = {"name": t.name, "username": t.role, "schema": t.schema}
        if t.state != "active":
            entry["state"] = t.state
        if t.slots:
            entry["zero_downtime_rotation"] = True
        entries.append({**entry, **per_tenant.get(t.name, {})})
    (project / "tenants").mkdir(parents=True, exist_ok=True)
    (project / "tenants" / "tenants.yaml").write_text(yaml.safe_dump({"tenants": entries}, sort_keys=False))
    server = {"host": fleet.pg.host, "port": fleet.pg.port, "adminUsername": fleet.pg.admin_user,
              "adminPasswordSecret": "adminPassword", "sslmode": "disable", "databases": [fleet.database]}
    config = {"pg-tenants:servers": {"main": server}, "pg-tenants:adminPassword": {"secure": "v1:ciphertext"}}
    stack_file = project / "Pulumi.test.yaml"
    stack_file.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return stack_file


@dataclass(frozen=True)
class Run:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def report(self) -> dict:
        return json.loads(self.stdout)

    def findings(self) -> set[tuple[str, str, str]]:
        report = self.report
        found = [f for t in report["tenants"] for f in t["findings"]] + report["database_findings"]
        return {(f["subject"], f["code"], f["detail"]) for f in found}

    def codes_for(self, subject: str) -> set[str]:
        return {code for s, code, _ in self.findings() if s == subject}


def run_verify(fleet: ProvisionedFleet, tmp_path: Path, *extra: str, json_output: bool = True) -> Run:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(fleet.outputs()))
    out, err = io.StringIO(), io.StringIO()
    args = ["verify", "--outputs", str(outputs), *(["--format", "json"] if json_output else []), *extra]
    code = main(args, stdout=out, stderr=err)
    return Run(code, out.getvalue(), err.getvalue())


def tamper(fleet: ProvisionedFleet, statement: sql.Composable, *, database: str | None = None) -> None:
    with fleet.pg.admin_connect(database or fleet.database) as conn:
        conn.execute(statement)


# ----------------------------------------------------------------------------- a correct fleet


def test_a_correctly_provisioned_fleet_verifies_clean(fleet, tmp_path):
    run = run_verify(fleet, tmp_path)

    assert run.findings() == set()
    assert run.exit_code == 0
    assert run.report["verdict"] == "pass"


def test_every_tenant_logs_in_during_a_clean_run(fleet, tmp_path):
    run = run_verify(fleet, tmp_path)

    assert {t["tenant"]: t["login"] for t in run.report["tenants"]} == {name: "ok" for name in TENANT_NAMES}


def test_the_table_has_one_row_per_tenant_and_a_pass_verdict(fleet, tmp_path):
    run = run_verify(fleet, tmp_path, json_output=False)

    rows = [line for line in run.stdout.splitlines() if line.split(" ")[0] in TENANT_NAMES]
    assert len(rows) == 3 and all(row.rstrip().endswith("PASS") for row in rows)
    assert run.stdout.rstrip().endswith("PASS: every tenant is isolated as declared")


def test_the_hands_on_probe_leaves_nothing_behind(fleet, tmp_path):
    run_verify(fleet, tmp_path)

    with fleet.admin() as conn:
        leftovers = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'pg_tenants_verify_%'").fetchone()[0]
        databases = conn.execute("SELECT count(*) FROM pg_database WHERE datname LIKE 'pg_tenants_verify_%'").fetchone()[0]
    assert (leftovers, databases) == (0, 0)


def test_catalog_only_skips_the_logins(fleet, tmp_path):
    run = run_verify(fleet, tmp_path, "--catalog-only")

    assert {t["login"] for t in run.report["tenants"]} == {"skipped"}
    assert run.exit_code == 0


def test_format_json_and_its_alias_json_print_the_same_report(fleet, tmp_path):
    runs = [run_verify(fleet, tmp_path, "--json", json_output=False), run_verify(fleet, tmp_path)]

    assert [run.report["verdict"] for run in runs] == ["pass", "pass"]
    assert runs[0].report["summary"] == runs[1].report["summary"] == {"tenants": 3, "failing_tenants": 0, "findings": 0}


def test_outputs_can_come_from_stdin(fleet):
    out = io.StringIO()
    code = main(["verify", "--outputs", "-", "--json", "--no-progress"],
                stdin=io.StringIO(json.dumps(fleet.outputs())), stdout=out, stderr=io.StringIO())

    assert code == 0
    assert json.loads(out.getvalue())["verdict"] == "pass"


# ----------------------------------------------------------------------------- tamperings


def test_a_cross_tenant_schema_grant_is_cross_tenant_access(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(fleet.schema("globex"), fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "cross_tenant_access", "USAGE on schema globex") in run.findings()
    assert run.exit_code == 1


def test_a_cross_tenant_grant_is_also_felt_by_the_tenant_at_login(fleet, tmp_path):
    # acme's hands-on neighbour is globex (the next tenant by name).
    tamper(fleet, sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(fleet.schema("globex"), fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "could_use_other_schema", "USAGE on schema globex") in run.findings()


def test_a_cross_tenant_table_grant_is_cross_tenant_access(fleet, tmp_path):
    tamper(fleet, sql.SQL("CREATE TABLE {}.invoices (id int)").format(fleet.schema("acme")))
    tamper(fleet, sql.SQL("GRANT SELECT ON {}.invoices TO {}").format(fleet.schema("acme"), fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "cross_tenant_access", "SELECT on acme.invoices") in run.findings()


def test_create_on_schema_public_for_public_is_reported_for_the_database(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT CREATE ON SCHEMA public TO PUBLIC"))

    run = run_verify(fleet, tmp_path)

    assert (f"database {fleet.database}", "public_create_on_public_schema", "public") in run.findings()


def test_a_probe_that_fails_for_another_reason_does_not_mask_create_in_public(fleet, tmp_path):
    # A read-only session refuses every CREATE before the privilege is checked (SQLSTATE 25006).
    tamper(fleet, sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(fleet.role("acme")))
    tamper(fleet, sql.SQL("GRANT CREATE ON SCHEMA public TO PUBLIC"))

    run = run_verify(fleet, tmp_path)

    acme = {(code, detail) for subject, code, detail in run.findings() if subject == "acme"}
    assert ("could_create_in_public", "public") in acme
    assert ("probe_inconclusive", "CREATE in schema public") not in acme


def test_an_inconclusive_probe_names_the_cause_and_no_bare_rerun(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    inconclusive = [f for t in run.report["tenants"] for f in t["findings"] if f["code"] == "probe_inconclusive"]
    assert {f["detail"] for f in inconclusive} >= {"CREATE in schema public", "CREATE SCHEMA"}
    assert all("read-only transaction" in f["message"] for f in inconclusive)
    assert "default_transaction_read_only" in inconclusive[0]["fix"]
    assert not inconclusive[0]["fix"].lower().startswith("rerun")


def test_create_on_schema_public_is_felt_by_every_tenant_at_login(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT CREATE ON SCHEMA public TO PUBLIC"))

    run = run_verify(fleet, tmp_path)

    assert all("could_create_in_public" in run.codes_for(name) for name in TENANT_NAMES)


def test_connect_restored_to_public_is_public_connect(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT CONNECT ON DATABASE {} TO PUBLIC").format(sql.Identifier(fleet.database)))

    run = run_verify(fleet, tmp_path)

    assert (f"database {fleet.database}", "public_connect", fleet.database) in run.findings()


def test_temporary_restored_to_public_is_public_temp(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT TEMPORARY ON DATABASE {} TO PUBLIC").format(sql.Identifier(fleet.database)))

    run = run_verify(fleet, tmp_path)

    assert (f"database {fleet.database}", "public_temp", fleet.database) in run.findings()


def test_connect_on_a_protected_database_is_can_connect_other_database(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT CONNECT ON DATABASE postgres TO {}").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "can_connect_other_database", "postgres") in run.findings()


def test_a_role_made_createdb_is_a_role_attribute_finding(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} CREATEDB").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "role_attribute", "CREATEDB") in run.findings()


def test_a_role_made_createdb_could_create_a_database_at_login(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} CREATEDB").format(fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "could_create_database", "CREATE DATABASE") in run.findings()


def test_a_superuser_tenant_is_a_role_attribute_finding(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} SUPERUSER").format(fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "role_attribute", "SUPERUSER") in run.findings()


def test_a_changed_search_path_is_search_path_mismatch(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} SET search_path TO {}, public").format(fleet.role("globex"), fleet.schema("globex")))

    run = run_verify(fleet, tmp_path)

    assert "search_path_mismatch" in run.codes_for("globex")


def test_a_per_database_search_path_override_is_search_path_mismatch(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER ROLE {} IN DATABASE {} SET search_path TO public").format(
        fleet.role("globex"), sql.Identifier(fleet.database)))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "search_path_mismatch", "public") in run.findings()


def test_an_md5_password_is_password_not_scram(fleet, tmp_path):
    with fleet.admin() as conn:
        conn.execute("SET password_encryption = 'md5'")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            fleet.role("acme"), sql.Literal(fleet.tenants["acme"].password)))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "password_not_scram", "md5") in run.findings()


def test_an_extra_role_membership_is_unexpected_membership(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(fleet.role("globex"), fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "unexpected_membership", fleet.tenants["globex"].role) in run.findings()


def test_an_extra_role_membership_shows_on_the_tenant_that_can_be_impersonated(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(fleet.role("globex"), fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "role_has_members", fleet.tenants["acme"].role) in run.findings()


def test_an_extra_role_membership_gives_cross_tenant_access_through_the_role(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT {} TO {}").format(fleet.role("globex"), fleet.role("acme")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "cross_tenant_access", "USAGE on schema globex") in run.findings()


def test_a_table_owned_by_another_tenant_is_foreign_owned_object(fleet, tmp_path):
    tamper(fleet, sql.SQL("CREATE TABLE {}.ledger (id int)").format(fleet.schema("acme")))
    tamper(fleet, sql.SQL("ALTER TABLE {}.ledger OWNER TO {}").format(fleet.schema("acme"), fleet.role("globex")))

    run = run_verify(fleet, tmp_path)

    assert ("acme", "foreign_owned_object", "acme.ledger") in run.findings()


def test_a_schema_owned_by_its_tenant_is_schema_owner(fleet, tmp_path):
    tamper(fleet, sql.SQL("ALTER SCHEMA {} OWNER TO {}").format(fleet.schema("initech"), fleet.role("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "schema_owner", fleet.tenants["initech"].role) in run.findings()


def test_public_usage_on_a_tenant_schema_is_public_grant(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT USAGE ON SCHEMA {} TO PUBLIC").format(fleet.schema("initech")))

    run = run_verify(fleet, tmp_path)

    assert ("initech", "public_grant", "USAGE on schema initech") in run.findings()


def test_a_grant_on_schema_public_to_a_tenant_is_extra_grant(fleet, tmp_path):
    tamper(fleet, sql.SQL("GRANT CREATE ON SCHEMA public TO {}").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "extra_grant", "CREATE on schema public") in run.findings()


def test_a_dropped_role_is_role_missing_and_cannot_log_in(fleet, tmp_path):
    with fleet.admin() as conn:
        role = fleet.role("initech")
        conn.execute(sql.SQL("DROP OWNED BY {}").format(role))
        conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(sql.Identifier(fleet.database), role))
        conn.execute(sql.SQL("DROP ROLE {}").format(role))

    run = run_verify(fleet, tmp_path)

    assert {"role_missing", "login_failed"} <= run.codes_for("initech")


# ----------------------------------------------------------------------------- lifecycle: rotation, suspension, declarations


def test_a_zero_downtime_tenant_with_owner_and_login_roles_verifies_clean(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})

    run = run_verify(fleet, tmp_path)

    assert run.findings() == set()
    assert {t["tenant"]: t["login"] for t in run.report["tenants"]}["globex"] == "ok"


def test_the_previous_login_role_of_a_zero_downtime_tenant_is_checked_too(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("ALTER ROLE {} CREATEROLE").format(sql.Identifier(fleet.tenants["globex"].login_roles[1])))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "role_attribute", "CREATEROLE") in run.findings()


def test_a_zero_downtime_owner_role_that_can_log_in_is_reported(provision, tmp_path):
    fleet = provision(zero_downtime={"globex"})
    tamper(fleet, sql.SQL("ALTER ROLE {} LOGIN").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path)

    assert ("globex", "role_attribute", "LOGIN") in run.findings()


def test_a_suspended_tenant_is_refused_at_login_and_verifies_clean(provision, tmp_path):
    fleet = provision(suspended={"initech"})
    stack_file = write_declarations(fleet, tmp_path, initech={"state": "suspended"})

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert run.findings() == set()
    assert {t["tenant"]: t["login"] for t in run.report["tenants"]}["initech"] == "refused"


def test_a_suspended_tenant_that_can_log_in_again_is_reported(provision, tmp_path):
    fleet = provision(suspended={"initech"})
    stack_file = write_declarations(fleet, tmp_path, initech={"state": "suspended"})
    tamper(fleet, sql.SQL("ALTER ROLE {} LOGIN").format(fleet.role("initech")))

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert {("initech", "role_attribute", "LOGIN"), ("initech", "suspended_can_log_in", fleet.tenants["initech"].role)} \
        <= run.findings()


def test_a_connection_limit_other_than_declared_is_a_role_attribute_finding(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path, acme={"connection_limit": 5})

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert ("acme", "role_attribute", "CONNECTION LIMIT") in run.findings()


def test_a_declared_expiry_fails_when_the_role_has_no_valid_until_at_all(provision, tmp_path):
    fleet = provision(without_valid_until={"globex"})
    stack_file = write_declarations(fleet, tmp_path, globex={"valid_until": "2031-01-01T00:00:00Z"})

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert ("globex", "role_attribute", "VALID UNTIL") in run.findings()
    assert run.exit_code == 1


def test_no_valid_until_at_all_matches_a_declared_infinity(provision, tmp_path):
    fleet = provision(without_valid_until={"globex"})
    stack_file = write_declarations(fleet, tmp_path)

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert run.findings() == set()


def test_a_password_expiry_other_than_declared_is_a_role_attribute_finding(fleet, tmp_path):
    stack_file = write_declarations(fleet, tmp_path)
    tamper(fleet, sql.SQL("ALTER ROLE {} VALID UNTIL '2001-01-01'").format(fleet.role("globex")))

    run = run_verify(fleet, tmp_path, "--stack-config", str(stack_file))

    assert ("globex", "role_attribute", "VALID UNTIL") in run.findings()


# ----------------------------------------------------------------------------- secrets and errors


def test_no_password_or_connection_string_is_ever_printed(fleet, tmp_path):
    # Break things so that every message path runs: failed login, md5, extra grants.
    with fleet.admin() as conn:
        conn.execute("SET password_encryption = 'md5'")
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(fleet.role("acme"), sql.Literal("not-the-real-one")))
        conn.execute(sql.SQL("GRANT CREATE ON SCHEMA public TO PUBLIC"))

    runs = [run_verify(fleet, tmp_path), run_verify(fleet, tmp_path, json_output=False)]

    printed = "".join(r.stdout + r.stderr for r in runs)
    passwords = [t.password for t in fleet.tenants.values()] + [fleet.pg.admin_password or ""]
    assert [p for p in passwords if p in printed] == []
    assert "postgresql://" not in printed and "password=" not in printed


def test_hidden_secrets_in_the_outputs_are_a_usage_error(fleet, tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({**fleet.outputs(), "connections": "[secret]"}))
    err = io.StringIO()

    code = main(["verify", "--outputs", str(outputs)], stdout=io.StringIO(), stderr=err)

    assert code == 2
    assert "--show-secrets" in err.getvalue()


def test_a_failed_admin_login_is_a_usage_error_without_the_password(fleet, tmp_path, monkeypatch):
    use_admin_login(monkeypatch, f"host={fleet.pg.host} port={fleet.pg.port} "
                                 f"user={fleet.pg.admin_user} password=wrong-admin-secret")
    run = run_verify(fleet, tmp_path)

    assert run.exit_code == 2
    assert "admin login" in run.stderr and "wrong-admin-secret" not in run.stderr


def test_a_wrong_admin_password_says_where_it_came_from(fleet, tmp_path, monkeypatch):
    use_admin_login(monkeypatch, f"postgresql://{fleet.pg.admin_user}:wrong-admin-secret@"
                                 f"{fleet.pg.host}:{fleet.pg.port}/postgres")

    run = run_verify(fleet, tmp_path)

    assert f"fix: the server refused the password of {fleet.pg.admin_user}, which came from $PG_TENANTS_ADMIN_URL" \
        in run.stderr
    assert "wrong-admin-secret" not in run.stderr


def test_the_admin_url_the_launcher_prints_is_enough_for_verify(fleet, tmp_path, monkeypatch):
    use_admin_login(monkeypatch, fleet.pg.admin_uri())  # the URI form the launcher's `status` prints

    run = run_verify(fleet, tmp_path)

    assert (run.exit_code, run.report["verdict"]) == (0, "pass")
