"""Bad input gets one clear error listing every problem, and nothing is registered."""

import pytest

from tests.support.stack import write_tenant_file

FIX_IDENTIFIER = "use 1 to 63 lowercase letters, digits or underscores, starting with a letter or underscore"
FIX_RESERVED = "choose another name; public, postgres, information_schema, pg_* and the admin's own name are reserved"

TOO_LARGE = "must be at most 2147483647, the largest value PostgreSQL accepts (a 4-byte integer),"
FIX_ALIASES = (
    "write each value out in full; anchors (&name) and aliases (*name) can make a few bytes expand into billions of values"
)
BILLION_LAUGHS = (
    "[&a [l,l,l,l,l,l,l,l,l],"
    + ",".join(f"&{n} [{','.join(['*' + p] * (9 if n != 'i' else 8))}]" for p, n in zip("abcdefgh", "bcdefghi"))
    + "]\n"
)

# (case id, {file name: tenants list or raw YAML text}, expected problem lines)
FIX_OWN_DATABASE = "give the tenant's own database another name with `database:`"
CASES = [
    (
        "own_database_named_like_a_shared_database",
        {"t.yaml": [{"name": "acme", "isolation": "database", "database": "app"}]},
        ["tenants/t.yaml:4: tenants[0].database: isolation: database creates database 'app' on server 'main', which is a "
         f"shared database for tenants with isolation: schema (pg-tenants:servers.main) (fix: {FIX_OWN_DATABASE})"],
    ),
    (
        "own_database_named_like_a_protected_database",
        {"t.yaml": [{"name": "acme", "isolation": "database", "database": "template1"}]},
        ["tenants/t.yaml:4: tenants[0].database: isolation: database creates database 'template1' on server 'main', which "
         f"is a protected database of the server (pg-tenants:servers.main) (fix: {FIX_OWN_DATABASE})"],
    ),
    (
        "own_database_named_template0_by_default",
        {"t.yaml": [{"name": "template0", "isolation": "database"}]},
        ["tenants/t.yaml:2: tenants[0].name: isolation: database creates database 'template0' on server 'main', which is "
         "a built-in database (pg-tenants:servers.main) (fix: name the tenant's own database with `database:` (it defaults "
         "to the tenant's name))"],
    ),
    (
        "own_database_of_another_silo_tenant",
        {"t.yaml": [{"name": "acme", "isolation": "database"}, {"name": "globex", "isolation": "database", "database": "acme"}]},
        ["tenants/t.yaml:6: tenants[1].database: database 'acme' is already used on the same server by tenant 'acme' "
         "(tenants/t.yaml:2) (fix: give this tenant another database)"],
    ),
    (
        "adopting_into_a_database_of_its_own",
        {"t.yaml": [{"name": "acme", "isolation": "database", "adopt": True}]},
        ["tenants/t.yaml:4: tenants[0].adopt: adopt takes over an existing schema in a shared database; a tenant with "
         "isolation: database gets a new database of its own (fix: adopt the schema with isolation: schema, then move the "
         'tenant (README: "Choosing an isolation tier"))'],
    ),
    (
        "mixed_case_name_would_not_log_in",
        {"t.yaml": [{"name": "AcmeMixed"}]},
        [f"tenants/t.yaml:2: tenants[0].name: 'AcmeMixed' is not a lowercase SQL identifier (fix: {FIX_IDENTIFIER})"],
    ),
    (
        "name_longer_than_63_bytes",
        {"t.yaml": [{"name": "a" * 64}]},
        [f"tenants/t.yaml:2: tenants[0].name: '{'a' * 64}' is 64 bytes long; PostgreSQL allows at most 63 (fix: {FIX_IDENTIFIER})"],
    ),
    (
        "reserved_name_public",
        {"t.yaml": [{"name": "public"}]},
        [f"tenants/t.yaml:2: tenants[0].name: 'public' is a reserved name (fix: {FIX_RESERVED})"],
    ),
    (
        "reserved_pg_prefix_schema",
        {"t.yaml": [{"name": "acme", "schema": "pg_acme"}]},
        [f"tenants/t.yaml:3: tenants[0].schema: 'pg_acme' is a reserved name (fix: {FIX_RESERVED})"],
    ),
    (
        "username_of_the_admin",
        {"t.yaml": [{"name": "acme", "username": "postgres"}]},
        [f"tenants/t.yaml:3: tenants[0].username: 'postgres' is a reserved name (fix: {FIX_RESERVED})"],
    ),
    (
        "unknown_field",
        {"t.yaml": [{"name": "acme", "shema": "acme_data"}]},
        [
            "tenants/t.yaml:3: tenants[0].shema: is not a known field (fix: did you mean `schema`? Known fields: "
            "adopt, connection_limit, database, idle_in_transaction_session_timeout, isolation, name, on_remove, password_secret, "
            "previous_names, readonly_login, readonly_rotation, rotation, schema, server, shard, state, statement_timeout, temp_file_limit, "
            "username, valid_until, zero_downtime_rotation)"
        ],
    ),
    (
        "number_written_as_text",
        {"t.yaml": [{"name": "acme", "connection_limit": "10"}]},
        ["tenants/t.yaml:3: tenants[0].connection_limit: must be a whole number, found text (fix: write a whole number here)"],
    ),
    (
        "negative_timeout",
        {"t.yaml": [{"name": "acme", "statement_timeout": -5}]},
        ["tenants/t.yaml:3: tenants[0].statement_timeout: must be at least 0, found -5 (fix: use a value of 0 or more)"],
    ),
    (
        "missing_name",
        {"t.yaml": [{"schema": "acme"}]},
        ["tenants/t.yaml:2: tenants[0].name: is required (fix: add this field)"],
    ),
    (
        "literal_password_refused_without_echoing_it",
        {"t.yaml": [{"name": "acme", "password": "hunter2hunter2hunter2"}]},
        [
            "tenants/t.yaml:3: tenants[0].password: a literal password is not allowed in a tenant file (it would be stored "
            "in git) (fix: remove it, run `pulumi config set --secret pg-tenants:acmePassword` (it prompts for the password) "
            "and write `password_secret: acmePassword` instead)"
        ],
    ),
    (
        "unknown_server",
        {"t.yaml": [{"name": "acme", "server": "other"}]},
        ["tenants/t.yaml:3: tenants[0].server: server 'other' is not in the stack config (fix: use one of: main)"],
    ),
    (
        "unknown_database",
        {"t.yaml": [{"name": "acme", "database": "nope"}]},
        [
            "tenants/t.yaml:3: tenants[0].database: database 'nope' is not a database of server 'main' "
            "(fix: use one of: app, or add it to pg-tenants:servers.main.databases)"
        ],
    ),
    (
        "password_secret_not_in_config",
        {"t.yaml": [{"name": "acme", "password_secret": "acmePassword"}]},
        [
            "tenants/t.yaml:3: tenants[0].password_secret: config key pg-tenants:acmePassword is not set as a secret in "
            "this stack (fix: run `pulumi config set --secret pg-tenants:acmePassword`, which prompts for the value)"
        ],
    ),
    (
        "valid_until_without_time_zone",
        {"t.yaml": [{"name": "acme", "valid_until": "2027-01-01"}]},
        [
            "tenants/t.yaml:3: tenants[0].valid_until: '2027-01-01' has no time zone, so PostgreSQL would read it in the "
            "server's zone (fix: write 'infinity' or a timestamp like 2027-01-31T00:00:00+00:00)"
        ],
    ),
    (
        "duplicate_name_across_files",
        {"a.yaml": [{"name": "acme"}], "b.yaml": [{"name": "acme"}]},
        ["tenants/b.yaml:2: tenants[0].name: name 'acme' is already used by tenant 'acme' (tenants/a.yaml:2) (fix: give this tenant another name)"],
    ),
    (
        "duplicate_username_on_the_server",
        {"t.yaml": [{"name": "acme"}, {"name": "globex", "username": "acme"}]},
        [
            "tenants/t.yaml:4: tenants[1].username: username 'acme' is already used on the same server by tenant 'acme' "
            "(tenants/t.yaml:2) (fix: give this tenant another username)"
        ],
    ),
    (
        "duplicate_schema_in_the_database",
        {"t.yaml": [{"name": "acme"}, {"name": "globex", "schema": "acme"}]},
        [
            "tenants/t.yaml:4: tenants[1].schema: schema 'acme' is already used on the same database by tenant 'acme' "
            "(tenants/t.yaml:2) (fix: give this tenant another schema)"
        ],
    ),
    (
        "tenants_not_a_list",
        {"t.yaml": "tenants: acme\n"},
        ["tenants/t.yaml:1: tenants: must be a list, found text (fix: write a list here)"],
    ),
    (
        "yaml_syntax_error",
        {"t.yaml": "tenants:\n  - name: [acme\n"},
        ["tenants/t.yaml:3: (file): not valid YAML: did not find expected ',' or ']' (fix: fix the YAML syntax)"],
    ),
    (
        "empty_file",
        {"t.yaml": ""},
        ["tenants/t.yaml:1: tenants: the file is empty (fix: add a `tenants:` list, or delete the file)"],
    ),
    (
        "key_repeated_in_one_entry",
        {"t.yaml": "tenants:\n  - name: acme\n    name: globex\n"},
        ["tenants/t.yaml:3: tenants[0].name: appears twice in the same mapping (fix: keep one of them)"],
    ),
    (
        "unknown_field_without_a_close_match",
        {"t.yaml": [{"name": "acme", "colour": "blue"}]},
        [
            "tenants/t.yaml:3: tenants[0].colour: is not a known field (fix: remove it or correct its spelling; known fields: "
            "adopt, connection_limit, database, idle_in_transaction_session_timeout, isolation, name, on_remove, password_secret, "
            "previous_names, readonly_login, readonly_rotation, rotation, schema, server, shard, state, statement_timeout, temp_file_limit, "
            "username, valid_until, zero_downtime_rotation)"
        ],
    ),
    (
        "yml_and_upper_case_extensions_count_too",
        {"a.yml": [{"name": "acme"}], "B.YAML": [{"name": "acme"}], "notes.txt": "not yaml: [\n"},
        ["tenants/a.yml:2: tenants[0].name: name 'acme' is already used by tenant 'acme' (tenants/B.YAML:2) (fix: give this tenant another name)"],
    ),
    (
        "connection_limit_beyond_int4",
        {"t.yaml": [{"name": "acme", "connection_limit": 3000000000}]},
        [f"tenants/t.yaml:3: tenants[0].connection_limit: {TOO_LARGE} found 3000000000 (fix: use a value of 2147483647 or less)"],
    ),
    (
        "statement_timeout_beyond_int4_milliseconds",
        {"t.yaml": [{"name": "acme", "statement_timeout": 99999999999}]},
        [f"tenants/t.yaml:3: tenants[0].statement_timeout: {TOO_LARGE} found 99999999999 (fix: use a value of 2147483647 or less)"],
    ),
    (
        "idle_timeout_and_rotation_beyond_int4",
        {"t.yaml": [{"name": "acme", "idle_in_transaction_session_timeout": 2**31, "rotation": 2**31}]},
        [
            f"tenants/t.yaml:3: tenants[0].idle_in_transaction_session_timeout: {TOO_LARGE} found 2147483648 (fix: use a value of 2147483647 or less)",
            f"tenants/t.yaml:4: tenants[0].rotation: {TOO_LARGE} found 2147483648 (fix: use a value of 2147483647 or less)",
        ],
    ),
    (
        "leading_zero_is_not_silently_octal",
        {"t.yaml": "tenants:\n  - name: acme\n    connection_limit: 010\n"},
        [
            "tenants/t.yaml:3: tenants[0].connection_limit: `010` is 8 in YAML 1.1 but 10 in YAML 1.2 "
            "(fix: write 10 if you mean the number, or quote it ('010') if it is text)"
        ],
    ),
    (
        "exponent_is_not_called_text",
        {"t.yaml": "tenants:\n  - name: acme\n    statement_timeout: 1e9\n"},
        [
            "tenants/t.yaml:3: tenants[0].statement_timeout: `1e9` is text in YAML 1.1 but 1000000000.0 in YAML 1.2 "
            "(fix: write 1000000000 if you mean the number, or quote it ('1e9') if it is text)"
        ],
    ),
    (
        "yes_no_on_off_are_not_silently_booleans",
        {"t.yaml": "tenants:\n  - name: acme\n    server: on\n    adopt: yes\n"},
        [
            "tenants/t.yaml:3: tenants[0].server: `on` is true in YAML 1.1 but text in YAML 1.2 "
            "(fix: write true if you mean true, or quote it ('on') if it is text)",
            "tenants/t.yaml:4: tenants[0].adopt: `yes` is true in YAML 1.1 but text in YAML 1.2 "
            "(fix: write true if you mean true, or quote it ('yes') if it is text)",
        ],
    ),
    (
        "unquoted_timestamp",
        {"t.yaml": "tenants:\n  - name: acme\n    valid_until: 2027-01-31T00:00:00+00:00\n"},
        [
            "tenants/t.yaml:3: tenants[0].valid_until: `2027-01-31T00:00:00+00:00` is a timestamp in YAML 1.1 but text "
            "in YAML 1.2 (fix: quote it ('2027-01-31T00:00:00+00:00'))"
        ],
    ),
    (
        "billion_laughs",
        {"t.yaml": BILLION_LAUGHS},
        [f"tenants/t.yaml:1: (file): YAML anchors and aliases are not allowed in tenant files (fix: {FIX_ALIASES})"],
    ),
    (
        "tab_indentation",
        {"t.yaml": "tenants:\n  - name: acme\n\tschema: x\n"},
        ["tenants/t.yaml:3: (file): a tab is used for indentation; YAML indentation must be spaces (fix: replace the tab with spaces)"],
    ),
    (
        "tenants_list_of_text",
        {"t.yaml": "tenants: [acme]\n"},
        ["tenants/t.yaml:1: tenants[0]: must be a mapping, found text (fix: write a mapping here)"],
    ),
    (
        "rotation_of_a_provided_password",
        {"t.yaml": [{"name": "acme", "password_secret": "initechPassword", "rotation": 1}]},
        [
            "tenants/t.yaml:4: tenants[0].rotation: rotation applies to generated passwords, but this tenant's password "
            "is provided by password_secret (fix: rotate it by setting a new value with `pulumi config set --secret "
            "pg-tenants:initechPassword`, or remove password_secret to have passwords generated)"
        ],
    ),
    (
        "zero_downtime_username_too_long_for_suffix",
        {"t.yaml": [{"name": "a" * 62, "zero_downtime_rotation": True}]},
        [f"tenants/t.yaml:2: tenants[0].name: '{'a' * 62}' leaves no room for the _a/_b suffix of zero-downtime rotation (fix: use a username of at most 61 bytes)"],
    ),
    (
        "zero_downtime_login_role_is_another_tenants_username",
        {"t.yaml": [{"name": "acme", "zero_downtime_rotation": True}, {"name": "acme_a"}]},
        [
            "tenants/t.yaml:3: tenants[0].zero_downtime_rotation: its login role 'acme_a' is the username of tenant "
            "'acme_a' (tenants/t.yaml:4) (fix: give one of the two tenants another username)"
        ],
    ),
    (
        "previous_name_still_in_use",
        {"t.yaml": [{"name": "acme"}, {"name": "globex", "previous_names": ["acme"], "schema": "globex", "username": "globex"}]},
        [
            "tenants/t.yaml:4: tenants[1].previous_names: 'acme' is the name of a current tenant (fix: a previous name "
            "must no longer be in use; remove it from previous_names)"
        ],
    ),
    (
        "rename_that_would_change_the_derived_username",
        {"t.yaml": [{"name": "acme_corp", "previous_names": ["acme"], "schema": "acme"}]},
        [
            "tenants/t.yaml:3: tenants[0].previous_names: renaming the tenant would also change its username, which "
            "defaults to the name (fix: keep it: write `username: acme` (or its earlier explicit value); a schema or "
            "username cannot change in place)"
        ],
    ),
    (
        "adopt_and_zero_downtime_in_one_change",
        {"t.yaml": [{"name": "acme", "adopt": True, "zero_downtime_rotation": True}]},
        [
            "tenants/t.yaml:3: tenants[0].adopt: an adopted tenant cannot switch to zero-downtime rotation in the same "
            "change (fix: adopt it first; once the import is applied and adopt is removed, turn on zero_downtime_rotation)"
        ],
    ),
    (
        "unknown_state",
        {"t.yaml": [{"name": "acme", "state": "paused"}]},
        ["tenants/t.yaml:3: tenants[0].state: must be one of 'active', 'suspended' or 'offboarded' (fix: use one of 'active', 'suspended' or 'offboarded')"],
    ),
    (
        "every_problem_reported_at_once",
        {"a.yaml": [{"name": "Acme"}, {"name": "globex", "connection_limit": -2}], "b.yaml": [{"name": "initech", "server": "x"}]},
        [
            f"tenants/a.yaml:2: tenants[0].name: 'Acme' is not a lowercase SQL identifier (fix: {FIX_IDENTIFIER})",
            "tenants/a.yaml:4: tenants[1].connection_limit: must be at least -1, found -2 (fix: use a value of -1 or more)",
            "tenants/b.yaml:3: tenants[0].server: server 'x' is not in the stack config (fix: use one of: main)",
        ],
    ),
]


