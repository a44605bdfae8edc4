"""Print (or write into README.md) the `pulumi preview --diff` sample of the tenant lifecycle.

Each step edits the tenant list, runs the real program on the SDK's mock engine and plans the
change against the previous run with the engine model of tests/support/engine_plan.py (the
provider double's diff rules), rendered by tests/support/preview_display.py in the CLI's
`--diff` layout. No database and no Pulumi CLI are involved: it is what the engine tier will
be compared with once it has run.

    venv/bin/python scripts/preview_sample.py                 # print it
    venv/bin/python scripts/preview_sample.py --write-readme  # replace the sample in README.md

tests/program/test_readme_preview_sample.py regenerates it and compares it with README.md.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[1]
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

import pulumi_random

from tests.support import engine_plan
from tests.support.preview_display import PreviewRenderer
from tests.support.program_run import ProgramRun, run_program
from tests.support.stack import one_server_stack, write_tenant_file

README = PROJECT_DIR / "README.md"
START, END = "<!-- preview-sample:start -->", "<!-- preview-sample:end -->"
STACK = "prod"
ACME = {"name": "acme"}

# (what the operator does, the tenant list afterwards)
STEPS: list[tuple[str, list[dict[str, Any]]]] = [
    ("add initech", [ACME, {"name": "initech"}]),
    ("suspend initech: state: suspended", [ACME, {"name": "initech", "state": "suspended"}]),
    ("remove initech's entry while it is suspended: refused", [ACME]),
    ("the supported removal, step 1: state: offboarded", [ACME, {"name": "initech", "state": "offboarded"}]),
    ("step 2, once that is applied: remove the entry", [ACME]),
]


def _random_version() -> str:
    return json.loads((Path(pulumi_random.__file__).parent / "pulumi-plugin.json").read_text())["version"]


def sample() -> str:
    """The sample as it goes into README.md, between the markers."""
    with tempfile.TemporaryDirectory() as tmp:
        tenants_dir = Path(tmp) / "tenants"
        stack = one_server_stack(tenants_dir)
        values, secret_keys = stack.as_pulumi_config()

        def run(tenants: list[dict[str, Any]], prior: ProgramRun | None) -> ProgramRun:
            write_tenant_file(tenants_dir, "tenants.yaml", tenants)
            result = run_program(values, secret_keys, stack=STACK, prior=prior.registrations if prior else None)
            if result.error is not None:
                raise result.error
            return result

        renderer = PreviewRenderer(STACK, _random_version())
        applied = run([ACME], None)
        blocks = []
        for title, tenants in STEPS:
            planned = run(tenants, applied)
            plan = engine_plan.plan(applied, planned)
            blocks.append(f"# {title}\n$ pulumi preview --diff\n{renderer.render(plan)}")
            if not plan.errors:  # a refused preview changes nothing: the next step starts from the same state
                applied = planned
    return "\n\n".join(blocks)


def readme_block(text: str) -> str:
    return f"{START}\n```\n{text}\n```\n{END}"


def current_readme_sample(readme: str) -> str:
    start, end = readme.index(START), readme.index(END) + len(END)
    return readme[start:end]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write-readme", action="store_true", help="replace the sample between the markers in README.md")
    args = parser.parse_args()
    text = sample()
    if not args.write_readme:
        print(text)
        return 0
    readme = README.read_text(encoding="utf-8")
    README.write_text(readme.replace(current_readme_sample(readme), readme_block(text)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
