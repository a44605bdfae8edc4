"""pg-tenants: every tenant in tenants/*.yaml gets its own PostgreSQL role, schema and grants."""

from pathlib import Path

import pulumi

from components.fleet import declare_fleet
from pg_tenants import gc_policy
from pg_tenants.problems import ConfigurationInvalid
from pg_tenants.program_input import load_program_input

# After the imports, whose objects it freezes.
gc_policy.apply_gc_policy()

PROJECT_DIR = Path(__file__).resolve().parent

try:
    program_input = load_program_input(PROJECT_DIR, preview=pulumi.runtime.is_dry_run())
except ConfigurationInvalid as invalid:
    # RunError prints the message without a Python traceback.
    raise pulumi.RunError(str(invalid)) from None
for warning in program_input.warnings:
    pulumi.log.warn(warning)

fleet = declare_fleet(program_input)
pulumi.export("tenants", fleet.tenants)
pulumi.export("connections", fleet.connections)