def expected_error(lines):
    count = len(lines)
    header = f"{count} problem{'s' if count != 1 else ''} in the tenant list or stack config; nothing was changed:"
    return "\n".join([header, *(f"  {line}" for line in lines)])


@pytest.mark.parametrize(("files", "lines"), [(f, l) for _, f, l in CASES], ids=[c[0] for c in CASES])
def test_bad_tenant_list_is_refused_with_exact_message_and_registers_nothing(run, tenants_dir, files, lines):
    for filename, content in files.items():
        write_tenant_file(tenants_dir, filename, content)
    result = run()
    assert str(result.error) == expected_error(lines)
    assert result.registrations == []


def test_literal_password_is_never_echoed(run, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme", "password": "hunter2-do-not-print"}])
    assert "hunter2-do-not-print" not in str(run().error)


def test_provided_password_too_short_is_refused_without_echoing_it(run, stack, tenants_dir):
    stack.secrets["acmePassword"] = "short!pw"
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme", "password_secret": "acmePassword"}])
    result = run()
    assert str(result.error) == expected_error(
        [
            "tenants/t.yaml:3: tenants[0].password_secret: the password in pg-tenants:acmePassword is not 16+ printable "
            "ASCII characters (fix: set a longer password with `pulumi config set --secret pg-tenants:acmePassword`, "
            "or remove password_secret to have one generated)"
        ]
    )
    assert "short!pw" not in str(result.error)
    assert result.registrations == []


def test_password_secret_set_as_plain_config_is_refused(run, stack, tenants_dir):
    stack.settings["acmePassword"] = "a-long-enough-password-in-plain-config"
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme", "password_secret": "acmePassword"}])
    result = run()
    assert "config key pg-tenants:acmePassword is not set as a secret in this stack" in str(result.error)
    assert result.registrations == []


def test_missing_tenants_directory_is_an_error(run, stack, tmp_path):
    stack.tenants_dir = tmp_path / "no-such-dir"
    result = run()
    assert str(result.error) == expected_error(
        [f"{tmp_path / 'no-such-dir'}: (directory): the tenants directory does not exist (fix: create it or set pg-tenants:tenantsDir)"]
    )


def test_stack_config_problems_are_reported_with_tenant_problems(run, stack, tenants_dir):
    del stack.secrets["mainAdminPassword"]
    stack.settings["defaultServer"] = "replica"
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "Acme"}])
    result = run()
    assert str(result.error) == expected_error(
        [
            "stack config: pg-tenants:defaultServer: server 'replica' is not in servers (fix: use one of: main)",
            "stack config: pg-tenants:servers.main.adminPasswordSecret: config key pg-tenants:mainAdminPassword is not "
            "set as a secret (fix: run `pulumi config set --secret pg-tenants:mainAdminPassword`, which prompts for the value)",
            f"tenants/t.yaml:2: tenants[0].name: 'Acme' is not a lowercase SQL identifier (fix: {FIX_IDENTIFIER})",
        ]
    )
    assert result.registrations == []


def test_a_file_that_is_not_utf8_is_a_problem_and_the_other_files_are_still_checked(run, tenants_dir):
    write_tenant_file(tenants_dir, "good.yaml", [{"name": "Acme"}])
    (tenants_dir / "latin1.yaml").write_bytes("tenants:\n  - name: caf\xe9\n".encode("latin-1"))
    result = run()
    assert str(result.error) == expected_error(
        [
            f"tenants/good.yaml:2: tenants[0].name: 'Acme' is not a lowercase SQL identifier (fix: {FIX_IDENTIFIER})",
            "tenants/latin1.yaml:2: (file): the file is not UTF-8 text (byte 0xe9) (fix: save the file as UTF-8)",
        ]
    )
    assert result.registrations == []


def test_hidden_files_and_directories_are_not_tenant_files(run, tenants_dir):
    write_tenant_file(tenants_dir, "t.yaml", [{"name": "acme"}])
    write_tenant_file(tenants_dir / ".git", "x.yaml", "not: [valid\n")
    write_tenant_file(tenants_dir, ".draft.yaml", [{"name": "acme"}])
    result = run()
    assert result.error is None
