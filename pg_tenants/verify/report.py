"""How a verify run is shown: a table for people, JSON for machines, progress on stderr.

Only names, codes and messages reach the output; the result carries passwords on its
Tenant objects, and nothing here reads them.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Any

from pg_tenants.problems import plural
from pg_tenants.terminal import PLAIN, Style

from .findings import Finding
from .runner import VerifyResult

PASS, FAIL = "PASS", "FAIL"


def as_json(result: VerifyResult) -> str:
    data: dict[str, Any] = {
        "verdict": "pass" if result.ok else "fail",
        "summary": _summary_counts(result),
        "tenants": [
            {
                "tenant": r.tenant.name,
                "role": r.tenant.role,
                "schema": r.tenant.schema,
                "server": r.tenant.server,
                "database": r.tenant.database,
                "state": r.tenant.state,
                "login": r.login,
                "readonly_role": r.tenant.readonly_roles[0] if r.tenant.readonly_roles else None,
                "large_objects": r.large_objects,
                "verdict": "pass" if not r.findings else "fail",
                "findings": [f.as_json() for f in r.findings],
            }
            for r in result.tenants
        ],
        "database_findings": [f.as_json() for f in result.database_findings],
        "elapsed_seconds": round(result.elapsed_seconds, 3),
    }
    return json.dumps(data, indent=2)


def _summary_counts(result: VerifyResult) -> dict[str, int]:
    return {
        "tenants": len(result.tenants),
        "failing_tenants": sum(1 for r in result.tenants if r.findings),
        "findings": len(result.findings),
    }


def as_table(result: VerifyResult, style: Style = PLAIN) -> str:
    headers = ("TENANT", "ROLE", "SCHEMA", "DATABASE", "LOGIN", "VERDICT")
    # (cells, findings, large objects of the tenant's owner role)
    rows: list[tuple[tuple[str, ...], list[Finding], int]] = []
    for r in result.tenants:
        t = r.tenant
        rows.append(((t.name, t.role, t.schema, t.database, r.login, FAIL if r.findings else PASS),
                     r.findings, r.large_objects))
    by_subject: dict[str, list[Finding]] = {}
    for finding in result.database_findings:
        by_subject.setdefault(finding.subject, []).append(finding)
    rows += [((f"({subject})", "", "", "", "", FAIL), findings, 0) for subject, findings in by_subject.items()]
    widths = [max([len(h), *(len(cells[i]) for cells, _, _ in rows)]) for i, h in enumerate(headers)]
    lines = [style.bold("  ".join(h.ljust(w) for h, w in zip(headers, widths)).rstrip())]
    for cells, findings, large_objects in rows:
        # The verdict is the last column: coloured after padding, so the columns stay aligned.
        padded = "  ".join(cell.ljust(w) for cell, w in zip(cells[:-1], widths))
        lines.append(f"{padded}  {_verdict(cells[-1], style)}")
        if large_objects:  # the tenant's own data: shown, never a finding
            lines.append(f"    large objects: {large_objects} (owned by {cells[1]})")
        for finding in findings:
            lines.append(f"    - {style.yellow(finding.code.value)}: {finding.message}")
            lines.append(f"      {style.dim('fix:')} {finding.fix}")
    counts = _summary_counts(result)
    verdict = (style.green("PASS: every tenant is isolated as declared") if result.ok
               else style.red("FAIL: isolation is weaker than declared"))
    summary = (f"{plural(counts['tenants'], 'tenant')}, {counts['failing_tenants']} failing, "
               f"{plural(counts['findings'], 'finding')} ({result.elapsed_seconds:.1f} s)")
    lines += ["", summary, verdict]
    return "\n".join(lines)


def _verdict(cell: str, style: Style) -> str:
    return style.green(cell) if cell == PASS else style.red(cell)


class Progress:
    """`logins 120/1000` on stderr: redrawn in place on a terminal, every 10% in a CI log."""

    def __init__(self, stream: IO[str] = sys.stderr, label: str = "logins") -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.last_decile = -1
        self.started = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        elapsed = time.monotonic() - self.started
        text = f"{self.label} {done}/{total} ({elapsed:.1f} s)"
        if self.tty:
            self.stream.write("\r" + text + ("\n" if done == total else ""))
        else:
            decile = done * 10 // max(total, 1)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(text + "\n")
        self.stream.flush()
