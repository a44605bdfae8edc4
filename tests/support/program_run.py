"""Run the real Pulumi program (`__main__.py`) on the SDK's mock engine and record everything.

The mock monitor only hands `new_resource` the type, name and inputs; resource options
(parent, dependencies, protect, aliases, import, ...) never reach it. `RecordingMonitor`
captures the whole RegisterResource request instead, so tests can assert options too and
the provider test double can apply resources in dependency order.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import random
import runpy
import secrets
import string
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

PROJECT_DIR = Path(__file__).resolve().parents[2]
PROJECT_NAME = "pg-tenants"

ROLE = "postgresql:index/role:Role"
SCHEMA = "postgresql:index/schema:Schema"
DATABASE = "postgresql:index/database:Database"
GRANT = "postgresql:index/grant:Grant"
GRANT_ROLE = "postgresql:index/grantRole:GrantRole"
DEFAULT_PRIVILEGES = "postgresql:index/defaultPrivileges:DefaultPrivileges"
POSTGRES_PROVIDER = "pulumi:providers:postgresql"
RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"
DYNAMIC = "pulumi-python:dynamic:Resource"


@dataclass(frozen=True)
class Registration:
    """One RegisterResource request, as the engine would have received it."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str  # "<provider urn>::<provider id>", empty for components
    inputs: dict[str, Any]  # plain values, secrets unwrapped
    secret_inputs: frozenset[str]  # top-level input names that arrived as secrets
    dependencies: tuple[str, ...]
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    alias_urns: tuple[str, ...]
    alias_names: tuple[str, ...]  # names of alias specs (renames by name)
    import_id: str
    ignore_changes: tuple[str, ...]
    replace_on_changes: tuple[str, ...]
    additional_secret_outputs: tuple[str, ...]
    id: str
    state: dict[str, Any]  # what the mock provider returned, secrets unwrapped
    # The `replacement_trigger` option, secrets unwrapped; None when the program set none.
    replacement_trigger: Any = None

    @property
    def provider_urn(self) -> str:
        return self.provider.rsplit("::", 1)[0] if "::" in self.provider else self.provider


@dataclass(frozen=True)
class StackOutput:
    value: Any
    secret: bool


@dataclass
class ProgramRun:
    registrations: list[Registration] = field(default_factory=list)
    outputs: dict[str, StackOutput] = field(default_factory=dict)
    # Every RegisterResourceOutputs request by URN (components' and the stack's), secrets
    # unwrapped: what the state keeps besides the resources' own outputs.
    resource_outputs: dict[str, dict[str, StackOutput]] = field(default_factory=dict)
    error: BaseException | None = None

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def by_name(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} registrations named {name!r}")
        return matches[0]

    def by_urn(self) -> dict[str, Registration]:
        return {r.urn: r for r in self.registrations}


def _unwrap(value: Any) -> tuple[Any, bool]:
    """Strip RPC secret wrappers (at any depth); report whether any were found."""
    if rpc.is_rpc_secret(value):
        inner, _ = _unwrap(rpc.unwrap_rpc_secret(value))
        return inner, True
    if isinstance(value, dict):
        found = False
        plain = {}
        for key, item in value.items():
            plain[key], secret = _unwrap(item)
            found = found or secret
        return plain, found
    if isinstance(value, list):
        pairs = [_unwrap(item) for item in value]
        return [p for p, _ in pairs], any(s for _, s in pairs)
    return value, False


