"""Read one YAML file into plain data plus the line of every mapping key and list item.

Validation errors must name the file and line, so the data is built from the parser's event
stream here rather than by PyYAML's constructor (which forgets positions, silently keeps the
last of two duplicate keys, and follows aliases). Whatever the file holds, the result is a
`YamlDocument` or a `YamlFileError` with a message and a fix, never another exception:

- a file that is missing, a dangling or looping symbolic link, a directory, not a regular
  file, unreadable, larger than 10 MB, or not UTF-8 is refused before parsing;
- anchors and aliases are refused at the first one, so a few bytes cannot expand into
  billions of values (the "billion laughs"); so are tags, complex keys, a second document,
  and nesting deeper than 32 levels. Nothing is ever expanded, so memory stays proportional
  to the file (well under 1 MB per KB);
- a plain scalar that YAML 1.1 and YAML 1.2 read differently (`010`, `yes`, `1e9`) is kept
  as YAML 1.2 reads it and listed in `unclear_scalars` (see `yaml_scalars`).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from pg_tenants.tenants.yaml_scalars import read_plain_scalar

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: validate must be fast
Path_ = tuple[Any, ...]
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_DEPTH = 32
_NO_KEY, _LIST = object(), object()


class YamlFileError(Exception):
    """The file cannot be read as YAML at all: one problem for the whole file."""

    def __init__(self, file: str, line: int | None, message: str, fix: str) -> None:
        super().__init__(message)
        self.file, self.line, self.message, self.fix = file, line, message, fix


@dataclass(frozen=True)
class UnclearScalar:
    path: Path_
    line: int
    message: str
    fix: str


@dataclass
class YamlDocument:
    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[Path_, int]] = field(default_factory=list)
    unclear_scalars: list[UnclearScalar] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest located ancestor."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def load_yaml(path: Path, display_name: str, *, kind: str = "tenant files") -> YamlDocument:
    """`kind` names the files in messages ("YAML anchors … are not allowed in tenant files")."""
    return parse_yaml(read_text(path, display_name), display_name, kind=kind)


# ----------------------------------------------------------------------------- reading


def _open_binary(path: Path) -> BinaryIO:
    """O_NONBLOCK: a FIFO named like a tenant file must not hang validate."""
    return os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)), "rb")


def read_text(path: Path, display: str) -> str:
    try:
        with _open_binary(path) as stream:
            info = os.fstat(stream.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise YamlFileError(display, None, "is not a regular file", "replace it with a regular file, or remove it")
            data = _read_at_most(stream, MAX_FILE_BYTES, display)
    except OSError as error:
        raise _unreadable(path, display, error) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise YamlFileError(display, line, f"the file is not UTF-8 text (byte 0x{data[error.start]:02x})", "save the file as UTF-8") from None


def _read_at_most(stream: BinaryIO, limit: int, display: str) -> bytes:
    """In chunks: a buffer of the limit's size up front would cost 10 MB per small file."""
    chunks, total = [], 0
    while chunk := stream.read(65536):
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise YamlFileError(display, None, f"the file is larger than {limit // 2**20} MB", "split the tenant list into several files")
    return b"".join(chunks)


def _unreadable(path: Path, display: str, error: OSError) -> YamlFileError:
    fix = "make it readable by the user who runs pg-tenants"
    if error.errno == errno.ENOENT and path.is_symlink():
        target = os.readlink(path)
        return YamlFileError(display, None, f"is a symbolic link to {target}, which does not exist", "point the link at an existing file or directory, or remove it")
    if error.errno == errno.ELOOP:
        return YamlFileError(display, None, "is a symbolic link that leads back to itself", "point the link at an existing file or directory, or remove it")
    if error.errno == errno.EISDIR:
        return YamlFileError(display, None, "is a directory, not a file", "rename or remove it: names ending in .yaml or .yml are for YAML files")
    if error.errno in (errno.EACCES, errno.EPERM):
        return YamlFileError(display, None, "cannot be read: permission denied", fix)
    if error.errno in (errno.ENOENT, errno.ENOTDIR):
        return YamlFileError(display, None, "does not exist", "check the path")
    return YamlFileError(display, None, f"cannot be read: {(error.strerror or str(error)).lower()}", fix)


# ----------------------------------------------------------------------------- parsing


def parse_yaml(text: str, display: str, *, kind: str = "tenant files") -> YamlDocument:
    document = YamlDocument(display, None)
    loader = _Loader(text)
    try:
        document.data = _Builder(document, kind).run(loader)
    except yaml.MarkedYAMLError as error:
        raise _syntax_error(error, text, display) from None
    except yaml.reader.ReaderError as error:
        raise _reader_error(error, text, display) from None
    except yaml.YAMLError as error:
        raise YamlFileError(display, None, f"not valid YAML: {error}", "fix the YAML syntax") from None
    finally:
        loader.dispose()
    return document


def _reader_error(error: yaml.reader.ReaderError, text: str, display: str) -> YamlFileError:
    # libyaml counts the position in UTF-8 bytes, PyYAML's own reader in characters.
    before = text.encode("utf-8")[: error.position] if _Loader is not yaml.SafeLoader else text[: error.position].encode("utf-8")
    line = before.count(b"\n") + 1
    if not isinstance(error.character, int):
        return YamlFileError(display, line, f"not valid YAML: {error.reason}", "fix the YAML syntax")
    message = f"the file holds a control character (#x{error.character:04x}), which YAML does not allow"
    return YamlFileError(display, line, message, "remove the character, or write it as an escape in a double-quoted string")


