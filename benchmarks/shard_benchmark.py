"""One tenant list of 10,000 tenants split across N sharded stacks, each run on the mock engine.

    python -m benchmarks.shard_benchmark [--tenants 10000] [--shards 10] [--parallel 2]

The fleet has one server per shard (`pg01`, `pg02`, ...), each tenant names its server, and
shard k's stack config lists only its own server, as the README's *Sharding a fleet across
stacks* writes it:

    pg-tenants:servers: {pg01: {...}}
    pg-tenants:shard: {name: shard-01, servers: [pg01]}

Every stack reads the same tenant list (one file of all the tenants). Each stack runs the real
program (`__main__.py`) once on the SDK's mock engine in a fresh process, at most `--parallel`
at a time (as a 2-runner CI matrix would), with the same clocks as
`benchmarks/program_benchmark.py` (its `_GcTimer`; wall, CPU, GC, peak RSS). The state bytes
of each stack are what the mock engine recorded, serialised in the checkpoint's shape with the
helpers of `benchmarks/state_size.py` (secrets as ciphertext; every resource, the fleet's
providers and hardening included, and the stack outputs). As the same run's baseline, one
shard-sized run of the typed floor (`benchmarks/typed_floor.py`, through program_benchmark's
own runner) goes through the same pool.

The benchmark fails (exit 1) unless every tenant of the list was registered as a Tenant
component by exactly one stack.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.typed_floor import fleet_entries

DEFAULT_TENANTS, DEFAULT_SHARDS, DEFAULT_PARALLEL = 10_000, 10, 2
TENANT_TYPE = "pg-tenants:index:Tenant"
TENANT_FILE = "fleet.yaml"
FLOOR_KIND = "generated password"  # program_benchmark.TENANT_KINDS: the benchmark's tenants have no options


def server_name(shard: int) -> str:
    return f"pg{shard + 1:02d}"


def shard_name(shard: int) -> str:
    return f"shard-{shard + 1:02d}"


def shard_of(index: int, tenants: int, shards: int) -> int:
    """Contiguous, balanced blocks: tenant i of T goes to shard i * N // T."""
    return index * shards // tenants


def fleet(tenants: int, shards: int) -> list[dict[str, object]]:
    """The one tenant list: every tenant names the server of its shard."""
    return [{**entry, "server": server_name(shard_of(i, tenants, shards))}
            for i, entry in enumerate(fleet_entries(tenants, {}))]  # fmt: skip


def write_fleet(tenants_dir: Path, tenants: int, shards: int) -> Path:
    from tests.support.stack import write_tenant_file

    return write_tenant_file(tenants_dir, TENANT_FILE, fleet(tenants, shards))


def shard_stack(tenants_dir: Path, shard: int) -> Any:
    """Shard k's stack config: its own server only, and `pg-tenants:shard` naming it."""
    from tests.support.stack import StackConfig

    server = server_name(shard)
    return StackConfig(
        tenants_dir=tenants_dir,
        servers={server: {"host": f"{server}.example.internal", "port": 5432, "adminUsername": "postgres",
                          "adminPasswordSecret": f"{server}AdminPassword", "sslmode": "require", "databases": ["app"]}},
        secrets={f"{server}AdminPassword": "admin-password"},
        settings={"checkExistingSchemas": False, "defaultServer": server,
                  "shard": {"name": shard_name(shard), "servers": [server]}},
    )  # fmt: skip


def run_shard(tenants_dir: Path, shard: int, *, deterministic: bool = False) -> Any:
    """The real program for shard k's stack; raises the program's error."""
    from tests.support.program_run import run_program

    values, secret_keys = shard_stack(tenants_dir, shard).as_pulumi_config()
    run = run_program(values, secret_keys, stack=shard_name(shard), deterministic=deterministic)
    if run.error:
        raise run.error
    return run


def tenant_names(run: Any) -> list[str]:
    return [r.name for r in run.registrations if r.type == TENANT_TYPE]


def ownership_problems(expected: list[str], per_shard: dict[str, list[str]]) -> list[str]:
    """Every expected tenant registered by exactly one stack, and nothing else registered."""
    owners: dict[str, list[str]] = {}
    for stack, names in per_shard.items():
        for name in names:
            owners.setdefault(name, []).append(stack)
    problems = [f"tenant {n!r} registered by no stack" for n in expected if n not in owners]
    problems += [f"tenant {n!r} registered by {len(s)} stacks: {', '.join(s)}" for n, s in owners.items() if len(s) > 1]
    problems += [f"tenant {n!r} is not in the tenant list" for n in owners if n not in set(expected)]
    return problems


