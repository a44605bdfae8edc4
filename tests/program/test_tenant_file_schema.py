"""The committed JSON Schema is the one the model generates, and the examples reference it."""

from pathlib import Path

from pg_tenants.tenant_schema import render

PROJECT = Path(__file__).resolve().parents[2]


def test_committed_schema_matches_the_model():
    assert (PROJECT / "schema" / "tenant-file.schema.json").read_text() == render(), (
        "regenerate: python -m pg_tenants.tenant_schema > schema/tenant-file.schema.json"
    )


def test_example_tenant_files_reference_the_schema():
    for path in sorted((PROJECT / "tenants").glob("*.yaml")):
        assert path.read_text().startswith("# yaml-language-server: $schema=../schema/tenant-file.schema.json\n"), path.name


def test_shipped_example_tenants_are_valid_with_the_example_stack():
    from pg_tenants.stack_config import load_stack_file
    from pg_tenants.tenants.tenant_list import load_tenant_list

    settings, source = load_stack_file(PROJECT / "Pulumi.example.yaml")
    tenants = load_tenant_list(PROJECT / "tenants", settings, source)
    assert [t.name for t in tenants] == ["acme", "globex", "initech"]
    assert [t.password_secret for t in tenants] == [None, None, "initechPassword"]
