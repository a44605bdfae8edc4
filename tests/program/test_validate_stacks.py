"""`pg-tenants validate --stacks`: every tenant belongs to exactly one stack, every shared database to one hardening stack."""

from __future__ import annotations

import io

import pytest

from pg_tenants.cli import main
from tests.support.shards import FLEET, eu1, eu2, with_shard, write_fleet, write_stack_file


def validate(*args: str, cwd) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        code = main(["validate", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tenants_dir):
    write_stack_file(tenants_dir.parent, "eu-1", eu1(tenants_dir))
    write_stack_file(tenants_dir.parent, "eu-2", eu2(tenants_dir))
    return tenants_dir.parent


def lines(out: str) -> list[str]:
    return out.splitlines()[:-1]  # the problems, without the summary


def test_a_fleet_where_every_tenant_has_one_stack_is_valid(project, tenants_dir):
    write_fleet(tenants_dir)

    code, out, _ = validate("--stacks", "Pulumi.eu-1.yaml", "--stacks", "Pulumi.eu-2.yaml", cwd=project)

    assert code == 0, out
    assert out.startswith("OK: 2 stack configs and tenants are valid (4 tenants in 1 file,")


def test_a_quoted_glob_names_every_stack_file(project, tenants_dir):
    write_fleet(tenants_dir)

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 0, out
    assert out.startswith("OK: 2 stack configs")


def test_a_tenant_of_no_stack_is_refused_with_where_and_how(project, tenants_dir):
    write_fleet(tenants_dir, with_shard(FLEET, "acme", "eu-3"))

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert lines(out) == [
        f"{tenants_dir.name}/tenants.yaml:5: tenants[0].shard: tenant 'acme' belongs to no stack: no stack has shard "
        "'eu-3', so no `pulumi up` would declare it",
        "    fix: write `shard:` with one of: eu-1, eu-2",
    ]


def test_a_tenant_of_two_stacks_is_refused_naming_both_claims(project, tenants_dir):
    config = eu2(tenants_dir)
    config.settings["shard"] = {"name": "eu-2", "servers": ["second"], "databases": ["main/app"]}
    write_stack_file(project, "eu-2", config)
    write_fleet(tenants_dir, [FLEET[0]])

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert (f"{tenants_dir.name}/tenants.yaml:3: tenants[0].server: tenant 'acme' belongs to 2 stacks: eu-1 (server main); "
            "eu-2 (database main/app)") in out
    assert "    fix: write `shard:` naming one of them, or list its server/database in one stack's pg-tenants:shard only" in out


def test_a_database_two_stacks_harden_is_refused(project, tenants_dir):
    config = eu2(tenants_dir)
    config.settings["shard"] = {"name": "eu-2", "servers": ["second"], "databases": ["main/app"]}
    write_stack_file(project, "eu-2", config)
    write_fleet(tenants_dir, [{**FLEET[0], "shard": "eu-1"}])

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert ("Pulumi.eu-2.yaml:22: pg-tenants:shard: database 'app' on db.example.internal:5432 is hardened by stacks "
            "eu-1, eu-2: the first to drop its hardening would give PUBLIC's privileges back while the others' tenants "
            "remain") in out


def test_a_database_with_tenants_and_no_hardening_stack_is_refused(project, tenants_dir):
    config = eu2(tenants_dir)
    config.settings["hardenDatabases"] = False
    write_stack_file(project, "eu-2", config)
    write_fleet(tenants_dir)

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert lines(out)[0].endswith(
        "pg-tenants:shard: database 'app' on db2.example.internal:5432 holds tenants of stack eu-2 but no stack hardens it")


def test_every_stack_of_several_must_name_its_shard(project, tenants_dir):
    config = eu2(tenants_dir)
    del config.settings["shard"]
    write_stack_file(project, "eu-2", config)
    write_fleet(tenants_dir)

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert lines(out)[0] == "Pulumi.eu-2.yaml:1: pg-tenants:shard: is not set: with several stacks, each must say which tenants it owns"


def test_two_stacks_with_one_shard_name_are_refused(project, tenants_dir):
    config = eu2(tenants_dir)
    config.settings["shard"] = {"name": "eu-1", "servers": ["second"]}
    write_stack_file(project, "eu-2", config)
    write_fleet(tenants_dir, [FLEET[0], FLEET[1]])

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert "Pulumi.eu-2.yaml:22: pg-tenants:shard: shard name 'eu-1' is also the shard of stack 'eu-1'" in out


def test_stacks_reading_different_tenant_lists_are_refused(project, tenants_dir):
    other = eu2(tenants_dir)
    path = write_stack_file(project, "eu-2", other)
    path.write_text(path.read_text().replace("pg-tenants:tenantsDir: tenants", "pg-tenants:tenantsDir: other"))
    write_fleet(tenants_dir)

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert "pg-tenants:tenantsDir: the stacks read different tenant lists" in out


def test_each_stacks_own_checks_still_apply(project, tenants_dir):
    write_fleet(tenants_dir, [*FLEET, {"name": "umbrella", "server": "second", "database": "nope"}])

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 1
    assert "tenants[4].database: database 'nope' is not a database of server 'second'" in out


def test_a_pattern_matching_no_file_is_a_usage_error(project):
    code, _, err = validate("--stacks", "Pulumi.us-*.yaml", cwd=project)

    assert code == 2
    assert err == "pg-tenants validate: error: no stack config file matches Pulumi.us-*.yaml\n"


def test_stacks_with_previous_is_a_usage_error(project, tenants_dir):
    write_fleet(tenants_dir)

    code, _, err = validate("--stacks", "Pulumi.eu-1.yaml", "--previous", "outputs.json", cwd=project)

    assert code == 2
    assert "--stacks checks the stacks' own tenant list" in err


def test_a_stack_name_that_prefixes_another_is_a_warning_about_pr_comments(project, tenants_dir):
    (project / "Pulumi.eu-2.yaml").rename(project / "Pulumi.eu-10.yaml")
    write_fleet(tenants_dir)

    code, out, _ = validate("--stacks", "Pulumi.eu-*.yaml", cwd=project)

    assert code == 0, out
    assert lines(out) == [
        "Pulumi.eu-10.yaml: (stack name): warning: stack 'eu-1' is a prefix of stack 'eu-10': pulumi/actions would post "
        "both previews in one pull request comment",
        "    fix: name stacks so none starts with another's name, e.g. eu-01 … eu-10",
    ]