def state_bytes(run: Any) -> int:
    """The stack's checkpoint in Pulumi's shape: every resource and the stack outputs (state_size's helpers)."""
    from benchmarks.state_size import _ciphertext, resource_bytes

    total = sum(resource_bytes(run, r) for r in run.registrations)
    for output in run.outputs.values():
        total += len(json.dumps(_ciphertext(output.value) if output.secret else output.value, indent=4))
    return total


def measure_shard(tenants_dir: Path, shard: int) -> dict[str, Any]:
    """One stack in this process, measured like program_benchmark.measure."""
    import pulumi_postgresql  # noqa: F401 - imported before the clock starts, as program_benchmark does
    import pulumi_random  # noqa: F401

    from benchmarks.program_benchmark import _GcTimer

    timer = _GcTimer()
    started, cpu_started = time.perf_counter(), time.process_time()
    run = run_shard(tenants_dir, shard)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "gc_cpu_seconds": timer.cpu_seconds,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "resources": len(run.registrations),
        "types": dict(Counter(r.type for r in run.registrations)),
        "tenant_names": tenant_names(run),
        "state_bytes": state_bytes(run),
    }


def _shard_child(tenants_dir: Path, shard: int) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.shard_benchmark", "--one-shard", str(shard), "--tenants-dir", str(tenants_dir)],
        capture_output=True, text=True, check=False,  # a failed run is reported with its stderr below
    )  # fmt: skip
    if out.returncode:
        raise SystemExit(f"the stack {shard_name(shard)} failed:\n{out.stderr}")
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["load"] = (load_start, os.getloadavg()[0])
    return row


def _floor_child(size: int, table_path: str) -> dict[str, Any]:
    from benchmarks.program_benchmark import _run_child

    return _run_child("floor", size, FLOOR_KIND, table_path, "program")


