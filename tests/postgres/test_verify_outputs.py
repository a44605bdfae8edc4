"""How `pg-tenants verify` reads the stack outputs and the settings it compares: no server needed."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from pg_tenants.verify.fleet import OutputsError, parse_outputs, with_declarations
from pg_tenants.verify.role_settings import parse_integer_setting


def _outputs(**tenant_fields) -> dict:
    env = {"PGHOST": "db", "PGPORT": "5432", "PGDATABASE": "app", "PGUSER": "acme", "PGPASSWORD": "pw", "PGSSLMODE": "require"}
    tenant = {"schema": "acme", "username": "acme", "server": "main", "database": "app", **tenant_fields}
    connections = {} if tenant_fields.get("state") == "offboarded" else {"acme": {"env": env}}
    return {"tenants": {"acme": tenant}, "connections": connections}


@dataclass(frozen=True)
class _Declaration:  # the fields verify reads from pg_tenants.tenants.model.Tenant
    name: str = "acme"
    connection_limit: int = 20
    valid_until: str = "infinity"
    statement_timeout: int = 0
    idle_in_transaction_session_timeout: int = 0
    state: str = "active"


def test_a_tenant_without_a_state_in_older_outputs_is_active():
    (tenant,) = parse_outputs(_outputs()).tenants

    assert tenant.state == "active"


def test_an_offboarded_tenant_has_no_login_roles():
    (tenant,) = parse_outputs(_outputs(state="offboarded")).tenants

    assert (tenant.state, tenant.login_roles, tenant.has_credentials) == ("offboarded", (), False)


def test_an_offboarded_tenant_must_have_neither_login_slot_nor_a_read_only_login():
    (tenant,) = parse_outputs(_outputs(state="offboarded")).tenants

    assert tenant.former_slots == ("acme_a", "acme_b", "acme_ro")


def test_a_fleet_of_offboarded_tenants_only_has_an_empty_connections_map():
    outputs = {**_outputs(state="offboarded"), "connections": {}}

    (tenant,) = parse_outputs(outputs).tenants

    assert tenant.offboarded


def test_an_unknown_state_is_an_outputs_error():
    with pytest.raises(OutputsError, match="state"):
        parse_outputs(_outputs(state="archived"))


def test_a_declared_offboarding_drops_the_credentials_the_outputs_still_hold():
    fleet = with_declarations(parse_outputs(_outputs()), [_Declaration(state="offboarded")])

    (tenant,) = fleet.tenants
    assert (tenant.offboarded, tenant.has_credentials) == (True, False)


def test_a_declaration_without_temp_file_limit_declares_none():
    fleet = with_declarations(parse_outputs(_outputs()), [_Declaration()])

    (tenant,) = fleet.tenants
    assert tenant.declared is not None and tenant.declared.temp_file_limit == -1


@pytest.mark.parametrize(("name", "value", "base_units"), [
    ("statement_timeout", "5000", 5000),
    ("statement_timeout", "5s", 5000),
    ("statement_timeout", "2min", 120000),
    ("statement_timeout", "1.5s", 1500),
    ("statement_timeout", "2500us", 2),
    ("idle_in_transaction_session_timeout", "1h", 3600000),
    ("temp_file_limit", "1048576", 1048576),
    ("temp_file_limit", "1GB", 1048576),
    ("temp_file_limit", "1 MB", 1024),
    ("temp_file_limit", "-1", -1),
    ("temp_file_limit", "0x400", 1024),
])
def test_an_integer_setting_is_read_in_its_base_unit(name, value, base_units):
    assert parse_integer_setting(name, value) == base_units


def test_an_integer_setting_with_an_unknown_unit_is_unreadable():
    assert parse_integer_setting("statement_timeout", "5 fortnights") is None


def _with_readonly(**tenant_fields) -> dict:
    outputs = _outputs(readonly_login=True, **tenant_fields)
    readonly = {"env": {"PGHOST": "db", "PGPORT": "5432", "PGDATABASE": "app", "PGUSER": "acme_ro", "PGPASSWORD": "ro-pw",
                        "PGSSLMODE": "require"}}
    for connection in outputs["connections"].values():
        connection["readonly"] = readonly
    return outputs


def test_a_read_only_login_is_read_from_the_outputs_with_its_password():
    fleet = parse_outputs(_with_readonly())
    (tenant,) = fleet.tenants

    assert (tenant.readonly_role, tenant.readonly_password, tenant.roles) == ("acme_ro", "ro-pw", ("acme", "acme_ro"))
    assert tenant.login_roles == ("acme",) and tenant.logs_in("acme_ro")
    assert "ro-pw" in fleet.passwords  # so findings are scrubbed of it too


def test_older_outputs_without_readonly_login_have_no_read_only_login():
    (tenant,) = parse_outputs(_outputs()).tenants

    assert (tenant.readonly_role, tenant.readonly_roles) == (None, ())


def test_an_offboarded_tenant_has_no_read_only_login_to_check_but_one_to_look_for():
    (tenant,) = parse_outputs(_with_readonly(state="offboarded")).tenants

    assert (tenant.readonly_roles, tenant.readonly_password) == ((), None)
    assert "acme_ro" in tenant.former_slots


def test_the_read_only_login_must_start_read_only():
    from pg_tenants.verify.role_settings import role_mismatches

    (tenant,) = parse_outputs(_with_readonly()).tenants

    assert role_mismatches(tenant, "acme_ro", {"search_path": "acme", "default_transaction_read_only": "on"}, {}) == []
    [(where, mismatch)] = role_mismatches(tenant, "acme_ro", {"search_path": "acme"}, {})
    assert (where, mismatch.setting, mismatch.actual) == (None, "default_transaction_read_only", None)
    assert role_mismatches(tenant, "acme", {"search_path": "acme"}, {}) == []
