"""Engine tier: the PostgreSQL tier's lifecycle edits, through the real Pulumi CLI.

The same test bodies run here with a `deployment` that drives `pulumi up` instead of the
provider double. Runs wherever `pulumi` is on PATH; elsewhere each test is skipped with
that reason.
"""

from __future__ import annotations

import pytest

from tests.postgres.test_tenant_lifecycle_on_postgres import (  # noqa: F401 - collected here too
    test_a_forgotten_retained_tenant_is_purged_by_adopting_it_for_purge,
    test_a_login_slot_cannot_create_objects_of_its_own_after_reset_role,
    test_objects_made_through_either_login_role_belong_to_the_owner,
    test_offboarded_role_holds_nothing_outside_its_schema,
    test_offboarded_tenant_cannot_log_in_and_keeps_every_row,
    test_offboarded_tenant_role_stays_without_login_or_password,
    test_offboarding_does_not_touch_other_tenants,
    test_offboarding_never_hands_the_tenants_tables_to_the_admin,
    test_purge_leaves_no_role_schema_or_large_object,
    test_purge_of_a_zero_downtime_tenant_drops_its_slots_and_owner,
    test_reactivated_tenant_logs_in_with_the_same_credentials,
    test_reactivating_an_offboarded_tenant_gives_it_new_credentials_and_its_rows,
    test_removing_an_offboarded_entry_changes_nothing_in_postgresql,
    test_rotation_refuses_the_old_password_and_accepts_the_new,
    test_suspended_tenant_cannot_log_in_and_keeps_its_data,
    test_zero_downtime_previous_credentials_stop_after_the_next_rotation,
    test_zero_downtime_rotation_keeps_both_credentials_through_the_overlap,
)
from tests.support.deployment import create_database, reset_server, stack_for
from tests.support.engine_stack import CLI_MISSING, CliDeployment, cli_available

pytestmark = pytest.mark.skipif(not cli_available(), reason=CLI_MISSING)


@pytest.fixture
def deployment(pg_server, tmp_path):
    create_database(pg_server, "app")
    deployment = CliDeployment(pg_server, stack_for(pg_server, tmp_path / "tenants", "app"), tmp_path / "project")
    yield deployment
    deployment.forget()
    reset_server(pg_server)
