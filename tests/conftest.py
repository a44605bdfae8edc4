import pytest

from tests.support.program_run import ProgramRun, run_program
from tests.support.stack import INITECH_PASSWORD, THREE_TENANTS, StackConfig, one_server_stack, write_tenant_file


@pytest.fixture
def tenants_dir(tmp_path):
    return tmp_path / "tenants"


@pytest.fixture
def stack(tenants_dir) -> StackConfig:
    config = one_server_stack(tenants_dir)
    config.secrets["initechPassword"] = INITECH_PASSWORD
    return config


@pytest.fixture
def run(stack):
    """Run the program for the stack as it stands when called."""

    def _run(**kwargs) -> ProgramRun:
        values, secret_keys = stack.as_pulumi_config()
        return run_program(values, secret_keys, **kwargs)

    return _run


@pytest.fixture
def three_tenants(tenants_dir):
    write_tenant_file(tenants_dir, "tenants.yaml", THREE_TENANTS)
