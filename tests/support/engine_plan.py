"""A minimal model of what `pulumi up` / `pulumi destroy` / `pulumi refresh` do with recorded program runs.

`plan(old, new)` matches resources by URN and aliases and classifies each as create / same /
update / replace / import / delete, the way pulumi/pulumi's step generator does
(pkg/resource/deploy/step_generator.go); `apply(plan, double)` executes the steps against the
ProviderDouble with the engine's concurrency: a resource's step starts as soon as the steps of
everything it depends on (dependencies, parent, provider) are done, independent steps run at
the same time, and deletes run afterwards in antichains (step_generator.go:ScheduleDeletes).
On the first failure no new step starts, in-flight ones finish, then ApplyError is raised.
`refresh(state, double)` reads every resource back.

The state keeps, per resource, the inputs the engine stores (`Registration.inputs`: the
program's, with ignored keys taken from the old inputs) and the provider's outputs
(`Registration.state`: what its Read returned after the last create, update, import or
refresh). pulumi-postgresql resources are diffed as the bridge does: new inputs against the
old OUTPUTS; dynamic resources as the engine does when their provider has no diff: old inputs
against new inputs. See docs/provider-double.md for what is and is not modelled.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from tests.support.program_run import DATABASE, DYNAMIC, POSTGRES_PROVIDER, ROLE, SCHEMA, ProgramRun, Registration
from tests.support.provider_double import (
    DELETE_BEFORE_REPLACE_TYPES,
    ProviderDouble,
    ProviderInitError,
    attributes,
    changed_keys,
    forces_replacement,
    provider_urn,
)


def _default_parallelism() -> int:
    # `pulumi up --parallel` defaults to PULUMI_PARALLEL when set, else 4 x GOMAXPROCS, i.e. 4
    # per CPU the process may use (pulumi pkg/cmd/pulumi/operations/up.go:defaultParallel,
    # pulumi/pulumi#14989). With fewer than 5 CPUs that is below the provider's 20 pooled
    # connections, so the engine, not the pool, queues the work.
    configured = os.environ.get("PULUMI_PARALLEL", "")
    if configured.isdigit() and int(configured) > 0:
        return min(int(configured), 2**31 - 1)
    return 4 * len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 4 * (os.cpu_count() or 1)


DEFAULT_PARALLELISM = _default_parallelism()
_ALWAYS_SECRET = frozenset({"password", "passwordWo", "result", "bcryptHash", "base64", "hex"})
# pulumi-postgresql provider/resources.go: prov.SetAutonaming(255, "-") makes every string
# argument called `name` auto-named (pulumi-terraform-bridge pkg/tfbridge/info/autonaming.go:
# SetAutonaming). When the program sets it, the bridge asks for delete-before-replace
# (pkg/tfbridge/provider.go:Diff, `len(replaces) > 0 && (res.Schema.DeleteBeforeReplace ||
# nameRequiresDeleteBeforeReplace(...))`; schema.go:nameRequiresDeleteBeforeReplace: an
# auto-named property that is not in `__defaults`). Of the types the double runs, Role,
# Schema (and Database) have one; Grant has DeleteBeforeReplace itself.
AUTONAMED_TYPES = frozenset({ROLE, SCHEMA, DATABASE})


class EngineError(Exception):
    """An error the engine itself raises (protection, import mismatch), not the provider."""


class ApplyError(Exception):
    """The first failure of an apply, raised after in-flight steps finished.

    `state` is what the stack would hold afterwards; `failures` lists every step that failed
    (several can fail at once among in-flight steps).
    """

    def __init__(self, failures: list[tuple[Step, BaseException]], state: AppliedState) -> None:
        step, cause = failures[0]
        super().__init__(f"{step.op} {step.type} {step.name} failed: {cause}")
        self.step, self.cause, self.failures, self.state = step, cause, failures, state


@dataclass(frozen=True)
class Step:
    op: str  # create | same | update | replace | import | delete | delete-replaced (| refresh, in errors)
    old: Registration | None
    new: Registration | None  # inputs with ignoreChanges applied (processIgnoreChanges), as stored
    changed: tuple[str, ...] = ()
    replace_keys: tuple[str, ...] = ()
    delete_before_replace: bool = False
    blocked: str = ""  # the error the engine raises when it reaches this step
    delete_first: tuple[Registration, ...] = ()  # DBR: dependents' olds, deleted before ours
    old_deleted_by: str = ""  # DBR: our old was deleted by this URN's replacement

    @property
    def res(self) -> Registration:
        return self.new or self.old  # type: ignore[return-value]

    @property
    def urn(self) -> str:
        return self.res.urn

    @property
    def type(self) -> str:
        return self.res.type

    @property
    def name(self) -> str:
        return self.res.name

    def line(self) -> str:
        op = self.op + (" (delete-before-replace)" if self.op == "replace" and self.delete_before_replace else "")
        keys = f" [{', '.join(self.changed)}]" if self.changed else ""
        return f"{op} {self.type} {self.name}{keys}"


def _secret(reg: Registration | None, key: str) -> bool:
    return reg is not None and (key in reg.secret_inputs or key in _ALWAYS_SECRET)


def _shown(reg: Registration | None, key: str, *, outputs: bool = False) -> str:
    values = (attributes(reg) if outputs else reg.inputs) if reg is not None else {}
    if key not in values:
        return "(unset)"
    return "[secret]" if _secret(reg, key) else repr(values[key])


@dataclass
class Plan:
    steps: list[Step]  # create/same/update/replace/import, in registration order
    delete_chains: list[list[Step]]  # delete / delete-replaced, antichains in execution order

    @property
    def deletes(self) -> list[Step]:
        return [s for chain in self.delete_chains for s in chain]

    def of(self, op: str) -> list[Step]:
        return [s for s in [*self.steps, *self.deletes] if s.op == op]

    def step(self, name: str) -> Step:
        found = [s for s in self.steps if s.name == name] or [s for s in self.deletes if s.name == name]
        if not found:
            raise KeyError(name)
        return found[0]

    @property
    def errors(self) -> list[str]:
        """What `pulumi preview` would report as errors before anything runs."""
        return [s.blocked for s in [*self.steps, *self.deletes] if s.blocked]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for s in [*self.steps, *(d for d in self.deletes if d.op == "delete")]:
            out[s.op] = out.get(s.op, 0) + 1
        return out

    def summary(self) -> str:
        """One line per change (values never shown), then the totals."""
        lines = [s.line() for s in self.steps if s.op != "same"]
        lines += [s.line() for s in self.deletes if s.op == "delete"]
        lines += [f"error: {e}" for e in self.errors]
        totals = ", ".join(f"{n} {op}" for op, n in sorted(self.counts().items()))
        return "\n".join([*lines, f"Resources: {totals or 'none'}"])

    def details(self) -> str:
        """Every changed input as old => new; secret inputs show [secret]. The old value of a
        pulumi-postgresql resource is its output (what the provider read back), which is what
        the bridge diffed."""
        out = []
        for s in self.steps:
            if s.op in ("update", "replace"):
                out.append(s.line())
                bridged = s.old is not None and _is_bridged_sql(s.old)
                out += [f"    {k}: {_shown(s.old, k, outputs=bridged)} => {_shown(s.new, k)}" for k in s.changed]
        return "\n".join(out)


@dataclass
class AppliedState:
    """The stack's resources after an apply; feed it to the next plan() as `old`."""

    resources: list[Registration] = field(default_factory=list)  # .inputs stored, .state = outputs
    pending_delete: list[Registration] = field(default_factory=list)  # replaced olds not yet deleted
    timings: dict[str, float] = field(default_factory=dict)  # "op urn" -> seconds, in completion order
    # URN -> the errors of a resource written but not read back (the engine's InitErrors); the
    # next `up` updates it even without a diff (step_generator.go:applyReplaceOnChanges).
    init_errors: dict[str, list[str]] = field(default_factory=dict)

    def by_name(self, name: str) -> Registration:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r}")
        return found[0]

    def urns(self) -> set[str]:
        return {r.urn for r in self.resources}


