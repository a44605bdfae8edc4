"""The typed floor: what the Pulumi SDK alone costs for the resources the project registers.

The floor's resource table is recorded from a run of the real project with two tenants of one
kind, so it cannot drift from the project: every registration of the first tenant (its
component and children) becomes the per-tenant template, everything outside the tenants
(providers, database hardening) is registered once. `declare_floor` then registers, for each of
N tenants, the same types with the same inputs (the tenant's name substituted), the same parents
and the same providers, with the SDK's typed classes (`postgresql.Role`, `random.RandomPassword`,
`pulumi.dynamic.Resource` with the same dynamic provider, ...). It has none of the project's
logic: no tenant list, no validation, no Outputs passed between resources, no resource options
beyond parent, provider, protect and retain_on_delete. Stack and component outputs are exported
with the recorded values and secrecy, without lifting them through `Output.from_input`.

The benchmark checks after every floor run that it registered the same number of resources of
each type as the project did for the same tenant count.
"""

from __future__ import annotations

import base64
import json
import re
import tempfile
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import dill
import pulumi
import pulumi_postgresql as postgresql
import pulumi_random as random
from pulumi.dynamic import Resource as DynamicResource

from tests.support.program_run import (
    DYNAMIC,
    GRANT,
    POSTGRES_PROVIDER,
    RANDOM_BYTES,
    RANDOM_PASSWORD,
    ROLE,
    SCHEMA,
    ProgramRun,
    run_program,
)  # fmt: skip

TEMPLATE_TENANT = "tenant_00000"
TABLE_ENV = "PG_TENANTS_FLOOR_TABLE"
COUNT_ENV = "PG_TENANTS_FLOOR_TENANTS"
FLOOR_PROGRAM_DIR = Path(__file__).resolve().parent / "typed_floor_program"

TYPED_CLASSES: dict[str, Any] = {
    ROLE: postgresql.Role,
    SCHEMA: postgresql.Schema,
    GRANT: postgresql.Grant,
    RANDOM_PASSWORD: random.RandomPassword,
    RANDOM_BYTES: random.RandomBytes,
    POSTGRES_PROVIDER: postgresql.Provider,
}


def tenant_names(count: int) -> list[str]:
    return [f"tenant_{i:05d}" for i in range(count)]


def fleet_entries(count: int, kind: dict[str, object]) -> list[dict[str, object]]:
    """The benchmark's tenant list: `count` tenants of one kind."""
    return [{"name": name, **kind} for name in tenant_names(count)]


def run_project(count: int, kind: dict[str, object]) -> ProgramRun:
    from tests.support.stack import one_server_stack, write_tenant_file

    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        write_tenant_file(tenants_dir, "fleet.yaml", fleet_entries(count, kind))
        values, secret_keys = one_server_stack(tenants_dir).as_pulumi_config()
        run = run_program(values, secret_keys, deterministic=False)
    if run.error:
        raise run.error
    return run


def shape(run: ProgramRun) -> dict[str, int]:
    """Registrations per type: what the floor must match."""
    return dict(sorted(Counter(r.type for r in run.registrations).items()))


def record_table(kind: dict[str, object]) -> dict[str, Any]:
    """The floor's resource table, from the project run with two tenants of `kind`."""
    run = run_project(2, kind)
    tenant_urns = {r.urn for r in run.registrations if r.type == "pg-tenants:index:Tenant"}
    template_urn = next(r.urn for r in run.registrations if r.type == "pg-tenants:index:Tenant" and r.name == TEMPLATE_TENANT)
    ordered = sorted(run.registrations, key=lambda r: _depth(r.parent, run))
    fleet, tenant = [], []
    for r in ordered:
        entry = {
            "type": r.type, "name": r.name, "custom": r.custom, "urn": r.urn, "parent": r.parent,
            "provider": r.provider_urn, "inputs": r.inputs, "secret_inputs": sorted(r.secret_inputs),
            "protect": r.protect, "retain_on_delete": r.retain_on_delete,
            "outputs": {k: {"value": o.value, "secret": o.secret} for k, o in run.resource_outputs.get(r.urn, {}).items()},
        }  # fmt: skip
        if r.urn == template_urn or r.parent == template_urn:
            tenant.append(entry)
        elif r.urn not in tenant_urns and r.parent not in tenant_urns:
            fleet.append(entry)
    stack_outputs = {
        key: {"secret": out.secret, "per_tenant": isinstance(out.value, dict) and TEMPLATE_TENANT in out.value,
              "value": out.value.get(TEMPLATE_TENANT) if isinstance(out.value, dict) else out.value}
        for key, out in run.outputs.items()
    }  # fmt: skip
    return {"fleet": fleet, "tenant": tenant, "stack_outputs": stack_outputs}


