"""The admin's connection for the dynamic resources is built once per database, not once per
tenant: each build is a dict and a secret Output that would live for the whole run (issue 11)."""

import components.fleet
from tests.support.program_run import DYNAMIC
from tests.support.stack import THREE_TENANTS, write_tenant_file


def test_tenants_on_one_database_share_one_admin_connection(tenants_dir, run, monkeypatch):
    built: list[str] = []
    real = components.fleet.admin_connection

    def counting(server, database, password):
        built.append(database)
        return real(server, database, password)

    monkeypatch.setattr(components.fleet, "admin_connection", counting)
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
    result = run()
    assert result.error is None
    # The three tenants' temp-file-limit resources all connect to one database.
    assert len({r.inputs["dbname"] for r in result.of_type(DYNAMIC) if "roles" in r.inputs}) == 1
    assert sorted(built) == sorted(set(built))