# --- planning -------------------------------------------------------------------------------

def _regs(value: Sequence[Registration] | AppliedState | ProgramRun | None) -> list[Registration]:
    if value is None:
        return []
    if isinstance(value, AppliedState):
        return list(value.resources)
    if isinstance(value, ProgramRun):
        return list(value.registrations)
    return list(value)


def _edges(reg: Registration, known: Mapping[str, Any]) -> set[str]:
    # What a registration waits for: the SDK awaits every dependency's outputs, the parent's
    # URN and the provider reference before sending RegisterResource.
    wanted = {*reg.dependencies, reg.parent, provider_urn(reg)}
    return {u for u in wanted if u and u in known and u != reg.urn}


def _urn_parts(urn: str) -> list[str]:
    return urn.split("::", 3)  # urn:pulumi:<stack>, project, qualified type, name


def _alias_candidates(reg: Registration, parent_old: str | None) -> list[str]:
    # Aliases: explicit URNs, name-only specs (same parent and type, other name), and - as the
    # engine does for children of aliased parents - the same child under the parent's old URN.
    head, project, qualified, name = _urn_parts(reg.urn)
    names = [name, *reg.alias_names]
    out = list(reg.alias_urns) + [f"{head}::{project}::{qualified}::{n}" for n in reg.alias_names]
    if parent_old and parent_old != reg.parent:
        old_qualified = _urn_parts(parent_old)[2] + "$" + reg.type
        out += [f"{head}::{project}::{old_qualified}::{n}" for n in names]
    return out


