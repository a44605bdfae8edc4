"""How long `pg-tenants validate` takes for 1,000 and 10,000 tenants (pre-commit budget: < 2 s).

Writes tenant files (100 tenants each, a mix of defaults and explicit fields) and a stack
config into a temporary directory, then times the whole command as a hook runs it: a new
`python -m pg_tenants.cli validate` process, interpreter start and imports included.

    python benchmarks/validate_benchmark.py [--tenants 1000 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[1]
TENANTS_PER_FILE = 100

STACK_FILE = {
    "config": {
        "pg-tenants:servers": {
            "main": {"host": "db.example.internal", "adminPasswordSecret": "mainAdminPassword", "databases": ["app", "reporting"]},
        },
        "pg-tenants:mainAdminPassword": {"secure": "v1:benchmark"},
        "pg-tenants:tenantPassword": {"secure": "v1:benchmark"},
        "pg-tenants:defaultDatabase": "app",
    }
}


def tenant(index: int) -> dict[str, object]:
    entry: dict[str, object] = {"name": f"tenant_{index:05d}"}
    if index % 3 == 0:
        entry |= {"schema": f"data_{index:05d}", "username": f"app_{index:05d}"}
    if index % 5 == 0:
        entry |= {"database": "reporting", "connection_limit": 10, "statement_timeout": 30000}
    if index % 50 == 0:
        entry |= {"password_secret": "tenantPassword", "valid_until": "2030-01-01T00:00:00+00:00"}
    return entry


def write_project(root: Path, count: int) -> Path:
    tenants_dir = root / "tenants"
    tenants_dir.mkdir(parents=True)
    for start in range(0, count, TENANTS_PER_FILE):
        batch = [tenant(i) for i in range(start, min(start + TENANTS_PER_FILE, count))]
        (tenants_dir / f"batch_{start // TENANTS_PER_FILE:04d}.yaml").write_text(
            yaml.safe_dump({"tenants": batch}, sort_keys=False))
    stack_file = root / "Pulumi.bench.yaml"
    stack_file.write_text(yaml.safe_dump(STACK_FILE, sort_keys=False))
    return stack_file


def time_command(root: Path, stack_file: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one run; CPU time is steadier on a busy machine."""
    command = [sys.executable, "-m", "pg_tenants.cli", "validate", "tenants", "--stack-config", str(stack_file)]
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(PROJECT_DIR)})
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"validate failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    return elapsed, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the median is printed")
    args = parser.parse_args()
    for count in args.tenants:
        with tempfile.TemporaryDirectory(prefix="validate-bench-") as tmp:
            root = Path(tmp)
            stack_file = write_project(root, count)
            runs = [time_command(root, stack_file) for _ in range(args.repeat)]
        walls, cpus = [wall for wall, _ in runs], [cpu for _, cpu in runs]
        print(f"validate {count:>6} tenants: {statistics.median(walls):.2f} s wall, "
              f"{statistics.median(cpus):.2f} s CPU (median of {args.repeat} whole-command runs; "
              f"wall min {min(walls):.2f} s, max {max(walls):.2f} s)")


if __name__ == "__main__":
    main()
