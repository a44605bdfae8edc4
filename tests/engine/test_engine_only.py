"""Engine tier: what only the real engine can answer. Skipped, with that reason, where
`pulumi` is not on PATH."""

from __future__ import annotations

import pytest

from tests.postgres.test_tenant_isolation import FLEET
from tests.support.engine_stack import CLI_MISSING, cli_available

pytestmark = pytest.mark.skipif(not cli_available(), reason=CLI_MISSING)


def test_a_second_preview_shows_no_changes(deployment):
    """The provider's read-back after every write is the state the next diff starts from:
    `expect_no_changes` fails the preview on any diff (a perpetual validUntil diff included)."""
    deployment.write([*FLEET, {"name": "expiring", "valid_until": "2027-12-31T23:59:59+00:00"}])
    deployment.stack.secrets["initechPassword"] = "initech-provided-password-0123456789"
    deployment.up()
    deployment.preview_expects_no_changes()


def test_destroy_of_a_tenant_marked_for_purge_leaves_no_tenant_role(deployment):
    deployment.write([{"name": "transient", "on_remove": "purge"}])
    deployment.up()
    deployment.destroy()
    with deployment.pg.admin_connect() as admin:
        assert admin.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'transient'").fetchone() == (0,)
