"""Property: any valid tenant list, deployed twice, plans nothing the second time.

A second `pulumi up` with an unchanged tenant list must show only "same" steps: anything else
is a perpetual diff, which the real engine would show on every run and which re-runs SQL
(ALTER ROLE ... VALID UNTIL, REVOKE/GRANT ...) each time. The engine model diffs as the real one
does, against what the provider's Read returned after each write (tests/support/engine_plan.py,
docs/provider-double.md). The server's TimeZone is Europe/Berlin, not UTC, because that is what
timestamps are read back in (TF resource_postgresql_role.go: `rolvaliduntil::TEXT`).

Every field of a tenant entry (pg_tenants/tenants/model.py:TenantEntry) is generated, and the list
is valid by construction (the rules of pg_tenants/tenants/tenant_list.py): the program refusing it fails
the test. Lists of 1-4 tenants, 20 examples per PostgreSQL major (18 drawn, 2 written out).
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg import sql

from pg_tenants.identifiers import identifier_problem
from pg_tenants.local.throwaway import pg_versions_under_test, running_postgres
from pg_tenants.shards.settings import SHARD_NAME_PATTERN
from pg_tenants.tenants.model import MAX_INT4, TenantEntry
from tests.support.deployment import Deployment, create_database, reset_server, restore_public_on_builtin_databases, stack_for

TIME_ZONE = "Europe/Berlin"
DATABASES = ("app", "other")
SILO_PREFIX = "silo_"  # databases of tenants with isolation: database
SERVER = "main"

# Every TenantEntry field this strategy sets; the test below fails when the model grows.
COVERED_FIELDS = frozenset({
    "name", "schema_name", "username", "server", "database", "password_secret", "connection_limit",
    "temp_file_limit", "statement_timeout", "idle_in_transaction_session_timeout", "valid_until", "state",
    "on_remove", "rotation", "zero_downtime_rotation", "adopt", "previous_names", "shard", "readonly_login",
    "readonly_rotation", "isolation",
})  # fmt: skip


@pytest.fixture(scope="module", params=pg_versions_under_test(), ids=lambda major: f"pg{major}")
def pg_server(request) -> Iterator[Any]:
    """A server of its own whose TimeZone is not UTC (the shared one is left alone), with its
    tenant databases made once: CREATE DATABASE takes about a second, so examples clean them
    instead (`clean_server`)."""
    server_settings = {"timezone": TIME_ZONE, "fsync": "off", "synchronous_commit": "off"}
    with running_postgres(request.param, server_settings=server_settings, sources=("docker", "local")) as pg:
        reset_server(pg)
        for database in DATABASES:
            create_database(pg, database)
            with pg.admin_connect() as admin:  # also where server settings are not applied (env server)
                admin.execute(sql.SQL("ALTER DATABASE {} SET TimeZone = {}").format(
                    sql.Identifier(database), sql.Literal(TIME_ZONE)))
        yield pg
        reset_server(pg)


def test_the_strategy_covers_every_field_of_a_tenant_entry() -> None:
    assert set(TenantEntry.model_fields) == COVERED_FIELDS


# ------------------------------------------------------------------------------ strategies

identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,11}", fullmatch=True).filter(
    lambda v: identifier_problem(v, frozenset({"postgres"})) is None)
shard_names = st.from_regex(SHARD_NAME_PATTERN, fullmatch=True)
int4 = st.integers(min_value=0, max_value=MAX_INT4)
offsets = st.sampled_from([datetime.timezone(datetime.timedelta(minutes=m)) for m in (-600, -330, 0, 60, 120, 345, 780)])
timestamps = st.datetimes(min_value=datetime.datetime(2001, 1, 1), max_value=datetime.datetime(2099, 12, 31),
                          timezones=offsets)
valid_untils = st.one_of(
    st.just("infinity"),
    st.builds(lambda moment, form: {
        "iso": moment.isoformat(),
        "space": moment.isoformat(sep=" "),
        "seconds": moment.isoformat(timespec="seconds"),
        "zulu": moment.astimezone(datetime.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }[form], timestamps, st.sampled_from(["iso", "space", "seconds", "zulu"])),
)
passwords = st.text(alphabet=[chr(c) for c in range(32, 127)], min_size=16, max_size=40)


def distinct(names: list[str]) -> list[str]:
    """Every name any tenant uses, made distinct (a repeat gets a suffix), so that no two tenants
    collide; none ends in _a, _b or _ro, which a tenant's other login roles add to its username."""
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        if name.endswith(("_a", "_b", "_ro")):
            name += "0"
        while name in seen:
            name = f"{name}_{i}"
        seen.add(name)
        out.append(name)
    return out


