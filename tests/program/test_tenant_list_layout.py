"""Where a tenant sits in the YAML changes nothing: order and file layout are not identity."""

from tests.support.program_run import fingerprint
from tests.support.stack import THREE_TENANTS, write_tenant_file


def test_reordering_the_list_yields_identical_registrations(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    before = run()
    write_tenant_file(tenants_dir, "tenants.yaml", list(reversed(THREE_TENANTS)))
    after = run()
    assert fingerprint(after) == fingerprint(before)
    assert after.outputs == before.outputs


def test_splitting_into_one_file_per_tenant_yields_identical_registrations(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    before = run()
    (tenants_dir / "tenants.yaml").unlink()
    for tenant in THREE_TENANTS:
        write_tenant_file(tenants_dir / "team", f"{tenant['name']}.yaml", [tenant])
    after = run()
    assert fingerprint(after) == fingerprint(before)
    assert after.outputs == before.outputs


def test_adding_a_tenant_changes_no_other_tenants_registrations(run, tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    before = fingerprint(run())
    write_tenant_file(tenants_dir, "new.yaml", [{"name": "aardvark"}])
    after = fingerprint(run())
    assert {urn: after[urn] for urn in before} == before
