"""Parse a YAML file into plain data plus the line of every mapping key and list item.

Validation errors must name the file and line; PyYAML's plain loaders forget positions and
silently keep the last of two duplicate keys, so we compose the node tree ourselves.
"""

from __future__ import annotations

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
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise YamlSyntaxError(display_name, mark.line + 1 if mark else None, str(error.problem or error)) from None
    except yaml.YAMLError as error:
        raise YamlSyntaxError(display_name, None, str(error)) from None
    finally:
        loader.dispose()
    document = YamlDocument(display_name, data)
    if node is not None:
        _index(node, (), document)
    return document


def _index(node: yaml.Node, path: Path_, document: YamlDocument) -> None:
    document.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            child = (*path, key)
            if key in seen:
                document.duplicate_keys.append((child, key_node.start_mark.line + 1))
                continue
            seen.add(key)
            document.lines[child] = key_node.start_mark.line + 1
            _index(value_node, child, document)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*path, index), document)
