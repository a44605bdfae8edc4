"""The benchmark's typed floor registers what the project registers (program tier).

benchmarks/program_benchmark.py compares the project with the floor; the comparison only
means something while both register the same resources.
"""

import os

import pytest

from benchmarks import program_benchmark, typed_floor
from tests.support.program_run import run_program


@pytest.mark.parametrize("kind", ["generated password", "zero-downtime rotation", "offboarded"])
def test_the_floor_registers_the_projects_types_counts_parents_and_providers(kind, tmp_path, monkeypatch):
    table_path = tmp_path / "table.json"
    typed_floor.write_table(typed_floor.record_table(program_benchmark.TENANT_KINDS[kind]), table_path)
    monkeypatch.setitem(os.environ, typed_floor.TABLE_ENV, str(table_path))
    monkeypatch.setitem(os.environ, typed_floor.COUNT_ENV, "3")

    project = typed_floor.run_project(3, program_benchmark.TENANT_KINDS[kind])
    floor = run_program({}, program_dir=typed_floor.FLOOR_PROGRAM_DIR, deterministic=False)

    assert floor.error is None
    assert typed_floor.shape(floor) == typed_floor.shape(project)
    placement = {(r.type, r.name): (r.parent, r.provider_urn) for r in project.registrations}
    assert {(r.type, r.name): (r.parent, r.provider_urn) for r in floor.registrations} == placement
    assert {name: output.secret for name, output in floor.outputs.items()} == {"tenants": False, "connections": True}