def _match(olds: list[Registration], news: list[Registration]) -> dict[str, Registration]:
    by_urn = {r.urn: r for r in olds}
    claimed: set[str] = set()
    matched: dict[str, Registration] = {}
    for reg in news:  # registration order: parents are matched before their children
        parent_old = matched[reg.parent].urn if reg.parent in matched else None
        for candidate in [reg.urn, *_alias_candidates(reg, parent_old)]:
            if candidate in by_urn and candidate not in claimed:
                matched[reg.urn] = by_urn[candidate]
                claimed.add(candidate)
                break
    return matched


def _is_sql(reg: Registration) -> bool:
    """Resources whose provider changes the server: pulumi-postgresql's and the program's dynamic ones."""
    return reg.custom and (reg.type.startswith("postgresql:") or reg.type == DYNAMIC)


def _is_bridged_sql(reg: Registration) -> bool:
    return reg.custom and reg.type.startswith("postgresql:")


def _top_level(path: str) -> str:
    return path.split(".")[0].split("[")[0]


def processed_inputs(new: Registration, old: Registration) -> Registration:
    """`new` with every ignoreChanges key set back to its value in the old INPUTS, or removed
    when the old inputs lack it (step_generator.go:processIgnoreChanges, PropertyPath.Reset;
    top-level keys only). These are the inputs the engine diffs and stores."""
    if not new.ignore_changes:
        return new
    inputs = dict(new.inputs)
    for key in {_top_level(p) for p in new.ignore_changes}:
        if key in old.inputs:
            inputs[key] = old.inputs[key]
        else:
            inputs.pop(key, None)
    return dataclasses.replace(new, inputs=inputs)


def provider_view(new: Registration, old: Registration) -> Registration:
    """What the provider's Update acts on: the new inputs, except that an ignored key has no
    diff for the bridge (provider.go:Diff filters it, `newIgnoreChanges`), so TF keeps the
    value of the prior state (the old outputs) for it."""
    if not new.ignore_changes:
        return new
    prior = attributes(old)
    inputs = dict(new.inputs)
    for key in {_top_level(p) for p in new.ignore_changes}:
        if key in prior:
            inputs[key] = prior[key]
        else:
            inputs.pop(key, None)
    return dataclasses.replace(new, inputs=inputs)


def _input_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[str, ...]:
    # step_generator.go:diffResource - a provider answering DIFF_UNKNOWN (the SDK's dynamic
    # provider host when the provider has no diff(): dynamic/__main__.py:Diff) gets the
    # engine's own diff of old inputs against new inputs, every key (`__provider` too).
    return tuple(sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k)))


def resource_diff(old: Registration, new: Registration) -> tuple[str, ...]:
    """The changed keys the engine sees for `new` (inputs already processed) against `old`."""
    if _is_bridged_sql(new):
        # pulumi-terraform-bridge provider.go:Diff: the prior TF state is built from the old
        # OUTPUTS (req.GetOlds()); the config from the new inputs.
        return changed_keys(new.type, attributes(old), new.inputs, new.ignore_changes)
    if new.custom and new.type == DYNAMIC:
        return _input_diff(old.inputs, new.inputs)
    return changed_keys(new.type, old.inputs, new.inputs, new.ignore_changes)


