"""Fuzzing the loaders: whatever the bytes, only Problems come out, and each input is quick.

Four sources of input: raw bytes, YAML-like text assembled from the tokens that trip
parsers (anchors, tags, tabs, merge keys, flow brackets, YAML 1.1 scalars), a valid tenant
file with a few spans replaced by those tokens, and YAML dumped from generated tenant- and
stack-shaped structures. Each goes through the tenant loader with a stack (so every check
runs), through `pg-tenants validate` (json, and github, whose text must encode as UTF-8),
and through the stack-file reader. The deadline bounds each example; max_examples keeps the
whole module well under 30 s. derandomize: the same examples on every run, so CI is stable.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pg_tenants.cli import main
from pg_tenants.problems import Problem
from pg_tenants.stack_config import ConfigSource, StackSettings, read_stack_file
from pg_tenants.tenants.tenant_list import TENANT_FIELDS, check_tenant_paths

FUZZ = settings(max_examples=80, deadline=2000, suppress_health_check=[HealthCheck.too_slow], derandomize=True)

STACK = StackSettings.model_validate(
    {"servers": {"main": {"host": "db", "adminPasswordSecret": "mainAdminPassword", "databases": ["app", "other"]}}}
)
SOURCE = ConfigSource(file="Pulumi.fuzz.yaml", has_secret=lambda key: key.endswith("Password"),
                      secret_value=lambda key: None, line_of=lambda path: None)

TOKENS = [
    "tenants:", "\n", "  ", "    ", "- ", "name: ", "acme", "Acme", "schema: ", "connection_limit: ", "adopt: ",
    "valid_until: ", "previous_names: ", "password: ", "password_secret: ", "state: ", "&a ", "*a", "&b ", "*b",
    "!!str ", "!!python/object:os.system ", "! ", "<<: ", "? ", ": ", "[", "]", "{", "}", ",", "'", '"', "\t", "010",
    "0o17", "0x1f", "-0x1f", "1_000", "1:30", "yes", "no", "on", "off", "y", "1e9", "1.5", ".inf", ".nan", "~", "null",
    "2027-01-31", "2027-01-31T00:00:00+00:00", "99999999999", "9" * 5000, "-1", "---\n", "...\n", "%YAML 1.1\n",
    "%TAG ! tag:x,2000:\n", "# c", "|\n", ">-\n", "\x00", "\ufeff", "\u2028", "é", "\\", "=", "@", "`",
]
yaml_like = st.lists(st.sampled_from(TOKENS), max_size=60).map("".join)

VALID = (
    "tenants:\n  - name: acme\n    connection_limit: 20\n    statement_timeout: 30000\n"
    "  - name: globex\n    schema: globex_data\n    username: globex_app\n    previous_names: [old]\n"
    "    valid_until: '2027-12-31T23:59:59+00:00'\n    state: suspended\n    zero_downtime_rotation: true\n"
)
edits = st.lists(st.tuples(st.integers(0, len(VALID)), st.integers(0, 8), st.sampled_from(TOKENS)), max_size=6)


def mutated(changes: list[tuple[int, int, str]]) -> str:
    """A valid file with a few spans replaced by tokens: the corruption stays local, deep in real structure."""
    text = VALID
    for at, cut, token in changes:
        text = text[:at] + token + text[at + cut:]
    return text


scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["acme", "globex", "public", "pg_x", "main", "app", "infinity", "2020-01-01T00:00:00+00:00",
                     "active", "offboarded", "purge", "010", "yes"]),
)
keys = st.one_of(st.sampled_from([*TENANT_FIELDS, "password", "tenants"]), st.text(max_size=8), st.integers(), st.none())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=20)
entries = st.dictionaries(st.sampled_from([*TENANT_FIELDS, "password"]), scalars, max_size=8) | values
tenant_files = st.one_of(
    st.fixed_dictionaries({"tenants": st.lists(entries, max_size=5)}),
    st.dictionaries(keys, values, max_size=3),
    values,
)
stack_files = st.fixed_dictionaries({"config": st.dictionaries(
    st.sampled_from(["pg-tenants:servers", "pg-tenants:hardenDatabase", "pg-tenants:defaultServer", "pg-tenants:x",
                     "pg-tenants:mainAdminPassword", "other:key"]) | st.text(max_size=12),
    values | st.fixed_dictionaries({"secure": scalars}), max_size=5)}) | values


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def dumped(data: object) -> bytes:
    return yaml.safe_dump(data, allow_unicode=True).encode()


def check_everything(workdir: Path, content: bytes) -> None:
    path = workdir / "tenants" / "t.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(content)

    found = check_tenant_paths([path.parent], STACK, SOURCE)
    assert all(isinstance(p, Problem) and p.message and p.fix for p in found.problems)

    for output_format in ("json", "github"):  # github prints the same strings as human, escaped
        out, err = io.StringIO(), io.StringIO()
        code = main(["validate", str(path.parent), "--format", output_format, "--allow-empty"], stdout=out, stderr=err)
        assert code in (0, 1), err.getvalue()
        out.getvalue().encode("utf-8")  # printable on a strict UTF-8 stdout
        if output_format == "json":
            assert json.loads(out.getvalue())["valid"] is (code == 0)

    stack_path = workdir / "Pulumi.fuzz.yaml"
    stack_path.write_bytes(content)
    stack = read_stack_file(stack_path)
    assert all(isinstance(p, Problem) and p.message and p.fix for p in stack.problems)


@FUZZ
@given(content=st.binary(max_size=2000))
def test_raw_bytes(workdir, content):
    check_everything(workdir, content)


@FUZZ
@given(text=yaml_like)
def test_yaml_like_text(workdir, text):
    check_everything(workdir, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(changes=edits)
def test_mutated_valid_file(workdir, changes):
    check_everything(workdir, mutated(changes).encode("utf-8", "surrogatepass"))


@FUZZ
@given(data=tenant_files)
def test_generated_tenant_files(workdir, data):
    check_everything(workdir, dumped(data))


@FUZZ
@given(data=stack_files)
def test_generated_stack_files(workdir, data):
    check_everything(workdir, dumped(data))
