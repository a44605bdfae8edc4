"""pg-tenants policy pack: `pulumi preview --policy-pack policy` (run from the project root).

The validators live in tenant_policies.py; this file only starts the pack's server.
"""

import sys
from pathlib import Path

# The pack sits inside the project and shares its code (pg_tenants.credentials.scram) with the program.
PACK_DIR = Path(__file__).resolve().parent
for path in (PACK_DIR, PACK_DIR.parent):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from pulumi_policy import EnforcementLevel, PolicyPack  # noqa: E402

import keep_secrets  # noqa: E402
from tenant_policies import POLICIES  # noqa: E402

keep_secrets.install()

PolicyPack(
    name="pg-tenants",
    enforcement_level=EnforcementLevel.MANDATORY,
    policies=POLICIES,
)