@st.composite
def tenant_lists(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, str], dict[str, bool]]:
    """(tenant entries, provided passwords by secret key, tenant name -> whether an adopted
    tenant's role exists before the first up)."""
    count = draw(st.integers(min_value=1, max_value=4))
    pool = iter(distinct(draw(st.lists(identifiers, min_size=count * 5, max_size=count * 5))))
    tenants, secrets, adopted_roles = [], {}, {}
    for _ in range(count):
        entry: dict[str, Any] = {"name": next(pool)}
        previous = [next(pool) for _ in range(draw(st.integers(0, 2)))]
        schema, username = next(pool), next(pool)
        # A renamed tenant keeps its schema and username explicitly (tenants.rules._check_names).
        if previous or draw(st.booleans()):
            entry["schema"] = schema
        if previous or draw(st.booleans()):
            entry["username"] = username
        if previous:
            entry["previous_names"] = previous
        if draw(st.booleans()):
            entry["server"] = SERVER
        # A database of its own now and then (each costs a CREATE DATABASE), named apart from the shared ones.
        isolation = draw(st.sampled_from([None, None, "schema", "database"]))
        if isolation is not None:
            entry["isolation"] = isolation
        database = f"{SILO_PREFIX}{entry['name']}" if isolation == "database" else draw(st.sampled_from([None, *DATABASES]))
        if database is not None:
            entry["database"] = database
        provided = draw(st.booleans())
        if provided:
            key = f"pw{len(secrets)}.{entry['name']}"
            entry["password_secret"] = key
            secrets[key] = draw(passwords)
        for field, values in (
            ("connection_limit", st.integers(-1, MAX_INT4)), ("temp_file_limit", st.integers(-1, MAX_INT4)),
            ("statement_timeout", int4), ("idle_in_transaction_session_timeout", int4),
            ("valid_until", valid_untils), ("state", st.sampled_from(["active", "suspended", "offboarded"])),
            ("on_remove", st.sampled_from(["retain", "purge"])),
            ("shard", shard_names),  # the stack under test has no pg-tenants:shard, so it owns every tenant
        ):
            value = draw(st.one_of(st.none(), values))
            if value is not None:
                entry[field] = value
        zero_downtime = False
        if not provided:  # rotation applies to generated passwords only (tenants.placement.placement_problems)
            if draw(st.booleans()):
                entry["rotation"] = draw(st.one_of(st.integers(0, 3), st.just(MAX_INT4)))
            zero_downtime = draw(st.booleans())
            if zero_downtime:
                entry["zero_downtime_rotation"] = True
        # Adopt first, then zero-downtime, never both at once (tenants.rules._check_names); never into a silo.
        if not zero_downtime and isolation != "database" and draw(st.booleans()):
            entry["adopt"] = True
            adopted_roles[entry["name"]] = draw(st.booleans())
        elif draw(st.booleans()):  # a read-only login, never in the change that adopts (tenants.rules)
            entry["readonly_login"] = True
            if draw(st.booleans()):
                entry["readonly_rotation"] = draw(st.integers(0, 3))
        tenants.append(entry)
    return tenants, secrets, adopted_roles


