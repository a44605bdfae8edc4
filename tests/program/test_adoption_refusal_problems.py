"""Adoption refusal without a server: the problems' wording and fixes, and one listing query per
database over every adopting tenant there (the catalogs themselves: tests/postgres/test_adoption_refusal.py)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from psycopg.conninfo import conninfo_to_dict

from pg_tenants import existing_objects as module
from pg_tenants.existing_objects import MAX_LISTED, OwnedObject, existing_objects, owned_object_problems
from pg_tenants.stack_config import ConfigSource, StackSettings, parse_stack_settings
from pg_tenants.tenants.tenant_list import load_tenant_list
from pg_tenants.tenants.model import Tenant
from tests.support.stack import write_tenant_file

SERVERS = {
    "main": {"host": "db.example.internal", "adminUsername": "admin", "adminPasswordSecret": "mainAdminPassword", "databases": ["app", "crm"]}
}
SECRETS = {"mainAdminPassword": "admin-password"}


def load(tmp_path: Path, entries: list[dict[str, Any]]) -> tuple[list[Tenant], StackSettings, ConfigSource]:
    tenants_dir = tmp_path / "tenants"
    write_tenant_file(tenants_dir, "tenants.yaml", entries)
    source = ConfigSource(file="stack config", has_secret=SECRETS.__contains__, secret_value=SECRETS.get, line_of=lambda path: None)
    settings = parse_stack_settings({"servers": SERVERS}, source)
    return load_tenant_list(tenants_dir, settings, source), settings, source


@pytest.fixture
def acme(tmp_path) -> Tenant:
    (tenant,) = load(tmp_path, [{"name": "acme", "adopt": True}])[0]
    return tenant


def test_each_object_is_one_problem_naming_it_its_owner_and_the_alter_owner_fix(acme):
    problems = owned_object_problems(
        acme, [OwnedObject("function", "acme.f(integer)", "admin"), OwnedObject("view", "acme.v", "dba")], 2, "admin", role_exists=True
    )
    assert [(p.file, p.line, p.field) for p in problems] == [("tenants/tenants.yaml", 2, "acme.adopt")] * 2
    assert [p.message for p in problems] == [
        "function acme.f(integer) in database 'app' of server 'main' is owned by 'admin' (the admin): "
        "adopted as it is, it would be a way for the tenant's code to run as 'admin'",
        "view acme.v in database 'app' of server 'main' is owned by 'dba' (a superuser): "
        "adopted as it is, it would be a way for the tenant's code to run as 'dba'",
    ]
    assert [p.fix for p in problems] == [
        "hand it to the tenant's role with `ALTER FUNCTION acme.f(integer) OWNER TO \"acme\"`, or drop it; "
        "never REASSIGN OWNED, which moves everything 'admin' owns in the database",
        "hand it to the tenant's role with `ALTER VIEW acme.v OWNER TO \"acme\"`, or drop it; "
        "never REASSIGN OWNED, which moves everything 'dba' owns in the database",
    ]


def test_a_retained_schema_without_its_role_is_told_to_create_the_role_first(acme):
    (problem,) = owned_object_problems(acme, [OwnedObject("materialized view", "acme.mv", "admin")], 1, "admin", role_exists=False)
    assert problem.fix.startswith(
        'first `CREATE ROLE "acme" NOLOGIN` (the adoption then imports it), then hand it to the tenant\'s role with '
        '`ALTER MATERIALIZED VIEW acme.mv OWNER TO "acme"`'
    )


def test_past_the_limit_one_problem_counts_the_rest(acme):
    listed = [OwnedObject("table", f"acme.t{i}", "admin") for i in range(MAX_LISTED)]
    problems = owned_object_problems(acme, listed, MAX_LISTED + 7, "admin", role_exists=False)
    assert len(problems) == MAX_LISTED + 1
    assert problems[-1].message == (
        f"schema 'acme' in database 'app' of server 'main' holds 7 more objects owned by the admin or a superuser "
        f"than the {MAX_LISTED} listed ({MAX_LISTED + 7} in all)"
    )
    assert problems[-1].fix == (
        'first `CREATE ROLE "acme" NOLOGIN` (the adoption then imports it), then hand each to the tenant\'s role with '
        '`ALTER … OWNER TO "acme"`, or drop it, then run the check again to list the rest; never REASSIGN OWNED'
    )


def test_an_extension_is_moved_or_dropped_not_handed_over(acme):
    (problem,) = owned_object_problems(acme, [OwnedObject("extension", "citext", "admin", members=80)], 1, "admin", role_exists=True)
    assert problem.message.startswith("extension citext has 80 objects in schema 'acme' in database 'app' of server 'main', owned by 'admin'")
    assert "OWNER TO" not in problem.fix and "ALTER EXTENSION citext SET SCHEMA" in problem.fix


class Rows(list):
    def fetchone(self) -> Any:
        return self[0] if self else None

    def fetchall(self) -> list[Any]:
        return list(self)


class FakeConnection:
    """Answers the catalog reads from a table of (database -> schemas, roles, owned rows); the
    admin is a superuser (pg_tenants.server_checks then has nothing to refuse)."""

    info = SimpleNamespace(server_version=150000)

    def __init__(self, database: str, catalog: dict[str, dict[str, Any]], log: list[tuple[str, str, Any]]) -> None:
        self.database, self.catalog, self.log = database, catalog[database], log

    def __enter__(self) -> FakeConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def execute(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        if "rolname = current_user" in query:  # server_checks.read_admin
            return Rows([("admin", True, True, True, True)])
        if "FROM pg_database d" in query:  # server_checks: the admin can change every database's ACL
            return Rows([(name, "admin", True, []) for name in params["names"]])
        if "pg_statistic_ext" in query:
            self.log.append((self.database, "owned", params))
            return [row for row in self.catalog["owned"] if row[0] in params["schemas"]]
        if "FROM pg_namespace" in query:
            self.log.append((self.database, "schemas", params))
            return [(s,) for s in self.catalog["schemas"] if s in params[0]]
        self.log.append((self.database, "roles", params))
        return [(r,) for r in self.catalog["roles"] if r in params[0]]


def test_one_listing_query_per_database_over_all_its_adopting_tenants(tmp_path, monkeypatch):
    tenants, settings, source = load(
        tmp_path,
        [
            {"name": "acme", "adopt": True},
            {"name": "globex", "adopt": True},
            {"name": "initech", "adopt": True},  # its schema does not exist: the other problem
            {"name": "hooli"},  # not adopting: never listed
            {"name": "umbrella", "database": "crm"},  # no adopting tenant in crm: no listing query
        ],
    )
    catalog = {
        "app": {
            "schemas": ["acme", "globex", "hooli"],
            "roles": ["globex", "hooli"],
            "owned": [
                ("acme", "table", "acme.t", "admin", 1, 1),
                ("globex", "function", "globex.f()", "dba", 1, 1),
                ("hooli", "table", "hooli.t", "admin", 1, 1),
            ],
        },
        "crm": {"schemas": ["umbrella"], "roles": ["umbrella"], "owned": []},
    }
    log: list[tuple[str, str, Any]] = []
    monkeypatch.setattr(module.psycopg, "connect", lambda conninfo: FakeConnection(conninfo_to_dict(conninfo)["dbname"], catalog, log))

    found = existing_objects(tenants, settings, source.secret_value)

    listings = [(db, params) for db, what, params in log if what == "owned"]
    assert listings == [("app", {"schemas": ["acme", "globex"], "admin": "admin", "limit": MAX_LISTED})]
    assert sorted((p.field, p.message.split(" in database")[0]) for p in found.problems) == [
        ("acme.adopt", "table acme.t"),
        ("globex.adopt", "function globex.f()"),
        ("initech.adopt", "schema 'initech'"),
    ]
    (acme_problem,) = [p for p in found.problems if p.field == "acme.adopt"]
    (globex_problem,) = [p for p in found.problems if p.field == "globex.adopt"]
    assert "CREATE ROLE" in acme_problem.fix and "CREATE ROLE" not in globex_problem.fix
    assert found.roles == frozenset({("main", "globex"), ("main", "hooli"), ("main", "umbrella")})
