"""Let the policies see which values are secret.

The engine sends properties to policy packs with secrets marked (MarshalOptions
KeepSecrets), but pulumi_policy 1.x unwraps those markers before any policy runs, so "is
this output a secret?" cannot be answered. `install()` swaps the SDK's deserializer for
one that keeps each secret as a `pulumi_policy.Secret`; validators unwrap where they need
the value (tenant_policies.unwrap).
"""

from __future__ import annotations

from typing import Any

import pulumi_policy.policy
from pulumi_policy import Secret
from pulumi_policy.deserialize import SPECIAL_SECRET_SIG, SPECIAL_SIG_KEY, _deserialize_property


def deserialize_keeping_secrets(props: dict[str, Any]) -> dict[str, Any]:
    return {key: _keep(value) for key, value in props.items()}


def _keep(value: Any) -> Any:
    if isinstance(value, list):
        return [_keep(item) for item in value]
    if isinstance(value, dict):
        signature = value.get(SPECIAL_SIG_KEY)
        if signature == SPECIAL_SECRET_SIG:
            return Secret(_keep(value["value"]))
        if signature is not None:  # assets and archives: as the SDK does it
            return _deserialize_property(value)
        return {key: _keep(item) for key, item in value.items()}
    return value


def install() -> None:
    # policy.py calls the name it imported; replacing it there is what takes effect.
    pulumi_policy.policy.deserialize_properties = deserialize_keeping_secrets  # type: ignore[assignment]
