"""The located YAML loader: values, lines, and every way a file can be unreadable or hostile.

Every refusal is a `YamlFileError` (file, line, message, fix), never another exception, and
no input costs more than about 1 MB of memory per KB of YAML or more than a moment of time.
"""

import os
import time
import tracemalloc

import pytest

from pg_tenants.tenants.yaml_source import MAX_DEPTH, MAX_FILE_BYTES, YamlFileError, load_yaml

# Plain scalars that YAML 1.1 (PyYAML, yq, older tools) and YAML 1.2 (editors) read alike.
AGREED = "a: 12\nb: 0x1f\nc: -12\nd: true\ne: ~\nf: 1.5\ng: 'text'\nh: [1, {i: False}]\nj: +3\nk: acme_app\nl: null\n"

# The billion laughs: 278 bytes that expand to 344 million strings if aliases are followed.
BILLION_LAUGHS = (
    "[&a [l,l,l,l,l,l,l,l,l],"
    + ",".join(f"&{n} [{','.join(['*' + p] * (9 if n != 'i' else 8))}]" for p, n in zip("abcdefgh", "bcdefghi"))
    + "]\n"
)


def write(tmp_path, text: str | bytes, name: str = "t.yaml"):
    path = tmp_path / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def refusal(path) -> YamlFileError:
    with pytest.raises(YamlFileError) as caught:
        load_yaml(path, path.name)
    return caught.value


def test_values_both_yaml_versions_agree_on_load_as_such(tmp_path):
    document = load_yaml(write(tmp_path, AGREED), "t.yaml")

    assert document.data == {"a": 12, "b": 31, "c": -12, "d": True, "e": None, "f": 1.5, "g": "text",
                             "h": [1, {"i": False}], "j": 3, "k": "acme_app", "l": None}
    assert document.unclear_scalars == []


def test_lines_of_keys_and_items_are_recorded(tmp_path):
    document = load_yaml(write(tmp_path, "tenants:\n  - name: acme\n\n  - name: globex\n    schema: g\n"), "t.yaml")
    assert document.line_of(("tenants", 1, "schema")) == 5
    assert document.line_of(("tenants", 1)) == 4
    assert document.line_of(("tenants", 1, "missing")) == 4


def test_repeated_keys_are_reported_not_silently_overwritten(tmp_path):
    document = load_yaml(write(tmp_path, "tenants:\n  - name: acme\n    name: globex\n"), "t.yaml")
    assert document.duplicate_keys == [(("tenants", 0, "name"), 3)]
    assert document.data == {"tenants": [{"name": "acme"}]}


@pytest.mark.parametrize(
    ("text", "meant", "message", "fix"),
    [
        ("010", 10, "`010` is 8 in YAML 1.1 but 10 in YAML 1.2", "write 10 if you mean the number, or quote it ('010') if it is text"),
        ("1e9", 1000000000, "`1e9` is text in YAML 1.1 but 1000000000.0 in YAML 1.2",
         "write 1000000000 if you mean the number, or quote it ('1e9') if it is text"),
        ("yes", "yes", "`yes` is true in YAML 1.1 but text in YAML 1.2", "write true if you mean true, or quote it ('yes') if it is text"),
        ("off", "off", "`off` is false in YAML 1.1 but text in YAML 1.2", "write false if you mean false, or quote it ('off') if it is text"),
        ("1_000", "1_000", "`1_000` is 1000 in YAML 1.1 but text in YAML 1.2",
         "write 1000 if you mean the number, or quote it ('1_000') if it is text"),
        ("2027-01-31", "2027-01-31", "`2027-01-31` is a date in YAML 1.1 but text in YAML 1.2", "quote it ('2027-01-31')"),
    ],
)
def test_yaml_1_1_surprises_are_refused_with_what_to_write(tmp_path, text, meant, message, fix):
    document = load_yaml(write(tmp_path, f"tenants:\n  - name: acme\n    value: {text}\n"), "t.yaml")

    [unclear] = document.unclear_scalars
    assert (unclear.path, unclear.line, unclear.message, unclear.fix) == (("tenants", 0, "value"), 3, message, fix)
    assert document.data["tenants"][0]["value"] == meant  # what YAML 1.2 reads; the problem stops the run


def test_null_and_numbers_as_keys_are_kept_apart_from_list_items(tmp_path):
    document = load_yaml(write(tmp_path, "~: [1]\n2: {~: x}\n"), "t.yaml")
    assert document.data == {None: [1], 2: {None: "x"}}


def test_quoted_scalars_are_always_text(tmp_path):
    document = load_yaml(write(tmp_path, "a: '010'\nb: \"yes\"\nc: |\n  1e9\n"), "t.yaml")
    assert document.data == {"a": "010", "b": "yes", "c": "1e9\n"} and document.unclear_scalars == []


def test_anchors_and_aliases_are_refused(tmp_path):
    error = refusal(write(tmp_path, "tenants:\n  - &acme {name: acme}\n  - *acme\n"))

    assert (error.file, error.line) == ("t.yaml", 2)
    assert error.message == "YAML anchors and aliases are not allowed in tenant files"
    assert error.fix.startswith("write each value out in full")


