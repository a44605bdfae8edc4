"""`pg-tenants validate`: the program's own rules, without Pulumi, a database or credentials."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pg_tenants.cli import main
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
    assert out.startswith("OK: tenants is valid (1 file,")


def test_a_problem_is_shown_with_file_line_field_and_fix(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "AcmeMixed"}])

    code, out, _ = validate("tenants", cwd=project)

    assert code == 1
    assert "tenants/bad.yaml:2: tenants[0].name: 'AcmeMixed' is not a lowercase SQL identifier\n    fix: use 1 to 63" in out


def test_every_problem_is_listed_not_just_the_first(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "AcmeMixed"}, {"name": "public"}, {"name": "ok", "shema": "x"}])

    _, out, _ = validate("tenants", cwd=project)

    assert out.count("    fix: ") == 3
    assert out.splitlines()[-1].startswith("3 problems in tenants (1 file,")


def test_github_format_emits_one_error_annotation_per_problem(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])

    _, out, _ = validate("tenants", "--format", "github", cwd=project)

    assert out.splitlines()[0] == (
        "::error file=tenants/bad.yaml,line=2,title=tenants[0].name::'public' is a reserved name. Fix: choose another "
        "name; public, postgres, information_schema, pg_* and the admin's own name are reserved")


def test_github_annotation_escapes_newlines_percent_and_property_separators():
    from pg_tenants.cli import format_problems
    from pg_tenants.problems import Problem

    problem = Problem("t,1:x.yaml", 3, "a:b", "100% wrong\nreally", "fix it")

    line = format_problems([problem], "github", tenants_dir=Path("t"), files=1, elapsed=0.0).splitlines()[0]

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
    assert done.stdout.startswith("OK: tenants is valid")
