"""Upgrading a fleet deployed with the previous ownership model to today's is one `pulumi up`,
with no data lost and no login interrupted longer than the README states.

The previous model is what commit d2ece2f deployed, frozen in tests/fixtures/previous_model:
default privileges FOR ROLE <admin> in every tenant schema, roles deleted with REASSIGN OWNED,
zero-downtime login slots INHERIT with CONNECT held by the owner only. The module fixture, once
per major, deploys a fleet with that program (the state is the AppliedState it produced: same
names and URNs, project "pg-tenants", stack "test"), writes rows with the tenants' credentials
and has the admin create a table in one tenant's schema as the old model allowed, then runs
today's program against that state with `Deployment.up()` exactly once while every tenant's
credentials log in in a loop. Each test inspects one aspect of the result.

Login attempts and the provider double's statements share one ordering (`Timeline`): a
statement is placed when it is sent, an operation when it has committed. That is what proves
when a refused login happened, not wall-clock time.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

import tests.support.deployment as deployment_module
from pg_tenants.cli import main as pg_tenants_main
from pg_tenants.local.server import RunningPostgres
from tests.fixtures.previous_model import deploy_previous_model
from tests.support.deployment import Deployment, connect_as, create_database, reset_server, stack_for
from tests.support.engine_plan import AppliedState, Plan
from tests.support.program_run import (
    DEFAULT_PRIVILEGES,
    DYNAMIC,
    GRANT,
    ROLE,
    SCHEMA,
    ProgramRun,
    Registration,
)
from tests.support.provider_double import LoggedStatement, ProviderDouble
from tests.support.verify_env import use_admin_login

DATABASE = "app"
ADMIN_TABLE = "ledger"  # created by the admin in initech's schema, as migrations did under the old model
TENANTS = [
    {"name": "acme"},  # single login, rows of its own
    {"name": "globex", "zero_downtime_rotation": True},  # login slots globex_a (current) and globex_b (previous)
    {"name": "initech"},  # single login, a table the admin created in its schema
]
SINGLE_LOGIN = ("acme", "initech")
SLOTS = {"globex_a": "a", "globex_b": "b"}  # slot role -> suffix of its resources
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
PROJECT_URN_PREFIX = "urn:pulumi:test::pg-tenants::"
CONNECT_REFUSED = "permission denied for database"


# ----------------------------------------------------------------------------- one ordering


@dataclass(frozen=True)
class Event:
    position: int
    at: float  # time.monotonic(), for the report only
    kind: str  # "sent" (a statement, before it runs) or "committed" (an operation, after COMMIT)
    urn: str
    operation: str
    sql: str = ""


class Timeline:
    """Positions from one counter, for the double's events and the login attempts alike."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = itertools.count()
        self.events: list[Event] = []

    def tick(self) -> int:
        with self._lock:
            return next(self._counter)

    def record(self, kind: str, urn: str, operation: str, statement: str = "") -> None:
        with self._lock:
            self.events.append(Event(next(self._counter), time.monotonic(), kind, urn, operation, statement))

    def sent(self, urn: str, statement: str) -> Event:
        found = [e for e in self.events if e.kind == "sent" and e.urn == urn and e.sql == statement]
        assert len(found) == 1, f"{statement!r} sent {len(found)} times for {urn}"
        return found[0]

    def committed(self, urn: str, operation: str) -> Event:
        found = [e for e in self.events if e.kind == "committed" and e.urn == urn and e.operation == operation]
        assert len(found) == 1, f"{operation} of {urn} committed {len(found)} times"
        return found[0]


def recording_double(timeline: Timeline) -> type[ProviderDouble]:
    """The provider double, placing each statement it sends and each operation it commits on `timeline`."""

    class RecordingDouble(ProviderDouble):
        def _log(self, entry: LoggedStatement) -> None:
            super()._log(entry)
            timeline.record("sent", entry.urn, entry.operation, entry.sql)

        def create(self, reg: Registration) -> str:
            resource_id = super().create(reg)
            timeline.record("committed", reg.urn, "create")
            return resource_id

        def update(self, old: Registration, new: Registration) -> str:
            resource_id = super().update(old, new)
            timeline.record("committed", new.urn, "update")
            return resource_id

        def delete(self, reg: Registration) -> None:
            super().delete(reg)
            timeline.record("committed", reg.urn, "delete")

    return RecordingDouble


# ----------------------------------------------------------------------------- logins in a loop


