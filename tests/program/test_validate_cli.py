"""`pg-tenants validate`: the program's own rules, without Pulumi, a database or credentials."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pg_tenants.cli import main
from pg_tenants.stack_config import load_stack_file
from tests.support.stack import INITECH_PASSWORD, THREE_TENANTS, StackConfig, write_tenant_file

PROJECT_DIR = Path(__file__).resolve().parents[2]


def validate(*args: str, cwd: Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        code = main(["validate", *args], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def write_stack_file(path: Path, stack: StackConfig) -> Path:
    """The stack as `pulumi config set` would leave it in Pulumi.<stack>.yaml (secrets encrypted)."""
    values, secret_keys = stack.as_pulumi_config()
    config = {key: ({"secure": "v1:ciphertext"} if key in secret_keys else value) for key, value in values.items()}
    config["pg-tenants:tenantsDir"] = "tenants"
    path.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    return path


@pytest.fixture
def project(tenants_dir) -> Path:
    return tenants_dir.parent


def test_a_valid_tenant_list_exits_0(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    code, out, _ = validate("tenants", cwd=project)

    assert code == 0
    assert out.startswith("OK: tenants is valid (3 tenants in 1 file,")


def test_a_problem_is_shown_with_file_line_field_and_fix(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "AcmeMixed"}])

    code, out, _ = validate("tenants", cwd=project)

    assert code == 1
    assert "tenants/bad.yaml:2: tenants[0].name: 'AcmeMixed' is not a lowercase SQL identifier\n    fix: use 1 to 63" in out


def test_every_problem_is_listed_not_just_the_first(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "AcmeMixed"}, {"name": "public"}, {"name": "ok", "shema": "x"}])

    _, out, _ = validate("tenants", cwd=project)

    assert out.count("    fix: ") == 3
    assert out.splitlines()[-1].startswith("3 problems in tenants (3 tenants in 1 file,")


def test_github_format_emits_one_error_annotation_per_problem(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])

    _, out, _ = validate("tenants", "--format", "github", cwd=project)

    assert out.splitlines()[0] == (
        "::error file=tenants/bad.yaml,line=2,title=tenants[0].name::'public' is a reserved name. Fix: choose another "
        "name; public, postgres, information_schema, pg_* and the admin's own name are reserved")


def test_github_annotation_escapes_newlines_percent_and_property_separators():
    from pg_tenants.validate_report import format_problems
    from pg_tenants.problems import Problem

    problem = Problem("t,1:x.yaml", 3, "a:b", "100% wrong\nreally", "fix it")

    line = format_problems([problem], "github").splitlines()[0]

    assert line == "::error file=t%2C1%3Ax.yaml,line=3,title=a%3Ab::100%25 wrong%0Areally. Fix: fix it"


def test_json_format_lists_problems_for_other_tools(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "acme", "statement_timeout": -5}])

    code, out, _ = validate("tenants", "--format", "json", cwd=project)

    report = json.loads(out)
    assert code == 1 and report["valid"] is False
    assert report["problems"] == [{
        "file": "tenants/bad.yaml", "line": 3, "field": "tenants[0].statement_timeout",
        "message": "must be at least 0, found -5", "fix": "use a value of 0 or more",
    }]


def test_a_literal_password_is_refused_without_being_echoed(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "acme", "password": "hunter2hunter2hunter2"}])

    for output_format in ("human", "github", "json"):
        code, out, err = validate("tenants", "--format", output_format, cwd=project)
        assert code == 1 and "hunter2" not in out + err


def test_the_stack_config_adds_the_rules_that_need_it(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme", "server": "other"}])
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    code_without, _, _ = validate("tenants", cwd=project)
    code_with, out, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)

    assert code_without == 0
    assert code_with == 1 and "server 'other' is not in the stack config" in out


def test_the_tenants_directory_defaults_to_the_stack_configs_tenants_dir(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "public"}])
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    code, out, _ = validate("--stack-config", str(stack_file), cwd=project / "..")

    assert code == 1 and "'public' is a reserved name" in out


def test_problems_in_the_stack_config_and_the_tenant_files_come_together(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "public"}])
    stack.settings["defaultServer"] = "missing"
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    _, out, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)

    assert "server 'missing' is not in servers" in out and "'public' is a reserved name" in out


def test_validate_reports_exactly_what_the_program_refuses(project, tenants_dir, stack, run):
    # One implementation: every problem validate prints is in the program's own error.
    write_tenant_file(tenants_dir, "a.yaml", [{"name": "acme"}, {"name": "AcmeMixed"}, {"name": "x", "server": "nope"}])
    write_tenant_file(tenants_dir, "b.yaml", [{"name": "acme", "connection_limit": "10"}])
    stack.secrets["initechPassword"] = INITECH_PASSWORD
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    _, out, _ = validate("tenants", "--stack-config", str(stack_file), "--format", "json", cwd=project)
    program_error = str(run().error)

    problems = json.loads(out)["problems"]
    assert len(problems) == 3
    for p in problems:
        assert f"{p['file']}:{p['line']}: {p['field']}: {p['message']} (fix: {p['fix']})" in program_error


def test_previous_outputs_refuse_moving_a_tenant_to_another_database(project, tenants_dir, stack):
    stack.servers["main"]["databases"] = ["app", "billing"]
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme", "database": "billing"}])
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)
    previous = project / "previous.json"
    previous.write_text(json.dumps({"tenants": {"acme": {"schema": "acme", "username": "acme", "server": "main",
                                                         "database": "app"}}, "connections": "[secret]"}))

    code, out, _ = validate("tenants", "--stack-config", str(stack_file), "--previous", str(previous), cwd=project)

    assert code == 1 and "acme.database: changing database from 'app' to 'billing' cannot be applied in place" in out


def test_previous_outputs_without_a_stack_config_are_a_usage_error(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    code, _, err = validate("tenants", "--previous", "previous.json", cwd=project)

    assert code == 2 and "--previous needs --stack-config" in err


def test_a_missing_tenants_directory_is_a_usage_error(tmp_path):
    code, _, err = validate("nowhere", cwd=tmp_path)

    assert code == 2 and "tenants directory not found: nowhere" in err


def test_a_missing_stack_config_file_is_a_usage_error(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    code, _, err = validate("tenants", "--stack-config", "Pulumi.nope.yaml", cwd=project)

    assert code == 2 and "stack config file not found" in err


def test_an_unknown_format_is_a_usage_error(project, tenants_dir, capsys):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    code, _, _ = validate("tenants", "--format", "xml", cwd=project)

    assert code == 2


def test_validate_runs_as_a_module(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    done = subprocess.run([sys.executable, "-m", "pg_tenants.cli", "validate", "tenants"], cwd=project,
                          capture_output=True, text=True, env={"PYTHONPATH": str(PROJECT_DIR), "PATH": "/usr/bin:/bin"})

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("OK: tenants is valid (3 tenants in 1 file,")


# ----------------------------------------------------------------------------- never crashes


def broken_tenants(tenants_dir: Path) -> None:
    """One good file with a problem, and four files that cannot be read as YAML at all."""
    write_tenant_file(tenants_dir, "ok.yaml", [{"name": "Acme"}])
    (tenants_dir / "latin1.yaml").write_bytes(b"tenants:\n  - name: caf\xe9\n")
    (tenants_dir / "folder.yaml").mkdir()
    (tenants_dir / "gone.yaml").symlink_to("deleted.yaml")
    (tenants_dir / "bomb.yaml").write_text("tenants: &a [*a]\n")


BROKEN = [
    ("tenants/bomb.yaml", 1, "(file)", "YAML anchors and aliases are not allowed in tenant files"),
    ("tenants/folder.yaml", None, "(file)", "is a directory, not a file"),
    ("tenants/gone.yaml", None, "(file)", "is a symbolic link to deleted.yaml, which does not exist"),
    ("tenants/latin1.yaml", 2, "(file)", "the file is not UTF-8 text (byte 0xe9)"),
    ("tenants/ok.yaml", 2, "tenants[0].name", "'Acme' is not a lowercase SQL identifier"),
]


def test_unreadable_files_are_problems_of_their_own_and_the_others_are_still_checked(project, tenants_dir):
    broken_tenants(tenants_dir)

    code, out, err = validate("tenants", cwd=project)

    assert (code, err) == (1, "")
    for file, line, field, message in BROKEN:
        assert f"{file}{'' if line is None else f':{line}'}: {field}: {message}\n    fix: " in out
    assert out.splitlines()[-1].startswith("5 problems in tenants (1 tenant in 5 files,")


def test_unreadable_files_are_reported_in_json(project, tenants_dir):
    broken_tenants(tenants_dir)

    code, out, _ = validate("tenants", "--format", "json", cwd=project)

    report = json.loads(out)
    assert code == 1 and report["valid"] is False and report["files"] == 5
    assert [(p["file"], p["line"], p["field"], p["message"]) for p in report["problems"]] == BROKEN
    assert all(p["fix"] for p in report["problems"])


def test_unreadable_files_are_reported_as_github_annotations(project, tenants_dir):
    broken_tenants(tenants_dir)

    code, out, _ = validate("tenants", "--format", "github", cwd=project)

    assert code == 1
    assert "::error file=tenants/folder.yaml,title=(file)::is a directory, not a file. Fix: " in out
    assert "::error file=tenants/latin1.yaml,line=2,title=(file)::the file is not UTF-8 text (byte 0xe9). Fix: " in out


def test_a_file_without_read_permission_is_a_problem(project, tenants_dir, monkeypatch):
    write_tenant_file(tenants_dir, "secret.yaml", [{"name": "acme"}])
    write_tenant_file(tenants_dir, "other.yaml", [{"name": "Bad"}])
    from pg_tenants.tenants import yaml_source

    real_open = yaml_source._open_binary

    def open_binary(path):
        if path.name == "secret.yaml":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path)

    monkeypatch.setattr(yaml_source, "_open_binary", open_binary)
    code, out, _ = validate("tenants", cwd=project)

    assert code == 1
    assert ("tenants/secret.yaml: (file): cannot be read: permission denied\n"
            "    fix: make it readable by the user who runs pg-tenants") in out
    assert "tenants/other.yaml:2: tenants[0].name: 'Bad'" in out


def test_the_billion_laughs_is_refused_in_well_under_a_second(project, tenants_dir):
    from tests.program.test_invalid_tenant_lists import BILLION_LAUGHS

    write_tenant_file(tenants_dir, "t.yaml", BILLION_LAUGHS)
    started = time.perf_counter()
    code, out, _ = validate("tenants", cwd=project)

    assert time.perf_counter() - started < 0.5
    assert code == 1 and "YAML anchors and aliases are not allowed in tenant files" in out


def test_bad_arguments_are_still_usage_errors(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    assert validate("tenants", "--bogus", cwd=project)[0] == 2
    assert validate("tenants/nope.yaml", cwd=project)[0] == 2


def test_a_previous_outputs_file_that_is_not_utf8_or_too_deep_is_a_usage_error(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)
    (project / "latin1.json").write_bytes(b'{"tenants": {"caf\xe9": {}}}')
    (project / "deep.json").write_text("[" * 100_000)
    (project / "odd.json").write_text('{"tenants": {"acme": 3}}')

    for name in ("latin1.json", "deep.json", "odd.json"):
        code, _, err = validate("tenants", "--stack-config", str(stack_file), "--previous", name, cwd=project)
        assert code == 2 and "--previous" in err, name


# ----------------------------------------------------------------------------- which files count


def test_the_file_rule_yaml_and_yml_in_any_case_recursive_hidden_skipped(project, tenants_dir):
    write_tenant_file(tenants_dir, "a.yaml", [{"name": "a1"}])
    write_tenant_file(tenants_dir, "B.YAML", [{"name": "b1"}])
    write_tenant_file(tenants_dir / "team", "c.yml", [{"name": "c1"}])
    write_tenant_file(tenants_dir / "team" / "deeper", "d.Yml", [{"name": "d1"}])
    write_tenant_file(tenants_dir, "README.md", "# not a tenant file: [\n")
    write_tenant_file(tenants_dir, ".draft.yaml", "not: [valid\n")
    write_tenant_file(tenants_dir / ".git", "e.yaml", "not: [valid\n")

    code, out, _ = validate("tenants", "--format", "json", cwd=project)

    report = json.loads(out)
    assert code == 0, out
    assert (report["files"], report["tenants"]) == (4, 4)


def test_symlinked_directories_are_followed_once_and_dangling_links_reported(project, tenants_dir):
    write_tenant_file(tenants_dir, "a.yaml", [{"name": "a1"}])
    write_tenant_file(project / "shared", "s.yaml", [{"name": "s1"}])
    (tenants_dir / "shared").symlink_to(project / "shared", target_is_directory=True)
    (tenants_dir / "again").symlink_to(project / "shared", target_is_directory=True)
    (tenants_dir / "loop").symlink_to(".", target_is_directory=True)
    (tenants_dir / "old-team").symlink_to("moved-away")

    code, out, _ = validate("tenants", cwd=project)

    assert code == 1
    # Entries are read in name order: `again` is read first, `shared` is the second way in.
    assert "tenants/shared: (directory): warning: leads to tenants/again, which is already read; it is read once" in out
    assert "tenants/loop: (directory): warning: leads to tenants, which is already read; it is read once" in out
    assert "tenants/old-team: (file): is a symbolic link to moved-away, which does not exist" in out
    assert "1 problem and 2 warnings in tenants (2 tenants in 3 files," in out.splitlines()[-1]


def test_a_directory_that_cannot_be_listed_is_a_problem(project, tenants_dir, monkeypatch):
    write_tenant_file(tenants_dir, "a.yaml", [{"name": "a1"}])
    write_tenant_file(tenants_dir / "locked", "b.yaml", [{"name": "b1"}])
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    code, out, _ = validate("tenants", cwd=project)

    assert code == 1
    assert "tenants/locked: (directory): cannot be read: permission denied\n    fix: make it readable" in out


# ----------------------------------------------------------------------------- file arguments


def test_files_given_as_arguments_are_validated_together(project, tenants_dir):
    write_tenant_file(tenants_dir, "a.yaml", [{"name": "acme"}])
    write_tenant_file(tenants_dir, "b.yaml", [{"name": "acme"}])
    write_tenant_file(tenants_dir, "c.yaml", [{"name": "Broken"}])

    code, out, _ = validate("tenants/a.yaml", "tenants/b.yaml", cwd=project)

    assert code == 1
    assert "tenants/b.yaml:2: tenants[0].name: name 'acme' is already used by tenant 'acme' (tenants/a.yaml:2)" in out
    assert "Broken" not in out
    assert out.splitlines()[-1].startswith("1 problem in tenants/a.yaml, tenants/b.yaml (2 tenants in 2 files,")


def test_one_file_given_as_an_argument(project, tenants_dir):
    write_tenant_file(tenants_dir, "a.yaml", [{"name": "acme"}])

    code, out, _ = validate("tenants/a.yaml", cwd=project)

    assert (code, out.splitlines()[-1][:50]) == (0, "OK: tenants/a.yaml is valid (1 tenant in 1 file, 0")


# ----------------------------------------------------------------------------- the stack config


def test_unknown_stack_keys_get_did_you_mean(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", THREE_TENANTS)
    stack.secrets["initechPassword"] = INITECH_PASSWORD
    stack.settings["hardenDatabase"] = False
    stack.settings["colour"] = "blue"
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    code, out, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)

    lines = stack_file.read_text().splitlines()
    harden, colour = (1 + next(i for i, t in enumerate(lines) if key in t) for key in ("hardenDatabase:", "colour:"))
    assert code == 1
    assert (f"{stack_file}:{harden}: pg-tenants:hardenDatabase: is not a setting of pg-tenants\n"
            "    fix: did you mean `pg-tenants:hardenDatabases`? Settings: checkExistingSchemas, ") in out
    assert f"{stack_file}:{colour}: pg-tenants:colour: is not a setting of pg-tenants\n    fix: remove it or correct its spelling" in out
    assert out.splitlines()[-1].startswith("2 problems in the stack config (3 tenants in 1 file,")


def test_values_set_without_type_are_read_as_the_program_reads_them(project, tenants_dir, stack):
    """`pulumi config set pg-tenants:hardenDatabases false` (no --type) stores the text "false"."""
    write_tenant_file(tenants_dir, "t.yaml", THREE_TENANTS)
    stack.secrets["initechPassword"] = INITECH_PASSWORD
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)
    document = yaml.safe_load(stack_file.read_text())
    document["config"].update({"pg-tenants:hardenDatabases": "false", "pg-tenants:defaultConnectionLimit": "7"})
    stack_file.write_text(yaml.safe_dump(document, sort_keys=False))

    code, out, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)
    settings, _ = load_stack_file(stack_file)

    assert code == 0, out
    assert (settings.harden_databases, settings.default_connection_limit) == (False, 7)


def test_unknown_server_fields_get_did_you_mean_and_known_fields(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme"}])
    stack.servers["main"]["hots"] = "db"
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    _, out, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)

    assert "pg-tenants:servers.main.hots: is not a known field\n    fix: did you mean `host`? Known fields: adminDatabase, " in out
    assert "known fields: \n" not in out.lower() and not out.rstrip().endswith("known fields:")


def test_stack_and_tenant_problems_are_reported_together_each_under_its_file(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "public"}])
    stack.settings["hardenDatabase"] = False
    stack.settings["defaultServer"] = "missing"
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)

    _, out, _ = validate("tenants", "--stack-config", str(stack_file), "--format", "json", cwd=project)
    _, human, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)

    files = sorted({p["file"] for p in json.loads(out)["problems"]})
    assert files == [str(stack_file), "tenants/t.yaml"]
    assert human.splitlines()[-1].startswith("3 problems in the stack config and tenants (1 tenant in 1 file,")


def test_a_placeholder_secret_in_the_stack_file_is_reported(project, tenants_dir, stack):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme"}])
    stack_file = write_stack_file(project / "Pulumi.ci.yaml", stack)
    stack_file.write_text(stack_file.read_text().replace("v1:ciphertext", "v1:REPLACE-with-pulumi-config-set--secret"))

    code, out, _ = validate("tenants", "--stack-config", str(stack_file), cwd=project)

    assert code == 1
    assert ("pg-tenants:mainAdminPassword: the secure value is a placeholder, not ciphertext\n"
            "    fix: run `pulumi config set --secret pg-tenants:mainAdminPassword`, which prompts for the value") in out


def test_a_stack_file_with_a_tab_or_not_utf8_is_a_plain_problem(project, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme"}])
    (project / "Pulumi.tab.yaml").write_text("config:\n\tpg-tenants:servers: {}\n")
    (project / "Pulumi.bin.yaml").write_bytes(b"config:\n  x: \xff\n")
    (project / "Pulumi.dir.yaml").mkdir()

    for name, expected in [("Pulumi.tab.yaml", "Pulumi.tab.yaml:2: (file): a tab is used for indentation"),
                           ("Pulumi.bin.yaml", "Pulumi.bin.yaml:2: (file): the file is not UTF-8 text (byte 0xff)"),
                           ("Pulumi.dir.yaml", "Pulumi.dir.yaml: (file): is a directory, not a file")]:
        code, out, _ = validate("tenants", "--stack-config", name, cwd=project)
        assert code == 1 and expected in out, out


def test_a_stack_file_that_is_not_a_mapping_is_a_problem(project, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme"}])
    (project / "Pulumi.list.yaml").write_text("- config\n")
    (project / "Pulumi.cfg.yaml").write_text("config: [1]\n")

    for name in ("Pulumi.list.yaml", "Pulumi.cfg.yaml"):
        code, out, _ = validate("tenants", "--stack-config", name, cwd=project)
        assert code == 1 and "must be a mapping" in out, out


# ----------------------------------------------------------------------------- warnings


def test_a_valid_until_in_the_past_is_a_warning(project, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme", "valid_until": "2020-01-01T00:00:00+00:00"}])

    code, out, _ = validate("tenants", cwd=project)
    _, github, _ = validate("tenants", "--format", "github", cwd=project)
    _, as_json, _ = validate("tenants", "--format", "json", cwd=project)

    assert code == 0
    assert "tenants/t.yaml:3: tenants[0].valid_until: warning: the password expired on 2020-01-01T00:00:00+00:00" in out
    assert out.splitlines()[-1].startswith("OK: tenants is valid, 1 warning (1 tenant in 1 file,")
    assert github.startswith("::warning file=tenants/t.yaml,line=3,title=tenants[0].valid_until::the password expired")
    report = json.loads(as_json)
    assert report["valid"] is True and report["problems"] == []
    assert [w["field"] for w in report["warnings"]] == ["tenants[0].valid_until"]


def test_an_empty_fleet_is_refused_unless_allowed(project, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", "tenants: []\n")

    code, out, _ = validate("tenants", cwd=project)
    allowed_code, allowed, _ = validate("tenants", "--allow-empty", cwd=project)

    assert code == 1
    assert "tenants: tenants: no tenant is declared\n    fix: add a tenant, or pass --allow-empty" in out
    assert allowed_code == 0
    assert "tenants: tenants: warning: no tenant is declared" in allowed
    assert allowed.splitlines()[-1].startswith("OK: tenants is valid, 1 warning (0 tenants in 1 file,")


def test_an_empty_tenants_directory_is_an_empty_fleet(project, tenants_dir):
    tenants_dir.mkdir()

    assert validate("tenants", cwd=project)[0] == 1
    assert validate("tenants", "--allow-empty", cwd=project)[0] == 0


def test_a_file_name_that_is_not_utf8_is_shown_by_its_bytes(project, tenants_dir):
    tenants_dir.mkdir()
    (tenants_dir / os.fsdecode(b"caf\xe9.yaml")).write_text("tenants: [{name: Acme}]\n")

    code, out, _ = validate("tenants", cwd=project)

    out.encode("utf-8")  # a strict UTF-8 stdout would refuse a lone surrogate
    assert code == 1 and "tenants/caf\\xe9.yaml:1: tenants[0].name: 'Acme'" in out
