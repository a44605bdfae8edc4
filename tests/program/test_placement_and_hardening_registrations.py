"""What the program registers so that a move is never applied in place and hardening can be undone.

The RecordingMonitor reads `replacement_trigger` off each RegisterResource request, so these
tests see exactly what the engine would receive (program tier, SDK mock engine).
"""

import pytest

from tests.support.program_run import DYNAMIC, GRANT, RANDOM_BYTES, RANDOM_PASSWORD, ROLE, SCHEMA, changed_urns
from tests.support.stack import THREE_TENANTS, write_tenant_file

PLACEMENT = {"host": "db.example.internal", "port": 5432, "database": "app"}
PLACED = {ROLE, SCHEMA}  # and each tenant's schema grant


def tenants(*changes: dict) -> list[dict]:
    """THREE_TENANTS with acme's entry updated by each mapping in turn."""
    result = [dict(t) for t in THREE_TENANTS]
    for change in changes:
        result[0].update(change)
    return result


@pytest.fixture
def placed(tenants_dir, stack):
    stack.servers["main"]["databases"] = ["app", "app2"]

    def _write(entries):
        write_tenant_file(tenants_dir, "tenants.yaml", entries)

    return _write


def triggers(result) -> dict[str, object]:
    return {r.name: r.replacement_trigger for r in result.registrations}


def test_every_tenant_role_schema_and_schema_grant_carries_its_placement_as_replacement_trigger(run, placed):
    placed(tenants({"zero_downtime_rotation": True}))
    result = run()
    found = triggers(result)

    for tenant in ("acme", "globex", "initech"):
        assert found[f"{tenant}-role"] == PLACEMENT
        assert found[f"{tenant}-schema"] == PLACEMENT
        assert found[f"{tenant}-schema-usage"] == PLACEMENT
    assert found["acme-login-a"] == found["acme-login-b"] == PLACEMENT


def test_nothing_else_carries_a_trigger(run, placed):
    placed(tenants({"zero_downtime_rotation": True}))
    result = run()
    placed_names = {r.name for r in result.registrations
                    if r.type in PLACED or (r.type == GRANT and r.name.endswith("-schema-usage"))}
    others = {r.name: r.replacement_trigger for r in result.registrations if r.name not in placed_names}
    assert {name: trigger for name, trigger in others.items() if trigger is not None} == {}
    assert {r.type for r in result.registrations if r.name in others} >= {RANDOM_PASSWORD, RANDOM_BYTES, GRANT, DYNAMIC}


def test_the_trigger_is_plain_so_it_is_never_unknown_during_a_preview(run, placed):
    placed(THREE_TENANTS)
    assert triggers(run(preview=True))["acme-role"] == PLACEMENT


def test_a_schema_marked_for_purge_has_no_trigger_its_replacement_would_drop_it(run, placed):
    placed(tenants({"on_remove": "purge"}))
    found = triggers(run())
    assert found["acme-schema"] is None
    assert found["acme-role"] == found["acme-schema-usage"] == PLACEMENT


@pytest.mark.parametrize(("change", "trigger"), [
    ({"database": "app2"}, {**PLACEMENT, "database": "app2"}),
], ids=["database"])
def test_moving_a_tenant_changes_its_trigger_and_nobody_elses(run, placed, change, trigger):
    placed(THREE_TENANTS)
    before = run()
    placed(tenants(change))
    after = run()

    assert triggers(after)["acme-role"] == trigger
    changed = {urn.rsplit("::", 1)[1] for urn in changed_urns(before, after)}
    assert "acme-role" in changed
    # Beside the tenant itself: only app2's provider and hardening, which it now needs.
    assert {n for n in changed if not n.startswith("acme")} <= {
        "postgresql-main-app2", "main-app2", "main-app2-public-database", "main-app2-public-database-record",
        "main-app2-public-schema", "main-app2-public-schema-record"}


def test_changing_the_servers_address_changes_every_trigger_on_it(run, placed, stack):
    placed(THREE_TENANTS)
    stack.servers["main"]["port"] = 6432
    found = triggers(run())
    assert {found[f"{t}-role"]["port"] for t in ("acme", "globex", "initech")} == {6432}


@pytest.mark.parametrize(("entry", "protected"), [
    ({}, True), ({"state": "suspended"}, True), ({"state": "offboarded"}, False), ({"on_remove": "purge"}, False),
], ids=["active", "suspended", "offboarded", "purge"])
def test_an_owner_role_with_a_trigger_is_protected_exactly_while_its_tenant_can_log_in(run, placed, entry, protected):
    """Protected and triggered: the engine refuses the replacement a move would cause."""
    placed(tenants(entry))
    owner = run().by_name("acme-role")
    assert (owner.protect, owner.replacement_trigger) == (protected, PLACEMENT)


# ----------------------------------------------------------------------------- hardening


def test_each_hardened_database_gets_a_record_before_its_grant_to_public(run, placed):
    placed(THREE_TENANTS)
    result = run()
    records = {r.name: r for r in result.of_type(DYNAMIC) if r.name.endswith("-record")}

    assert {name: (r.inputs["database"], r.inputs["target"], r.inputs["dbname"]) for name, r in records.items()} == {
        "main-app-public-database-record": ("app", "database", "postgres"),
        "main-app-public-schema-record": ("app", "public schema", "postgres"),
        "main-postgres-public-database-record": ("postgres", "database", "postgres"),
        "main-template1-public-database-record": ("template1", "database", "postgres"),
    }
    assert all("password" in r.secret_inputs for r in records.values())
    for grant, record in [("main-app-public-database", "main-app-public-database-record"),
                          ("main-app-public-schema", "main-app-public-schema-record"),
                          ("main-postgres-public-database", "main-postgres-public-database-record"),
                          ("main-template1-public-database", "main-template1-public-database-record")]:
        registered = result.by_name(grant)
        assert registered.retain_on_delete, grant
        assert records[record].urn in registered.dependencies, grant


def test_connect_grants_wait_for_the_record_and_the_grant_on_the_same_pg_database_row(run, placed):
    placed(THREE_TENANTS)
    result = run()
    expected = {result.by_name("main-app-public-database-record").urn, result.by_name("main-app-public-database").urn}
    for tenant in ("acme", "globex", "initech"):
        assert expected <= set(result.by_name(f"{tenant}-database-connect").dependencies)


def test_a_protected_database_that_holds_tenants_is_hardened_once_under_its_name(run, placed, stack):
    stack.servers["main"]["protectedDatabases"] = ["postgres", "template1", "app"]
    placed(THREE_TENANTS)
    names = [r.name for r in run().registrations if r.name.startswith("main-app")]
    assert sorted(names) == ["main-app", "main-app-public-database", "main-app-public-database-record",
                             "main-app-public-schema", "main-app-public-schema-record"]


def test_a_protected_database_without_tenants_is_hardened_even_when_listed_for_tenants(run, placed, stack):
    stack.servers["main"]["protectedDatabases"] = ["postgres", "template1", "app2"]
    placed(THREE_TENANTS)
    result = run()
    assert result.by_name("main-app2-public-database-record").inputs["target"] == "database"
    assert [r for r in result.registrations if r.name == "main-app2-public-schema-record"] == []


def test_hardening_off_registers_no_record(run, placed, stack):
    stack.settings["hardenDatabases"] = False
    placed(THREE_TENANTS)
    assert [r.name for r in run().of_type(DYNAMIC) if r.name.endswith("-record")] == []