def _classify(old: Registration | None, new: Registration, init_errors: Mapping[str, list[str]]) -> Step:
    if old is None:
        return Step("import" if new.import_id else "create", None, new)
    new = processed_inputs(new, old)
    if not new.custom or new.type.startswith("pulumi:providers:"):
        # Components have no provider: any input change is a state-only update. Provider
        # config changes never replace here: the bridge's DiffConfig replaces only ForceNew
        # config keys and terraform-provider-postgresql's provider schema has none.
        diff = changed_keys(new.type, old.inputs, new.inputs, new.ignore_changes)
        return Step("update" if diff else "same", old, new, diff)
    diff = resource_diff(old, new)
    triggered = replacement_triggered(old, new)
    provider_replaces = () if triggered else tuple(k for k in diff if forces_replacement(new.type, [k]))
    replace = tuple(k for k in diff if k in provider_replaces or k in new.replace_on_changes) + (
        ("replacementTrigger",) if triggered else ())
    if not diff and not triggered:
        # A resource recorded with InitErrors is updated even without a diff
        # (step_generator.go:applyReplaceOnChanges, hasInitErrors).
        return Step("update" if old.urn in init_errors else "same", old, new)
    if not replace:
        return Step("update", old, new, diff)
    # The provider asks for delete-before-replace only when IT requires the replacement
    # (bridge provider.go:Diff: `len(replaces) > 0 && ...`): Grant always, an auto-named type
    # whose `name` the program set; the program can ask for it in any case.
    bridge_dbr = bool(provider_replaces) and (
        new.type in DELETE_BEFORE_REPLACE_TYPES or (new.type in AUTONAMED_TYPES and "name" in new.inputs))
    dbr = new.delete_before_replace or bridge_dbr
    blocked = ""
    if new.protect and old.protect:  # step_generator.go: unprotect + replace in one run is allowed
        blocked = (f"unable to replace resource {new.urn!r}\nas it is currently marked for protection. "
                   "To unprotect the resource, remove the `protect` flag from the resource in your Pulumi "
                   "program and run `pulumi up`")
    elif new.import_id:
        blocked = ("previously-imported resources that still specify an ID may not be replaced; "
                   "please remove the `import` declaration from your program")
    return Step("replace", old, new, diff, replace, dbr, blocked)


def replacement_triggered(old: Registration, new: Registration) -> bool:
    """The `replacement_trigger` option (step_generator.go:generateStepsFromDiff, shouldTriggerReplace):
    a trigger that differs from the one in state replaces the resource without asking the provider
    (no Diff, so no delete-before-replace from the provider); a missing one (null) on either side
    - e.g. state written before the program set any - never does. Values are plain here: the
    mock engine has no unknowns, which the engine would count as a change."""
    before, after = getattr(old, "replacement_trigger", None), getattr(new, "replacement_trigger", None)
    return before is not None and after is not None and before != after


def _delete_step(old: Registration, op: str = "delete") -> Step:
    blocked = ""
    if op == "delete" and old.protect:  # step.go:deleteProtectedError
        blocked = (f"resource {old.urn!r} cannot be deleted\nbecause it is protected. To unprotect the "
                   "resource, either remove the `protect` flag from the resource in your Pulumi program and "
                   f"run `pulumi up`, or use the command:\n`pulumi state unprotect '{old.urn}'`")
    return Step(op, old, None, blocked=blocked)


