"""The real program on the SDK mock engine beside its typed floor, for generated fleets.

    python -m benchmarks.program_benchmark [SIZES...] [--repeat 3] [--kind "generated password"]
    python -m benchmarks.program_benchmark --counts

For each size, the project and the typed floor (benchmarks/typed_floor.py: the same resource
types, counts, parents, providers and mocks, no project logic) run alternately, each in a fresh
process (so peak RSS is that run's alone), `--repeat` times. Every run prints its wall time,
the time the garbage collector took (gc.callbacks), its peak RSS and the load average at its
start and end; then each size gets the medians and the ratio project / floor. The machine may
be shared: compare ratios within one invocation, not seconds across invocations.

`--gc-policy` replaces the program's GC policy (pg_tenants/gc_policy.py) in the project's runs,
to measure alternatives; the floor always runs with Python's defaults.
`--counts` prints the resources one tenant of each kind registers, for this program and for the
previous ownership model (tests/fixtures/previous_model), side by side; then the providers and
resources of one-server fleets of pool tenants and of silo tenants (`isolation: database`).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_SIZES = (100, 1000, 5000)

# One tenant of each kind; the stack has no other tenant, so its hardening is counted apart.
TENANT_KINDS: dict[str, dict[str, object]] = {
    "generated password": {},
    "zero-downtime rotation": {"zero_downtime_rotation": True},
    "marked for purge": {"on_remove": "purge"},
    "suspended": {"state": "suspended"},
    "offboarded": {"state": "offboarded"},
    "read-only login": {"readonly_login": True},
    "zero-downtime + read-only": {"zero_downtime_rotation": True, "readonly_login": True},
    "own database (silo)": {"isolation": "database"},
    "own database, zero-downtime": {"isolation": "database", "zero_downtime_rotation": True},
}
# The previous model had no offboarded state (offboarding removed the entry and its resources),
# no read-only login and no isolation tiers.
NEW_KIND_BEFORE = {"offboarded": "0 (entry removed)", "read-only login": "- (none)", "zero-downtime + read-only": "- (none)",
                   "own database (silo)": "- (none)", "own database, zero-downtime": "- (none)"}
NEW_KINDS = frozenset(NEW_KIND_BEFORE)
# One-server fleets of pool and of silo tenants (`isolation: database`) in --counts.
FLEET_SIZES = (1, 10, 100)

GC_POLICIES = {
    "program": None,  # what the program sets (pg_tenants/gc_policy.py)
    "default": lambda: None,  # Python's defaults
    "threshold": lambda: gc.set_threshold(50_000, 20, 100),
    "freeze": gc.freeze,
    "freeze+threshold": lambda: (gc.freeze(), gc.set_threshold(50_000, 20, 100)),
}


class _GcTimer:
    """Seconds (wall and CPU) spent in the collector, from gc.callbacks."""

    def __init__(self) -> None:
        self.seconds = self.cpu_seconds = 0.0
        self.collections, self._started = 0, (0.0, 0.0)
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = (time.perf_counter(), time.process_time())
        else:
            self.seconds += time.perf_counter() - self._started[0]
            self.cpu_seconds += time.process_time() - self._started[1]
            self.collections += 1


def measure(which: str, size: int, kind: dict[str, object], table_path: str, gc_policy: str) -> dict[str, Any]:
    """One run in this process: the project or the floor for `size` tenants."""
    import pulumi_postgresql  # noqa: F401 - imported before the clock starts on both sides
    import pulumi_random  # noqa: F401

    from benchmarks import typed_floor

    if which == "project":
        policy = GC_POLICIES[gc_policy]
        if policy is not None:
            import pg_tenants.gc_policy

            pg_tenants.gc_policy.apply_gc_policy = policy
        timer = _GcTimer()
        started, cpu_started = time.perf_counter(), time.process_time()
        run = typed_floor.run_project(size, kind)
    else:
        os.environ[typed_floor.TABLE_ENV], os.environ[typed_floor.COUNT_ENV] = table_path, str(size)
        typed_floor.load_table(table_path)
        from tests.support.program_run import run_program

        timer = _GcTimer()
        started, cpu_started = time.perf_counter(), time.process_time()
        run = run_program({}, program_dir=typed_floor.FLOOR_PROGRAM_DIR, deterministic=False)
        if run.error:
            raise run.error
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "gc_seconds": timer.seconds,
        "gc_cpu_seconds": timer.cpu_seconds,
        "collections": timer.collections,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "shape": typed_floor.shape(run),
    }


def _run_child(which: str, size: int, kind_label: str, table_path: str, gc_policy: str) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.program_benchmark", "--one", which, str(size),
         "--kind", kind_label, "--table", table_path, "--gc-policy", gc_policy],
        capture_output=True, text=True, check=False,  # a failed run is reported with its stderr below
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"the {which} run for {size} tenants failed:\n{out.stderr}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["load"] = (load_start, os.getloadavg()[0])
    return row


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows) if rows else float("nan")


def benchmark(sizes: list[int], repeat: int, kind_label: str, gc_policy: str, sides: list[str]) -> None:
    from benchmarks import typed_floor

    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, tenant kind {kind_label!r}, "
          f"{repeat} runs per point, project GC policy {gc_policy!r}, floor with Python's GC defaults.")
    print("The machine may be shared with other work (see the load averages): compare the ratios "
          "within this run, not seconds across runs.", flush=True)
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        table_path = str(Path(tmp) / "floor-table.json")
        typed_floor.write_table(typed_floor.record_table(TENANT_KINDS[kind_label]), Path(table_path))
        for size in sizes:
            runs: dict[str, list[dict[str, Any]]] = {"project": [], "floor": []}
            for attempt in range(repeat):
                for which in sides:
                    row = _run_child(which, size, kind_label, table_path, gc_policy)
                    runs[which].append(row)
                    print(f"  {size:>6} tenants, run {attempt + 1}, {which:<7}: {row['seconds']:8.2f} s wall, "
                          f"{row['cpu_seconds']:8.2f} s CPU, GC {row['gc_seconds']:7.2f} s wall {row['gc_cpu_seconds']:7.2f} s CPU "
                          f"({row['collections']} collections), "
                          f"peak RSS {row['peak_rss_mb']:7.1f} MB, load {row['load'][0]:.2f} -> {row['load'][1]:.2f}", flush=True)
                if runs["floor"] and runs["project"][-1]["shape"] != runs["floor"][-1]["shape"]:
                    raise SystemExit(f"the floor drifted from the project: {runs['project'][-1]['shape']} != {runs['floor'][-1]['shape']}")
            summary.append((size, runs))
    _print_summary(summary)


def _print_summary(summary: list[tuple[int, dict[str, list[dict[str, Any]]]]]) -> None:
    print()
    print("medians per tenant count (project = the real program, floor = typed floor; CPU = the process's "
          "user + system time, which other work on the machine disturbs far less than wall time):")
    print(f"{'tenants':>8} {'wall s':>8} {'floor':>8} {'ratio':>6} {'CPU s':>8} {'floor':>8} {'ratio':>6} "
          f"{'CPU ms/t':>8} {'GC CPU s':>8} {'floor':>7} {'RSS MB':>7} {'floor':>7} {'KB/t':>6} {'load start-end':>14}")
    for size, runs in summary:
        project, floor = runs["project"], runs["floor"]
        wall, floor_wall = _median(project, "seconds"), _median(floor, "seconds")
        cpu, floor_cpu = _median(project, "cpu_seconds"), _median(floor, "cpu_seconds")
        loads = [load for r in project + floor for load in r["load"]]
        rss = _median(project, "peak_rss_mb")
        print(f"{size:>8} {wall:>8.2f} {floor_wall:>8.2f} {wall / floor_wall:>6.2f} {cpu:>8.2f} {floor_cpu:>8.2f} "
              f"{cpu / floor_cpu:>6.2f} {cpu * 1000 / size:>8.1f} {_median(project, 'gc_cpu_seconds'):>8.2f} "
              f"{_median(floor, 'gc_cpu_seconds'):>7.2f} {rss:>7.1f} {_median(floor, 'peak_rss_mb'):>7.1f} "
              f"{rss * 1024 / size:>6.0f} {min(loads):>6.2f}-{max(loads):<6.2f}")


def resource_counts(kind: dict[str, object], program_dir: Path | None, settings: dict[str, object]) -> int:
    """Resources one tenant registers, its component included."""
    from tests.support.program_run import run_program
    from tests.support.stack import one_server_stack, write_tenant_file

    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        write_tenant_file(tenants_dir, "fleet.yaml", [{"name": "acme", **kind}])
        stack = one_server_stack(tenants_dir)
        stack.settings.update(settings)
        values, secret_keys = stack.as_pulumi_config()
        run = run_program(values, secret_keys, program_dir=program_dir)
    if run.error:
        raise run.error
    component = next(r for r in run.registrations if r.type == "pg-tenants:index:Tenant")
    return 1 + sum(1 for r in run.registrations if r.parent == component.urn)


def print_counts() -> None:
    from benchmarks.state_size import state_bytes_per_tenant
    from tests.fixtures.previous_model import PREVIOUS_SETTINGS, PROGRAM_DIR

    print(f"{'tenant kind':<28} {'previous model':>15} {'this program':>13} {'state bytes':>12}")
    for label, kind in TENANT_KINDS.items():
        before = NEW_KIND_BEFORE[label] if label in NEW_KINDS else resource_counts(kind, PROGRAM_DIR, PREVIOUS_SETTINGS)
        after = resource_counts(kind, None, {})
        print(f"{label:<28} {before:>15} {after:>13} {state_bytes_per_tenant(kind):>12}")
    print("state bytes: one tenant's resources and its share of the stack outputs in the checkpoint's "
          "shape (benchmarks/state_size.py), secrets as ciphertext")


def fleet_counts(size: int, kind: dict[str, object]) -> tuple[int, int]:
    """(providers, registrations) of a one-server fleet of `size` tenants of one kind."""
    from tests.support.program_run import POSTGRES_PROVIDER, run_program
    from tests.support.stack import one_server_stack, write_tenant_file

    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        write_tenant_file(tenants_dir, "fleet.yaml", [{"name": f"tenant_{i:05d}", **kind} for i in range(size)])
        values, secret_keys = one_server_stack(tenants_dir).as_pulumi_config()
        run = run_program(values, secret_keys)
    if run.error:
        raise run.error
    return sum(1 for r in run.registrations if r.type == POSTGRES_PROVIDER), len(run.registrations)


def print_fleet_counts() -> None:
    print(f"\n{'tenants':>8} {'pool providers':>15} {'pool resources':>15} {'silo providers':>15} {'silo resources':>15}")
    for size in FLEET_SIZES:
        pool, silo = fleet_counts(size, {}), fleet_counts(size, {"isolation": "database"})
        print(f"{size:>8} {pool[0]:>15} {pool[1]:>15} {silo[0]:>15} {silo[1]:>15}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", type=int, nargs="*", default=list(DEFAULT_SIZES))
    parser.add_argument("--repeat", type=int, default=3, help="runs of each side per size (default 3)")
    parser.add_argument("--kind", default="generated password", choices=sorted(TENANT_KINDS))
    parser.add_argument("--gc-policy", default="program", choices=sorted(GC_POLICIES))
    parser.add_argument("--counts", action="store_true", help="resources per tenant kind, previous model beside this one")
    parser.add_argument("--sides", default="project,floor", help="which sides run: project,floor (default) or project")
    parser.add_argument("--one", nargs=2, metavar=("SIDE", "TENANTS"), help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.counts:
        print_counts()
        print_fleet_counts()
    elif args.one:
        which, size = args.one
        print(json.dumps(measure(which, int(size), TENANT_KINDS[args.kind], args.table, args.gc_policy)))
    else:
        benchmark(args.sizes, args.repeat, args.kind, args.gc_policy, args.sides.split(","))


if __name__ == "__main__":
    main(sys.argv[1:])