def test_the_billion_laughs_is_refused_at_once_in_little_memory(tmp_path):
    path = write(tmp_path, BILLION_LAUGHS)
    assert len(BILLION_LAUGHS.encode()) == 278

    tracemalloc.start()
    started = time.perf_counter()
    error = refusal(path)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert error.message == "YAML anchors and aliases are not allowed in tenant files"
    assert elapsed < 0.2
    assert peak < 278 * 1024  # well under 1 MB per KB of YAML


def test_a_recursive_alias_is_refused_not_a_recursion_error(tmp_path):
    assert refusal(write(tmp_path, "tenants: &x [*x]\n")).message == "YAML anchors and aliases are not allowed in tenant files"


def test_deep_nesting_is_refused(tmp_path):
    error = refusal(write(tmp_path, "[" * 100_000))
    assert error.message == f"the YAML is nested more than {MAX_DEPTH} levels deep"


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    path = write(tmp_path, b"# padding\n" * (MAX_FILE_BYTES // 10 + 1))

    error = refusal(path)

    assert (error.line, error.message) == (None, "the file is larger than 10 MB")
    assert error.fix == "split the tenant list into several files"


def test_a_non_utf8_file_is_refused_with_the_line_of_the_bad_byte(tmp_path):
    error = refusal(write(tmp_path, b"tenants:\n  - name: acme\xff\n"))
    assert (error.line, error.message, error.fix) == (2, "the file is not UTF-8 text (byte 0xff)", "save the file as UTF-8")


def test_a_tab_used_for_indentation_gets_a_plain_message(tmp_path):
    error = refusal(write(tmp_path, "tenants:\n\t- name: acme\n"))
    assert (error.line, error.message) == (2, "a tab is used for indentation; YAML indentation must be spaces")
    assert error.fix == "replace the tab with spaces"


def test_a_mapping_used_as_a_key_is_refused(tmp_path):
    error = refusal(write(tmp_path, "tenants:\n  - ? [a]\n    : b\n"))
    assert (error.line, error.message) == (2, "a list or mapping is used as a mapping key")


def test_explicit_tags_are_refused(tmp_path):
    error = refusal(write(tmp_path, "tenants:\n  - name: !!python/name:os.system acme\n"))
    assert (error.line, error.message) == (2, "YAML tags (!!python/name:os.system) are not allowed in tenant files")


def test_a_second_document_is_refused(tmp_path):
    error = refusal(write(tmp_path, "tenants: []\n---\ntenants: []\n"))
    assert (error.line, error.message) == (2, "the file holds more than one YAML document")


def test_a_number_too_long_to_read_is_a_problem_not_a_crash(tmp_path):
    document = load_yaml(write(tmp_path, f"a: {'9' * 5000}\n"), "t.yaml")
    [unclear] = document.unclear_scalars
    assert unclear.message == "a number of 5000 digits is too large"


def test_control_characters_are_refused_with_a_line(tmp_path):
    error = refusal(write(tmp_path, "a: 1\nb: x\x00y\n"))
    assert (error.line, error.message) == (2, "the file holds a control character (#x0000), which YAML does not allow")
    assert refusal(write(tmp_path, "a: éééééééééééé\nb: x\n\x01c: 1\n")).line == 3  # after multi-byte characters


def test_a_directory_a_dangling_link_and_a_special_file_are_refused(tmp_path):
    (tmp_path / "d.yaml").mkdir()
    (tmp_path / "l.yaml").symlink_to("nowhere.yaml")
    os.mkfifo(tmp_path / "p.yaml")

    assert refusal(tmp_path / "d.yaml").message == "is a directory, not a file"
    assert refusal(tmp_path / "l.yaml").message == "is a symbolic link to nowhere.yaml, which does not exist"
    assert refusal(tmp_path / "p.yaml").message == "is not a regular file"


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file; the simulated test below covers it")
def test_an_unreadable_file_is_refused(tmp_path):
    path = write(tmp_path, "tenants: []\n")
    path.chmod(0)
    assert refusal(path).message == "cannot be read: permission denied"


def test_an_unreadable_file_is_refused_simulated(tmp_path, monkeypatch):
    path = write(tmp_path, "tenants: []\n")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("pg_tenants.tenants.yaml_source._open_binary", denied)
    error = refusal(path)
    assert (error.message, error.fix) == ("cannot be read: permission denied", "make it readable by the user who runs pg-tenants")


@pytest.mark.parametrize(
    "text",
    [
        "[" + ",".join(["1"] * 10_000) + "]",  # the most values per byte
        "{" + ",".join(f"k{i}: 1" for i in range(3_000)) + "}",
        "tenants:\n" + "".join(f"  - name: t{i}\n    connection_limit: 3\n" for i in range(1_000)),
        "x: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n" + "y: [a]\n" * 3_000,
    ],
    ids=["flow_list", "flow_mapping", "tenants", "deep_and_repeated_keys"],
)
def test_memory_stays_under_1_mb_per_kb_of_yaml(tmp_path, text):
    path = write(tmp_path, text)

    tracemalloc.start()
    try:
        load_yaml(path, "t.yaml")
    except YamlFileError:
        pass
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert peak < len(text) * 256  # measured: at most ~60 KB per KB; the budget is 1 MB per KB
