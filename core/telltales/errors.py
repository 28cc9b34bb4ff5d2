"""Errors that reach a person: each carries one line that says what is wrong and where.

Everything a user can cause (a bad file, a bad option, an unknown account) raises a
subclass of :class:`TelltalesError`; the CLI prints its message and exits non-zero,
the API (later) maps it to a problem detail. Anything else is a bug and keeps its
traceback.
"""

from __future__ import annotations

import re

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


_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_INDEX = re.compile(r"^\[(\d+)\]")
_NAMED_FIELD = re.compile(
    r"^object (?P<kind>contains unknown|missing required) field `(?P<field>[^`]+)`$"
)


def split_validation_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """Split msgspec's ``Expected `int`, got `str` - at `$[3].score``` into its parts.

    Returns the message (first letter lowered, to follow a colon) and the path after
    ``$`` (``[3].score``; empty for the top level).
    """
    text = str(error)
    match = _PATH.match(text)
    message, path = (match["message"], match["path"]) if match else (text, "")
    return message[:1].lower() + message[1:], path


def locate_validation_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """The reason and the whole path of a msgspec validation error.

    msgspec names an unknown or a missing field in its message, not its path; this
    moves it onto the path: ``("unknown field", "[2].colour")``.
    """
    message, path = split_validation_error(error)
    named = _NAMED_FIELD.match(message)
    if named is None:
        return message, path
    reason = "unknown field" if named["kind"] == "contains unknown" else "required field"
    return reason, f"{path}.{named['field']}"


def describe_validation_error(error: msgspec.ValidationError, *, item: str = "record") -> str:
    """Name the item by index and the field by dotted path: ``record 3, field 'score': ...``.

    "at $[3].score" means little to someone fixing a CSV export; this sentence does.
    """
    message, path = locate_validation_error(error)
    if message == "required field":
        message = "required field is missing"
    parts: list[str] = []
    index = _INDEX.match(path)
    if index is not None:
        parts.append(f"{item} {index.group(1)}")
        path = path[index.end() :]
    field = path.lstrip(".")
    if field:
        parts.append(f"field '{field}'")
    return f"{', '.join(parts)}: {message}" if parts else message


def on_line(number: int, description: str) -> str:
    """``line 3, field 'day': ...`` (or ``line 3: ...``): a record's problem at its line."""
    joiner = ", " if description.startswith("field ") else ": "
    return f"line {number}{joiner}{description}"