@dataclass(frozen=True)
class Attempt:
    user: str
    started: int  # timeline positions
    ended: int
    at: float  # time.monotonic() when it started
    seconds: float
    error: str | None  # None: logged in and read its table


@dataclass
class LoginProbe:
    """One thread per credential, logging in and reading the tenant's table until stopped."""

    timeline: Timeline
    targets: Mapping[str, tuple[Mapping[str, Any], str]]  # user -> (credentials, table to read)
    attempts: list[Attempt] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _loop(self, user: str, credentials: Mapping[str, Any], table: str) -> None:
        while not self._stop.is_set():
            started, at = self.timeline.tick(), time.monotonic()
            error = None
            try:
                with psycopg.connect(credentials["uri"], autocommit=True, connect_timeout=10) as conn:
                    conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()
            except psycopg.Error as failed:
                error = " ".join(str(failed).split())
            attempt = Attempt(user, started, self.timeline.tick(), at, time.monotonic() - at, error)
            with self._lock:
                self.attempts.append(attempt)

    def _count(self, user: str, *, ok: bool, after: int = -1) -> int:
        with self._lock:
            return sum(1 for a in self.attempts if a.user == user and (a.error is None) == ok and a.started > after)

    def wait_for_logins(self, after: int = -1, timeout: float = 60) -> None:
        """Until every credential has logged in at least once with an attempt started after `after`."""
        deadline = time.monotonic() + timeout
        while any(self._count(user, ok=True, after=after) == 0 for user in self.targets):
            assert time.monotonic() < deadline, "a credential never logged in"
            time.sleep(0.01)

    def __enter__(self) -> LoginProbe:
        for user, (credentials, table) in self.targets.items():
            thread = threading.Thread(target=self._loop, args=(user, credentials, table), name=f"login-{user}", daemon=True)
            self._threads.append(thread)
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)


# ----------------------------------------------------------------------------- the upgrade


@dataclass
class Upgrade:
    pg: RunningPostgres
    deployment: Deployment
    previous_run: ProgramRun
    previous_state: AppliedState
    credentials_before: dict[str, dict[str, Any]]
    rows_before: dict[str, list[tuple]]  # login role -> its table's rows, read with its credentials
    plan: Plan
    double: ProviderDouble
    timeline: Timeline
    attempts: list[Attempt]
    up_started: int  # timeline positions around `up()`
    up_ended: int

    @property
    def state(self) -> AppliedState:
        return self.deployment.state

    def admin(self) -> psycopg.Connection:
        return self.pg.admin_connect(DATABASE)

    def urn(self, name: str) -> str:
        """URN of a resource by name, in the new state or (deleted) in the previous one."""
        for reg in [*self.state.resources, *self.previous_state.resources]:
            if reg.name == name:
                return reg.urn
        raise KeyError(name)


def login_targets(credentials: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[Mapping[str, Any], str]]:
    """Login role -> (its credentials, the table it reads), for every credential the stack exports."""
    targets: dict[str, tuple[Mapping[str, Any], str]] = {}
    for name, formats in credentials.items():
        table = ADMIN_TABLE if name == "initech" else "orders"
        for login in (formats, formats.get("previous")):
            if login is not None:
                targets[login["env"]["PGUSER"]] = (login, table)
    return targets


def write_tenant_data(pg: RunningPostgres, credentials: Mapping[str, Mapping[str, Any]]) -> None:
    orders = "CREATE TABLE orders (id int PRIMARY KEY, item text)"
    with connect_as(credentials["acme"]) as conn:
        conn.execute(orders)
        conn.execute("INSERT INTO orders SELECT g, 'acme ' || g FROM generate_series(1, 3) g")
    # Through both login slots: the rows belong to the owner role whichever slot wrote them.
    with connect_as(credentials["globex"]) as conn:
        conn.execute(orders)
        conn.execute("INSERT INTO orders SELECT g, 'globex via a ' || g FROM generate_series(1, 4) g")
    with connect_as(credentials["globex"]["previous"]) as conn:
        conn.execute("INSERT INTO orders SELECT g, 'globex via b ' || g FROM generate_series(5, 6) g")
    # A migration run by the admin, as the old default privileges were made for: the tenant
    # can use the table (and its sequence) without owning it.
    with pg.admin_connect(DATABASE) as admin:
        admin.execute(sql.SQL("CREATE TABLE {}.{} (id bigserial PRIMARY KEY, entry text)").format(
            sql.Identifier("initech"), sql.Identifier(ADMIN_TABLE)))
        admin.execute(sql.SQL("INSERT INTO {}.{} (entry) VALUES ('opening balance by the admin')").format(
            sql.Identifier("initech"), sql.Identifier(ADMIN_TABLE)))
    with connect_as(credentials["initech"]) as conn:
        conn.execute(sql.SQL("INSERT INTO {} (entry) VALUES ('first entry by the tenant'), ('second entry by the tenant')").format(
            sql.Identifier(ADMIN_TABLE)))


