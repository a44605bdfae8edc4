"""What the real engine reports, mapped into the structures the provider double's tests read.

`CliDeployment` (tests/support/engine_stack.py) drives the Pulumi CLI through the Automation
API; these pure functions turn what comes back into `engine_plan.Plan`, `AppliedState` and
the same exceptions `Deployment` raises, so one test body runs in both tiers:

- the engine's event stream (`on_event`: `EngineEvent`s, the `--event-log` JSON lines,
  pulumi/pulumi sdk/python/lib/pulumi/automation/events.py) → `plan_from_events`;
- `pulumi stack export --show-secrets` (`Workspace.export_stack`, apitype DeploymentV3:
  `resources[]` with `urn`, `type`, `custom`, `id`, `inputs`, `outputs`, `parent`,
  `provider`, `dependencies`, `protect`, `retainOnDelete`, `deleteBeforeReplace`, `delete`,
  `initErrors`; secrets as `{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
  "plaintext": "<JSON>"}`) → `state_from_export`;
- a failed command (its events) → `failure_from_events`: the program's own refusal
  (`pulumi.RunError`), the engine's (`EngineError`: protection, a replacement it refuses), or
  a provider operation that failed (`ApplyError`, with the state the stack holds after it).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import pulumi
from pulumi.automation import EngineEvent, OpType, StepEventMetadata, StepEventStateMetadata

from tests.support.engine_plan import AppliedState, ApplyError, EngineError, Plan, Step
from tests.support.program_run import Registration

SECRET_SIG_KEY = "4dabf18193072939515e22adb298388d"  # sdk/go/common/resource/sig: Key
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"  # sig.Secret
STACK_TYPE = "pulumi:pulumi:Stack"

# Engine step ops → the double's: the logical `replace` step carries the diff; its
# create-replacement half is not a step of its own there, its delete-replaced half is a delete.
_STEP_OPS = {OpType.SAME: "same", OpType.CREATE: "create", OpType.UPDATE: "update", OpType.REPLACE: "replace",
             OpType.IMPORT: "import", OpType.IMPORT_REPLACEMENT: "import"}
_DELETE_OPS = {OpType.DELETE: "delete", OpType.DELETE_REPLACED: "delete-replaced"}


class ProviderFailure(Exception):
    """A provider operation the engine reported as failed; the message is the provider's error."""


