"""Which PostgreSQL-tier modules the engine tier runs again through the real Pulumi CLI.

Every test body of a MIRRORED module is collected a second time under tests/engine/ (its
fixtures too), with a `deployment`/`new_deployment` that drive `pulumi up` (`CliDeployment`)
instead of the provider double. tests/program/test_tiers_run.py fails when a body of a
mirrored module is not collected there, or when a tests/postgres module is in neither list:
a new module is mirrored, or says here why not.

A body that asserts on the double itself (its statement log) is marked
`@pytest.mark.provider_double_only("why")` and is the only kind left out.
"""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from tests.support.engine_stack import CLI_MISSING, cli_available

DOUBLE_ONLY = "provider_double_only"

# PostgreSQL-tier module → the engine-tier module that mirrors it.
MIRRORED: dict[str, str] = {
    "tests.postgres.test_tenant_isolation": "tests.engine.test_engine_isolation",
    "tests.postgres.test_tenant_lifecycle_on_postgres": "tests.engine.test_engine_lifecycle",
    "tests.postgres.test_hardening_lifecycle": "tests.engine.test_engine_hardening_lifecycle",
    "tests.postgres.test_escalation": "tests.engine.test_engine_escalation",
    "tests.postgres.test_managed_admin": "tests.engine.test_engine_managed_admin",
    "tests.postgres.test_drift_repair": "tests.engine.test_engine_drift_repair",
    "tests.postgres.test_verify_on_deployed_fleets": "tests.engine.test_engine_verify_on_deployed_fleets",
    "tests.postgres.test_admin_password_rotation": "tests.engine.test_engine_admin_password_rotation",
    "tests.postgres.test_readonly_login": "tests.engine.test_engine_readonly_login",
    "tests.postgres.test_readonly_login_lifecycle": "tests.engine.test_engine_readonly_login_lifecycle",
    "tests.postgres.test_verify_readonly": "tests.engine.test_engine_verify_readonly",
    "tests.postgres.test_silo_isolation": "tests.engine.test_engine_silo_isolation",
    "tests.postgres.test_silo_lifecycle": "tests.engine.test_engine_silo_lifecycle",
}

# PostgreSQL-tier modules the engine tier does not run, and why.
NOT_MIRRORED: dict[str, str] = {
    "tests.postgres.test_provider_double": "tests the provider double itself",
    "tests.postgres.test_engine_model": "tests the double's model of the engine (engine_plan)",
    "tests.postgres.test_second_up_is_empty": "a property test of the double's read-back model (20 programs per major); "
                                              "the engine tier's test_a_second_preview_shows_no_changes asks the real engine",
    "tests.postgres.test_upgrade_from_previous_model": "records the double's statements and its apply timeline",
    "tests.postgres.test_moves": "asserts that a refused move leaves the double's state object untouched (`is`), "
                                 "matches URNs quoted as the double quotes them ('…'; the engine uses %q, \"…\") and "
                                 "deploys the previous model through the double; to mirror once it uses "
                                 "fixtures.previous_model.deploy_previous_model and compares by value",
    "tests.postgres.test_shard_move": "two stacks on one database, the state move done on the double's states; the "
                                      "engine tier's test_engine_state_move.py runs the real `pulumi state move`",
    "tests.postgres.test_tls": "a TLS server of its own, deployed with `Deployment(...)`; to mirror once it uses "
                               "`new_deployment`",
    "tests.postgres.test_local_postgres": "the server launcher: no deployment",
    "tests.postgres.test_server_log": "the server log reader: no deployment",
    "tests.postgres.test_quickstart": "the quick start's own script: no stack of the tests",
    "tests.postgres.test_adoption_refusal": "the program's catalog read before anything is declared, called directly: "
                                            "no deployment",
    "tests.postgres.test_verify": "verify on fleets provisioned by SQL, not by the program",
    "tests.postgres.test_verify_outputs": "verify's reading of stack outputs: no deployment",
    "tests.postgres.test_verify_ownership_model": "verify on catalogs planted by SQL, not by the program",
    "tests.postgres.test_verify_probe_steps": "the steps of verify's hands-on probe on fleets provisioned by SQL, not by the program",
}


def is_double_only(function: Any) -> bool:
    return any(mark.name == DOUBLE_ONLY for mark in getattr(function, "pytestmark", []))


def mirror(module_name: str, namespace: dict[str, Any]) -> None:
    """Make `namespace` (an engine-tier module's globals) hold every test body and fixture of
    `module_name`, skipped only where the Pulumi CLI is missing."""
    module = importlib.import_module(module_name)
    for name, value in vars(module).items():
        if name.startswith("__") or name == "pytestmark":
            continue
        if name.startswith("test") and is_double_only(value):
            continue
        namespace[name] = value
    marks = getattr(module, "pytestmark", [])
    namespace["pytestmark"] = [pytest.mark.skipif(not cli_available(), reason=CLI_MISSING),
                               *(marks if isinstance(marks, list) else [marks])]