def read_rows(credentials: Mapping[str, Any], table: str) -> list[tuple]:
    with connect_as(credentials) as conn:
        return conn.execute(sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table))).fetchall()


@pytest.fixture(scope="module")
def upgraded(pg_server, tmp_path_factory) -> Iterator[Upgrade]:
    """The previous model deployed, used, then upgraded by one `up()` with logins in a loop."""
    create_database(pg_server, DATABASE)
    deployment = Deployment(pg_server, stack_for(pg_server, tmp_path_factory.mktemp("upgrade") / "tenants", DATABASE))
    try:
        deployment.write(TENANTS)
        previous_run = deploy_previous_model(deployment)
        previous_state = deployment.state
        credentials = deployment.connections
        write_tenant_data(pg_server, credentials)
        targets = login_targets(credentials)
        rows_before = {user: read_rows(formats, table) for user, (formats, table) in targets.items()}

        timeline = Timeline()
        with LoginProbe(timeline, targets) as probe, pytest.MonkeyPatch.context() as patch:
            probe.wait_for_logins()
            patch.setattr(deployment_module, "ProviderDouble", recording_double(timeline))
            up_started = timeline.tick()
            deployment.up()
            up_ended = timeline.tick()
            probe.wait_for_logins(after=up_ended)
        assert deployment.last_plan is not None and deployment.double is not None
        yield Upgrade(
            pg=pg_server, deployment=deployment, previous_run=previous_run, previous_state=previous_state,
            credentials_before=credentials, rows_before=rows_before, plan=deployment.last_plan,
            double=deployment.double, timeline=timeline, attempts=list(probe.attempts),
            up_started=up_started, up_ended=up_ended,
        )  # fmt: skip
    finally:
        reset_server(pg_server)


# ----------------------------------------------------------------------------- the state it starts from


def test_the_previous_state_has_the_previous_programs_urns_in_this_project_and_stack(upgraded):
    urns = {reg.name: reg.urn for reg in upgraded.previous_state.resources}

    assert all(urn.startswith(PROJECT_URN_PREFIX) for urn in urns.values())
    assert urns["acme-role"] == PROJECT_URN_PREFIX + "pg-tenants:index:Tenant$postgresql:index/role:Role::acme-role"
    assert urns["globex-default-tables"] == (
        PROJECT_URN_PREFIX + "pg-tenants:index:Tenant$postgresql:index/defaultPrivileges:DefaultPrivileges::globex-default-tables")


def test_the_previous_model_gave_slots_inherit_and_connect_only_to_the_owner(upgraded):
    by_name = {reg.name: reg for reg in upgraded.previous_state.resources}

    assert [by_name[f"globex-login-{slot}"].inputs["inherit"] for slot in "ab"] == [True, True]
    assert by_name["globex-database-connect"].inputs["role"] == "globex"
    assert "globex-database-connect-a" not in by_name and "globex-database-connect-b" not in by_name


# ----------------------------------------------------------------------------- the plan


def step_set(the_plan: Plan) -> set[tuple[str, str, str]]:
    return {(s.op, s.type, s.name) for s in [*the_plan.steps, *the_plan.deletes] if s.op != "same"}


def test_the_upgrade_plan_has_no_errors(upgraded):
    assert upgraded.plan.errors == []


def test_the_upgrade_replaces_or_deletes_no_role_schema_or_schema_grant(upgraded):
    touched = {(op, name) for op, type_, name in step_set(upgraded.plan)
               if op in ("replace", "delete", "delete-replaced")
               and (type_ in (ROLE, SCHEMA) or (type_ == GRANT and name.endswith("-schema-usage")))}

    assert touched == set()


