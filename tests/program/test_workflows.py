"""The GitHub workflows repair drift and install a CLI that honours replacement_trigger."""

from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"


def steps(workflow: str) -> list[dict]:
    jobs = yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]
    return [step for job in jobs.values() for step in job["steps"]]


def pulumi_steps(workflow: str) -> list[dict]:
    return [s for s in steps(workflow) if str(s.get("uses", "")).startswith("pulumi/actions@")]


def test_the_deploy_runs_pulumi_up_with_refresh():
    ups = [s for s in pulumi_steps("tenants-deploy.yml") if s.get("with", {}).get("command") == "up"]
    assert len(ups) == 1
    assert ups[0]["with"]["refresh"] is True


def test_the_pull_request_preview_refreshes_like_the_deploy():
    previews = [s for s in pulumi_steps("tenants-pull-request.yml") if s.get("with", {}).get("command") == "preview"]
    assert [s["with"]["refresh"] for s in previews] == [True]


def test_the_cli_installed_first_is_new_enough_for_replacement_trigger():
    for workflow in ("tenants-deploy.yml", "tenants-pull-request.yml"):
        first = pulumi_steps(workflow)[0]
        assert "command" not in first.get("with", {}), workflow  # the install-only step
        assert first["with"]["pulumi-version"] == "^3.226.0", workflow
