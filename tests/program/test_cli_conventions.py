"""What every `pg-tenants` command shares: --version, --format/--json, plurals, colour, completion."""

from __future__ import annotations

import importlib.metadata
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from pg_tenants.cli import main
from tests.support.stack import THREE_TENANTS, write_tenant_file

PROJECT_DIR = Path(__file__).resolve().parents[2]
ESC = "\033["


class Terminal(io.StringIO):
    """Standard output as a terminal shows it."""

    def isatty(self) -> bool:
        return True


def run(*args: str, cwd: Path, out: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = out if out is not None else io.StringIO(), io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(cwd)
        code = main(list(args), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def project(tenants_dir, monkeypatch) -> Path:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TERM", raising=False)
    return tenants_dir.parent


# ----------------------------------------------------------------------------- --version


def test_version_prints_the_installed_package_version(capsys):
    code = main(["--version"])

    assert code == 0
    assert capsys.readouterr().out == f"pg-tenants {importlib.metadata.version('pg-tenants')}\n"


# ----------------------------------------------------------------------------- --format json and --json


def test_validate_takes_json_as_an_alias_of_format_json(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)

    reports = [json.loads(run("validate", "tenants", flag, *rest, cwd=project)[1])
               for flag, *rest in (("--json",), ("--format", "json"))]

    assert reports[0] == reports[1]
    assert reports[0]["valid"] is True and reports[0]["tenants"] == 3


def test_verify_takes_format_json_and_json_alike():
    from pg_tenants.cli import build_parser

    parser = build_parser()

    assert parser.parse_args(["verify", "--format", "json"]).format == "json"
    assert parser.parse_args(["verify", "--json"]).format == "json"
    assert parser.parse_args(["verify"]).format == "human"


# ----------------------------------------------------------------------------- plurals


def test_one_tenant_in_one_file_is_singular(project, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS[:1])

    _, out, _ = run("validate", "tenants", cwd=project)

    assert "(1 tenant in 1 file," in out


def test_one_problem_is_singular(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])

    _, out, _ = run("validate", "tenants", cwd=project)

    assert out.splitlines()[-1].startswith("1 problem in tenants (1 tenant in 1 file,")


def _result(findings_of_acme: int):
    from pg_tenants.verify.findings import Code, Finding
    from pg_tenants.verify.fleet import Tenant
    from pg_tenants.verify.runner import TenantResult, VerifyResult

    acme = Tenant(name="acme", role="acme", schema="acme", server="main", database="app")
    findings = [Finding("acme", Code.EXTRA_GRANT, f"grant {i}", f"role acme holds grant {i}")
                for i in range(findings_of_acme)]
    return VerifyResult([TenantResult(acme, "ok", findings)], [], 0.04)


def test_the_verify_summary_counts_one_tenant_and_one_finding_in_the_singular():
    from pg_tenants.verify.report import as_table

    assert "\n1 tenant, 1 failing, 1 finding (0.0 s)\n" in as_table(_result(1))
    assert "\n1 tenant, 1 failing, 2 findings (0.0 s)\n" in as_table(_result(2))


# ----------------------------------------------------------------------------- colour


def test_no_colour_when_the_output_is_not_a_terminal(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])

    _, out, _ = run("validate", "tenants", cwd=project)

    assert ESC not in out


def test_colour_on_a_terminal(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])

    _, out, _ = run("validate", "tenants", cwd=project, out=Terminal())

    assert f"{ESC}31mtenants/bad.yaml:2{ESC}0m: tenants[0].name: 'public' is a reserved name" in out


def test_no_colour_on_a_terminal_when_no_color_is_set(project, tenants_dir, monkeypatch):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])
    monkeypatch.setenv("NO_COLOR", "1")

    _, out, _ = run("validate", "tenants", cwd=project, out=Terminal())

    assert ESC not in out


def test_color_always_and_never_override_the_terminal_check_and_no_color(project, tenants_dir, monkeypatch):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    monkeypatch.setenv("NO_COLOR", "1")

    _, always, _ = run("validate", "tenants", "--color", "always", cwd=project)
    _, never, _ = run("validate", "tenants", "--color", "never", cwd=project, out=Terminal())

    assert always.startswith(f"{ESC}32mOK: tenants is valid{ESC}0m")
    assert ESC not in never