def unwrap(value: Any) -> tuple[Any, bool]:
    """A state value with its secret envelopes opened, and whether it held one."""
    if isinstance(value, Mapping):
        if value.get(SECRET_SIG_KEY) == SECRET_SIG:
            if "plaintext" not in value:
                raise ValueError("a secret without its plaintext: export the stack with --show-secrets")
            return unwrap(json.loads(value["plaintext"]))[0], True
        pairs = {k: unwrap(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(s for _, s in pairs.values())
    if isinstance(value, list):
        pairs = [unwrap(v) for v in value]
        return [v for v, _ in pairs], any(s for _, s in pairs)
    return value, False


def _properties(values: Mapping[str, Any] | None) -> tuple[dict[str, Any], frozenset[str]]:
    plain, secret = {}, set()
    for key, value in (values or {}).items():
        plain[key], is_secret = unwrap(value)
        if is_secret or value == "[secret]":  # events show secrets masked
            secret.add(key)
    return plain, frozenset(secret)


def name_of(urn: str) -> str:
    return urn.rsplit("::", 1)[-1]


def registration(resource: Mapping[str, Any]) -> Registration:
    """One resource of a stack export (or a step event's old/new state, same keys in snake case)."""
    get = resource.get
    inputs, secret_inputs = _properties(get("inputs"))
    outputs, _ = _properties(get("outputs"))
    return Registration(
        urn=get("urn", ""), type=get("type", ""), name=name_of(get("urn", "")), custom=bool(get("custom")),
        parent=get("parent") or "", provider=get("provider") or "", inputs=inputs, secret_inputs=secret_inputs,
        dependencies=tuple(get("dependencies") or ()), protect=bool(get("protect")),
        retain_on_delete=bool(get("retainOnDelete") or get("retain_on_delete")),
        delete_before_replace=bool(get("deleteBeforeReplace")),
        alias_urns=tuple(a for a in get("aliases") or () if isinstance(a, str)), alias_names=(),
        import_id=get("importID") or "", ignore_changes=tuple(get("ignoreChanges") or ()),
        replace_on_changes=tuple(get("replaceOnChanges") or ()),
        additional_secret_outputs=tuple(get("additionalSecretOutputs") or ()), id=get("id") or "", state=outputs,
    )  # fmt: skip


def state_from_export(deployment: Mapping[str, Any] | None) -> AppliedState:
    """The stack as `pulumi stack export --show-secrets` shows it (`Deployment.deployment`)."""
    state = AppliedState()
    for resource in (deployment or {}).get("resources") or []:
        reg = registration(resource)
        (state.pending_delete if resource.get("delete") else state.resources).append(reg)
        if resource.get("initErrors"):
            state.init_errors[reg.urn] = list(resource["initErrors"])
    return state


def _from_event_state(meta: StepEventStateMetadata | None) -> Registration | None:
    if meta is None:
        return None
    return registration({"urn": meta.urn, "type": meta.type, "custom": meta.custom, "id": meta.id,
                         "parent": meta.parent, "provider": meta.provider, "protect": meta.protect,
                         "retain_on_delete": meta.retain_on_delete, "inputs": meta.inputs,
                         "outputs": meta.outputs, "initErrors": meta.init_errors})  # fmt: skip


def _step_metadata(events: Iterable[EngineEvent]) -> list[StepEventMetadata]:
    """Each step once, in the order the engine started it (a step's ResourcePreEvent)."""
    seen, steps = set(), []
    for event in events:
        pre = event.resource_pre_event
        if pre is None or (pre.metadata.op, pre.metadata.urn) in seen:
            continue
        seen.add((pre.metadata.op, pre.metadata.urn))
        steps.append(pre.metadata)
    return steps


def plan_from_events(events: Iterable[EngineEvent]) -> Plan:
    """The steps of a preview or an update, as `engine_plan.plan` would have listed them.

    A replacement is delete-before-replace when its delete-replaced step came before its
    create-replacement step. Deletes run in the order they started, one per chain (the
    engine's own antichains are not in its events).
    """
    metadata = _step_metadata(events)
    order = {(m.op, m.urn): i for i, m in enumerate(metadata)}
    steps, deletes = [], []
    for meta in metadata:
        old, new = _from_event_state(meta.old), _from_event_state(meta.new)
        if meta.op in _STEP_OPS:
            dbr = order.get((OpType.DELETE_REPLACED, meta.urn), len(order)) < order.get((OpType.CREATE_REPLACEMENT, meta.urn), -1)
            replace_keys = tuple(meta.keys or ()) if meta.op == OpType.REPLACE else ()
            steps.append(Step(_STEP_OPS[meta.op], old, new, tuple(meta.diffs or ()), replace_keys, dbr))
        elif meta.op in _DELETE_OPS:
            deletes.append([Step(_DELETE_OPS[meta.op], old, None)])
    return Plan(steps, deletes)


def error_messages(events: Iterable[EngineEvent]) -> list[tuple[str, str]]:
    """(urn, message) of every error diagnostic, in order; urn "" for none."""
    return [(e.diagnostic_event.urn or "", e.diagnostic_event.message.strip())
            for e in events if e.diagnostic_event is not None and e.diagnostic_event.severity == "error"]


def failure_from_events(events: list[EngineEvent], state: AppliedState, fallback: str, *, preview: bool = False) -> Exception:
    """The exception `Deployment` would raise for a failed preview/up/destroy/refresh.

    A step that failed (`ResOpFailedEvent`) is an `ApplyError` whose cause is the error
    diagnostic of its resource; an error on a resource with no failed step is the engine's
    refusal (`EngineError`, e.g. a protected resource in the preview); an error only on the
    stack (or on nothing) is the program's own (`pulumi.RunError`, what the Python language
    host reports for an unhandled RunError). `fallback` (the command's output) is used when
    the events carry no error. The engine's refusal in a `preview` reads "preview failed: …",
    as `Deployment.up` words it (the CLI reports "preview failed" on the stack beside it).
    """
    errors = error_messages(events)
    by_urn: dict[str, list[str]] = {}
    for urn, message in errors:
        by_urn.setdefault(urn, []).append(message)
    failed = [e.res_op_failed_event.metadata for e in events if e.res_op_failed_event is not None]
    if failed:
        failures = [(Step(_DELETE_OPS.get(m.op) or _STEP_OPS.get(m.op) or str(m.op.value),
                          _from_event_state(m.old), _from_event_state(m.new) or _from_event_state(m.old)),
                     ProviderFailure("\n".join(by_urn.get(m.urn, [fallback]))))
                    for m in failed]  # fmt: skip
        return ApplyError(failures, state)
    on_resources = [message for urn, message in errors if urn and not _is_stack(urn)]
    if on_resources:
        return EngineError(("preview failed: " if preview else "") + "\n".join(on_resources))
    return pulumi.RunError("\n".join(message for _, message in errors) or fallback)


def _is_stack(urn: str) -> bool:
    return urn.split("::")[-2].endswith(STACK_TYPE) if urn.count("::") >= 3 else False
