"""TLS settings of a server: validated at the edge, handed to the provider, to the dynamic
resources and to the tenants' connection strings (program tier). The PostgreSQL tier proves
they work against a server with `ssl = on` (tests/postgres/test_tls.py)."""

import io
import json

import pytest
from psycopg.conninfo import conninfo_to_dict

from pg_tenants.cli import main
from tests.support.program_run import DYNAMIC, POSTGRES_PROVIDER

pytestmark = pytest.mark.usefixtures("three_tenants")

CA, CERT, KEY = "/etc/pg-tenants/ca.pem", "/etc/pg-tenants/admin.crt", "/etc/pg-tenants/admin.key"
TENANT_CA = "/etc/ssl/certs/db-ca.pem"


@pytest.fixture
def tls_stack(stack):
    stack.servers["main"] |= {"sslmode": "verify-full", "sslrootcert": CA, "sslcert": CERT, "sslkey": KEY}
    return stack


def problems_of(result) -> list[str]:
    """The program's refusal, one line per problem, as `pulumi up` prints it; nothing registered."""
    assert result.error is not None and result.registrations == []
    header, *lines = str(result.error).splitlines()
    assert header == f"{len(lines)} problem{'s' if len(lines) > 1 else ''} in the tenant list or stack config; nothing was changed:"
    return [line.strip().removeprefix("stack config: ") for line in lines]


def test_the_provider_gets_the_ca_and_the_client_certificate_as_paths(run, tls_stack):
    providers = run().of_type(POSTGRES_PROVIDER)
    assert providers
    for provider in providers:
        assert provider.inputs["sslmode"] == "verify-full"
        assert provider.inputs["sslrootcert"] == CA
        # The SDK JSON-encodes the clientcert block; no sslinline: the values are file paths.
        assert json.loads(provider.inputs["clientcert"]) == {"cert": CERT, "key": KEY}


def test_a_provider_without_tls_files_has_no_tls_arguments(run):
    for provider in run().of_type(POSTGRES_PROVIDER):
        assert not {"sslrootcert", "clientcert"} & provider.inputs.keys()


def test_the_dynamic_resources_connect_with_the_same_tls_files(run, tls_stack):
    dynamic = run().of_type(DYNAMIC)
    assert dynamic
    for resource in dynamic:
        assert (resource.inputs["sslmode"], resource.inputs["sslrootcert"], resource.inputs["sslcert"],
                resource.inputs["sslkey"]) == ("verify-full", CA, CERT, KEY)


def test_dynamic_resources_of_a_stack_without_tls_files_keep_their_inputs(run):
    for resource in run().of_type(DYNAMIC):
        assert not {"sslrootcert", "sslcert", "sslkey"} & resource.inputs.keys()


def test_connection_strings_carry_the_tenants_ca_path_and_never_a_client_certificate(run, tls_stack):
    tls_stack.servers["main"]["tenantSslrootcert"] = TENANT_CA
    connections = run().outputs["connections"].value
    for formats in connections.values():
        for key in ("uri", "dsn"):
            params = conninfo_to_dict(formats[key])
            assert (params["sslmode"], params["sslrootcert"]) == ("verify-full", TENANT_CA)
            assert not {"sslcert", "sslkey"} & params.keys()
        assert formats["jdbc"].endswith("&sslmode=verify-full&sslrootcert=%2Fetc%2Fssl%2Fcerts%2Fdb-ca.pem")
        assert (formats["env"]["PGSSLMODE"], formats["env"]["PGSSLROOTCERT"]) == ("verify-full", TENANT_CA)
        text = json.dumps(formats)
        assert CERT not in text and KEY not in text and CA not in text


def test_connection_strings_name_no_ca_unless_the_stack_gives_the_tenants_path(run, tls_stack):
    for formats in run().outputs["connections"].value.values():
        assert "sslrootcert" not in conninfo_to_dict(formats["uri"])
        assert "PGSSLROOTCERT" not in formats["env"]


def test_a_relative_tls_path_is_refused_with_the_fix(run, stack):
    stack.servers["main"]["sslrootcert"] = "certs/ca.pem"
    assert problems_of(run()) == [(
        "pg-tenants:servers.main.sslrootcert: 'certs/ca.pem' is not an absolute path (fix: write the full path of "
        "the PEM file on the machine that runs `pulumi` and `pg-tenants verify`)"
    )]


def test_a_client_certificate_without_its_key_is_refused(run, stack):
    stack.servers["main"]["sslcert"] = CERT
    assert problems_of(run()) == [(
        "pg-tenants:servers.main.sslkey: a client certificate needs both sslcert and sslkey "
        "(fix: set sslkey too (the path of the client key), or remove the other)"
    )]


def test_a_misspelt_tls_setting_is_refused_with_did_you_mean(run, stack):
    stack.servers["main"]["sslrootcrt"] = CA
    [problem] = problems_of(run())
    assert problem.startswith("pg-tenants:servers.main.sslrootcrt: is not a known field (fix: did you mean `sslrootcert`?")


def test_validate_reports_each_tls_mistake_at_its_line_in_the_stack_file(tmp_path):
    project = tmp_path / "project"
    (project / "tenants").mkdir(parents=True)
    (project / "tenants" / "tenants.yaml").write_text("tenants:\n  - name: acme\n")
    (project / "Pulumi.prod.yaml").write_text(
        "config:\n"
        "  pg-tenants:mainAdminPassword:\n"
        "    secure: v1:AAAAAAAAAAAAAAAAAAAAAAAA:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\n"
        "  pg-tenants:servers:\n"
        "    main:\n"
        "      host: db.internal\n"
        "      adminPasswordSecret: mainAdminPassword\n"
        "      sslmode: verify-full\n"
        "      sslrootcert: certs/ca.pem\n"
        f"      sslcert: {CERT}\n"
        "      databases: [app]\n"
    )
    out, err = io.StringIO(), io.StringIO()

    code = main(["validate", "--stack-config", str(project / "Pulumi.prod.yaml")], stdout=out, stderr=err)

    assert code == 1
    lines = out.getvalue().replace(f"{project}/", "").splitlines()
    assert "Pulumi.prod.yaml:9: pg-tenants:servers.main.sslrootcert: 'certs/ca.pem' is not an absolute path" in lines
    assert "Pulumi.prod.yaml:5: pg-tenants:servers.main.sslkey: a client certificate needs both sslcert and sslkey" in lines