def test_machine_formats_are_never_coloured(project, tenants_dir):
    write_tenant_file(tenants_dir, "bad.yaml", [{"name": "public"}])

    github, as_json = (run("validate", "tenants", "--format", f, "--color", "always", cwd=project)[1]
                       for f in ("github", "json"))

    assert github.startswith("::error file=tenants/bad.yaml,line=2,") and ESC not in github
    assert json.loads(as_json)["valid"] is False and ESC not in as_json


def test_the_verify_table_colours_its_verdicts_and_keeps_its_columns():
    from pg_tenants.terminal import Style
    from pg_tenants.verify.report import as_table

    plain, coloured = as_table(_result(1)), as_table(_result(1), Style(enabled=True))

    assert f"{ESC}31mFAIL{ESC}0m" in coloured
    assert plain.splitlines()[1] == coloured.splitlines()[1].replace(f"{ESC}31m", "").replace(f"{ESC}0m", "")


# ----------------------------------------------------------------------------- completion


def _bash_complete(script: str, *words: str) -> list[str]:
    """What bash offers after `words` (the last one being completed), with the script loaded."""
    array = " ".join(f"'{w}'" for w in words)
    program = f'{script}\nCOMP_WORDS=({array}); COMP_CWORD={len(words) - 1}; _pg_tenants; printf "%s\\n" "${{COMPREPLY[@]}}"'
    done = subprocess.run(["bash", "-c", program], capture_output=True, text=True, check=True)
    return [line for line in done.stdout.splitlines() if line]


@pytest.fixture(scope="module")
def bash_script() -> str:
    if shutil.which("bash") is None:
        pytest.skip("bash is not installed")
    out = io.StringIO()
    assert main(["completion", "bash"], stdout=out) == 0
    return out.getvalue()


def test_bash_completes_the_subcommands(bash_script):
    assert _bash_complete(bash_script, "pg-tenants", "") == ["validate", "verify", "move-plan", "completion", "-h", "--help",
                                                             "--version"]


def test_bash_completes_a_subcommands_options(bash_script):
    assert _bash_complete(bash_script, "pg-tenants", "verify", "--for") == ["--format"]
    assert "--allow-empty" in _bash_complete(bash_script, "pg-tenants", "validate", "--")


def test_bash_completes_the_choices_of_format_and_color(bash_script):
    assert _bash_complete(bash_script, "pg-tenants", "validate", "--format", "") == ["human", "github", "json"]
    assert _bash_complete(bash_script, "pg-tenants", "verify", "--color", "a") == ["auto", "always"]


def test_bash_completes_file_names_for_the_tenants_path(bash_script, tmp_path):
    (tmp_path / "tenants").mkdir()

    offered = _bash_complete(f"cd {tmp_path}\n{bash_script}", "pg-tenants", "validate", "ten")

    assert offered == ["tenants"]


def test_zsh_loads_the_same_function_through_bashcompinit():
    zsh, bash = io.StringIO(), io.StringIO()
    main(["completion", "zsh"], stdout=zsh)
    main(["completion", "bash"], stdout=bash)

    assert zsh.getvalue().startswith("#compdef pg-tenants\n")
    assert "autoload -U +X bashcompinit && bashcompinit" in zsh.getvalue()
    assert bash.getvalue().split("\n", 1)[1] in zsh.getvalue()


def test_fish_completes_every_subcommand_and_option():
    out = io.StringIO()
    main(["completion", "fish"], stdout=out)
    lines = out.getvalue().splitlines()

    assert "complete -c pg-tenants -n '__fish_seen_subcommand_from verify' -l format -x -a 'human json' " \
           "-d 'human: a table (default); json: the report for machines'" in lines
    assert any(line.startswith("complete -c pg-tenants -n 'not __fish_seen_subcommand_from validate verify move-plan completion' "
                               "-a validate") for line in lines)
    if shutil.which("fish"):
        subprocess.run(["fish", "--no-execute", "-c", out.getvalue()], check=True)


def test_an_unknown_shell_is_a_usage_error(capsys):
    assert main(["completion", "tcsh"]) == 2
    assert "invalid choice: 'tcsh'" in capsys.readouterr().err
