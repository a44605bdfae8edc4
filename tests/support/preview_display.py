"""Render an engine_plan.Plan in the layout of `pulumi preview --diff` (non-interactive).

The layout follows pulumi/pulumi's diff display (pkg/engine/diff.go: GetResourcePropertiesSummary,
GetResourcePropertiesDetails, PrintObject, printObjectPropertyDiff): four spaces per level of
parentage, a two-character prefix (`+ `, `~ `, `- `, `+-`) in the last two columns of the
indentation, `type: (op)` with a lock for protected resources, `[id=]`, `[urn=]` and
`[provider=]` one level deeper, then the properties with their keys padded to the longest:
every input of a create or a delete, the changed keys of an update (`~ key: old => new`, `-`
for a removed key, `+` for an added one). Secrets show as `[secret]`, `__`-prefixed keys are
internal and never shown. Stack outputs are left out.

What it cannot know, it stands in for: provider ids (the engine makes a UUID; here a uuid5 of
the provider's URN) and the ids of random and dynamic resources (left out); pulumi-postgresql
ids follow the provider (Role: its name; Schema: `database.name`, TF schema.go
generateSchemaID; Grant: TF grant.go generateGrantID).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any

from tests.support.engine_plan import Plan, Step
from tests.support.program_run import GRANT, PROJECT_NAME, ROLE, SCHEMA, Registration
from tests.support.provider_double import attributes, normalized_inputs

_PREFIX = {"create": "+ ", "update": "~ ", "delete": "- ", "replace": "+-", "same": "  "}
_SUMMARY = (("create", "+", "to create"), ("update", "~", "to update"), ("delete", "-", "to delete"),
            ("replace", "+-", "to replace"))
_ALWAYS_SECRET = frozenset({"password", "result", "bcryptHash", "base64", "hex"})
_STACK_TYPE = "pulumi:pulumi:Stack"


def _indent(level: int, prefix: str | None = None) -> str:
    text = "    " * level
    return text if prefix is None else text[:-2] + prefix


def _urn(urn: str) -> str:
    # A resource whose parent is the stack has no `pulumi:pulumi:Stack$` in its URN's type chain.
    return urn.replace(f"{_STACK_TYPE}$", "")


def _value(value: Any, secret: bool, level: int) -> str:
    if secret:
        return "[secret]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # Go's %q for the ASCII the program declares
    if isinstance(value, list):
        if not value:
            return "[]"
        items = [f"{_indent(level)}    [{i}]: {_value(item, False, level + 1)}" for i, item in enumerate(value)]
        return "[\n" + "\n".join(items) + f"\n{_indent(level)}]"
    if isinstance(value, Mapping):
        lines = _properties(value, frozenset(), level + 1)
        return "{\n" + "\n".join(lines) + f"\n{_indent(level)}}}" if lines else "{}"
    return str(value)


def _shown(key: str, value: Any) -> bool:
    # pulumi's shouldPrintPropertyValue: nulls, empty strings, lists and maps are not printed.
    return not key.startswith("__") and value not in (None, "", [], {})


def _properties(values: Mapping[str, Any], secrets: frozenset[str], level: int) -> list[str]:
    keys = sorted(k for k, v in values.items() if _shown(k, v))
    width = max((len(k) for k in keys), default=0)
    return [f"{_indent(level)}{k:<{width}}: {_value(values[k], k in secrets, level)}" for k in keys]


def _secrets(reg: Registration) -> frozenset[str]:
    return frozenset(reg.secret_inputs) | _ALWAYS_SECRET


def _id(reg: Registration) -> str | None:
    values = normalized_inputs(reg.type, reg.inputs)
    if reg.type == ROLE:
        return str(values["name"])
    if reg.type == SCHEMA:
        return f"{values['database']}.{values['name']}"
    if reg.type == GRANT:
        parts = [values["role"], values["database"]]
        if values["objectType"] not in ("database", "foreign_data_wrapper", "foreign_server"):
            parts.append(values["schema"])
        return "_".join([*parts, values["objectType"], *values.get("objects", []), *values.get("columns", [])])
    return None


def _provider(reg: Registration, stack: str, random_version: str) -> str | None:
    if reg.type.startswith("random:"):  # the default provider, which the display shows
        urn = f"urn:pulumi:{stack}::{PROJECT_NAME}::pulumi:providers:random::default_{random_version.replace('.', '_')}"
    elif reg.provider:
        urn = _urn(reg.provider_urn)
    else:
        return None  # components; dynamic resources use the elided `default` provider
    return f"{urn}::{uuid.uuid5(uuid.NAMESPACE_URL, urn)}"


def _in_dependency_order(steps: list[Step]) -> list[Step]:
    """The engine shows steps as they start, which varies from run to run: here, a step after
    its parent, provider and dependencies, ties broken by URN, so the sample is stable."""
    pending = {s.urn: s for s in steps}
    done: list[Step] = []
    while pending:
        ready = sorted(urn for urn, s in pending.items()
                       if not ({s.res.parent, s.res.provider_urn, *s.res.dependencies} & pending.keys()))
        done.append(pending.pop(ready[0]))
    return done


class PreviewRenderer:
    """`pulumi preview --diff` text for plans of one stack."""

    def __init__(self, stack: str, random_version: str) -> None:
        self.stack, self.random_version = stack, random_version

    @property
    def stack_urn(self) -> str:
        return f"urn:pulumi:{self.stack}::{PROJECT_NAME}::{_STACK_TYPE}::{PROJECT_NAME}-{self.stack}"

    def _level(self, reg: Registration, parents: Mapping[str, Registration]) -> int:
        level, parent = 1, reg.parent
        while parent in parents:
            level, parent = level + 1, parents[parent].parent
        return level

    def _step(self, step: Step, parents: Mapping[str, Registration]) -> list[str]:
        reg = step.res
        level = self._level(reg, parents)
        protected = " 🔒" if (step.old is not None and step.old.protect) or (step.new is not None and step.new.protect) else ""
        lines = [f"{_indent(level, _PREFIX[step.op])}{reg.type}: ({step.op}){protected}"]
        if step.old is not None and (rid := _id(step.old)) is not None:
            lines.append(f"{_indent(level + 1)}[id={rid}]")
        lines.append(f"{_indent(level + 1)}[urn={_urn(reg.urn)}]")
        if (provider := _provider(reg, self.stack, self.random_version)) is not None:
            lines.append(f"{_indent(level + 1)}[provider={provider}]")
        if step.op == "create":
            lines += _properties(step.new.inputs, _secrets(step.new), level + 1)  # type: ignore[union-attr]
        elif step.op == "delete":
            lines += _properties(step.old.inputs, _secrets(step.old), level + 1)  # type: ignore[union-attr]
        else:
            lines += self._changes(step, level + 1)
        return lines

    @staticmethod
    def _changes(step: Step, level: int) -> list[str]:
        old, new = step.old, step.new
        assert old is not None and new is not None
        before = attributes(old) if old.type.startswith("postgresql:") else old.inputs  # what the bridge diffed
        width = max((len(k) for k in step.changed), default=0)
        lines = []
        for key in step.changed:
            secret = key in _secrets(old) or key in _secrets(new)
            title = f"{key:<{width}}: "
            if key not in new.inputs:
                lines.append(f"{_indent(level, '- ')}{title}{_value(before.get(key), secret, level)}")
            elif key not in before:
                lines.append(f"{_indent(level, '+ ')}{title}{_value(new.inputs[key], secret, level)}")
            else:
                lines.append(f"{_indent(level, '~ ')}{title}{_value(before[key], secret, level)} => "
                             f"{_value(new.inputs[key], secret, level)}")
        return lines

    def render(self, plan: Plan) -> str:
        lines = [f"Previewing update ({self.stack}):", f"  {_STACK_TYPE}: (same)", f"    [urn={self.stack_urn}]"]
        if plan.errors:
            lines += ["Diagnostics:", f"  {_STACK_TYPE} ({PROJECT_NAME}-{self.stack}):"]
            first, *rest = plan.errors[0].splitlines()
            first = first.replace("'", '"', 2)  # the engine quotes the URN with %q, the unprotect command with '…'
            lines += [f"    error: preview failed: {first}", *(f"    {line}" for line in rest)]
            return "\n".join(lines)
        regs = {s.res.urn: s.res for s in [*plan.steps, *plan.deletes]}
        # Deletes in the engine's order, chain by chain; within one chain (run in parallel) by URN.
        deletes = [s for chain in plan.delete_chains for s in sorted(chain, key=lambda d: d.urn) if s.op == "delete"]
        shown = _in_dependency_order([s for s in plan.steps if s.op != "same"]) + deletes
        for step in shown:
            lines += self._step(step, regs)
        counts = plan.counts()
        lines += ["", "Resources:"]
        kinds = [(op, symbol, text) for op, symbol, text in _SUMMARY if counts.get(op)]
        lines += [f"    {symbol} {counts[op]} {text}" for op, symbol, text in kinds]
        unchanged = counts.get("same", 0) + 1  # the stack itself
        changes = sum(counts[op] for op, _, _ in kinds)
        lines.append(f"    {changes} changes. {unchanged} unchanged" if len(kinds) > 1 else f"    {unchanged} unchanged")
        return "\n".join(lines)
