"""What the program registers for a three-tenant list (program tier, SDK mock engine)."""

import json

import pytest

from pg_tenants.credentials.scram import is_scram_verifier, verifier_matches
from tests.support.program_run import (
    DYNAMIC,
    GRANT,
    POSTGRES_PROVIDER,
    RANDOM_BYTES,
    RANDOM_PASSWORD,
    ROLE,
    SCHEMA,
)
from tests.support.stack import INITECH_PASSWORD

pytestmark = pytest.mark.usefixtures("three_tenants")
TENANT = "pg-tenants:index:Tenant"


def children_of(run, tenant):
    component = next(r for r in run.registrations if r.type == TENANT and r.name == tenant)
    return {(r.type, r.name): r for r in run.registrations if r.parent == component.urn}


def test_program_runs_without_error(run):
    assert run().error is None


def test_each_generated_tenant_gets_exactly_these_resources(run):
    result = run()
    for tenant in ("acme", "globex"):
        assert set(children_of(result, tenant)) == {
            (RANDOM_PASSWORD, f"{tenant}-password"),
            (RANDOM_BYTES, f"{tenant}-role-scram-salt"),
            (ROLE, f"{tenant}-role"),
            (SCHEMA, f"{tenant}-schema"),
            (GRANT, f"{tenant}-schema-usage"),
            (GRANT, f"{tenant}-database-connect"),
            (DYNAMIC, f"{tenant}-temp-file-limit"),
        }


def test_tenant_with_provided_password_gets_no_random_password(run):
    names = {name for _, name in children_of(run(), "initech")}
    assert "initech-password" not in names
    assert "initech-role" in names


def test_every_urn_is_unique(run):
    urns = [r.urn for r in run().registrations]
    assert len(urns) == len(set(urns))


def test_generated_password_is_32_of_all_94_printable_characters(run):
    password = run().by_name("acme-password")
    assert password.inputs == {
        "length": 32,
        "lower": True,
        "numeric": True,
        "overrideSpecial": "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~",
        "special": True,
        "upper": True,
        "keepers": {"rotation": "0"},
    }


def test_role_is_a_login_without_any_elevated_attribute(run):
    role = run().by_name("acme-role")
    expected = {
        "name": "acme",
        "login": True,
        "superuser": False,
        "createDatabase": False,
        "createRole": False,
        "replication": False,
        "bypassRowLevelSecurity": False,
        "inherit": True,
        "searchPaths": ["acme"],
        "connectionLimit": 20,
        "statementTimeout": 30000,
        "idleInTransactionSessionTimeout": 0,
        "validUntil": "infinity",
        "skipReassignOwned": True,
    }
    assert {k: v for k, v in role.inputs.items() if k != "password"} == expected


def test_role_without_a_connection_limit_gets_the_finite_stack_default(run):
    assert run().by_name("globex-role").inputs["connectionLimit"] == 20


def test_stack_default_connection_limit_is_configurable(run, stack):
    stack.settings["defaultConnectionLimit"] = 7
    result = run()
    assert result.by_name("globex-role").inputs["connectionLimit"] == 7
    assert result.by_name("acme-role").inputs["connectionLimit"] == 20


def test_active_owner_role_is_protected_so_removing_the_entry_is_refused(run):
    role = run().by_name("acme-role")
    assert role.protect and not role.retain_on_delete


def test_temp_file_limit_is_one_gibibyte_per_login_role_by_default(run):
    limit = run().by_name("acme-temp-file-limit")
    assert {k: limit.inputs[k] for k in ("roles", "kilobytes", "host", "port", "dbname", "user")} == {
        "roles": ["acme"], "kilobytes": 1048576, "host": "db.example.internal", "port": 5432, "dbname": "app", "user": "postgres",
    }
    assert "password" in limit.secret_inputs


def test_temp_file_limit_of_minus_one_registers_no_limit(run, stack):
    stack.settings["defaultTempFileLimit"] = -1
    assert not [r for r in run().of_type(DYNAMIC) if r.name.endswith("temp-file-limit")]


def test_role_search_path_is_only_the_tenants_own_schema(run):
    assert run().by_name("globex-role").inputs["searchPaths"] == ["globex_data"]


def test_role_password_is_a_secret_scram_verifier_of_the_generated_password(run):
    result = run()
    role, password = result.by_name("acme-role"), result.by_name("acme-password")
    assert "password" in role.secret_inputs
    assert is_scram_verifier(role.inputs["password"])
    assert verifier_matches(role.inputs["password"], password.state["result"])


def test_role_password_uses_the_configured_scram_iterations(run, stack):
    stack.settings["scramIterations"] = 10000
    assert run().by_name("acme-role").inputs["password"].startswith("SCRAM-SHA-256$10000:")


def test_provided_password_becomes_the_role_verifier(run):
    role = run().by_name("initech-role")
    assert verifier_matches(role.inputs["password"], INITECH_PASSWORD)


def test_schema_is_owned_by_the_admin_and_never_adopted(run):
    assert run().by_name("globex-schema").inputs == {
        "name": "globex_data",
        "database": "app",
        "owner": "postgres",
        "ifNotExists": False,
        "dropCascade": False,
    }


def test_schema_grant_is_usage_and_create_on_its_own_schema_only(run):
    assert run().by_name("globex-schema-usage").inputs == {
        "database": "app",
        "role": "globex_app",
        "schema": "globex_data",
        "objectType": "schema",
        "privileges": ["CREATE", "USAGE"],
    }


