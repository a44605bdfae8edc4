"""The steps of verify's hands-on probe (pg_tenants/verify/probe_steps.py), run in a tenant's own
session: each starts from the same savepoint, so what one step did or failed at never reaches
the next, and nothing is left behind."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from pg_tenants.verify import login_checks, probe_steps
from pg_tenants.verify.fleet import Tenant, parse_outputs
from pg_tenants.verify.runner import neighbours
from tests.postgres import test_verify
from tests.postgres.test_verify import ProvisionedFleet, tamper

# The fleets of test_verify: a database of three tenants provisioned by SQL, per test.
server, provision, fleet = test_verify.server, test_verify.provision, test_verify.fleet

CURRENT_SCHEMA = probe_steps.Step((), value=sql.SQL("SELECT pg_catalog.current_schema()"))


@pytest.fixture
def acme(fleet) -> Tenant:
    return next(t for t in parse_outputs(fleet.outputs()).tenants if t.name == "acme")


@pytest.fixture
def session(acme) -> Iterator[psycopg.Connection]:
    conn, _ = login_checks._login(acme)
    assert conn is not None
    conn.autocommit = True
    yield conn
    conn.close()


def _probe_results(fleet: ProvisionedFleet, acme: Tenant, session: psycopg.Connection) -> list[probe_steps.StepResult]:
    """acme's probe steps, in order: own schema, CREATE in public, CREATE SCHEMA, CREATE ROLE,
    USAGE on the neighbour's schema, CREATE in it."""
    probe = login_checks._Probe(acme, session)
    steps = [step for step, _ in probe._steps(neighbours(parse_outputs(fleet.outputs()).tenants)["acme"])]
    return probe_steps.run_steps(session, login_checks.STATEMENT_TIMEOUT, steps)[1]


def test_a_refused_step_does_not_stop_the_ones_after_it(fleet, acme, session):
    results = _probe_results(fleet, acme, session)

    assert [r.outcome for r in results] == ["succeeded", "denied", "denied", "denied", "succeeded", "denied"]
    assert results[0].value == "acme"  # the unqualified table landed in acme's schema
    assert results[4].value is None  # no USAGE on globex: it is not in the effective search_path


def test_a_step_that_failed_otherwise_asks_whether_the_privilege_is_held(fleet, acme, session):
    tamper(fleet, sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(fleet.role("acme")))
    tamper(fleet, sql.SQL("GRANT CREATE ON SCHEMA public TO PUBLIC"))
    conn, _ = login_checks._login(acme)  # a new session: role settings apply at login
    assert conn is not None
    conn.autocommit = True
    try:
        results = _probe_results(fleet, acme, conn)
    finally:
        conn.close()

    public, schema = results[1], results[2]
    assert (public.outcome, public.holds) == ("failed", True)
    assert (schema.outcome, schema.holds) == ("failed", False)
    assert "read-only transaction" in public.error


def test_what_a_step_changed_is_undone_before_the_next(acme, session):
    wander = probe_steps.Step((sql.SQL("SET LOCAL search_path TO pg_catalog"),), value=sql.SQL("SELECT pg_catalog.current_schema()"))

    _, results = probe_steps.run_steps(session, login_checks.STATEMENT_TIMEOUT, [wander, CURRENT_SCHEMA])

    assert [r.value for r in results] == ["pg_catalog", "acme"]


def test_a_step_that_succeeded_leaves_nothing_behind(fleet, acme, session):
    tamper(fleet, sql.SQL("GRANT CREATE ON SCHEMA public TO PUBLIC"))

    results = _probe_results(fleet, acme, session)

    assert results[1].outcome == "succeeded"  # CREATE TABLE public.<probe>
    with fleet.admin() as conn:
        left = conn.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'pg_tenants_verify_%'").fetchone()[0]
    assert left == 0


def test_the_session_is_usable_after_a_failed_step(acme, session):
    broken = probe_steps.Step((sql.SQL("SELECT 1 / 0"),))

    _, results = probe_steps.run_steps(session, login_checks.STATEMENT_TIMEOUT, [broken, CURRENT_SCHEMA])

    assert [r.outcome for r in results] == ["failed", "succeeded"]
    assert results[0].error == "division by zero"
    assert session.execute("SELECT 1").fetchone() == (1,)