class RealisticMocks(pulumi.runtime.Mocks):
    """Mock providers that return state shaped like the real ones.

    RandomPassword and RandomBytes produce random values honouring their arguments and
    return them as secrets (the mock engine ignores `additional_secret_outputs`). With
    `deterministic=True` the randomness is seeded from the resource name and keepers, so
    two runs of the same tenant list produce identical registrations.
    """

    def __init__(self, deterministic: bool, prior: Mapping[tuple[str, str], Registration] | None = None) -> None:
        self.deterministic = deterministic
        # The engine keeps a random resource's outputs while its inputs stay the same; `prior`
        # (by type and name, aliases included) plays that state across consecutive runs.
        self.prior = dict(prior or {})
        self.aliases: dict[tuple[str, str], tuple[str, ...]] = {}

    def _rng(self, args: pulumi.runtime.MockResourceArgs) -> random.Random:
        if not self.deterministic:
            return secrets.SystemRandom()
        seed = hashlib.sha256(repr((args.name, sorted(_unwrap(args.inputs)[0].get("keepers", {}).items()))).encode())
        return random.Random(seed.digest())

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict]:
        inputs, _ = _unwrap(args.inputs)
        kept = self._kept_state(args.typ, args.name, inputs)
        if kept is not None:
            return kept
        if args.typ == RANDOM_PASSWORD:
            result = _random_password(self._rng(args), inputs)
            return f"{args.name}-id", {**inputs, "result": pulumi.Output.secret(result)}
        if args.typ == RANDOM_BYTES:
            rng = self._rng(args)
            raw = bytes(rng.getrandbits(8) for _ in range(int(inputs["length"])))
            return f"{args.name}-id", {
                **inputs,
                "base64": pulumi.Output.secret(base64.b64encode(raw).decode()),
                "hex": pulumi.Output.secret(raw.hex()),
            }
        resource_id = args.resource_id or inputs.get("name") or f"{args.name}-id"
        return str(resource_id), dict(args.inputs)

    def _kept_state(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict] | None:
        if typ not in (RANDOM_PASSWORD, RANDOM_BYTES):
            return None
        for candidate in (name, *self.aliases.get((typ, name), ())):
            before = self.prior.get((typ, candidate))
            if before is not None and before.inputs == inputs:
                secret_outputs = {k: pulumi.Output.secret(v) for k, v in before.state.items() if k not in inputs}
                return before.id, {**inputs, **secret_outputs}
        return None

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, list[tuple[str, str]] | None]:
        return {}, None


