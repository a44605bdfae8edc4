"""The README's Requirements, Stack config and Production setup say what the code and the
workflows do: a pin, a version or a stack key that changes without the README fails here."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pulumi_postgresql
import pulumi_random
import pytest
import yaml

from pg_tenants.local.binaries import SUPPORTED_MAJORS
from pg_tenants.stack_config import ServerSettings, StackSettings

PROJECT = Path(__file__).resolve().parents[2]
README = (PROJECT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    """The text of the `## title` section, up to the next `## ` heading."""
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end != -1 else None]


def pins(requirements: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("-r")]


def plugin_version(sdk) -> str:
    return json.loads((Path(sdk.__file__).parent / "pulumi-plugin.json").read_text())["version"]


def workflow_cli_pins() -> set[str]:
    found = set()
    for workflow in (PROJECT / ".github" / "workflows").glob("*.yml"):
        for job in yaml.safe_load(workflow.read_text())["jobs"].values():
            found |= {str(s["with"]["pulumi-version"]) for s in job["steps"] if "pulumi-version" in s.get("with", {})}
    return found


def stack_keys() -> list[str]:
    settings = [f.alias or name for name, f in StackSettings.model_fields.items()]
    servers = [f.alias or name for name, f in ServerSettings.model_fields.items()]
    return settings + servers


@pytest.mark.parametrize("requirements", ["requirements.txt", "policy/requirements.txt"])
def test_every_pinned_package_is_listed_in_requirements(requirements):
    listed = section("Requirements")
    assert [pin for pin in pins(PROJECT / requirements) if f"`{pin}`" not in listed] == []


def test_the_python_version_is_the_one_pyproject_requires():
    required = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required.startswith(">=")
    assert f"**Python {required[2:]} or later**" in section("Requirements")


def test_the_cli_version_is_the_one_the_workflows_install():
    (pin,) = workflow_cli_pins()
    assert pin.startswith("^")
    listed = section("Requirements")
    assert f"**Pulumi CLI {pin[1:]} or later**" in listed and f"`{pin}`" in listed


@pytest.mark.parametrize(("sdk", "plugin"), [(pulumi_postgresql, "postgresql"), (pulumi_random, "random")])
def test_the_plugin_versions_are_those_of_the_installed_sdks(sdk, plugin):
    version = plugin_version(sdk)
    assert f"`resource {plugin} v{version}`" in section("Requirements")
    assert f"pulumi plugin install resource {plugin} {version} --file" in section("Production setup")


def test_the_postgresql_majors_are_the_supported_ones():
    assert f"**PostgreSQL {min(SUPPORTED_MAJORS)} to {max(SUPPORTED_MAJORS)}**" in section("Requirements")
    assert list(SUPPORTED_MAJORS) == list(range(min(SUPPORTED_MAJORS), max(SUPPORTED_MAJORS) + 1))


def test_every_stack_key_the_program_accepts_is_documented_in_stack_config():
    documented = set(re.findall(r"`([A-Za-z]+)`", section("Stack config")))
    assert [key for key in stack_keys() if key not in documented] == []


def test_every_stack_key_has_its_pulumi_config_set_line_in_production_setup():
    commands = [line for line in section("Production setup").splitlines() if line.startswith("pulumi config set")]
    keys_set = {m.group(1) for line in commands if (m := re.search(r"pg-tenants:(?:servers\.main\.)?([A-Za-z]+)", line))}
    assert [key for key in stack_keys() if key not in keys_set and key != "servers"] == []