def test_database_grant_is_connect_only(run):
    assert run().by_name("acme-database-connect").inputs == {
        "database": "app",
        "role": "acme",
        "objectType": "database",
        "privileges": ["CONNECT"],
    }


def test_no_default_privileges_are_registered(run):
    # The admin never creates objects in tenant schemas, so nothing grants on them in advance.
    assert not [r for r in run().registrations if "efaultPrivileg" in r.type]


def provider_ref(registration):
    return f"{registration.urn}::{registration.id}"


def test_tenant_resources_use_the_explicit_provider_of_their_database(run):
    result = run()
    components = {r.urn for r in result.of_type(TENANT)} | {result.by_name("main-app").urn}
    on_app = [r for r in result.registrations if r.type.startswith("postgresql:index/") and r.parent in components]
    assert len(on_app) == 3 * 4 + 2  # role, schema, 2 grants; 2 hardening grants
    assert {r.provider for r in on_app} == {provider_ref(result.by_name("postgresql-main-app"))}


def test_protected_databases_are_hardened_through_the_admin_database_provider(run):
    result = run()
    admin_provider = provider_ref(result.by_name("postgresql-main-postgres"))
    for database in ("postgres", "template1"):
        assert result.by_name(f"main-{database}-public-database").provider == admin_provider


def test_tenant_database_provider_arguments_are_all_explicit(run):
    provider = run().by_name("postgresql-main-app")
    assert provider.type == POSTGRES_PROVIDER
    assert provider.inputs == {
        "host": "db.example.internal",
        "port": "5432",
        "database": "app",
        "username": "postgres",
        "password": "admin-password",
        "sslmode": "require",
        "superuser": "true",
        "connectTimeout": "30",
    }
    assert "password" in provider.secret_inputs


def test_every_tenant_child_is_parented_to_its_component(run):
    result = run()
    components = {r.urn for r in result.of_type(TENANT)}
    tenant_children = [r for r in result.registrations if r.name.split("-")[0] in {"acme", "globex", "initech"} and r.type != TENANT]
    assert tenant_children and all(r.parent in components for r in tenant_children)


def test_connect_grants_wait_for_the_public_revoke_on_the_same_database(run):
    result = run()
    revoke = result.by_name("main-app-public-database")
    for tenant in ("acme", "globex", "initech"):
        assert revoke.urn in result.by_name(f"{tenant}-database-connect").dependencies


def test_hardening_revokes_public_on_tenant_and_protected_databases(run):
    result = run()
    revokes = {r.name: r.inputs for r in result.of_type(GRANT) if r.inputs["role"] == "public"}
    assert revokes == {
        "main-app-public-database": {"database": "app", "role": "public", "objectType": "database", "privileges": []},
        "main-app-public-schema": {"database": "app", "role": "public", "schema": "public", "objectType": "schema", "privileges": ["USAGE"]},
        "main-postgres-public-database": {"database": "postgres", "role": "public", "objectType": "database", "privileges": []},
        "main-template1-public-database": {"database": "template1", "role": "public", "objectType": "database", "privileges": []},
    }


def test_hardening_switched_off_registers_no_public_revokes(run, stack):
    stack.settings["hardenDatabases"] = False
    result = run()
    assert [r for r in result.of_type(GRANT) if r.inputs["role"] == "public"] == []
    assert result.by_name("acme-database-connect").dependencies == (result.by_name("acme-role").urn,)


def test_tenants_output_is_plain_and_names_where_each_tenant_lives(run):
    output = run().outputs["tenants"]
    assert not output.secret
    assert output.value == {
        "acme": {"schema": "acme", "username": "acme", "server": "main", "database": "app", "isolation": "schema", "state": "active", "on_remove": "retain",
                 "readonly_login": False},
        "globex": {"schema": "globex_data", "username": "globex_app", "server": "main", "database": "app", "isolation": "schema", "state": "active", "on_remove": "retain",
                 "readonly_login": False},
        "initech": {"schema": "initech", "username": "initech", "server": "main", "database": "app", "isolation": "schema", "state": "active", "on_remove": "retain",
                 "readonly_login": False},
    }


def test_connections_output_is_secret_with_every_format(run):
    output = run().outputs["connections"]
    assert output.secret
    assert set(output.value) == {"acme", "globex", "initech"}
    assert all(set(formats) == {"uri", "dsn", "jdbc", "env", "pgpass"} for formats in output.value.values())


def test_connections_carry_the_generated_and_provided_passwords(run):
    result = run()
    connections = result.outputs["connections"].value
    assert connections["acme"]["env"]["PGPASSWORD"] == result.by_name("acme-password").state["result"]
    assert connections["initech"]["env"]["PGPASSWORD"] == INITECH_PASSWORD


def test_no_plaintext_password_in_any_registered_input(run):
    result = run()
    passwords = [result.by_name(f"{t}-password").state["result"] for t in ("acme", "globex")] + [INITECH_PASSWORD]
    for registration in result.registrations:
        text = json.dumps(registration.inputs)
        assert not any(p in text for p in passwords), registration.name


def test_valid_until_is_declared_as_a_utc_server_reads_it_back_without_the_catalogs(run):
    # resource_postgresql_role.go reads VALID UNTIL back as rolvaliduntil::text.
    assert run().by_name("initech-role").inputs["validUntil"] == "2027-12-31 23:59:59+00"