def _depth(parent: str, run: ProgramRun) -> int:
    by_urn = run.by_urn()
    depth = 0
    while parent in by_urn:
        parent, depth = by_urn[parent].parent, depth + 1
    return depth


def write_table(table: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(table))


@cache
def load_table(path: str) -> dict[str, Any]:
    table = json.loads(Path(path).read_text())
    for entry in table["fleet"] + table["tenant"]:
        unknown = entry["custom"] and entry["type"] not in TYPED_CLASSES and entry["type"] != DYNAMIC
        if unknown:
            raise ValueError(f"the typed floor has no class for {entry['type']}: add it to TYPED_CLASSES")
    return table


@cache
def _dynamic_provider(serialized: str) -> Any:
    return dill.loads(base64.b64decode(serialized))


def _substitute(value: Any, name: str) -> Any:
    if isinstance(value, str):
        return value.replace(TEMPLATE_TENANT, name)
    if isinstance(value, dict):
        return {k: _substitute(v, name) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, name) for v in value]
    return value


def _secret_plain(value: Any) -> pulumi.Output[Any]:
    """A secret Output of a plain value, without `Output.secret`'s deep lifting of dicts."""
    return pulumi.Output.secret("").apply(lambda _: value)


class _DynamicResource(DynamicResource):
    """The SDK names a dynamic resource's type from its subclass: pulumi-python:dynamic:Resource."""


_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def _register(entry: dict[str, Any], name: str, made: dict[str, pulumi.Resource]) -> pulumi.Resource:
    inputs = _substitute(entry["inputs"], name)
    secret = set(entry["secret_inputs"])
    args = {k: (pulumi.Output.secret(v) if k in secret else v) for k, v in inputs.items() if k != "__provider"}
    parent = made.get(_substitute(entry["parent"], name))
    provider = made.get(entry["provider"]) if entry["provider"] else None
    opts = pulumi.ResourceOptions(parent=parent, provider=provider, protect=entry["protect"],
                                  retain_on_delete=entry["retain_on_delete"])
    resource_name = _substitute(entry["name"], name)
    if not entry["custom"]:
        resource: pulumi.Resource = pulumi.ComponentResource(entry["type"], resource_name, None, opts)
        outputs = _substitute(entry["outputs"], name)
        resource.register_outputs({k: _secret_plain(v["value"]) if v["secret"] else v["value"] for k, v in outputs.items()})
    elif entry["type"] == DYNAMIC:
        resource = _DynamicResource(_dynamic_provider(entry["inputs"]["__provider"]), resource_name, args, opts)
    else:
        kwargs = {_SNAKE.sub("_", k).lower(): v for k, v in args.items()}
        resource = TYPED_CLASSES[entry["type"]](resource_name, opts=opts, **kwargs)
    made[_substitute(entry["urn"], name)] = resource
    return resource


def declare_floor(table: dict[str, Any], count: int) -> None:
    made: dict[str, pulumi.Resource] = {}
    for entry in table["fleet"]:
        _register(entry, TEMPLATE_TENANT, made)
    names = tenant_names(count)
    for name in names:
        for entry in table["tenant"]:
            _register(entry, name, made)
    for key, output in table["stack_outputs"].items():
        value = {name: _substitute(output["value"], name) for name in names} if output["per_tenant"] else output["value"]
        pulumi.export(key, _secret_plain(value) if output["secret"] else value)
