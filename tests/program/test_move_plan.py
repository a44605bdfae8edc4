"""`pg-tenants move-plan`: the exact commands and edits that move tenants between stacks, or why it cannot."""

from __future__ import annotations

import io

import pytest

from pg_tenants.cli import main
from tests.support.shards import FLEET, eu1, eu2, write_fleet, write_stack_file


def move_plan(*args: str, cwd) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        code = main(["move-plan", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tenants_dir):
    project = tenants_dir.parent
    (project / "Pulumi.yaml").write_text("name: pg-tenants\nruntime: python\n")
    write_stack_file(project, "eu-1", eu1(tenants_dir))
    write_stack_file(project, "eu-2", eu2(tenants_dir))
    write_fleet(tenants_dir)
    return project


def test_the_plan_lists_the_secrets_the_edits_and_one_state_move_in_order(project):
    code, out, err = move_plan("--from", "eu-1", "--to", "eu-2", "--tenant", "acme", "--tenant", "initech", cwd=project)

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "# Move acme, initech from stack eu-1 to stack eu-2. `pulumi state move` rewrites both states: nothing in",
        "# PostgreSQL is deleted or re-created, and every URN keeps all but its stack segment.",
        "#",
        "# 1. Copy the secrets eu-2 needs (re-encrypted for eu-2, never printed); this edits Pulumi.eu-2.yaml:",
        "pulumi config cp --stack eu-1 --dest eu-2 pg-tenants:initechPassword",
        "#",
        "# 2. Edit the tenant list; open a pull request with it (and any stack file edited above), but do not merge it:",
        "#      tenants/tenants.yaml:2: tenant acme: write `shard: eu-2` (was no shard, owned by server main)",
        "#      tenants/tenants.yaml:10: tenant initech: write `shard: eu-2` (was no shard, owned by server main)",
        "#    Its `validate --previous` for eu-1 refuses until step 5: eu-1's state still holds the tenants.",
        "#",
        "# 3. Stop every `pulumi up` of eu-1 and eu-2 until the pull request is merged.",
        "#",
        "# 4. Back up both states:",
        "pulumi stack export --stack eu-1 --file eu-1.before-move.json",
        "pulumi stack export --stack eu-2 --file eu-2.before-move.json",
        "#",
        "# 5. Move the tenants' components in one step: their children move with them; the provider of each",
        "#    database is copied, or eu-2's own is used if its inputs are equal (if not, nothing is saved):",
        "pulumi state move --source eu-1 --dest eu-2 --yes 'urn:pulumi:eu-1::pg-tenants::pg-tenants:index:Tenant::acme' "
        "'urn:pulumi:eu-1::pg-tenants::pg-tenants:index:Tenant::initech'",
        "#",
        "# 6. Re-run the pull request's checks: the previews of eu-1 and eu-2 must not create, delete or",
        "#    replace anything of these tenants. Merge; the deploy's `pulumi up` of both stacks updates their outputs.",
    ]


def test_fully_qualified_stack_names_keep_only_the_stack_in_the_urn(project):
    (project / "Pulumi.yaml").write_text("name: tenants-eu\nruntime: python\n")

    code, out, _ = move_plan("--from", "acme-corp/tenants-eu/eu-1", "--to", "acme-corp/tenants-eu/eu-2", "--tenant", "acme", cwd=project)

    assert code == 0
    assert ("pulumi state move --source acme-corp/tenants-eu/eu-1 --dest acme-corp/tenants-eu/eu-2 --yes "
            "'urn:pulumi:eu-1::tenants-eu::pg-tenants:index:Tenant::acme'") in out.splitlines()


def test_a_tenant_moving_back_to_its_server_stack_is_planned_the_same_way(project, tenants_dir):
    code, out, _ = move_plan("--from", "eu-2", "--to", "eu-1", "--tenant", "hooli", cwd=project)

    assert code == 0
    assert "#      tenants/tenants.yaml:7: tenant hooli: write `shard: eu-1` (was shard: eu-2)" in out.splitlines()


def test_a_destination_whose_server_differs_is_refused_before_any_command(project, tenants_dir):
    config = eu2(tenants_dir)
    config.servers["main"]["sslmode"] = "verify-full"
    write_stack_file(project, "eu-2", config)

    code, out, _ = move_plan("--from", "eu-1", "--to", "eu-2", "--tenant", "acme", cwd=project)

    assert code == 1
    assert out.splitlines() == [
        "Pulumi.eu-2.yaml:8: pg-tenants:servers.main.sslmode: differs from Pulumi.eu-1.yaml ('verify-full' here, "
        "'require' there): the copied provider would not match the one this stack declares",
        "    fix: make servers.main the same in both stacks",
    ]


def test_a_default_that_would_change_the_tenants_inputs_is_refused(project, tenants_dir):
    config = eu2(tenants_dir)
    config.settings["defaultTempFileLimit"] = 4096
    write_stack_file(project, "eu-2", config)

    code, out, _ = move_plan("--from", "eu-1", "--to", "eu-2", "--tenant", "acme", cwd=project)

    assert code == 1
    assert out.splitlines() == [
        "tenants/tenants.yaml:2: tenants[0].temp_file_limit: would be 4096 in stack eu-2 instead of 1048576: the stacks' "
        "defaults differ",
        "    fix: write `temp_file_limit: 1048576` in the entry first, and apply it",
    ]


def test_a_destination_without_the_tenants_server_is_refused(project, tenants_dir):
    config = eu2(tenants_dir)
    del config.servers["main"]
    del config.secrets["mainAdminPassword"]
    write_stack_file(project, "eu-2", config)
    write_fleet(tenants_dir, [t for t in FLEET if t["name"] != "hooli"])

    code, out, _ = move_plan("--from", "eu-1", "--to", "eu-2", "--tenant", "acme", cwd=project)

    assert code == 1
    assert "pg-tenants:servers: server 'main' of tenant 'acme' is not in this stack" in out
    assert "`pulumi config cp --stack eu-1 --dest eu-2 pg-tenants:mainAdminPassword`" in out


def test_a_tenant_of_another_stack_is_refused(project):
    code, out, _ = move_plan("--from", "eu-1", "--to", "eu-2", "--tenant", "globex", cwd=project)

    assert code == 1
    assert out.splitlines() == [
        "tenants/tenants.yaml:5: tenants[1].shard: tenant 'globex' already belongs to stack eu-2 (server second)",
        "    fix: nothing to move",
    ]


def test_an_unknown_tenant_is_refused(project):
    code, out, _ = move_plan("--from", "eu-1", "--to", "eu-2", "--tenant", "nobody", cwd=project)

    assert code == 1
    assert "tenant 'nobody' is not in the tenant list" in out


def test_moving_a_stack_onto_itself_is_a_usage_error(project):
    code, _, err = move_plan("--from", "eu-1", "--to", "org/pg-tenants/eu-1", "--tenant", "acme", cwd=project)

    assert code == 2
    assert err == "pg-tenants move-plan: error: --from and --to name the same stack\n"