EXPECTED_STEPS = {
    *(("update", ROLE, name) for name in ("acme-role", "initech-role", "globex-role", "globex-login-a", "globex-login-b")),
    *(("create", DYNAMIC, f"{tenant}-temp-file-limit") for tenant in ("acme", "globex", "initech")),
    ("create", DYNAMIC, "globex-login-handover"),
    ("create", GRANT, "globex-database-connect-a"),
    ("create", GRANT, "globex-database-connect-b"),
    ("delete", GRANT, "globex-database-connect"),
    *(("delete", DEFAULT_PRIVILEGES, f"{tenant}-default-{kind}")
      for tenant in ("acme", "globex", "initech") for kind in ("tables", "sequences", "functions")),
    # Database hardening becomes undoable: a record of what PUBLIC holds beside each Grant to
    # PUBLIC, which keeps its name (its delete would strip PUBLIC's USAGE on `public`).
    *(("create", DYNAMIC, f"main-{database}-public-database-record") for database in ("app", "postgres", "template1")),
    ("create", DYNAMIC, "main-app-public-schema-record"),
}


def test_the_upgrade_plan_is_exactly_these_steps(upgraded):
    assert step_set(upgraded.plan) == EXPECTED_STEPS, upgraded.plan.summary()


def test_the_role_updates_change_only_connection_limit_inherit_and_skip_reassign_owned(upgraded):
    changed = {s.name: set(s.changed) for s in upgraded.plan.of("update") if s.type == ROLE}

    assert changed == {
        "acme-role": {"connectionLimit", "skipReassignOwned"},
        "initech-role": {"connectionLimit", "skipReassignOwned"},
        "globex-role": {"connectionLimit", "skipReassignOwned"},
        "globex-login-a": {"connectionLimit", "inherit", "skipReassignOwned"},
        "globex-login-b": {"connectionLimit", "inherit", "skipReassignOwned"},
    }


def test_the_upgrade_sends_no_reassign_or_drop_owned(upgraded):
    sent = [s.sql for s in upgraded.double.statements]

    assert [s for s in sent if s.startswith(("REASSIGN OWNED", "DROP OWNED", "DROP ROLE"))] == []
    assert len(sent) > 0


# ----------------------------------------------------------------------------- data and credentials


def test_the_connections_output_is_unchanged_for_every_tenant(upgraded):
    assert upgraded.deployment.connections == upgraded.credentials_before


def test_every_row_is_readable_with_the_credentials_from_before(upgraded):
    rows = {user: read_rows(formats, table) for user, (formats, table) in login_targets(upgraded.credentials_before).items()}

    assert rows == upgraded.rows_before
    assert {user: len(found) for user, found in rows.items()} == {"acme": 3, "globex_a": 6, "globex_b": 6, "initech": 3}


# ----------------------------------------------------------------------------- the new model in place


def test_no_default_privileges_grant_anything_to_tenant_roles(upgraded):
    with upgraded.admin() as admin:
        grants = admin.execute(
            "SELECT pg_get_userbyid(d.defaclrole), d.defaclobjtype, pg_get_userbyid(e.grantee), e.privilege_type"
            "  FROM pg_default_acl d, aclexplode(d.defaclacl) e"
            " WHERE pg_get_userbyid(e.grantee) = ANY(%s)", (["acme", "globex", "globex_a", "globex_b", "initech"],)
        ).fetchall()

    assert grants == []


def test_login_slots_are_noinherit(upgraded):
    with upgraded.admin() as admin:
        rows = admin.execute("SELECT rolname, rolinherit FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1", (list(SLOTS),)).fetchall()

    assert rows == [("globex_a", False), ("globex_b", False)]


def test_login_slots_hold_connect_themselves_and_the_owner_no_longer_does(upgraded):
    with upgraded.admin() as admin:
        holders = admin.execute(
            "SELECT pg_get_userbyid(e.grantee) FROM pg_database d, aclexplode(d.datacl) e"
            " WHERE d.datname = current_database() AND e.privilege_type = 'CONNECT' ORDER BY 1"
        ).fetchall()

    assert [h for (h,) in holders if h != upgraded.pg.admin_user] == ["acme", "globex_a", "globex_b", "initech"]


def test_login_slot_memberships_do_not_inherit_on_postgresql_16_and_later(upgraded):
    with upgraded.admin() as admin:
        if admin.info.server_version < 160000:
            pytest.skip("pg_auth_members.inherit_option exists from PostgreSQL 16 on")
        rows = admin.execute(
            "SELECT pg_get_userbyid(member), pg_get_userbyid(roleid), inherit_option FROM pg_auth_members"
            " WHERE pg_get_userbyid(member) = ANY(%s) ORDER BY 1", (list(SLOTS),)
        ).fetchall()

    assert rows == [("globex_a", "globex", False), ("globex_b", "globex", False)]


