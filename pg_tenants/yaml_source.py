"""Parse a YAML file into plain data plus the line of every mapping key and list item.

Validation errors must name the file and line; PyYAML's plain loaders forget positions and
silently keep the last of two duplicate keys, so we compose the node tree ourselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: validate must be fast
Path_ = tuple[str | int, ...]


@dataclass
class YamlDocument:
    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[Path_, int]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest located ancestor."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


class YamlSyntaxError(Exception):
    def __init__(self, file: str, line: int | None, message: str) -> None:
        super().__init__(message)
        self.file, self.line, self.message = file, line, message


def load_yaml(path: Path, display_name: str) -> YamlDocument:
    text = path.read_text(encoding="utf-8")
    loader = _Loader(text)
    document = YamlDocument(display_name, None)
    try:
        node = loader.get_single_node()
        if node is not None:
            document.data = _build(node, (), document, loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlSyntaxError(display_name, mark.line + 1 if mark else None, str(error.problem or error)) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(display_name, None, str(error)) from None
    finally:
        loader.dispose()
    return document


_DECIMAL = re.compile(r"[-+]?(0|[1-9][0-9]*)")  # others (0x, 0o, 010, 1_000) follow PyYAML's rules
_STR, _INT, _BOOL, _NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "bool", "null"))


def _build(node: yaml.Node, path: Path_, document: YamlDocument, loader: Any) -> Any:
    """Construct the value and record lines in one walk (PyYAML's constructor is the slow part)."""
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        mapping: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _build(key_node, (*path, "<key>"), document, loader) if not isinstance(key_node, yaml.ScalarNode) else _scalar(key_node, loader)
            child = (*path, key)
            if key in mapping:
                document.duplicate_keys.append((child, key_node.start_mark.line + 1))
                continue
            document.lines[child] = key_node.start_mark.line + 1
            mapping[key] = _build(value_node, child, document, loader)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, index), document, loader) for index, item in enumerate(node.value)]
    return _scalar(node, loader)


def _scalar(node: yaml.Node, loader: Any) -> Any:
    if node.tag == _STR:
        return node.value
    if node.tag == _INT and _DECIMAL.fullmatch(node.value):
        return int(node.value)
    if node.tag == _BOOL:
        return node.value.lower() in ("true", "yes", "on", "y")
    if node.tag == _NULL:
        return None
    return loader.construct_object(node, deep=True)  # floats, timestamps, merges: PyYAML's rules
