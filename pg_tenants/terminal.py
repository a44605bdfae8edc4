"""Colour for people at a terminal: on a TTY only, never with NO_COLOR set (https://no-color.org).

`--color always|never` overrides both, as no-color.org asks of a per-run option. Machine
formats (json, github) are never coloured: their callers pass PLAIN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO

COLOR_MODES = ("auto", "always", "never")


@dataclass(frozen=True)
class Style:
    enabled: bool = False

    def _sgr(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled and text else text

    def red(self, text: str) -> str:
        return self._sgr("31", text)

    def green(self, text: str) -> str:
        return self._sgr("32", text)

    def yellow(self, text: str) -> str:
        return self._sgr("33", text)

    def bold(self, text: str) -> str:
        return self._sgr("1", text)

    def dim(self, text: str) -> str:
        return self._sgr("2", text)


PLAIN = Style(enabled=False)


def choose_style(mode: str, stream: IO[str], environ: Mapping[str, str] | None = None) -> Style:
    """`always`, `never`, or (`auto`) colour when `stream` is a terminal and NO_COLOR is unset or empty."""
    if mode == "always":
        return Style(enabled=True)
    if mode == "never":
        return PLAIN
    env = os.environ if environ is None else environ
    if env.get("NO_COLOR") or env.get("TERM") == "dumb":
        return PLAIN
    isatty = getattr(stream, "isatty", None)
    return Style(enabled=bool(isatty and isatty()))
