"""Wall time of `pg-tenants verify` for 50, 200 and 1,000 tenants on a throwaway PostgreSQL.

Each fleet is provisioned with the test suite's helper (exactly the "correctly provisioned"
state), then verified: catalog checks only, logins only (connect and disconnect as each
tenant, what the hands-on probe cannot do without), and the full run with one hands-on login
per tenant, `--repeat` times. Passwords are SCRAM verifiers with 4096 iterations, as the
program makes them. Besides wall time it prints the CPU time of this process (the client) and
of the server's backends (a local server only: the postmaster's reaped children), and the load
average: on a shared machine the CPU figures say what verify costs, the wall time what it took.
The logins alone are verify's floor (no check can be made without them): the three measurements
are interleaved in each repeat, and the last line gives the full run's ratio to that floor and
what the probe and the catalogs add per tenant.

    python benchmarks/verify_benchmark.py [--tenants 50 200 1000] [--jobs 4] [--major 15] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from pg_tenants.local.server import RunningPostgres  # noqa: E402
from pg_tenants.local.throwaway import running_postgres  # noqa: E402
from pg_tenants.verify import login_checks  # noqa: E402
from pg_tenants.verify.admin import ServerAccess, explicit_params  # noqa: E402
from pg_tenants.verify.fleet import Fleet, parse_outputs  # noqa: E402
from pg_tenants.verify.runner import VerifyOptions, verify_fleet  # noqa: E402
from tests.postgres.test_verify import drop_fleet, harden_protected_databases, provision_fleet  # noqa: E402


def _server_cpu(pg: RunningPostgres) -> float | None:
    """CPU seconds of the server's exited backends (cutime + cstime of the postmaster)."""
    if pg.data_dir is None:
        return None
    try:
        pid = (pg.data_dir / "postmaster.pid").read_text().split()[0]
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def _timed(pg: RunningPostgres, action: Callable[[], object]) -> dict[str, float | None]:
    load, server, cpu, started = os.getloadavg()[0], _server_cpu(pg), time.process_time(), time.perf_counter()
    action()
    wall, client = time.perf_counter() - started, time.process_time() - cpu
    server_after = _server_cpu(pg)
    return {"wall": wall, "client": client, "server": None if server is None or server_after is None else server_after - server,
            "load": load, "load_end": os.getloadavg()[0]}


def _logins_only(fleet: Fleet, jobs: int) -> None:
    def login(tenant) -> None:
        login_checks._connect(tenant, require_scram=login_checks.LIBPQ_HAS_REQUIRE_AUTH).close()

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(login, [t for t in fleet.tenants if t.has_credentials and not t.suspended]))


def _line(label: str, rows: list[dict[str, float | None]]) -> str:
    def median(key: str) -> str:
        values = [r[key] for r in rows if r[key] is not None]
        return f"{statistics.median(values):6.2f}" if values else "   n/a"

    loads = [r[k] for r in rows for k in ("load", "load_end")]
    return (f"{label:<14} {median('wall')} s wall, {median('client')} s client CPU, {median('server')} s server CPU "
            f"(load {min(loads):.2f}-{max(loads):.2f})")


def _probe_cost(logins: list[dict[str, float | None]], full: list[dict[str, float | None]], count: int) -> str:
    """What verify adds to the logins it cannot do without (its floor): medians, per tenant."""
    def median(rows: list[dict[str, float | None]], key: str) -> float | None:
        values = [r[key] for r in rows if r[key] is not None]
        return statistics.median(values) if values else None

    parts = [f"wall ratio full/logins {median(full, 'wall') / median(logins, 'wall'):.2f}"]
    for key in ("client", "server"):
        extra, floor = median(full, key), median(logins, key)
        if extra is not None and floor is not None:
            parts.append(f"{key} CPU per tenant {floor * 1000 / count:.2f} ms login + {(extra - floor) * 1000 / count:.2f} ms rest")
    return "; ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--jobs", type=int, default=4, help="parallel tenant logins (the CLI's default is 4)")
    parser.add_argument("--major", type=int, default=None, help="PostgreSQL major (default: the launcher's)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement (medians are printed)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; jobs={args.jobs}; the machine may be shared: see the load averages", flush=True)
    with running_postgres(args.major, server_settings={"max_connections": "200"}) as pg:
        harden_protected_databases(pg)
        access = ServerAccess(explicit_params(pg.admin_conninfo()))
        for count in args.tenants:
            suffix = secrets.token_hex(3)
            started = time.perf_counter()
            fleet = provision_fleet(pg, f"bench_{suffix}", [f"t{i:05d}" for i in range(count)], suffix)
            provisioned = time.perf_counter() - started
            try:
                parsed = parse_outputs(fleet.outputs())
                results = {"catalog only": [], "logins only": [], "full": []}
                findings = 0
                for _ in range(args.repeat):
                    results["catalog only"].append(_timed(pg, lambda: verify_fleet(
                        parsed, VerifyOptions(default_access=access, jobs=args.jobs, hands_on=False))))
                    results["logins only"].append(_timed(pg, lambda: _logins_only(parsed, args.jobs)))
                    outcome = []
                    results["full"].append(_timed(pg, lambda: outcome.append(
                        verify_fleet(parsed, VerifyOptions(default_access=access, jobs=args.jobs)))))
                    findings += len(outcome[0].findings)
            finally:
                drop_fleet(fleet)
            print(f"verify {count:>5} tenants (PostgreSQL {pg.major}; provisioning took {provisioned:.1f} s; "
                  f"{findings} findings):", flush=True)
            for label, rows in results.items():
                print("  " + _line(label, rows), flush=True)
            print("  " + _probe_cost(results["logins only"], results["full"], count), flush=True)


if __name__ == "__main__":
    main()
