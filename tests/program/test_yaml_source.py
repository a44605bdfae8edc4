"""The located YAML loader reads values exactly as PyYAML's safe_load does, and knows lines."""

import yaml

from pg_tenants.yaml_source import load_yaml

TEXT = "a: 0755\nb: 0x1f\nc: -12\nd: yes\ne: ~\nf: 1.5\ng: 2027-01-01\nh: 'text'\ni: [1, {j: off}]\nk: +3\nl: 1_000\n"


def test_values_match_pyyaml_safe_load(tmp_path):
    path = tmp_path / "x.yaml"
    path.write_text(TEXT)
    assert load_yaml(path, "x.yaml").data == yaml.safe_load(TEXT)


def test_lines_of_keys_and_items_are_recorded(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("tenants:\n  - name: acme\n\n  - name: globex\n    schema: g\n")
    document = load_yaml(path, "t.yaml")
    assert document.line_of(("tenants", 1, "schema")) == 5
    assert document.line_of(("tenants", 1)) == 4
    assert document.line_of(("tenants", 1, "missing")) == 4


def test_repeated_keys_are_reported_not_silently_overwritten(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text("tenants:\n  - name: acme\n    name: globex\n")
    document = load_yaml(path, "t.yaml")
    assert document.duplicate_keys == [(("tenants", 0, "name"), 3)]
    assert document.data == {"tenants": [{"name": "acme"}]}