# ------------------------------------------------------------------------------ the property

def clean_server(pg: Any) -> None:
    """Back to a fresh server without recreating the databases: what every role owns or was
    granted there dropped, tenant schemas dropped, the roles dropped, PUBLIC's default
    privileges back (as tests.support.deployment.reset_server, which drops the databases)."""
    with pg.admin_connect() as admin:
        silos = [r[0] for r in admin.execute("SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (SILO_PREFIX,))]
        for database in silos:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(database)))
        roles = [r[0] for r in admin.execute(
            "SELECT rolname FROM pg_roles WHERE rolname !~ '^pg_' AND rolname <> current_user")]
    for database in DATABASES:
        with pg.admin_connect(database) as admin:
            # One role at a time: a DROP OWNED naming both the owner of a default-privileges entry
            # and its grantee (a read-only login) fails.
            for role in roles:
                admin.execute(sql.SQL("DROP OWNED BY {} CASCADE").format(sql.Identifier(role)))
            schemas = [r[0] for r in admin.execute(
                "SELECT nspname FROM pg_namespace WHERE nspname !~ '^pg_' AND nspname NOT IN ('public', 'information_schema')")]
            for schema in schemas:
                admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
            admin.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO PUBLIC").format(sql.Identifier(database)))
            # PostgreSQL 15 took CREATE on `public` from PUBLIC; 14 and older give it.
            admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC" if pg.major >= 15
                          else "GRANT CREATE ON SCHEMA public TO PUBLIC")
            admin.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")
    with pg.admin_connect() as admin:
        for role in roles:
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        restore_public_on_builtin_databases(admin, pg)


def prepare_adoptions(pg: Any, tenants: list[dict[str, Any]], adopted_roles: dict[str, bool]) -> None:
    """What an adopted tenant needs before its first up: its schema, and its role if drawn."""
    for entry in tenants:
        if entry["name"] not in adopted_roles:
            continue
        with pg.admin_connect(entry.get("database", DATABASES[0])) as admin:
            admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(entry.get("schema", entry["name"]))))
            if adopted_roles[entry["name"]]:
                admin.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'an-old-password-1'").format(
                    sql.Identifier(entry.get("username", entry["name"]))))


def deployment_for(pg: Any, secrets: dict[str, str], directory: Path) -> Deployment:
    stack = stack_for(pg, directory / "tenants", DATABASES[0])
    stack.servers[SERVER]["databases"] = list(DATABASES)
    stack.secrets.update(secrets)
    return Deployment(pg, stack)


@settings(max_examples=18, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@example(([{"name": "acme", "valid_until": "2027-12-31T23:59:59+00:00"}], {}, {}))
@example(([{"name": "globex", "readonly_login": True, "zero_downtime_rotation": True, "rotation": 1, "readonly_rotation": 2}], {}, {}))
@example(([{"name": "initech", "valid_until": "2027-06-30T12:00:00.250000-09:30", "zero_downtime_rotation": True,
            "state": "suspended"}], {}, {}))
@example(([{"name": "umbrella", "isolation": "database", "database": f"{SILO_PREFIX}umbrella", "zero_downtime_rotation": True},
            {"name": "acme"}], {}, {}))
@given(drawn=tenant_lists())
def test_a_second_up_of_the_same_tenant_list_plans_only_same_steps(pg_server, drawn) -> None:
    tenants, secrets, adopted_roles = drawn
    clean_server(pg_server)
    prepare_adoptions(pg_server, tenants, adopted_roles)
    with tempfile.TemporaryDirectory(prefix="second-up-") as directory:
        deployment = deployment_for(pg_server, secrets, Path(directory))
        deployment.write(tenants)
        deployment.up()
        deployment.up()
    the_plan = deployment.last_plan
    assert the_plan is not None and the_plan.errors == []
    assert [s.line() for s in [*the_plan.steps, *the_plan.deletes] if s.op != "same"] == [], the_plan.details()