@pytest.mark.parametrize("slot", ["current", "previous"])
def test_a_login_slot_after_set_role_none_cannot_create_a_table_in_the_schema(upgraded, slot):
    credentials = upgraded.credentials_before["globex"]
    with connect_as(credentials if slot == "current" else credentials["previous"]) as conn:
        conn.execute("SET ROLE NONE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE TABLE globex.made_by_the_slot_itself (id int)")


def tenant_roles(state: AppliedState) -> dict[str, Registration]:
    return {reg.name: reg for reg in state.resources if reg.type == ROLE}


def test_owner_roles_are_protected_in_the_new_state(upgraded):
    roles = tenant_roles(upgraded.state)

    assert {name: roles[name].protect for name in ("acme-role", "globex-role", "initech-role")} == {
        "acme-role": True, "globex-role": True, "initech-role": True}


def test_every_tenant_role_skips_reassign_owned_in_the_new_state(upgraded):
    roles = tenant_roles(upgraded.state)

    assert {name: reg.inputs.get("skipReassignOwned") for name, reg in roles.items()} == dict.fromkeys(roles, True)
    assert len(roles) == 5


# ----------------------------------------------------------------------------- logins during the upgrade


def during(upgraded: Upgrade) -> list[Attempt]:
    """Attempts that overlapped `up()`."""
    return [a for a in upgraded.attempts if a.ended > upgraded.up_started and a.started < upgraded.up_ended]


def failures(upgraded: Upgrade, *users: str) -> list[Attempt]:
    return [a for a in upgraded.attempts if a.error is not None and a.user in users]


def test_every_credential_was_tried_throughout_the_upgrade(upgraded):
    tried = {a.user for a in during(upgraded)}
    logged_in_after = {a.user for a in upgraded.attempts if a.error is None and a.started > upgraded.up_ended}

    assert tried == logged_in_after == {"acme", "initech", *SLOTS}


def test_single_login_tenants_never_failed_to_log_in(upgraded):
    assert failures(upgraded, *SINGLE_LOGIN) == []


def slot_window(upgraded: Upgrade, user: str) -> tuple[Event, Event]:
    """(ALTER ROLE <slot> WITH NOINHERIT sent, the slot's own CONNECT grant committed)."""
    suffix = SLOTS[user]
    noinherit = upgraded.timeline.sent(upgraded.urn(f"globex-login-{suffix}"), f'ALTER ROLE "{user}" WITH NOINHERIT')
    connect = upgraded.timeline.committed(upgraded.urn(f"globex-database-connect-{suffix}"), "create")
    return noinherit, connect


def test_a_slot_loses_the_owners_connect_before_it_gets_its_own(upgraded):
    """The window the README has to state: NOINHERIT (update of the slot) comes first, its own
    CONNECT (a grant depending on the slot) after, and the owner's CONNECT is revoked last."""
    owner_revoke = upgraded.timeline.committed(upgraded.urn("globex-database-connect"), "delete")
    for user in SLOTS:
        noinherit, connect = slot_window(upgraded, user)
        assert noinherit.position < connect.position < owner_revoke.position


def test_login_slot_failures_fall_between_noinherit_and_the_slots_own_connect_grant(upgraded):
    for user in SLOTS:
        noinherit, connect = slot_window(upgraded, user)
        for attempt in failures(upgraded, user):
            assert CONNECT_REFUSED in attempt.error, attempt
            # Refused only if the attempt ended after NOINHERIT was sent and began before the
            # grant committed: nothing before or after that window was refused.
            assert noinherit.position < attempt.ended and attempt.started < connect.position, (attempt, noinherit, connect)


def test_no_login_failed_for_any_other_reason(upgraded):
    other = [a for a in upgraded.attempts if a.error is not None and not (a.user in SLOTS and CONNECT_REFUSED in a.error)]

    assert other == []