def _dependents(root: str, regs: Iterable[Registration]) -> set[str]:
    """URNs that depend on `root`, directly or transitively."""
    regs = list(regs)
    known = {r.urn: r for r in regs}
    children: dict[str, set[str]] = {}
    for r in regs:
        for dep in _edges(r, known):
            children.setdefault(dep, set()).add(r.urn)
    seen: set[str] = set()
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _apply_delete_before_replace(steps: list[Step], olds: list[Registration], news: list[Registration]) -> list[Step]:
    # A delete-before-replace root first deletes the olds of its (transitive) dependents that
    # are being replaced too (step_generator.go:calculateDependentReplacements; approximated by
    # the dependents' own diff), leaves first, then its own old, then creates.
    old_to_step = {s.old.urn: i for i, s in enumerate(steps) if s.old}
    for i, step in enumerate(list(steps)):
        if step.op != "replace" or not step.delete_before_replace or step.old_deleted_by:
            continue
        old_deps = _dependents(step.old.urn, olds)  # type: ignore[union-attr]
        new_deps = _dependents(step.new.urn, news)  # type: ignore[union-attr]
        group = []
        for urn in old_deps:
            j = old_to_step.get(urn)
            if j is not None and steps[j].op == "replace" and steps[j].new.urn in new_deps:  # type: ignore[union-attr]
                group.append(j)
        order = {r.urn: n for n, r in enumerate(olds)}
        group.sort(key=lambda j: -order[steps[j].old.urn])  # type: ignore[union-attr]
        for j in group:
            steps[j] = dataclasses.replace(steps[j], old_deleted_by=step.new.urn)  # type: ignore[union-attr]
        steps[i] = dataclasses.replace(step, delete_first=tuple(steps[j].old for j in group))  # type: ignore[misc]
    return steps


def _antichains(condemned: list[Step], olds: list[Registration]) -> list[list[Step]]:
    # step_generator.go:ScheduleDeletes - peel off condemned resources that depend on no other
    # condemned resource; each peel is an antichain; reversed, so dependents go first.
    known = {r.urn: r for r in olds}
    remaining = {s.old.urn: s for s in condemned}  # type: ignore[union-attr]
    chains: list[list[Step]] = []
    while remaining:
        free = [s for urn, s in remaining.items()
                if not (_edges(known[urn], known) & (remaining.keys() - {urn}))]
        if not free:  # a cycle cannot come from a program; delete the rest one by one
            free = [next(iter(remaining.values()))]
        chains.append(free)
        for s in free:
            del remaining[s.old.urn]  # type: ignore[union-attr]
    return list(reversed(chains))


def plan(old: Sequence[Registration] | AppliedState | ProgramRun | None,
         new: Sequence[Registration] | ProgramRun | None) -> Plan:
    """What `pulumi up` would do going from state `old` to program run `new`.

    A first `pulumi up` is plan([], run); `pulumi destroy` is plan(state, []).
    """
    olds, news = _regs(old), _regs(new)
    init_errors = old.init_errors if isinstance(old, AppliedState) else {}
    matched = _match(olds, news)
    steps = _apply_delete_before_replace([_classify(matched.get(r.urn), r, init_errors) for r in news], olds, news)
    kept = {o.urn for o in matched.values()}
    condemned = [_delete_step(o) for o in olds if o.urn not in kept]
    condemned += [_delete_step(s.old, "delete-replaced") for s in steps  # type: ignore[arg-type]
                  if s.op == "replace" and not s.delete_before_replace and not s.old_deleted_by]
    if isinstance(old, AppliedState):
        condemned += [_delete_step(o, "delete-replaced") for o in old.pending_delete]
    return Plan(steps, _antichains(condemned, olds + (old.pending_delete if isinstance(old, AppliedState) else [])))


# --- execution ------------------------------------------------------------------------------

