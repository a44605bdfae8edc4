"""Run every check against the live fleet: catalogs once per database, one login per tenant."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field, replace

import psycopg

from . import catalog, login_checks, own_database_checks, readonly_probe
from .admin import ServerAccess, admin_params
from .admin_errors import admin_login_fix
from .findings import Finding, dedupe, redact
from .fleet import Fleet, Tenant

Progress = Callable[[int, int], None]


class AdminConnectionError(Exception):
    """The admin login needed for the catalog checks failed; `fix` says what to do."""

    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


@dataclass(frozen=True)
class VerifyOptions:
    access: Mapping[str, ServerAccess] = field(default_factory=dict)  # by server name
    default_access: ServerAccess = field(default_factory=ServerAccess)  # servers not in `access`
    jobs: int = 4
    hands_on: bool = True

    def access_for(self, server: str) -> ServerAccess:
        return self.access.get(server, self.default_access)


@dataclass
class TenantResult:
    tenant: Tenant
    login: str  # "ok", "failed", "refused" (suspended, as it should be) or "skipped" (also: offboarded)
    findings: list[Finding] = field(default_factory=list)
    large_objects: int = 0  # owned by the tenant's owner role: its data, not a finding


@dataclass
class VerifyResult:
    tenants: list[TenantResult]
    database_findings: list[Finding]
    elapsed_seconds: float

    @property
    def findings(self) -> list[Finding]:
        return [f for r in self.tenants for f in r.findings] + self.database_findings

    @property
    def ok(self) -> bool:
        return not self.findings


def _admin_connect(access: ServerAccess, sample: Tenant, dbname: str) -> psycopg.Connection:
    params = admin_params(access, sample, dbname)
    try:
        return psycopg.connect(**params, autocommit=True, application_name="pg-tenants verify (admin)")
    except psycopg.OperationalError as error:
        secrets = [params.get("password", ""), os.environ.get("PGPASSWORD", "")]
        message = redact(str(error).strip(), secrets)
        raise AdminConnectionError(f"admin login to database {dbname} failed: {message}",
                                   admin_login_fix(message, params, access)) from None


def _catalog_findings(fleet: Fleet, options: VerifyOptions) -> tuple[list[Finding], dict[str, int]]:
    """Findings of the catalog checks, and the large objects each tenant's owner role owns."""
    findings: list[Finding] = []
    large_objects: dict[str, int] = {}
    for server, tenants in fleet.by_server().items():
        access = options.access_for(server)
        databases = sorted({t.database for t in tenants})
        for index, dbname in enumerate(databases):
            sample = next(t for t in tenants if t.database == dbname)
            with _admin_connect(access, sample, dbname) as conn:
                ctx = catalog.admin_context(conn, access.admin_role)
                if index == 0:  # roles are cluster-wide: once per server is enough
                    findings += catalog.check_roles(conn, tenants, ctx)
                checks = catalog.check_database(conn, tenants, ctx)
                findings += checks.findings
                findings += own_database_checks.check_own_database(conn, tenants, ctx.admin_role)
                for name, count in checks.large_objects.items():
                    large_objects[name] = large_objects.get(name, 0) + count
    return findings, large_objects


def neighbours(tenants: Sequence[Tenant]) -> dict[str, Tenant | None]:
    """Each tenant's hands-on probe target: the next tenant of the same database, in a ring."""
    result: dict[str, Tenant | None] = {}
    by_database: dict[tuple[str, str], list[Tenant]] = {}
    for tenant in tenants:
        by_database.setdefault((tenant.server, tenant.database), []).append(tenant)
    for group in by_database.values():
        group = sorted(group, key=lambda t: t.name)
        for i, tenant in enumerate(group):
            result[tenant.name] = group[(i + 1) % len(group)] if len(group) > 1 else None
    return result


def _with_local_ca(tenant: Tenant, options: VerifyOptions) -> Tenant:
    """The CA file the admin login uses here (stack config or --admin-conninfo) also verifies the
    tenant's logins: an exported sslrootcert is a path on the tenants' machines, not on this one."""
    ca = options.access_for(tenant.server).params.get("sslrootcert")
    return replace(tenant, sslrootcert=ca) if ca else tenant


def _login_results(fleet: Fleet, options: VerifyOptions, progress: Progress | None) -> dict[str, login_checks.LoginResult]:
    near = neighbours(fleet.tenants)
    # An offboarded tenant has no credentials and nothing that may log in: no attempt.
    results = {t.name: login_checks.LoginResult(t.name, "skipped", ()) for t in fleet.tenants if t.offboarded}
    total = len(fleet.tenants)
    with ThreadPoolExecutor(max_workers=max(1, options.jobs)) as pool:
        futures = [pool.submit(_check_logins, _with_local_ca(t, options), near[t.name])
                   for t in fleet.tenants if not t.offboarded]
        for done, future in enumerate(as_completed(futures), start=len(results) + 1):
            result = future.result()
            results[result.tenant] = result
            if progress is not None:
                progress(done, total)
    return results


def _check_logins(tenant: Tenant, neighbour: Tenant | None) -> login_checks.LoginResult:
    """The tenant's own login, then its read-only login if it has one; `status` is the own login's."""
    result = login_checks.check_tenant(tenant, neighbour)
    extra = readonly_probe.check_readonly(tenant, neighbour)
    return replace(result, findings=(*result.findings, *extra)) if extra else result


def _scrub(findings: Iterable[Finding], secrets: Sequence[str]) -> list[Finding]:
    """Last line of defence: no finding leaves this module carrying a password."""
    return [replace(f, message=redact(f.message, secrets), detail=redact(f.detail, secrets)) for f in findings]


def verify_fleet(fleet: Fleet, options: VerifyOptions, progress: Progress | None = None) -> VerifyResult:
    started = time.monotonic()
    admin_passwords = [a.params.get("password", "") for a in [options.default_access, *options.access.values()]]
    secrets = [*fleet.passwords, os.environ.get("PGPASSWORD", ""), *admin_passwords]
    catalog_findings, large_objects = _catalog_findings(fleet, options)
    logins = _login_results(fleet, options, progress) if options.hands_on else {}
    by_subject: dict[str, list[Finding]] = {}
    for finding in dedupe(_scrub([*catalog_findings, *(f for r in logins.values() for f in r.findings)], secrets)):
        by_subject.setdefault(finding.subject, []).append(finding)
    tenant_results = []
    for tenant in fleet.tenants:
        login = logins.get(tenant.name)
        status = "skipped" if login is None else login.status
        tenant_results.append(TenantResult(tenant, status, by_subject.pop(tenant.name, []),
                                           large_objects.get(tenant.name, 0)))
    database_findings = [f for group in by_subject.values() for f in group]
    return VerifyResult(tenant_results, database_findings, time.monotonic() - started)
