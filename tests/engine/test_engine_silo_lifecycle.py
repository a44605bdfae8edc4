"""Engine tier: every test body of tests/postgres/test_silo_lifecycle.py, through the real Pulumi CLI.

Mirrored by tests/support/engine_tier.py; skipped, with that reason, where `pulumi` is not on PATH.
"""

from tests.support.engine_tier import mirror

mirror("tests.postgres.test_silo_lifecycle", globals())
