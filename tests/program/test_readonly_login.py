"""`readonly_login: true`: what the program registers for a tenant's read-only login `<username>_ro`."""

import pytest

from pg_tenants.credentials.scram import verifier_matches
from tests.support.program_run import DEFAULT_PRIVILEGES, DYNAMIC, GRANT, RANDOM_BYTES, RANDOM_PASSWORD, ROLE, changed_urns
from tests.support.stack import THREE_TENANTS, write_tenant_file

TENANT = "pg-tenants:index:Tenant"
PREFIX = "urn:pulumi:test::pg-tenants::pg-tenants:index:Tenant$"
READONLY_RESOURCES = {
    (RANDOM_PASSWORD, "acme-password-ro"),
    (RANDOM_BYTES, "acme-login-ro-scram-salt"),
    (ROLE, "acme-login-ro"),
    (GRANT, "acme-database-connect-ro"),
    (GRANT, "acme-schema-usage-ro"),
    (DEFAULT_PRIVILEGES, "acme-default-select-ro"),
    (GRANT, "acme-table-select-ro"),
    (DYNAMIC, "acme-read-only-default"),
    (DYNAMIC, "acme-login-handover-ro"),
}


def with_acme(**fields):
    tenants = [dict(t) for t in THREE_TENANTS]
    tenants[0].update(fields)
    return tenants


def children_of(run, tenant="acme"):
    component = next(r for r in run.registrations if r.type == TENANT and r.name == tenant)
    return {(r.type, r.name): r for r in run.registrations if r.parent == component.urn}


@pytest.fixture
def deploy(run, tenants_dir):
    def _deploy(tenants):
        write_tenant_file(tenants_dir, "tenants.yaml", tenants)
        result = run()
        assert result.error is None
        return result

    return _deploy


@pytest.fixture
def edit(run, tenants_dir):
    def _edit(before, after):
        write_tenant_file(tenants_dir, "tenants.yaml", before)
        first = run()
        write_tenant_file(tenants_dir, "tenants.yaml", after)
        return first, run()

    return _edit


def test_read_only_login_adds_exactly_these_children_of_the_tenant(edit):
    before, after = edit(THREE_TENANTS, with_acme(readonly_login=True))
    added = {urn for urn, change in changed_urns(before, after).items() if change == {"added"}}
    assert added == {f"{PREFIX}{type_}::{name}" for type_, name in READONLY_RESOURCES}
    assert READONLY_RESOURCES <= set(children_of(after))


def test_turning_it_on_changes_nothing_of_the_tenants_own_login_but_its_temp_file_limit(edit):
    before, after = edit(THREE_TENANTS, with_acme(readonly_login=True))
    changed = {urn: change for urn, change in changed_urns(before, after).items() if change != {"added"}}
    assert changed == {f"{PREFIX}{DYNAMIC}::acme-temp-file-limit": {"roles"}}
    assert after.by_name("acme-temp-file-limit").inputs["roles"] == ["acme", "acme_ro"]


def test_read_only_role_is_a_noinherit_login_of_no_other_role(deploy):
    role = deploy(with_acme(readonly_login=True)).by_name("acme-login-ro")
    assert {k: v for k, v in role.inputs.items() if k != "password"} == {
        "name": "acme_ro",
        "login": True,
        "superuser": False,
        "createDatabase": False,
        "createRole": False,
        "replication": False,
        "bypassRowLevelSecurity": False,
        "inherit": False,
        "searchPaths": ["acme"],
        "connectionLimit": 20,
        "statementTimeout": 30000,
        "idleInTransactionSessionTimeout": 0,
        "validUntil": "infinity",
        "skipReassignOwned": True,
    }
    assert (role.protect, role.retain_on_delete, role.import_id) == (False, False, "")


def test_read_only_password_is_its_own_and_only_its_scram_verifier_reaches_the_role(deploy):
    result = deploy(with_acme(readonly_login=True))
    password = result.by_name("acme-password-ro").state["result"]
    assert password != result.by_name("acme-password").state["result"]
    assert result.by_name("acme-password-ro").inputs["keepers"] == {"rotation": "0"}
    verifier = result.by_name("acme-login-ro").inputs["password"]
    assert verifier_matches(verifier, password)
    assert "password" in result.by_name("acme-login-ro").secret_inputs


