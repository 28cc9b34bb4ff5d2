"""``[plugins.contacts]`` in telltales.toml."""

from __future__ import annotations

from typing import Annotated

import msgspec

Days = Annotated[int, msgspec.Meta(ge=1, le=3650)]


class Settings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Windows of the contacts signals, in days."""

    change_window_days: Days = 90
    """A sponsor or champion change dated in this many days up to the run day raises
    ``contacts.sponsor_left`` / ``contacts.champion_left``."""
    sponsor_meeting_sla_days: Days = 90
    """How often an executive sponsor should be met; evidence says by how much it is
    breached."""
