"""A pytest plugin: `-p tests.support.collection_report` writes what a run collected to the
JSON file named by PG_TENANTS_COLLECTION_REPORT (module, function, static skip reasons of
each item), for tests/program/test_tiers_run.py to check which bodies each tier runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

REPORT_ENV = "PG_TENANTS_COLLECTION_REPORT"


def _skip_reasons(item) -> list[str]:
    reasons = []
    for mark in item.iter_markers():
        if mark.name == "skip":
            reasons.append(mark.kwargs.get("reason", mark.args[0] if mark.args else "unconditional skip"))
        elif mark.name == "skipif" and (not mark.args or any(bool(condition) for condition in mark.args)):
            reasons.append(mark.kwargs.get("reason", "skipif without a reason"))
    return reasons


def pytest_collection_finish(session) -> None:
    # Dotted from the path: pytest imports a module of a directory without __init__.py by its basename.
    items = [{"module": item.nodeid.split("::")[0].removesuffix(".py").replace("/", "."),
              "function": item.originalname, "nodeid": item.nodeid,
              "skip_reasons": _skip_reasons(item)} for item in session.items]  # fmt: skip
    Path(os.environ[REPORT_ENV]).write_text(json.dumps(items))