def test_read_only_login_holds_usage_on_the_schema_and_select_on_its_tables_now_and_later(deploy):
    result = deploy(with_acme(readonly_login=True))
    assert result.by_name("acme-schema-usage-ro").inputs == {
        "database": "app", "role": "acme_ro", "schema": "acme", "objectType": "schema", "privileges": ["USAGE"]}
    assert result.by_name("acme-table-select-ro").inputs == {
        "database": "app", "role": "acme_ro", "schema": "acme", "objectType": "table", "privileges": ["SELECT"]}
    # FOR ROLE the tenant's owner: the entry is the owner's, the admin owns nothing by it.
    assert result.by_name("acme-default-select-ro").inputs == {
        "database": "app", "owner": "acme", "role": "acme_ro", "schema": "acme", "objectType": "table",
        "privileges": ["SELECT"]}
    assert result.by_name("acme-database-connect-ro").inputs == {
        "database": "app", "role": "acme_ro", "objectType": "database", "privileges": ["CONNECT"]}
    assert result.by_name("acme-read-only-default").inputs["role"] == "acme_ro"


def test_read_only_resources_run_one_after_the_other_after_every_other_login_resource(deploy):
    result = deploy(with_acme(readonly_login=True, zero_downtime_rotation=True))
    urn = lambda name: result.by_name(name).urn  # noqa: E731
    role = result.by_name("acme-login-ro")
    assert {urn("acme-schema-usage"), urn("acme-login-a"), urn("acme-login-b"), urn("acme-database-connect-a"),
            urn("acme-database-connect-b"), urn("acme-login-handover")} <= set(role.dependencies)
    chain = ["acme-login-ro", "acme-schema-usage-ro", "acme-default-select-ro", "acme-table-select-ro", "acme-read-only-default"]
    for first, then in zip(chain, chain[1:]):
        assert urn(first) in result.by_name(then).dependencies, then
    handover = result.by_name("acme-login-handover-ro")
    assert handover.inputs["slots"] == ["acme_ro"] and handover.inputs["owner"] == "acme"
    assert {urn(n) for n in [*chain, "acme-database-connect-ro"]} <= set(handover.dependencies)


def test_read_only_credentials_are_exported_in_every_format_as_a_secret(deploy):
    output = deploy(with_acme(readonly_login=True)).outputs["connections"]
    assert output.secret
    acme = output.value["acme"]
    readonly = acme["readonly"]
    assert set(readonly) == {"uri", "dsn", "jdbc", "env", "pgpass"}
    assert readonly["env"]["PGUSER"] == "acme_ro" and acme["env"]["PGUSER"] == "acme"
    assert readonly["env"]["PGPASSWORD"] != acme["env"]["PGPASSWORD"]
    assert "readonly" not in output.value["globex"]


def test_tenants_output_says_which_tenants_have_a_read_only_login(deploy):
    tenants = deploy(with_acme(readonly_login=True)).outputs["tenants"].value
    assert {name: t["readonly_login"] for name, t in tenants.items()} == {"acme": True, "globex": False, "initech": False}


def test_readonly_rotation_renews_only_the_read_only_password(edit):
    before, after = edit(with_acme(readonly_login=True), with_acme(readonly_login=True, readonly_rotation=1))
    assert changed_urns(before, after) == {
        f"{PREFIX}{RANDOM_PASSWORD}::acme-password-ro": {"keepers"},
        f"{PREFIX}{ROLE}::acme-login-ro": {"password"},
    }
    password = after.by_name("acme-password-ro").state["result"]
    assert password != before.by_name("acme-password-ro").state["result"]
    assert verifier_matches(after.by_name("acme-login-ro").inputs["password"], password)


def test_rotation_of_the_tenants_password_leaves_the_read_only_password(edit):
    before, after = edit(with_acme(readonly_login=True), with_acme(readonly_login=True, rotation=1))
    assert set(changed_urns(before, after)) == {f"{PREFIX}{RANDOM_PASSWORD}::acme-password", f"{PREFIX}{ROLE}::acme-role"}


def test_a_provided_password_is_the_tenants_own_the_read_only_one_is_generated(deploy):
    result = deploy([{"name": "initech", "password_secret": "initechPassword", "readonly_login": True}])
    names = {name for _, name in children_of(result, "initech")}
    assert "initech-password" not in names and "initech-password-ro" in names
    readonly = result.outputs["connections"].value["initech"]["readonly"]
    assert readonly["env"]["PGPASSWORD"] == result.by_name("initech-password-ro").state["result"]


def test_suspending_takes_login_from_the_read_only_role_too(edit):
    before, after = edit(with_acme(readonly_login=True), with_acme(readonly_login=True, state="suspended"))
    assert changed_urns(before, after) == {f"{PREFIX}{ROLE}::acme-role": {"login"}, f"{PREFIX}{ROLE}::acme-login-ro": {"login"}}


