"""Which files hold the tenant list, and reading them into located entries.

One rule for `pulumi up` and `pg-tenants validate` (see `find_tenant_files`). Reading never
raises: a file that cannot be read or parsed is one problem of its own, and the other files
are still read, so one run reports everything.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pg_tenants.problems import Problem
from pg_tenants.tenants.entry_problems import field_path, problems_from_validation_error
from pg_tenants.stack_config import NAMESPACE
from pg_tenants.tenants.model import TenantEntry, TenantFile
from pg_tenants.tenants.yaml_source import YamlDocument, YamlFileError, load_yaml

TENANT_FILE_SUFFIXES = (".yaml", ".yml")
FILE_FIELD, DIRECTORY_FIELD = "(file)", "(directory)"
_READ_FIX = "make it readable by the user who runs pg-tenants"


@dataclass(frozen=True)
class FoundFile:
    path: Path
    display: str  # `tenants/acme.yaml`: stable in messages wherever the checkout lives


@dataclass
class FoundFiles:
    files: list[FoundFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class LocatedEntry:
    entry: TenantEntry
    document: YamlDocument
    index: int

    def line(self, field: str | None = None) -> int | None:
        path: tuple[str | int, ...] = ("tenants", self.index)
        return self.document.line_of((*path, field) if field else path)

    def problem(self, field: str | None, message: str, fix: str) -> Problem:
        path: tuple[str | int, ...] = ("tenants", self.index, *((field,) if field else ()))
        return Problem(self.document.file, self.line(field), field_path(path), message, fix)


@dataclass
class ReadTenants:
    entries: list[LocatedEntry] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Plain scalars YAML 1.1 and 1.2 read differently: each explains every other problem of its field.
    unclear: list[Problem] = field(default_factory=list)
    files: int = 0
    tenants: int = 0  # items of every `tenants:` list, valid or not


def is_tenant_file_name(name: str) -> bool:
    return name.lower().endswith(TENANT_FILE_SUFFIXES)


def find_tenant_files(tenants_dir: Path) -> FoundFiles:
    """Every tenant file under `tenants_dir`, and the problems met finding them.

    A tenant file is any file whose name ends in `.yaml` or `.yml`, in any letter case
    (`acme.yaml`, `b.yml`, `B.YAML`), anywhere under the tenants directory: subdirectories are
    read recursively, and symbolic links are followed, to files and to directories alike. A
    name starting with `.` is skipped, with everything under it (hidden files, `.git/`). Other
    files are ignored. A directory reached a second time (a symlink loop, or two links to one
    directory) is read once, with a warning. These are errors, each reported for its own path:
    a symbolic link that leads nowhere (whatever its name: it may have been a directory of
    tenant files), a directory that cannot be listed, and anything named like a tenant file
    that is not a readable, regular, UTF-8 YAML file of at most 10 MB (a directory named
    `x.yaml`, which is still searched; a FIFO; a file without read permission).
    """
    found = FoundFiles()
    _walk(tenants_dir, tenants_dir, found, {})
    found.files.sort(key=lambda found_file: found_file.display)
    return found


def collect_tenant_files(paths: Sequence[Path]) -> FoundFiles:
    """Directories by the rule of `find_tenant_files`; files named on the command line as they are."""
    found = FoundFiles()
    for path in paths:
        if path.is_dir():
            from_dir = find_tenant_files(path)
            found.files += from_dir.files
            found.problems += from_dir.problems
        elif is_tenant_file_name(path.name) or path.is_symlink():
            found.files.append(FoundFile(path, str(path)))
        else:
            message = "is not a tenant file: tenant file names end in .yaml or .yml"
            found.problems.append(Problem(str(path), None, FILE_FIELD, message, "rename it, or do not pass it"))
    return found


def read_tenant_paths(paths: Sequence[Path]) -> ReadTenants:
    """Every entry of every tenant file found under `paths`, with the problems of each file."""
    read = ReadTenants()
    missing = [path for path in paths if not path.exists() and not path.is_symlink()]
    if missing:
        read.problems = [_missing_directory(path) for path in missing]
        return read
    found = collect_tenant_files(paths)
    read.problems, read.files = list(found.problems), len(found.files)
    for found_file in found.files:
        try:
            document = load_yaml(found_file.path, found_file.display, kind="tenant files")
        except YamlFileError as error:
            read.problems.append(Problem(error.file, error.line, FILE_FIELD, error.message, error.fix))
            continue
        _read_document(document, read)
    return read


def display_name(path: Path, tenants_dir: Path) -> str:
    """`tenants/team/acme.yaml`: the directory's own name, then the path under it."""
    relative = path.relative_to(tenants_dir)
    if not tenants_dir.name:  # `.` or `/`
        return str(relative) if relative != Path() else str(tenants_dir)
    return str(Path(tenants_dir.name) / relative)


