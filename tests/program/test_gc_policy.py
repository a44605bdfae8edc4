"""The program's GC policy holds for its run and never leaks into the test process (program tier)."""

import gc

import pytest

import pg_tenants.gc_policy
from tests.support.stack import THREE_TENANTS, write_tenant_file


@pytest.fixture
def settings_inside_the_run(monkeypatch):
    """What the collector looked like right after the program applied its policy."""
    seen: list[tuple[tuple[int, int, int], int]] = []
    real = pg_tenants.gc_policy.apply_gc_policy

    def recording() -> None:
        real()
        seen.append((gc.get_threshold(), gc.get_freeze_count()))

    monkeypatch.setattr(pg_tenants.gc_policy, "apply_gc_policy", recording)
    return seen


@pytest.fixture
def python_defaults():
    """The test starts from Python's defaults, whatever ran before it."""
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_the_program_sets_its_gc_policy_where_it_starts(tenants_dir, run, settings_inside_the_run, python_defaults):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    assert run().error is None
    [(threshold, frozen)] = settings_inside_the_run
    assert threshold == (pg_tenants.gc_policy.YOUNG_ALLOCATIONS, *pg_tenants.gc_policy.OLDER_GENERATIONS)
    assert frozen > 0


def test_the_harness_restores_the_collector_after_the_run(tenants_dir, run, settings_inside_the_run, python_defaults):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    frozen_before = gc.get_freeze_count()
    assert run().error is None
    assert settings_inside_the_run, "the program never applied its policy"
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == frozen_before
    assert gc.isenabled()


def test_the_harness_restores_the_collector_when_the_program_fails(tenants_dir, run, settings_inside_the_run, python_defaults):
    write_tenant_file(tenants_dir, "tenants.yaml", "tenants: [not a mapping")
    assert run().error is not None
    assert settings_inside_the_run, "the program failed before it applied its policy"
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0