def test_offboarding_removes_the_read_only_login_with_everything_it_holds(edit):
    before, after = edit(with_acme(readonly_login=True), with_acme(readonly_login=True, state="offboarded"))
    removed = {urn for urn, change in changed_urns(before, after).items() if change == {"removed"}}
    assert {f"{PREFIX}{type_}::{name}" for type_, name in READONLY_RESOURCES} <= removed
    assert "acme" not in after.outputs["connections"].value
    assert after.outputs["tenants"].value["acme"]["readonly_login"] is False


def test_purge_drops_what_the_read_only_login_owns_too(deploy):
    purge = deploy(with_acme(readonly_login=True, on_remove="purge", zero_downtime_rotation=True)).by_name("acme-purge")
    # The read-only login first, on its own: see pg_tenants.admin_sql.OwnedObjectsPurgeProvider.
    assert (purge.inputs["roles"], purge.inputs["grantees"]) == (["acme", "acme_a", "acme_b"], ["acme_ro"])


def test_zero_downtime_tenant_exports_current_previous_and_read_only_credentials(deploy):
    acme = deploy(with_acme(readonly_login=True, zero_downtime_rotation=True)).outputs["connections"].value["acme"]
    assert (acme["env"]["PGUSER"], acme["previous"]["env"]["PGUSER"], acme["readonly"]["env"]["PGUSER"]) == ("acme_a", "acme_b", "acme_ro")


# -- validation: every problem with file, line and field, and nothing registered


def expected_error(lines):
    header = f"{len(lines)} problem{'s' if len(lines) != 1 else ''} in the tenant list or stack config; nothing was changed:"
    return "\n".join([header, *(f"  {line}" for line in lines)])


@pytest.mark.parametrize(("tenants", "lines"), [
    pytest.param(
        [{"name": "acme", "readonly_rotation": 1}],
        ["tenants/t.yaml:3: tenants[0].readonly_rotation: readonly_rotation applies to the read-only login, which this "
         "tenant does not have (fix: remove readonly_rotation, or add `readonly_login: true`)"],
        id="readonly_rotation_without_readonly_login"),
    pytest.param(
        [{"name": "a" * 61, "readonly_login": True}],
        [f"tenants/t.yaml:2: tenants[0].name: '{'a' * 61}' leaves no room for the _ro suffix of the read-only login "
         "(fix: use a username of at most 60 bytes)"],
        id="username_too_long_for_the_suffix"),
    pytest.param(
        [{"name": "acme", "readonly_login": True}, {"name": "acme_ro"}],
        ["tenants/t.yaml:3: tenants[0].readonly_login: its read-only login 'acme_ro' is a role of tenant 'acme_ro' "
         "(tenants/t.yaml:4) (fix: give one of the two tenants another username)"],
        id="read_only_login_is_another_tenants_username"),
    pytest.param(
        [{"name": "postgres_app", "username": "postgres_app", "readonly_login": True, "adopt": True}],
        ["tenants/t.yaml:5: tenants[0].adopt: an adopted tenant cannot get a read-only login in the same change "
         "(fix: adopt it first; once the import is applied and adopt is removed, turn on readonly_login)"],
        id="adopt_and_readonly_login_in_one_change"),
])
def test_read_only_login_problems_are_located_and_register_nothing(run, tenants_dir, tenants, lines):
    write_tenant_file(tenants_dir, "t.yaml", tenants)
    result = run()
    assert str(result.error) == expected_error(lines)
    assert result.registrations == []


def test_read_only_login_named_like_the_admin_is_refused(run, stack, tenants_dir):
    stack.servers["main"]["adminUsername"] = "app_ro"
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "app", "readonly_login": True}])
    assert str(run().error) == expected_error([
        "tenants/t.yaml:3: tenants[0].readonly_login: its read-only login 'app_ro' is the name of a server's admin "
        "(fix: give the tenant another username)"])


def test_names_that_only_look_alike_are_accepted(run, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [
        {"name": "acme", "readonly_login": True}, {"name": "globex", "username": "acme_r", "zero_downtime_rotation": True},
        {"name": "hooli", "username": "acme_ro_x", "readonly_login": True}])
    assert run().error is None


def test_the_owner_of_a_zero_downtime_tenant_named_like_a_read_only_login_is_refused(run, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "globex", "username": "acme_ro", "zero_downtime_rotation": True},
                                              {"name": "acme", "readonly_login": True}])
    assert "its read-only login 'acme_ro' is a role of tenant 'globex'" in str(run().error)