def login_report(upgraded: Upgrade) -> dict[str, Any]:
    """What happened to logins during the upgrade, per credential, for the README."""
    with upgraded.admin() as admin:
        report: dict[str, Any] = {"server_version": admin.info.server_version}
    up_start = next(e.at for e in upgraded.timeline.events)
    for user in ("acme", "initech", *SLOTS):
        mine = [a for a in upgraded.attempts if a.user == user]
        entry: dict[str, Any] = {
            "attempts_during_up": sum(1 for a in during(upgraded) if a.user == user),
            "failures": [{"ms_after_first_statement": round((a.at - up_start) * 1000, 1),
                          "lasted_ms": round(a.seconds * 1000, 1), "error": a.error}
                         for a in mine if a.error is not None],
        }
        refused = [a for a in mine if a.error is not None]
        if refused:
            entry["refused_from_first_to_last_ms"] = round(
                (max(a.at + a.seconds for a in refused) - min(a.at for a in refused)) * 1000, 1)
        if user in SLOTS:
            noinherit, connect = slot_window(upgraded, user)
            entry["window_ms"] = round((connect.at - noinherit.at) * 1000, 1)
            entry["window_positions"] = [noinherit.position, connect.position]
        report[user] = entry
    return report


def test_login_report(upgraded):
    """Asserts nothing: prints what the logins saw, for the README (`pytest -rP` shows it)."""
    print(json.dumps(login_report(upgraded), indent=2))


# ----------------------------------------------------------------------------- the admin's table


def test_the_admin_created_table_is_still_in_the_schema_owned_by_the_admin_with_its_rows(upgraded):
    with upgraded.admin() as admin:
        owner = admin.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'initech' AND tablename = %s",
                              (ADMIN_TABLE,)).fetchone()
        count = admin.execute(sql.SQL("SELECT count(*) FROM initech.{}").format(sql.Identifier(ADMIN_TABLE))).fetchone()

    assert (owner, count) == ((upgraded.pg.admin_user,), (3,))


def table_privileges(upgraded: Upgrade, role: str, table: str) -> set[str]:
    with upgraded.admin() as admin:
        return {p for p in TABLE_PRIVILEGES
                if admin.execute("SELECT has_table_privilege(%s, %s, %s)", (role, table, p)).fetchone()[0]}


def test_revoking_the_default_privileges_leaves_the_grants_already_made_on_the_admin_table(upgraded):
    """PostgreSQL applies default privileges when an object is created; ALTER DEFAULT PRIVILEGES
    … REVOKE changes only objects created afterwards. The tenant keeps TRIGGER, TRUNCATE and
    REFERENCES (and the rest) on the admin's table: the upgrade cannot take them."""
    assert table_privileges(upgraded, "initech", f"initech.{ADMIN_TABLE}") == set(TABLE_PRIVILEGES)


def test_a_table_the_admin_creates_after_the_upgrade_gives_the_tenant_nothing(upgraded):
    with upgraded.admin() as admin:
        admin.execute("CREATE TABLE initech.created_after_the_upgrade (id int)")
    try:
        assert table_privileges(upgraded, "initech", "initech.created_after_the_upgrade") == set()
    finally:
        with upgraded.admin() as admin:
            admin.execute("DROP TABLE initech.created_after_the_upgrade")


def run_verify(upgraded: Upgrade, tmp_path, monkeypatch) -> dict[str, Any]:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({key: out.value for key, out in upgraded.deployment.last_run.outputs.items()}))
    use_admin_login(monkeypatch, upgraded.pg.admin_conninfo())
    out = io.StringIO()
    pg_tenants_main(["verify", "--outputs", str(outputs), "--json", "--no-progress"], stdout=out, stderr=io.StringIO())
    return json.loads(out.getvalue())


def verify_findings(report: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    found = [f for t in report["tenants"] for f in t["findings"]] + report["database_findings"]
    return {(f["subject"], f["code"], f["detail"]) for f in found}


def test_verify_flags_the_admin_table_with_the_owner_fix_and_nothing_else(upgraded, tmp_path, monkeypatch):
    report = run_verify(upgraded, tmp_path, monkeypatch)
    messages = [f["message"] for t in report["tenants"] for f in t["findings"] if f["code"] == "foreign_owned_object"]

    assert verify_findings(report) == {("initech", "foreign_owned_object", f"initech.{ADMIN_TABLE}")}
    assert f'ALTER TABLE initech.{ADMIN_TABLE} OWNER TO initech' in messages[0]


def test_the_owner_fix_leaves_verify_clean(upgraded, tmp_path, monkeypatch):
    """The fix for the finding above; it hands the table to the tenant, so this test runs last."""
    with upgraded.admin() as admin:
        admin.execute(sql.SQL("ALTER TABLE initech.{} OWNER TO initech").format(sql.Identifier(ADMIN_TABLE)))

    assert verify_findings(run_verify(upgraded, tmp_path, monkeypatch)) == set()
