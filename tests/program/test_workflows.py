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


def jobs(workflow: str) -> dict[str, dict]:
    return yaml.safe_load((WORKFLOWS / workflow).read_text())["jobs"]


STACKS_MATRIX = "${{ fromJSON(vars.PULUMI_STACKS || format('[\"{0}\"]', vars.PULUMI_STACK || 'prod')) }}"


def test_the_preview_runs_once_per_stack_in_parallel_with_a_comment_each():
    preview = jobs("tenants-pull-request.yml")["preview"]

    assert preview["strategy"] == {"fail-fast": False, "matrix": {"stack": STACKS_MATRIX}}
    assert preview["env"]["STACK"] == "${{ matrix.stack }}"
    assert preview["concurrency"]["group"].endswith("-${{ matrix.stack }}")
    comment = next(s for s in preview["steps"] if s.get("with", {}).get("command") == "preview")["with"]
    assert (comment["stack-name"], comment["comment-on-pr"], comment["edit-pr-comment"]) == ("${{ env.STACK }}", True, True)


def test_the_deploy_runs_once_per_stack_in_parallel_one_up_per_stack_at_a_time():
    deploy = jobs("tenants-deploy.yml")["deploy"]

    assert deploy["strategy"] == {"fail-fast": False, "matrix": {"stack": STACKS_MATRIX}}
    assert deploy["env"]["STACK"] == "${{ matrix.stack }}"
    assert deploy["concurrency"] == {"group": "pulumi-${{ matrix.stack }}", "cancel-in-progress": False}


def test_the_pull_request_validates_every_stack_together():
    validate = next(s for s in jobs("tenants-pull-request.yml")["validate"]["steps"] if "pg-tenants validate" in s.get("run", ""))

    assert 'pg-tenants validate "${stack_files[@]}" --format github' in validate["run"]
    assert 'stack_files+=(--stacks "Pulumi.${stack##*/}.yaml")' in validate["run"]


def test_the_previous_deployment_is_read_from_the_state_so_a_state_move_is_seen():
    step = next(s for s in jobs("tenants-pull-request.yml")["preview"]["steps"] if "--previous" in s.get("run", ""))

    assert 'pulumi stack export --stack "$STACK" --file previous-state.json' in step["run"]
    assert "--previous previous-state.json" in step["run"]
    assert "--show-secrets" not in step["run"]


def gitlab_example() -> dict:
    readme = (WORKFLOWS.parents[1] / "README.md").read_text()
    section = readme[readme.index("### GitLab CI"):]
    return yaml.safe_load(section[section.index("```yaml\n") + 8:section.index("\n```\n")])


def test_the_gitlab_example_previews_and_deploys_each_stack_as_a_parallel_matrix():
    example = gitlab_example()

    assert list(example[".stacks"]["parallel"]["matrix"][0]) == ["STACK"]
    assert example["preview"]["extends"] == example["deploy"]["extends"] == ".stacks"
    assert example["deploy"]["resource_group"] == "pulumi-$STACK"
    assert "pg-tenants validate --stacks" in example["validate"]["script"][0]


def test_the_gitlab_example_edits_one_merge_request_note_per_stack():
    comment = gitlab_example()["preview"]["script"][-1]

    assert 'marker="<!-- pg-tenants preview: $STACK -->"' in comment
    assert 'startswith(sys.argv[1] + "\\n")' in comment  # eu-1's marker never matches eu-10's note
    assert '-X "$([ -n "$note" ] && echo PUT || echo POST)"' in comment


def test_the_pull_request_workflow_says_the_preview_runner_must_reach_the_databases():
    text = (WORKFLOWS / "tenants-pull-request.yml").read_text()
    assert "else any runner" not in text
    assert "the preview job's runner must reach the databases" in text
    assert "PG_TENANTS_PREVIEW_WITHOUT_DATABASE" in text  # the documented way out