def _random_password(rng: random.Random, inputs: Mapping[str, Any]) -> str:
    """Generate a password the way terraform-provider-random's RandomPassword does."""
    classes = []
    if inputs.get("upper", True):
        classes.append((string.ascii_uppercase, int(inputs.get("minUpper", 0))))
    if inputs.get("lower", True):
        classes.append((string.ascii_lowercase, int(inputs.get("minLower", 0))))
    if inputs.get("numeric", True):
        classes.append((string.digits, int(inputs.get("minNumeric", 0))))
    if inputs.get("special", True):
        classes.append((inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?", int(inputs.get("minSpecial", 0))))
    length = int(inputs["length"])
    chars = [rng.choice(alphabet) for alphabet, minimum in classes for _ in range(minimum)]
    everything = "".join(alphabet for alphabet, _ in classes)
    chars += [rng.choice(everything) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


class RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Registration] = []
        self.recorded_outputs: dict[str, dict[str, StackOutput]] = {}

    def RegisterResourceOutputs(self, request):  # noqa: N802 - gRPC method name
        pulumi_mocks._ensure_event_loop()  # deserializing needs one on this (executor) thread
        outputs = {}
        for key, value in rpc.deserialize_properties(request.outputs).items():
            plain, secret = _unwrap(value)
            outputs[key] = StackOutput(plain, secret)
        self.recorded_outputs[request.urn] = outputs
        return super().RegisterResourceOutputs(request)

    def RegisterResource(self, request):  # noqa: N802 - gRPC method name
        alias_names = tuple(a.spec.name for a in request.aliases if a.HasField("spec") and a.spec.name)
        if isinstance(self.mocks, RealisticMocks):
            self.mocks.aliases[(request.type, request.name)] = alias_names
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        inputs, secret_inputs = {}, set()
        for key, value in rpc.deserialize_properties(request.object).items():
            inputs[key], secret = _unwrap(value)
            if secret:
                secret_inputs.add(key)
        state, _ = _unwrap(rpc.deserialize_properties(response.object)) if response.object else ({}, False)
        self.recorded.append(
            Registration(
                urn=response.urn,
                type=request.type,
                name=request.name,
                custom=request.custom,
                parent=request.parent,
                provider=request.provider,
                inputs=inputs,
                secret_inputs=frozenset(secret_inputs),
                dependencies=tuple(request.dependencies),
                protect=request.protect,
                retain_on_delete=request.retainOnDelete,
                delete_before_replace=request.deleteBeforeReplace,
                alias_urns=tuple(request.aliasURNs),
                alias_names=alias_names,
                import_id=request.importId,
                ignore_changes=tuple(request.ignoreChanges),
                replace_on_changes=tuple(request.replaceOnChanges),
                additional_secret_outputs=tuple(request.additionalSecretOutputs),
                id=response.id,
                state=state,
                replacement_trigger=_replacement_trigger(request),
            )
        )
        return response


def _replacement_trigger(request: Any) -> Any:
    """The request's `replacement_trigger` (a protobuf Value) as plain Python, None if unset."""
    if not request.HasField("replacement_trigger"):
        return None
    value, _ = _unwrap(rpc.deserialize_property(json_format.MessageToDict(request.replacement_trigger)))
    return value


async def _resolve(value: Any) -> tuple[Any, bool]:
    if isinstance(value, pulumi.Output):
        resolved = await value.future()
        return resolved, bool(await value.is_secret())
    return value, False


@contextmanager
def gc_settings_restored() -> Iterator[None]:
    """The program sets a GC policy where it starts (pg_tenants.gc_policy); run in this process,
    it must not outlive the run and change how the rest of the test session collects."""
    threshold, enabled, frozen = gc.get_threshold(), gc.isenabled(), gc.get_freeze_count()
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if not frozen:
            gc.unfreeze()  # what the program froze goes back into the oldest generation
        (gc.enable if enabled else gc.disable)()


def run_program(
    config: Mapping[str, Any],
    secret_keys: frozenset[str] = frozenset(),
    *,
    stack: str = "test",
    preview: bool = False,
    deterministic: bool = True,
    prior: list[Registration] | None = None,
    program_dir: Path | None = None,
) -> ProgramRun:
    """Run `__main__.py` with the given stack config (keys like "pg-tenants:servers").

    Non-string config values are JSON-encoded as the CLI does for structured config.
    A program error is captured in `ProgramRun.error`, not raised. `prior` is the state of the
    previous run: random resources whose inputs did not change keep their values, as in Pulumi.
    `program_dir` runs the `__main__.py` of another directory (e.g. a frozen earlier program).
    """
    import json

    pulumi.runtime.settings.reset_options()
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    encoded = {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}
    pulumi.runtime.set_all_config(encoded, list(secret_keys))
    monitor = RecordingMonitor(RealisticMocks(deterministic, {(r.type, r.name): r for r in prior or []}))
    pulumi.runtime.set_mocks(monitor.mocks, project=PROJECT_NAME, stack=stack, preview=preview, monitor=monitor)
    run = ProgramRun()
    if str(PROJECT_DIR) not in sys.path:
        sys.path.insert(0, str(PROJECT_DIR))

    def program() -> None:
        try:
            runpy.run_path(str((program_dir or PROJECT_DIR) / "__main__.py"), run_name="__main__")
        finally:
            # What the runtime does after the program (run_in_stack): the stack registers its
            # exports, so the recording holds them as the state would. (The mock stack
            # registered none when set_mocks created it.)
            root = pulumi.runtime.get_root_resource()
            root.register_outputs(dict(root.outputs))

    try:
        with gc_settings_restored():
            _sync_await(run_pulumi_func(program))
            root = pulumi.runtime.get_root_resource()
            for name, value in root.outputs.items():
                resolved, secret = _sync_await(_resolve(value))
                run.outputs[name] = StackOutput(resolved, secret)
    except Exception as error:  # noqa: BLE001 - handed to the test to assert on
        run.error = error
    finally:
        run.registrations = list(monitor.recorded)
        run.resource_outputs = dict(monitor.recorded_outputs)
        loop.close()
        asyncio.set_event_loop(None)
    return run


def fingerprint(run: ProgramRun) -> dict[str, tuple]:
    """Everything the engine would diff, per URN: inputs, parent, provider, dependencies, options."""
    if run.error is not None:
        raise run.error
    return {
        r.urn: (
            r.inputs, r.parent, r.provider, frozenset(r.dependencies), r.protect, r.retain_on_delete,
            r.delete_before_replace, r.alias_names, r.import_id, r.ignore_changes, repr(r.replacement_trigger),
        )
        for r in run.registrations
    }  # fmt: skip


def changed_urns(before: ProgramRun, after: ProgramRun) -> dict[str, set[str]]:
    """URNs that differ between two runs, each with what differs ("added", "removed" or input names)."""
    old, new = fingerprint(before), fingerprint(after)
    changes: dict[str, set[str]] = {}
    for urn in old.keys() | new.keys():
        if urn not in new:
            changes[urn] = {"removed"}
        elif urn not in old:
            changes[urn] = {"added"}
        elif old[urn] != new[urn]:
            inputs_old, inputs_new = old[urn][0], new[urn][0]
            keys = {k for k in inputs_old.keys() | inputs_new.keys() if inputs_old.get(k) != inputs_new.get(k)}
            changes[urn] = keys or {"options"}
    return changes
