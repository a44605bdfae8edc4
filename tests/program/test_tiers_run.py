"""A green run means the tiers ran: nothing declared is skipped away, and the engine tier runs
every isolation and lifecycle body the PostgreSQL tier runs (tests/support/engine_tier.py)."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from tests.support.collection_report import REPORT_ENV
from tests.support.engine_stack import CLI_MISSING, cli_available
from tests.support.engine_tier import DOUBLE_ONLY, MIRRORED, NOT_MIRRORED

PROJECT = Path(__file__).resolve().parents[2]
TESTS = PROJECT / "tests"


# ----------------------------------------------------------------------------- declared requirements


def requirement_files() -> list[Path]:
    return sorted(p for p in PROJECT.rglob("requirements*.txt") if not {"venv", ".git"} & set(p.relative_to(PROJECT).parts))


def normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def declared_distributions() -> set[str]:
    names = set()
    for path in requirement_files():
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("-"):
                names.add(normalized(re.split(r"[<>=!~\[;@ ]", line, maxsplit=1)[0]))
    return names


def skipped_imports(source: str) -> list[tuple[int, str]]:
    """(line, module) of every import a test skips on instead of failing: `importorskip(...)`,
    and imports inside `try:` whose `except ImportError` calls `skip`. A non-literal
    importorskip argument is reported as "?"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "importorskip":
            arg = node.args[0] if node.args else None
            found.append((node.lineno, arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else "?"))
        if isinstance(node, ast.Try) and any(_skips_on_import_error(h) for h in node.handlers):
            for statement in node.body:
                for sub in ast.walk(statement):
                    if isinstance(sub, ast.Import):
                        found += [(sub.lineno, alias.name) for alias in sub.names]
                    elif isinstance(sub, ast.ImportFrom) and sub.module:
                        found.append((sub.lineno, sub.module))
    return found


def _skips_on_import_error(handler: ast.ExceptHandler) -> bool:
    caught = {getattr(t, "id", getattr(t, "attr", "")) for t in ast.walk(handler.type)} if handler.type else {"*"}
    calls = {getattr(c.func, "attr", getattr(c.func, "id", "")) for c in ast.walk(handler) if isinstance(c, ast.Call)}
    return bool(caught & {"ImportError", "ModuleNotFoundError", "*"}) and "skip" in calls


def declared_skips(source: str, declared: set[str]) -> list[str]:
    """The skipped imports of `source` that a requirements file declares (or cannot be told)."""
    dists = packages_distributions()
    out = []
    for line, module in skipped_imports(source):
        owners = {normalized(d) for d in dists.get(module.split(".")[0], [])}
        if module == "?" or owners & declared:
            out.append(f"line {line}: {module} ({', '.join(sorted(owners)) or 'not a literal'})")
    return out


def test_requirements_files_are_found_and_list_the_dev_tools():
    assert {p.relative_to(PROJECT).as_posix() for p in requirement_files()} >= {"requirements.txt", "requirements-dev.txt"}
    assert {"pytest", "psycopg", "pulumi-policy", "testcontainers", "pyyaml"} <= declared_distributions()


def test_no_test_skips_when_a_declared_requirement_is_missing():
    declared = declared_distributions()
    offenders = {}
    for path in sorted(TESTS.rglob("*.py")):
        found = declared_skips(path.read_text(), declared)
        if found:
            offenders[path.relative_to(PROJECT).as_posix()] = found
    assert offenders == {}, "import declared requirements normally, so a missing one fails: " + json.dumps(offenders, indent=1)


@pytest.mark.parametrize("source", [
    'import pytest\npytest.importorskip("yaml")\n',
    'from pytest import importorskip\nimportorskip("pulumi_policy.policy", reason="x")\n',
    'import pytest\ntry:\n    import psycopg\nexcept ImportError:\n    pytest.skip("no psycopg", allow_module_level=True)\n',
    'import pytest\npytest.importorskip(NAME)\n',
])
def test_the_scan_finds_a_skip_on_a_declared_requirement(source):
    assert declared_skips(source, declared_distributions()) != []


@pytest.mark.parametrize("source", [
    'import pytest\npytest.importorskip("a_module_no_requirement_declares")\n',
    'try:\n    import yaml\nexcept ImportError:\n    raise\n',
    'import yaml\n',
])
def test_the_scan_leaves_alone_what_is_not_a_skip_on_a_declared_requirement(source):
    assert declared_skips(source, declared_distributions()) == []


# ----------------------------------------------------------------------------- the engine tier


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> list[dict]:
    """What `pytest --collect-only` collects of the mirrored modules and tests/engine (nothing
    runs, no server starts)."""
    report = tmp_path_factory.mktemp("collection") / "report.json"
    env = {k: v for k, v in os.environ.items() if k != "PG_TENANTS_ADMIN_PROFILES"} | {REPORT_ENV: str(report)}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "tests.support.collection_report",
         "-p", "no:cacheprovider", *(m.replace(".", "/") + ".py" for m in MIRRORED), "tests/engine"],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(report.read_text())


def bodies(collected: list[dict], module: str) -> set[str]:
    return {item["function"] for item in collected if item["module"] == module}


def double_only_bodies(module: str) -> dict[str, str]:
    """The bodies of `module` marked provider_double_only, with their reasons."""
    import importlib

    found = {}
    for name, value in vars(importlib.import_module(module)).items():
        for mark in getattr(value, "pytestmark", []) if name.startswith("test") else []:
            if mark.name == DOUBLE_ONLY:
                found[name] = mark.args[0] if mark.args else ""
    return found


def test_every_postgresql_tier_module_is_mirrored_by_the_engine_tier_or_says_why_not():
    modules = {f"tests.postgres.{p.stem}" for p in (TESTS / "postgres").glob("test_*.py")}
    assert not set(MIRRORED) & set(NOT_MIRRORED)
    assert modules - set(MIRRORED) - set(NOT_MIRRORED) == set(), \
        "add each new module to MIRRORED or NOT_MIRRORED in tests/support/engine_tier.py"
    assert set(MIRRORED) | set(NOT_MIRRORED) <= modules, "a listed module no longer exists"


@pytest.mark.parametrize("module", sorted(MIRRORED))
def test_every_body_of_a_mirrored_module_is_collected_under_the_engine_tier(collected, module):
    postgres = bodies(collected, module)
    engine = bodies(collected, MIRRORED[module])
    left_out = double_only_bodies(module)
    assert postgres, f"nothing collected from {module}"
    assert engine == postgres - set(left_out)
    assert all(left_out.values()), f"{DOUBLE_ONLY} needs a reason: {left_out}"


@pytest.mark.parametrize("module", sorted(MIRRORED))
def test_a_mirrored_module_deploys_only_through_the_tier_fixtures(module):
    """`Deployment(` in a mirrored module would run the double in the engine tier too."""
    source = (PROJECT / (module.replace(".", "/") + ".py")).read_text()
    assert re.findall(r"\bDeployment\(", source) == [], "use the `deployment` or `new_deployment` fixture"


def test_the_engine_tier_skips_only_for_want_of_the_cli(collected):
    engine = [item for item in collected if item["module"].startswith("tests.engine.")]
    assert engine
    reasons = {reason for item in engine for reason in item["skip_reasons"]}
    if cli_available():
        assert reasons == set()
    else:
        assert reasons == {CLI_MISSING}
        assert all(item["skip_reasons"] == [CLI_MISSING] for item in engine)
