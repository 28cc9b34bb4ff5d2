"""The plugin refuses a core whose plugin API lacks what it uses."""

from __future__ import annotations

import pytest
from telltales import PLUGIN_API_VERSION
from telltales_acme_nps.api_version import check_plugin_api


def test_this_core_offers_what_the_plugin_needs() -> None:
    check_plugin_api(PLUGIN_API_VERSION)


@pytest.mark.parametrize("offered", ["1.3", "1.4", "1.10"])
def test_a_later_minor_version_is_accepted(offered: str) -> None:
    check_plugin_api(offered)


@pytest.mark.parametrize("offered", ["1.2", "0.9", "2.0"])
def test_an_older_minor_or_another_major_is_refused(offered: str) -> None:
    with pytest.raises(ImportError, match=f"needs plugin API 1.3 or a later 1.x; .* {offered}$"):
        check_plugin_api(offered)