def benchmark(tenants: int, shards: int, parallel: int) -> int:
    from benchmarks import typed_floor
    from benchmarks.program_benchmark import TENANT_KINDS

    floor_size = -(-tenants // shards)
    load_start = os.getloadavg()
    started = time.perf_counter()
    print(f"Python {platform.python_version()}, {os.cpu_count()} CPUs, {tenants} tenants in one list, {shards} stacks "
          f"(one server each), {parallel} at a time, one fresh process per stack; typed floor: one run of {floor_size} "
          f"tenants in the same pool. Load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}",
          flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        write_fleet(tenants_dir, tenants, shards)
        table_path = str(Path(tmp) / "floor-table.json")
        typed_floor.write_table(typed_floor.record_table(TENANT_KINDS[FLOOR_KIND]), Path(table_path))
        rows: dict[int, dict[str, Any]] = {}
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            futures = {shard: pool.submit(_shard_child, tenants_dir, shard) for shard in range(shards)}
            floor_future = pool.submit(_floor_child, floor_size, table_path)
            for shard, future in futures.items():
                row = rows[shard] = future.result()
                print(f"  {shard_name(shard)}: {len(row['tenant_names'])} tenants, {row['resources']} resources, "
                      f"{row['seconds']:.2f} s wall, {row['cpu_seconds']:.2f} s CPU, peak RSS {row['peak_rss_mb']:.1f} MB, "
                      f"state {row['state_bytes']} bytes, load {row['load'][0]:.2f} -> {row['load'][1]:.2f}", flush=True)
            floor = floor_future.result()
    total_wall = time.perf_counter() - started
    load_end = os.getloadavg()
    _print_table(rows, floor, floor_size, total_wall, load_start, load_end, parallel)

    expected = [str(t["name"]) for t in fleet(tenants, shards)]
    problems = ownership_problems(expected, {shard_name(s): r["tenant_names"] for s, r in rows.items()})
    registered = sum(len(r["tenant_names"]) for r in rows.values())
    if problems or registered != tenants:
        print(f"\nFAILED: {registered} Tenant components across {shards} stacks for {tenants} tenants in the list; "
              f"{len(problems)} problems:", file=sys.stderr)
        for problem in problems[:50]:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"\nOwnership: {registered} Tenant components across {shards} stacks = {tenants} tenants in the list, "
          "each registered by exactly one stack.")
    return 0


def _print_table(rows: dict[int, dict[str, Any]], floor: dict[str, Any], floor_size: int, total_wall: float,
                 load_start: tuple[float, ...], load_end: tuple[float, ...], parallel: int) -> None:  # fmt: skip
    print()
    print(f"{'stack':<10} {'tenants':>7} {'resources':>9} {'wall s':>8} {'CPU s':>8} {'CPU ms/t':>8} "
          f"{'GC CPU s':>8} {'RSS MB':>7} {'state bytes':>12} {'KiB/t':>6} {'load start-end':>14}")
    for shard, r in sorted(rows.items()):
        n = len(r["tenant_names"])
        print(f"{shard_name(shard):<10} {n:>7} {r['resources']:>9} {r['seconds']:>8.2f} {r['cpu_seconds']:>8.2f} "
              f"{r['cpu_seconds'] * 1000 / n:>8.1f} {r['gc_cpu_seconds']:>8.2f} {r['peak_rss_mb']:>7.1f} "
              f"{r['state_bytes']:>12} {r['state_bytes'] / 1024 / n:>6.1f} {r['load'][0]:>6.2f}-{r['load'][1]:<6.2f}")
    n = sum(len(r["tenant_names"]) for r in rows.values())
    cpu = sum(r["cpu_seconds"] for r in rows.values())
    state = sum(r["state_bytes"] for r in rows.values())
    print(f"{'total':<10} {n:>7} {sum(r['resources'] for r in rows.values()):>9} "
          f"{sum(r['seconds'] for r in rows.values()):>8.2f} {cpu:>8.2f} {cpu * 1000 / n:>8.1f} "
          f"{sum(r['gc_cpu_seconds'] for r in rows.values()):>8.2f} {max(r['peak_rss_mb'] for r in rows.values()):>7.1f} "
          f"{state:>12} {state / 1024 / n:>6.1f}   (RSS: the largest stack's)")
    print(f"{'floor':<10} {floor_size:>7} {sum(floor['shape'].values()):>9} {floor['seconds']:>8.2f} "
          f"{floor['cpu_seconds']:>8.2f} {floor['cpu_seconds'] * 1000 / floor_size:>8.1f} {floor['gc_cpu_seconds']:>8.2f} "
          f"{floor['peak_rss_mb']:>7.1f} {'-':>12} {'-':>6} {floor['load'][0]:>6.2f}-{floor['load'][1]:<6.2f}")
    print()
    slowest = max(rows, key=lambda s: rows[s]["seconds"])
    print(f"max wall per stack: {rows[slowest]['seconds']:.2f} s ({shard_name(slowest)}); "
          f"max CPU per stack: {max(r['cpu_seconds'] for r in rows.values()):.2f} s; "
          f"all {len(rows)} stacks and the floor, {parallel} at a time: {total_wall:.2f} s wall")
    median_cpu_ms = sorted(r["cpu_seconds"] * 1000 / len(r["tenant_names"]) for r in rows.values())[len(rows) // 2]
    print(f"CPU per tenant: stacks {median_cpu_ms:.1f} ms (median), typed floor {floor['cpu_seconds'] * 1000 / floor_size:.1f} ms")
    print(f"load average (1, 5, 15 min): start {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}, "
          f"end {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=DEFAULT_TENANTS, help=f"tenants in the list (default {DEFAULT_TENANTS})")
    parser.add_argument("--shards", type=int, default=DEFAULT_SHARDS, help=f"stacks (default {DEFAULT_SHARDS})")
    parser.add_argument("--parallel", type=int, default=DEFAULT_PARALLEL, help=f"stacks run at a time (default {DEFAULT_PARALLEL})")
    parser.add_argument("--one-shard", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--tenants-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one_shard is not None:
        print(json.dumps(measure_shard(args.tenants_dir, args.one_shard)))
        return
    if not 0 < args.shards <= min(args.tenants, 99) or args.parallel < 1:
        parser.error("need 1 <= --shards <= min(--tenants, 99) and --parallel >= 1")
    raise SystemExit(benchmark(args.tenants, args.shards, args.parallel))


if __name__ == "__main__":
    main(sys.argv[1:])