class _Run:
    def __init__(self, the_plan: Plan, double: ProviderDouble, olds: list[Registration],
                 init_errors: Mapping[str, list[str]] | None = None) -> None:
        self.plan, self.double = the_plan, double
        self.lock = threading.Lock()
        self.state: dict[str, Registration] = {r.urn: r for r in olds}
        self.pending: dict[str, Registration] = {}
        self.timings: dict[str, float] = {}
        self.init_errors: dict[str, list[str]] = dict(init_errors or {})

    def snapshot(self) -> AppliedState:
        order = {s.new.urn: i for i, s in enumerate(self.plan.steps) if s.new}
        resources = sorted(self.state.values(), key=lambda r: order.get(r.urn, len(order)))
        urns = {r.urn for r in resources}
        return AppliedState(resources, list(self.pending.values()), dict(self.timings),
                            {u: e for u, e in self.init_errors.items() if u in urns})

    def _record(self, reg: Registration, *, replaced: Registration | None = None) -> None:
        with self.lock:
            if replaced is not None and replaced.urn != reg.urn:
                self.state.pop(replaced.urn, None)
            self.state[reg.urn] = reg
            self.init_errors.pop(reg.urn, None)

    def _written(self, reg: Registration, write: Any, replaced: Registration | None = None) -> Registration:
        """Run a provider create/update; a read-back failure still records the resource
        (with InitErrors, in place of `replaced`) before the step fails, as the engine does
        with a partial failure."""
        try:
            done = write()
        except ProviderInitError as partial:
            recorded = dataclasses.replace(reg, id=partial.id, state=partial.outputs)
            with self.lock:
                if replaced is not None and replaced.urn != reg.urn:
                    self.state.pop(replaced.urn, None)
                self.state[reg.urn] = recorded
                self.init_errors[reg.urn] = [str(partial)]
            raise
        return dataclasses.replace(reg, id=done.id, state=done.outputs)

    # Provider calls; non-postgresql types (providers, components, random) are state-only.
    def _create(self, reg: Registration) -> Registration:
        if reg.type == POSTGRES_PROVIDER:
            self.double.register_provider(reg)
        if _is_sql(reg):
            return self._written(reg, lambda: self.double.create(reg))
        return dataclasses.replace(reg, id=reg.id or f"{reg.name}-id")

    def _update(self, old: Registration, new: Registration) -> Registration:
        if new.type == POSTGRES_PROVIDER:
            self.double.register_provider(new)
        if _is_sql(new):
            return self._written(new, lambda: self.double.update(old, provider_view(new, old)), replaced=old)
        return dataclasses.replace(new, id=old.id)

    def _delete(self, reg: Registration) -> None:
        if reg.retain_on_delete:  # step.go: RetainOnDelete makes the delete a no-op
            return
        if _is_sql(reg):
            self.double.delete(reg)

    def _import(self, reg: Registration) -> None:
        # Pulumi >= 3.174 (pulumi/pulumi#19339, "New eventual state import system"): ImportStep
        # only reads (step.go:ImportStep.Apply - prov.Read with the import id, no Check, no
        # Diff); the imported state then becomes the OLD state of normal step generation
        # (step_generator.go: the import's completion source posts a continueResourceImportEvent,
        # continueStepsFromImport applies processIgnoreChanges against the imported inputs and
        # diffs), so differing inputs give an UpdateStep in the same deployment. No diff: the
        # registration resolves with the imported state itself (step_generator.go, "If this
        # was imported don't generate a new same step"). A diff needing replacement is refused
        # while `import` is still declared ("previously-imported resources ...").
        if not _is_sql(reg):
            self._record(dataclasses.replace(reg, id=reg.import_id))
            return
        found = self.double.import_(reg)
        imported = dataclasses.replace(reg, inputs=dict(found.inputs or {}), state=found.outputs, id=found.id)
        self._record(imported)
        new = processed_inputs(reg, imported)
        diff = resource_diff(imported, new)
        if not diff:
            return
        replace = [k for k in diff if forces_replacement(new.type, [k]) or k in new.replace_on_changes]
        if replace:
            raise EngineError("previously-imported resources that still specify an ID may not be replaced; "
                              "please remove the `import` declaration from your program;\n"
                              + "\n".join(f"{k}: {imported.inputs.get(k)!r} => {new.inputs.get(k)!r}" for k in replace))
        started = time.perf_counter()
        self._record(self._update(imported, new))
        self.timings[f"update {new.urn}"] = time.perf_counter() - started

    def execute(self, step: Step) -> None:
        started = time.perf_counter()
        if step.blocked:
            raise EngineError(step.blocked)
        old, new = step.old, step.new
        if step.op in ("delete", "delete-replaced"):
            self._delete(old)  # type: ignore[arg-type]
            with self.lock:
                if step.op == "delete":
                    self.state.pop(old.urn, None)  # type: ignore[union-attr]
                    self.init_errors.pop(old.urn, None)  # type: ignore[union-attr]
                self.pending.pop(old.urn, None)  # type: ignore[union-attr]
        elif step.op == "import":
            self.timings[f"import {step.urn}"] = 0.0  # placeholder keeps "import" before "update"
            self._import(new)  # type: ignore[arg-type]
        elif step.op == "create":
            self._record(self._create(new))  # type: ignore[arg-type]
        elif step.op == "same":
            # SameStep: the new inputs with the old id and outputs.
            self._record(dataclasses.replace(new, id=old.id, state=old.state), replaced=old)  # type: ignore[arg-type,union-attr]
        elif step.op == "update":
            self._record(self._update(old, new), replaced=old)  # type: ignore[arg-type]
        elif step.op == "replace":
            self._replace(step)
        self.timings[f"{step.op} {step.urn}"] = time.perf_counter() - started

    def _replace(self, step: Step) -> None:
        old, new = step.old, step.new
        assert old is not None and new is not None
        if step.delete_before_replace or step.old_deleted_by:
            for dependent in step.delete_first:  # dependents that are replaced too, leaves first
                self._delete(dependent)
                with self.lock:
                    self.state.pop(dependent.urn, None)
            if not step.old_deleted_by:
                self._delete(old)
            with self.lock:
                self.state.pop(old.urn, None)
            self._record(self._create(new))
            return
        # create-before-delete: the old goes in the delete phase. CreateStep.Apply marks it
        # pending delete once the create succeeded or only partly failed (step.go).
        try:
            done = self._create(new)
        except ProviderInitError:
            with self.lock:
                self.pending[old.urn] = old
                if old.urn != new.urn:
                    self.state.pop(old.urn, None)
            raise
        with self.lock:
            self.pending[old.urn] = old
        self._record(done, replaced=old)