# ----------------------------------------------------------------------------- finding


def _walk(directory: Path, tenants_dir: Path, found: FoundFiles, seen: dict[tuple[int, int], str]) -> None:
    shown = display_name(directory, tenants_dir)
    try:
        info = os.stat(directory)
        identity = (info.st_dev, info.st_ino)
        if identity in seen:
            found.problems.append(Problem(
                shown, None, DIRECTORY_FIELD, f"leads to {seen[identity]}, which is already read; it is read once",
                "remove the link if it is not meant to be there", "warning",
            ))
            return
        seen[identity] = shown
        with os.scandir(directory) as listing:
            entries = sorted(listing, key=lambda entry: entry.name)
    except OSError as error:
        message = f"cannot be read: {(error.strerror or str(error)).lower()}"
        found.problems.append(Problem(shown, None, DIRECTORY_FIELD, message, _READ_FIX))
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = directory / entry.name
        if is_tenant_file_name(entry.name) or _is_dangling_link(entry):
            found.files.append(FoundFile(path, display_name(path, tenants_dir)))  # reading reports what is wrong
        if _is_directory(entry):
            _walk(path, tenants_dir, found, seen)


def _is_directory(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symbolic links
    except OSError:
        return False


def _is_dangling_link(entry: os.DirEntry[str]) -> bool:
    return entry.is_symlink() and not os.path.exists(entry.path)


def _missing_directory(path: Path) -> Problem:
    return Problem(str(path), None, DIRECTORY_FIELD, "the tenants directory does not exist", f"create it or set {NAMESPACE}:tenantsDir")


# ----------------------------------------------------------------------------- parsing


def _read_document(document: YamlDocument, read: ReadTenants) -> None:
    read.problems += [
        Problem(document.file, line, field_path(path), "appears twice in the same mapping", "keep one of them")
        for path, line in document.duplicate_keys
    ]
    read.unclear += [
        Problem(document.file, unclear.line, field_path(unclear.path), unclear.message, unclear.fix)
        for unclear in document.unclear_scalars
        if "password" not in unclear.path  # a literal password is refused on its own, never echoed
    ]
    data = document.data
    if data is None:
        read.problems.append(Problem(document.file, 1, "tenants", "the file is empty", "add a `tenants:` list, or delete the file"))
        return
    tenants = data.get("tenants") if isinstance(data, dict) else None
    read.tenants += len(tenants) if isinstance(tenants, list) else 0
    data = _without_literal_passwords(data, document, read.problems)
    try:
        parsed = list(enumerate(TenantFile.model_validate(data).tenants))
    except ValidationError as error:
        read.problems += problems_from_validation_error(error, file=document.file, line_of=document.line_of, model=TenantFile)
        parsed = _valid_entries_only(data, error)
    read.entries += [LocatedEntry(entry, document, index) for index, entry in parsed]


def _without_literal_passwords(data: Any, document: YamlDocument, problems: list[Problem]) -> Any:
    """Refuse `password:` in YAML: a password in git is a leaked password. Never echo it."""
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        return data
    cleaned = []
    for index, item in enumerate(data["tenants"]):
        if isinstance(item, dict) and "password" in item:
            key = f"{item['name']}Password" if isinstance(item.get("name"), str) else "tenantPassword"
            problems.append(
                Problem(
                    document.file,
                    document.line_of(("tenants", index, "password")),
                    f"tenants[{index}].password",
                    "a literal password is not allowed in a tenant file (it would be stored in git)",
                    f"remove it, run `pulumi config set --secret {NAMESPACE}:{key}` (it prompts for the password) "
                    f"and write `password_secret: {key}` instead",
                )
            )
            item = {k: v for k, v in item.items() if k != "password"}
        cleaned.append(item)
    return {**data, "tenants": cleaned}


def _valid_entries_only(data: Any, error: ValidationError) -> list[tuple[int, TenantEntry]]:
    """Keep checking the entries that did parse, so one typo does not hide other problems."""
    if not isinstance(data, dict) or not isinstance(data.get("tenants"), list):
        return []
    broken = {e["loc"][1] for e in error.errors() if len(e["loc"]) > 1 and e["loc"][0] == "tenants"}
    return [
        (index, TenantEntry.model_validate(item))
        for index, item in enumerate(data["tenants"])
        if index not in broken
    ]