def _syntax_error(error: yaml.MarkedYAMLError, text: str, display: str) -> YamlFileError:
    mark = error.problem_mark or error.context_mark
    line = mark.line + 1 if mark else None
    if mark is not None and _indented_with_tab(text, mark.line):
        return YamlFileError(display, line, "a tab is used for indentation; YAML indentation must be spaces", "replace the tab with spaces")
    return YamlFileError(display, line, f"not valid YAML: {error.problem or error}", "fix the YAML syntax")


def _indented_with_tab(text: str, line_index: int) -> bool:
    lines = text.split("\n", line_index + 1)
    if line_index >= len(lines):
        return False
    line = lines[line_index]
    return "\t" in line[: len(line) - len(line.lstrip(" \t"))]


@dataclass
class _Open:
    """A list or mapping being filled. A mapping alternates between waiting for a key (`_NO_KEY`)
    and waiting for that key's value (which may be None: `~: x`); a list's `key` is `_LIST`."""

    container: Any
    path: Path_
    key: Any
    discard: bool = False  # the pending key repeats an earlier one: its value is read but not kept


class _Builder:
    """Values from parser events, one event at a time: no recursion, nothing expanded."""

    def __init__(self, document: YamlDocument, kind: str) -> None:
        self.document, self.kind = document, kind
        self.stack: list[_Open] = []
        self.root: Any = None
        self.documents = 0

    def run(self, loader: Any) -> Any:
        handlers = {
            yaml.ScalarEvent: self._scalar,
            yaml.MappingStartEvent: self._open,
            yaml.SequenceStartEvent: self._open,
            yaml.MappingEndEvent: self._close,
            yaml.SequenceEndEvent: self._close,
            yaml.AliasEvent: self._refuse_anchor,
            yaml.DocumentStartEvent: self._document,
        }
        get_event = loader.get_event
        while (kind := type(event := get_event())) is not yaml.StreamEndEvent:
            handler = handlers.get(kind)
            if handler is not None:
                handler(event)
        return self.root

    def _refuse(self, event: Any, message: str, fix: str) -> YamlFileError:
        return YamlFileError(self.document.file, event.start_mark.line + 1, message, fix)

    def _document(self, event: yaml.DocumentStartEvent) -> None:
        self.documents += 1
        if self.documents > 1:
            raise self._refuse(event, "the file holds more than one YAML document", "keep one: remove the `---` line and what follows it, or move that part into a file of its own")

    def _refuse_anchor(self, event: Any) -> None:
        raise self._refuse(
            event, f"YAML anchors and aliases are not allowed in {self.kind}",
            "write each value out in full; anchors (&name) and aliases (*name) can make a few bytes expand into billions of values",
        )

    def _check_node(self, event: Any) -> None:
        if event.anchor is not None:
            self._refuse_anchor(event)
        if event.tag is not None:
            shown = event.tag.replace("tag:yaml.org,2002:", "!!")
            raise self._refuse(event, f"YAML tags ({shown}) are not allowed in {self.kind}", "remove the tag; quote the value if it is text")

    def _scalar(self, event: yaml.ScalarEvent) -> None:
        if event.anchor is not None or event.tag is not None:
            self._check_node(event)
        parent = self.stack[-1] if self.stack else None
        is_key = parent is not None and parent.key is _NO_KEY
        value: Any = event.value
        if event.implicit[0]:
            plain = read_plain_scalar(value)
            value = plain.value
            if plain.problem is not None:
                path = (*parent.path, value) if is_key and parent else self._path_of_value(parent)
                self.document.unclear_scalars.append(UnclearScalar(path, event.start_mark.line + 1, *plain.problem))
        if is_key and parent is not None:
            self._key(parent, value, event)
        else:
            self._place(parent, value, event)

    def _open(self, event: Any) -> None:
        if event.anchor is not None or event.tag is not None:
            self._check_node(event)
        parent = self.stack[-1] if self.stack else None
        if parent is not None and parent.key is _NO_KEY:
            raise self._refuse(event, "a list or mapping is used as a mapping key", "write `field: value` with a plain name before the colon")
        if len(self.stack) >= MAX_DEPTH:
            raise self._refuse(event, f"the YAML is nested more than {MAX_DEPTH} levels deep", "remove the extra nesting: tenant files and stack configs need only a few levels")
        is_list = type(event) is yaml.SequenceStartEvent
        container: Any = [] if is_list else {}
        path = self._place(parent, container, event)
        self.stack.append(_Open(container, path, _LIST if is_list else _NO_KEY))

    def _close(self, event: Any) -> None:
        self.stack.pop()

    @staticmethod
    def _path_of_value(parent: _Open | None) -> Path_:
        if parent is None:
            return ()
        if parent.key is _LIST:
            return (*parent.path, len(parent.container))
        return (*parent.path, parent.key)

    def _key(self, parent: _Open, key: Any, event: Any) -> None:
        path, line = (*parent.path, key), event.start_mark.line + 1
        parent.key = key
        parent.discard = key in parent.container
        if parent.discard:
            self.document.duplicate_keys.append((path, line))
        else:
            self.document.lines.setdefault(path, line)

    def _place(self, parent: _Open | None, value: Any, event: Any) -> Path_:
        """Attach a value to its parent (or make it the root) and return its path."""
        path = self._path_of_value(parent)
        self.document.lines.setdefault(path, event.start_mark.line + 1)
        if parent is None:
            self.root = value
        elif parent.key is _LIST:
            parent.container.append(value)
        else:
            if not parent.discard:
                parent.container[parent.key] = value
            parent.key, parent.discard = _NO_KEY, False
        return path