def _run_dag(run: _Run, steps: list[Step], pool: ThreadPoolExecutor) -> list[tuple[Step, BaseException]]:
    known = {s.new.urn: s for s in steps if s.new}
    waiting = {urn: _edges(s.new, known) for urn, s in known.items()}  # type: ignore[arg-type]
    dependents: dict[str, list[str]] = {}
    for urn, deps in waiting.items():
        for dep in deps:
            dependents.setdefault(dep, []).append(urn)
    ready = [urn for urn in known if not waiting[urn]]
    running: dict[Future[None], str] = {}
    failures: list[tuple[Step, BaseException]] = []
    while ready or running:
        while ready and not failures:
            urn = ready.pop(0)
            running[pool.submit(run.execute, known[urn])] = urn
        if not running:
            break
        done, _ = wait(running, return_when=FIRST_COMPLETED)
        for future in done:
            urn = running.pop(future)
            if future.exception() is not None:
                failures.append((known[urn], future.exception()))  # type: ignore[arg-type]
                continue
            for child in dependents.get(urn, []):
                waiting[child].discard(urn)
                if not waiting[child]:
                    ready.append(child)
        if failures:
            ready.clear()  # the engine starts nothing new after a failure
    return failures


def apply(the_plan: Plan, double: ProviderDouble, parallelism: int = DEFAULT_PARALLELISM,
          old: Sequence[Registration] | AppliedState | None = None) -> AppliedState:
    """Execute the plan; return the resulting state or raise ApplyError (with `.state`).

    `old` is the state the plan was made from, when it held resources the plan leaves alone
    (they stay in the returned state); plan() steps already carry every old they touch.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    olds = _regs(old) if old is not None else [s.old for s in the_plan.steps if s.old]
    olds += [s.old for s in the_plan.deletes if s.old and s.op == "delete"]
    for reg in [*olds, *(s.new for s in the_plan.steps if s.new)]:
        if reg.type == POSTGRES_PROVIDER:
            double.register_provider(reg)
    run = _Run(the_plan, double, olds, old.init_errors if isinstance(old, AppliedState) else None)
    if isinstance(old, AppliedState):
        run.pending = {r.urn: r for r in old.pending_delete}
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="engine") as pool:
        failures = _run_dag(run, the_plan.steps, pool)
        for chain in the_plan.delete_chains:
            if failures:
                break
            futures = {pool.submit(run.execute, s): s for s in chain}
            for future, s in futures.items():
                if future.exception() is not None:
                    failures.append((s, future.exception()))  # type: ignore[arg-type]
    if failures:
        raise ApplyError(failures, run.snapshot())
    return run.snapshot()


def refresh(state: AppliedState, double: ProviderDouble, parallelism: int = DEFAULT_PARALLELISM) -> AppliedState:
    """`pulumi refresh`: every custom resource read back by its provider, the state updated.

    step.go:RefreshStep.Apply: components and providers are left as they are; a Read that
    finds nothing removes the resource from the state; otherwise the outputs become what was
    read, the inputs those the provider returned (the bridge's refresh inputs; the dynamic
    host's only when the provider gives some), and InitErrors are cleared. Random resources
    are state-only here (terraform-provider-random's Read changes nothing). A failing Read
    fails the refresh: ApplyError with the state before it.
    """
    if parallelism < 1:
        raise ValueError("parallelism must be at least 1")
    for reg in state.resources:
        if reg.type == POSTGRES_PROVIDER:
            double.register_provider(reg)

    def read(reg: Registration) -> Registration | None:
        if not _is_sql(reg):
            return reg
        found = double.read(reg)
        if found is None:
            return None
        inputs = found.inputs if found.inputs is not None else reg.inputs
        return dataclasses.replace(reg, id=found.id, state=found.outputs, inputs=inputs)

    everything = [*state.resources, *state.pending_delete]
    with ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="refresh") as pool:
        futures = [pool.submit(read, reg) for reg in everything]
        wait(futures)
    failures = [(Step("refresh", reg, reg), f.exception()) for reg, f in zip(everything, futures) if f.exception()]
    if failures:
        raise ApplyError(failures, state)  # type: ignore[arg-type]
    results = [f.result() for f in futures]
    refreshed = [r for r in results[:len(state.resources)] if r is not None]
    pending = [r for r in results[len(state.resources):] if r is not None]
    read_urns = {r.urn for r in refreshed if _is_sql(r)}
    init_errors = {u: e for u, e in state.init_errors.items() if u not in read_urns and u in {r.urn for r in refreshed}}
    return AppliedState(refreshed, pending, {}, init_errors)


def up(old: Sequence[Registration] | AppliedState | ProgramRun | None, new: Sequence[Registration] | ProgramRun,
       double: ProviderDouble, parallelism: int = DEFAULT_PARALLELISM, *, refresh_first: bool = False) -> AppliedState:
    """plan + apply in one call, as `pulumi up --yes` (`--refresh` with refresh_first=True)."""
    state = old if isinstance(old, AppliedState) else None
    if refresh_first:
        state = refresh(state or AppliedState(_regs(old)), double, parallelism)
    return apply(plan(state if state is not None else old, new), double, parallelism, old=state or _regs(old))


def make_registration(type_token: str, name: str, inputs: Mapping[str, Any], *, stack: str = "test",
                      project: str = "pg-tenants", parent: Registration | None = None,
                      provider: Registration | None = None, dependencies: Iterable[Registration | str] = (),
                      custom: bool | None = None, secret_inputs: Iterable[str] = (), protect: bool = False,
                      retain_on_delete: bool = False, delete_before_replace: bool = False,
                      alias_urns: Iterable[str] = (), alias_names: Iterable[str] = (), import_id: str = "",
                      ignore_changes: Iterable[str] = (), replace_on_changes: Iterable[str] = (),
                      id: str | None = None) -> Registration:  # noqa: A002 - mirrors Registration.id
    """Build a Registration by hand, URN and provider reference shaped as the engine makes them.

    Types of the postgresql, random and pulumi packages are custom resources; anything else
    (e.g. "pg-tenants:index:Tenant") is a component unless `custom` says otherwise.
    """
    qualified = f"{_urn_parts(parent.urn)[2]}${type_token}" if parent else type_token
    if custom is None:
        custom = type_token.split(":")[0] in ("postgresql", "random", "pulumi")
    return Registration(
        urn=f"urn:pulumi:{stack}::{project}::{qualified}::{name}", type=type_token, name=name, custom=custom,
        parent=parent.urn if parent else "", provider=f"{provider.urn}::{provider.id}" if provider else "",
        inputs=dict(inputs), secret_inputs=frozenset(secret_inputs),
        dependencies=tuple(d if isinstance(d, str) else d.urn for d in dependencies),
        protect=protect, retain_on_delete=retain_on_delete, delete_before_replace=delete_before_replace,
        alias_urns=tuple(alias_urns), alias_names=tuple(alias_names), import_id=import_id,
        ignore_changes=tuple(ignore_changes), replace_on_changes=tuple(replace_on_changes),
        additional_secret_outputs=(), id=f"{name}-id" if id is None else id, state={},
    )
