"""Errors that reach a person: each carries one line that says what is wrong and where.

Everything a user can cause (a bad file, a bad option, an unknown account) raises a
subclass of :class:`TelltalesError`; the CLI prints its message and exits non-zero,
the API (later) maps it to a problem detail. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from types import EllipsisType

import msgspec


class TelltalesError(Exception):
    """A mistake the user can fix; the message says what and where."""


class ConfigError(TelltalesError):
    """The configuration file is malformed or names something that does not exist."""


class StoreError(TelltalesError):
    """The database file is missing, foreign, newer than this code, or damaged."""


class InputError(TelltalesError):
    """Records or arguments given by the user are invalid; nothing was written."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        """The input's field the problem is in, when one is (``csm_groups``), so that the
        API can name it in the body (``body.csm_groups``) as the CLI names its option."""


class UnknownAccountError(InputError):
    """An account id that the store does not hold."""


class PluginError(TelltalesError):
    """A plugin failed and strict mode (``TELLTALES_STRICT_PLUGINS=1``) made it fatal."""

    def __init__(self, message: str, *, run_id: int | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id
        """The engine run it failed, recorded as ``failed`` (None outside a run)."""


ValidationPath = tuple[str | int | EllipsisType, ...]
"""Where in a value msgspec found a mistake, from the top: field names, list indexes,
and ``...`` for a dict value, whose key msgspec does not name (it writes ``[...]``)."""

_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_PATH_PART = re.compile(r"\.(?P<name>[^.\[]+)|\[(?P<index>\d+)\]|\[\.\.\.\]")
_NAMED_FIELD = re.compile(
    r"^object (?P<kind>contains unknown|missing required) field `(?P<field>[^`]+)`$"
)
_FIELD_FIRST = re.compile(r"^field '(?P<field>[^']+)': (?P<reason>.+)$", re.DOTALL)
"""How a record's own check (a ``ValueError`` in ``__post_init__``) names its field."""


def split_validation_error(error: msgspec.ValidationError) -> tuple[str, ValidationPath]:
    """Split msgspec's ``Expected `int`, got `str` - at `$[3].score``` into its parts.

    msgspec writes the path into its message; this is the one place that reads it
    back. Returns the message (first letter lowered, to follow a colon) and the path
    (``(3, "score")``; empty for the top level).
    """
    text = str(error)
    match = _PATH.match(text)
    message, at = (match["message"], match["path"]) if match else (text, "")
    return message[:1].lower() + message[1:], parse_path(at)


def parse_path(at: str) -> ValidationPath:
    """``[3].score`` or ``.records[3].day`` as parts: ``(3, "score")``."""
    parts: list[str | int | EllipsisType] = []
    for part in _PATH_PART.finditer(at):
        if part["name"] is not None:
            parts.append(part["name"])
        elif part["index"] is not None:
            parts.append(int(part["index"]))
        else:
            parts.append(...)
    return tuple(parts)


def named_field(message: str) -> tuple[str, str] | None:
    """The reason and the field when msgspec names the field in its message, not its path.

    ``Object contains unknown field `colour``` is ``("unknown field", "colour")``, and
    ``Object missing required field `name``` is ``("required field", "name")``; either
    case of the first letter is read, as msgspec writes it or as it follows a colon.
    """
    named = _NAMED_FIELD.match(message[:1].lower() + message[1:])
    if named is None:
        return None
    reason = "unknown field" if named["kind"] == "contains unknown" else "required field"
    return reason, named["field"]


def locate_validation_error(error: msgspec.ValidationError) -> tuple[str, ValidationPath]:
    """The reason and the whole path of a msgspec validation error.

    An unknown or a missing field named in the message is moved onto the path:
    ``("unknown field", (2, "colour"))``. A record's own check is reported at the
    record; one that begins ``field 'name': `` is moved onto that field the same way.
    """
    message, path = split_validation_error(error)
    named = named_field(message)
    if named is not None:
        reason, field = named
        return reason, (*path, field)
    own = _FIELD_FIRST.match(message)
    if own is not None:
        return own["reason"], (*path, own["field"])
    return message, path


def dotted(path: Sequence[str | int | EllipsisType]) -> str:
    """``scorecards.dear.measures[2].weight``: a path as a person (or a TOML reader) writes it.

    A dict value msgspec does not name is written as msgspec writes it, ``[...]``.
    """
    text = ""
    for part in path:
        if isinstance(part, EllipsisType):
            text += "[...]"
        elif isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


def position(number: int, line: int | None = None, *, item: str = "record") -> str:
    """Where an item of a file is, as every message says it: ``record 3``, counted from 1.

    The same word and count for a JSON array and for JSON Lines, whatever the message
    (a bad field, an unknown account); in JSON Lines a blank line is no record, so when
    the line differs from the count it is given too: ``record 3 (line 5)``.
    """
    where = f"{item} {number}"
    return where if line is None or line == number else f"{where} (line {line})"


def at_position(where: str, description: str) -> str:
    """``record 3, field 'day': ...`` or ``record 3: not valid JSON``: a place, then what."""
    joiner = ", " if description.startswith("field ") else ": "
    return f"{where}{joiner}{description}"


def describe_validation_error(error: msgspec.ValidationError, *, item: str = "record") -> str:
    """Name the item by position and the field by dotted path: ``record 4, field 'score': ...``.

    "at $[3].score" means little to someone fixing a CSV export; this sentence does. The
    position counts from 1, as a person counts (msgspec's index 3 is record 4).
    """
    return describe_problem(*locate_validation_error(error), item=item)


def describe_problem(message: str, path: ValidationPath, *, item: str = "record") -> str:
    """A problem at ``path`` (``(3, "score")``) as :func:`describe_validation_error` words it."""
    if message == "required field":
        message = "required field is missing"
    parts: list[str] = []
    if path and isinstance(path[0], int):
        parts.append(position(path[0] + 1, item=item))
        path = path[1:]
    field = dotted(path)
    if field:
        parts.append(f"field '{field}'")
    return f"{', '.join(parts)}: {message}" if parts else message
