"""Wall time of `pg-tenants verify` for 50, 200 and 1,000 tenants on a throwaway PostgreSQL.

Each fleet is provisioned with the test suite's helper (exactly the "correctly provisioned"
state), then verified twice: catalog checks only, and the full run with one hands-on login
per tenant. Passwords are SCRAM verifiers with 4096 iterations, as the program makes them.

    python benchmarks/verify_benchmark.py [--tenants 50 200 1000] [--jobs 4] [--major 15]
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_DIR))

from pg_tenants.local.throwaway import running_postgres  # noqa: E402
from pg_tenants.verify.admin import ServerAccess, explicit_params  # noqa: E402
from pg_tenants.verify.fleet import parse_outputs  # noqa: E402
from pg_tenants.verify.runner import VerifyOptions, verify_fleet  # noqa: E402
from tests.postgres.test_verify import drop_fleet, harden_protected_databases, provision_fleet  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--jobs", type=int, default=4, help="parallel tenant logins (the CLI's default is 4)")
    parser.add_argument("--major", type=int, default=None, help="PostgreSQL major (default: the launcher's)")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs; jobs={args.jobs}", flush=True)
    with running_postgres(args.major, server_settings={"max_connections": "200"}) as pg:
        harden_protected_databases(pg)
        access = ServerAccess(explicit_params(pg.admin_conninfo()))
        for count in args.tenants:
            suffix = secrets.token_hex(3)
            started = time.perf_counter()
            names = [f"t{i:05d}" for i in range(count)]
            fleet = provision_fleet(pg, f"bench_{suffix}", names, suffix)
            provisioned = time.perf_counter() - started
            try:
                parsed = parse_outputs(fleet.outputs())
                catalog = verify_fleet(parsed, VerifyOptions(default_access=access, jobs=args.jobs, hands_on=False))
                full = verify_fleet(parsed, VerifyOptions(default_access=access, jobs=args.jobs))
            finally:
                drop_fleet(fleet)
            findings = len(full.findings) + len(catalog.findings)
            print(f"verify {count:>5} tenants (PostgreSQL {pg.major}): {full.elapsed_seconds:6.2f} s wall "
                  f"(catalog checks alone {catalog.elapsed_seconds:.2f} s; provisioning took {provisioned:.1f} s; "
                  f"{findings} findings)", flush=True)


if __name__ == "__main__":
    main()
