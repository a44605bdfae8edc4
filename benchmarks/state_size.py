"""Bytes one tenant adds to the stack's checkpoint, estimated from what the mock engine recorded.

Each resource is serialized in the shape of a checkpoint resource (pulumi apitype ResourceV3:
urn, custom, id, type, inputs, outputs, parent, provider, dependencies, protect,
retainOnDelete, created, modified), with the mock's state as outputs. Secret values are
counted as the checkpoint stores them: `{"4dabf18193072939515e22adb298388d": "1b47…",
"ciphertext": base64(nonce + AES-GCM(json))}`. Real providers return a few more output
fields than the mocks (defaults), so this is a lower bound; the tenant's entries in the stack
outputs are included, the fleet's shared resources (providers, hardening) are not.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.typed_floor import TEMPLATE_TENANT, run_project

SECRET_SIG = "4dabf18193072939515e22adb298388d"
TIMESTAMP = "2026-11-28T12:00:00.000000000Z"
# Outputs the random provider marks secret (pulumi-random's schema).
SECRET_STATE = frozenset({"result", "base64", "hex", "bcryptHash"})


def _ciphertext(value: Any) -> dict[str, str]:
    plain = len(json.dumps(value))
    return {SECRET_SIG: "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "x" * ((plain + 12 + 16 + 2) // 3 * 4)}


def _props(values: dict[str, Any], secret: frozenset[str] | set[str]) -> dict[str, Any]:
    return {k: _ciphertext(v) if k in secret else v for k, v in values.items()}


def resource_bytes(run: Any, r: Any) -> int:
    """One registered resource as the checkpoint stores it (secrets as ciphertext), in bytes."""
    outputs = run.resource_outputs.get(r.urn, {})
    entry = {
        "urn": r.urn, "custom": r.custom, "id": r.id, "type": r.type,
        "inputs": _props(r.inputs, r.secret_inputs),
        "outputs": _props(r.state, r.secret_inputs | SECRET_STATE) if r.custom
        else {k: _ciphertext(o.value) if o.secret else o.value for k, o in outputs.items()},
        "parent": r.parent, "provider": r.provider, "dependencies": list(r.dependencies),
        "protect": r.protect, "retainOnDelete": r.retain_on_delete, "created": TIMESTAMP, "modified": TIMESTAMP,
    }  # fmt: skip
    return len(json.dumps(entry, indent=4))


def state_bytes_per_tenant(kind: dict[str, object]) -> int:
    run = run_project(2, kind)
    component = next(r for r in run.registrations if r.type == "pg-tenants:index:Tenant" and r.name == TEMPLATE_TENANT)
    total = 0
    for r in run.registrations:
        if r.urn != component.urn and r.parent != component.urn:
            continue
        total += resource_bytes(run, r)
    for output in run.outputs.values():
        share = output.value.get(TEMPLATE_TENANT) if isinstance(output.value, dict) else None
        if share is not None:
            total += len(json.dumps(share, indent=4)) if not output.secret else len(json.dumps(share)) * 4 // 3
    return total
