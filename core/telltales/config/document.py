"""Where in a TOML file each table, key and array element starts: for error messages.

The TOML parsers (``tomllib``, ``msgspec.toml``) return plain values and forget where
they came from, so a message could only say ``scorecards.dear.measures[3].weight``.
A person fixing the file wants the line. This scanner walks text that has already
parsed as valid TOML and records the line of every path it meets, resolving
``[[array.of.tables]]`` headers to the index each one opens, as the decoder did.
It interprets no values beyond what it needs to step over them.
"""

from __future__ import annotations

import bisect
import contextlib
import re
import tomllib
from collections.abc import Sequence
from functools import cache, cached_property
from types import EllipsisType
from typing import TypeVar

import msgspec

from telltales.errors import (
    ConfigError,
    ValidationPath,
    dotted,
    named_field,
    split_validation_error,
)

T = TypeVar("T")

TomlPath = tuple[str | int, ...]
"""Keys and array indexes from the top of the document: ``("scorecards", "dear",
"measures", 3, "weight")``."""

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_SCALAR_END = re.compile(r"[,\]}\n#]")


class TomlDocument:
    """A configuration file's name and text, so that every error can name its line."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.text = text

    @cached_property
    def lines(self) -> dict[TomlPath, int]:
        """The line map, scanned only when a message needs a line."""
        return key_lines(self.text)

    def line(self, path: Sequence[str | int]) -> int | None:
        return line_of(self.lines, path)

    def error(self, path: Sequence[str | int], message: str) -> ConfigError:
        """``<file>, line <n>: <message>``, the line being that of ``path`` (or its table)."""
        line = self.line(path)
        where = f"{self.source}, line {line}" if line is not None else self.source
        return ConfigError(f"{where}: {message}")

    def decode(self, path: Sequence[str | int], value: object, kind: type[T]) -> T:
        """``value`` (the table at ``path``) converted into ``kind``, or the error at its line."""
        try:
            return msgspec.convert(value, kind)
        except msgspec.ValidationError as error:
            raise self.invalid(path, error) from error

    def invalid(self, base: Sequence[str | int], error: msgspec.ValidationError) -> ConfigError:
        """Turn msgspec's ``... - at `$.a[0].b``` into an error at the line of ``base.a[0].b``.

        An unknown field is pointed at the line where the misspelt key is written.
        """
        message, at = split_validation_error(error)
        path = (*base, *_up_to_hidden_key(at))
        located = path
        named = named_field(message)
        if named is not None and named[0] == "unknown field":
            located = (*path, named[1])
        return self.error(located, f"{dotted(path) or 'top level'}: {message}")


def _up_to_hidden_key(at: ValidationPath) -> TomlPath:
    """``at`` as far as the file can be searched: it stops at a dict key msgspec hides."""
    parts: list[str | int] = []
    for part in at:
        if isinstance(part, EllipsisType):
            break
        parts.append(part)
    return tuple(parts)


@cache
def key_lines(text: str) -> dict[TomlPath, int]:
    """Map every table, key and array element of ``text`` to its 1-based line.

    Cached per text, so one load scans its file once however many checks ask (the
    returned map is shared: read it, never change it). A path met twice keeps its
    first line. ``text`` is assumed to be valid TOML; on
    anything the scanner does not follow, the lines found so far are returned.
    """
    scanner = _Scanner(text)
    with contextlib.suppress(IndexError, ValueError, tomllib.TOMLDecodeError):
        scanner.document()
    return scanner.lines


def line_of(lines: dict[TomlPath, int], path: Sequence[str | int]) -> int | None:
    """The line of ``path``, else of its nearest ancestor that is written in the file.

    A default that is not written anywhere has no line of its own; its table does.
    """
    key = tuple(path)
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return None


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.lines: dict[TomlPath, int] = {}
        self._starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self._array_tables: dict[TomlPath, int] = {}
        self._table: TomlPath = ()

    def line(self) -> int:
        return bisect.bisect_right(self._starts, self.pos)

    def mark(self, path: TomlPath, line: int) -> None:
        self.lines.setdefault(path, line)

    def mark_prefixes(self, path: TomlPath, line: int) -> None:
        """A header also opens its parents (``[a.b]`` defines ``a``), unless seen earlier."""
        for end in range(1, len(path) + 1):
            self.mark(path[:end], line)

    def document(self) -> None:
        while True:
            self.skip_blank(newlines=True)
            if self.pos >= len(self.text):
                return
            line = self.line()
            if self.text.startswith("[[", self.pos):
                self.pos += 2
                key = self.key()
                self.expect("]]")
                path = (*self.resolve(key[:-1]), key[-1])
                index = self._array_tables.get(path, -1) + 1
                self._array_tables[path] = index
                self._table = (*path, index)
                self.mark_prefixes(self._table, line)
            elif self.text.startswith("[", self.pos):
                self.pos += 1
                key = self.key()
                self.expect("]")
                self._table = (*self.resolve(key[:-1]), key[-1])
                self.mark_prefixes(self._table, line)
            else:
                self.pair(self._table)

    def resolve(self, key: TomlPath) -> TomlPath:
        """Insert the index of the latest ``[[...]]`` table after each prefix that is one."""
        path: TomlPath = ()
        for part in key:
            path = (*path, part)
            if path in self._array_tables:
                path = (*path, self._array_tables[path])
        return path

    def pair(self, table: TomlPath) -> None:
        line = self.line()
        key = self.key()
        self.mark_prefixes(table + key, line)
        self.expect("=")
        self.value(table + key)

    def key(self) -> TomlPath:
        parts: list[str | int] = []
        while True:
            self.skip_blank(newlines=False)
            char = self.text[self.pos]
            if char in "\"'":
                start = self.pos
                self.skip_string()
                parts.append(tomllib.loads(f"k = {self.text[start : self.pos]}")["k"])
            else:
                match = _BARE_KEY.match(self.text, self.pos)
                if match is None:
                    raise ValueError(f"no key at offset {self.pos}")
                parts.append(match.group())
                self.pos = match.end()
            self.skip_blank(newlines=False)
            if not self.text.startswith(".", self.pos):
                return tuple(parts)
            self.pos += 1

    def value(self, path: TomlPath) -> None:
        self.skip_blank(newlines=False)
        char = self.text[self.pos]
        if char == "[":
            self.pos += 1
            index = 0
            while True:
                self.skip_blank(newlines=True)
                if self.text.startswith("]", self.pos):
                    self.pos += 1
                    return
                self.mark((*path, index), self.line())
                self.value((*path, index))
                self.skip_blank(newlines=True)
                if self.text.startswith(",", self.pos):
                    self.pos += 1
                    index += 1
        elif char == "{":
            self.pos += 1
            while True:
                self.skip_blank(newlines=True)
                if self.text.startswith("}", self.pos):
                    self.pos += 1
                    return
                self.pair(path)
                self.skip_blank(newlines=True)
                if self.text.startswith(",", self.pos):
                    self.pos += 1
        elif char in "\"'":
            self.skip_string()
        else:
            match = _SCALAR_END.search(self.text, self.pos)
            end = match.start() if match else len(self.text)
            if end == self.pos:
                raise ValueError(f"no value at offset {self.pos}")
            self.pos = end

    def skip_string(self) -> None:
        text = self.text
        for quote in ('"""', "'''", '"', "'"):
            if text.startswith(quote, self.pos):
                break
        self.pos += len(quote)
        escapes = quote[0] == '"'
        while not text.startswith(quote, self.pos):
            if escapes and text[self.pos] == "\\":
                self.pos += 1
            self.pos += 1
            if self.pos >= len(text):
                raise ValueError("unterminated string")
        self.pos += len(quote)
        # A multi-line string may end with up to two quotes of its own before the closer.
        if len(quote) == 3:
            while text.startswith(quote[0], self.pos) and self.pos < len(text):
                self.pos += 1

    def expect(self, token: str) -> None:
        self.skip_blank(newlines=False)
        if not self.text.startswith(token, self.pos):
            raise ValueError(f"expected {token!r} at offset {self.pos}")
        self.pos += len(token)

    def skip_blank(self, *, newlines: bool) -> None:
        text = self.text
        while self.pos < len(text):
            char = text[self.pos]
            if char in " \t\r" or (newlines and char == "\n"):
                self.pos += 1
            elif char == "#":
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
            else:
                return
