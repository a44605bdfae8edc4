"""The `pulumi preview --diff` sample in the README is what scripts/preview_sample.py renders
today from the real program and the engine model, so it cannot go stale; and it shows what the
README says about adding, suspending and removing a tenant."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]


def _script():
    spec = importlib.util.spec_from_file_location("preview_sample", PROJECT / "scripts" / "preview_sample.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def script():
    return _script()


@pytest.fixture(scope="module")
def blocks(script) -> dict[str, str]:
    """The regenerated sample, one preview per operator step (keyed by its `# title`)."""
    text = script.sample()
    return {block.split("\n", 1)[0].removeprefix("# "): block for block in text.split("\n\n# ")}


def test_the_readme_sample_is_what_the_script_renders_today(script):
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    fix = "run `venv/bin/python scripts/preview_sample.py --write-readme` and review the diff"
    assert script.current_readme_sample(readme) == script.readme_block(script.sample()), fix


def test_adding_a_tenant_creates_its_eight_resources_and_changes_nothing_else(blocks):
    added = blocks["add initech"]
    assert "    + 8 to create\n" in added and "to update" not in added and "to delete" not in added
    assert "            password                       : [secret]" in added  # the verifier, never shown


def test_suspending_changes_only_the_login(blocks):
    suspended = blocks["suspend initech: state: suspended"]
    assert suspended.count("(update)") == 1 and "          ~ login: true => false" in suspended


def test_removing_a_suspended_tenant_is_refused_at_preview_for_its_protected_role(blocks):
    refused = blocks["remove initech's entry while it is suspended: refused"]
    assert "error: preview failed: resource \"urn:pulumi:prod::pg-tenants::pg-tenants:index:Tenant$postgresql:index/role:Role::initech-role\" cannot be deleted" in refused
    assert "(delete)" not in refused and "Resources:" not in refused


def test_the_supported_removal_offboards_first_then_deletes_from_the_stack(blocks):
    offboarded = blocks["the supported removal, step 1: state: offboarded"]
    assert "          - password: [secret]" in offboarded and "initech-password-removal" in offboarded
    removed = blocks["step 2, once that is applied: remove the entry"]
    assert "    - 5 to delete\n" in removed and "(create)" not in removed
