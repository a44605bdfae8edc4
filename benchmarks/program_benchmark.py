"""Time and peak memory of the real program on the SDK mock engine for generated fleets.

Run: python -m benchmarks.program_benchmark [SIZES...]   (default 100 1000 5000)
Each size runs in its own process so peak RSS is that run's alone.
`python -m benchmarks.program_benchmark --counts` prints the resources one tenant of each
kind registers, for this program and for the previous ownership model
(tests/fixtures/previous_model), side by side.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_SIZES = (100, 1000, 5000)


def measure(size: int) -> dict[str, float]:
    from tests.support.program_run import run_program
    from tests.support.stack import one_server_stack, write_tenant_file

    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        write_tenant_file(tenants_dir, "fleet.yaml", [{"name": f"tenant_{i:05d}"} for i in range(size)])
        values, secret_keys = one_server_stack(tenants_dir).as_pulumi_config()
        started = time.perf_counter()
        run = run_program(values, secret_keys, deterministic=False)
        elapsed = time.perf_counter() - started
    if run.error:
        raise run.error
    per_tenant = sum(1 for r in run.registrations if r.parent.endswith(f"::tenant_{0:05d}"))
    return {
        "tenants": size,
        "seconds": round(elapsed, 2),
        "ms_per_tenant": round(elapsed * 1000 / size, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "registrations": len(run.registrations),
        "resources_per_tenant": per_tenant + 1,  # the component itself plus its children
    }


# One tenant of each kind; the stack has no other tenant, so its hardening is counted apart.
TENANT_KINDS: dict[str, dict[str, object]] = {
    "generated password": {},
    "zero-downtime rotation": {"zero_downtime_rotation": True},
    "marked for purge": {"on_remove": "purge"},
    "suspended": {"state": "suspended"},
    "offboarded": {"state": "offboarded"},
    "read-only login": {"readonly_login": True},
    "zero-downtime + read-only": {"zero_downtime_rotation": True, "readonly_login": True},
}
# The previous model had no offboarded state (offboarding removed the entry and its resources)
# and no read-only login.
NEW_KINDS = frozenset({"offboarded", "read-only login", "zero-downtime + read-only"})
NEW_KIND_BEFORE = {"offboarded": "0 (entry removed)", "read-only login": "- (none)", "zero-downtime + read-only": "- (none)"}


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
    from tests.fixtures.previous_model import PREVIOUS_SETTINGS, PROGRAM_DIR

    print(f"{'tenant kind':<24} {'previous model':>15} {'this program':>13}")
    for label, kind in TENANT_KINDS.items():
        before = NEW_KIND_BEFORE[label] if label in NEW_KINDS else resource_counts(kind, PROGRAM_DIR, PREVIOUS_SETTINGS)
        after = resource_counts(kind, None, {})
        print(f"{label:<24} {before:>15} {after:>13}")


def main(argv: list[str]) -> None:
    if argv[:1] == ["--counts"]:
        print_counts()
        return
    if argv[:1] == ["--one"]:
        print(json.dumps(measure(int(argv[1]))))
        return
    sizes = [int(a) for a in argv] or list(DEFAULT_SIZES)
    print(f"{'tenants':>8} {'seconds':>8} {'ms/tenant':>10} {'peak RSS MB':>12} {'registrations':>14} {'per tenant':>11}")
    for size in sizes:
        out = subprocess.run([sys.executable, "-m", "benchmarks.program_benchmark", "--one", str(size)], check=True, capture_output=True, text=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{row['tenants']:>8} {row['seconds']:>8} {row['ms_per_tenant']:>10} {row['peak_rss_mb']:>12} "
            f"{row['registrations']:>14} {row['resources_per_tenant']:>11}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
