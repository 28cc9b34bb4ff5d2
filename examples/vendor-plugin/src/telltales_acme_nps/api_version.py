"""The plugin API this plugin is written against, checked when this module is imported.

The package dependency (``telltales>=...``) says which releases can be installed
together; this check says what the plugin relies on in the plugin API, which has its
own version number. Failing the import is how a plugin says "not this core": the
loader leaves the plugin out, keeps the other plugins, and reports the error. The
package imports this module before the modules that use the newer parts of the API.
"""

from __future__ import annotations

# [docs:api-version]
from telltales import PLUGIN_API_VERSION

NEEDS_PLUGIN_API = (1, 3)
"""1.1 for ``signals`` declarations, 1.3 for an action's ``params_type`` and
``settings_type``."""


def check_plugin_api(offered: str) -> None:
    """Raise ImportError unless the core offers plugin API 1.3 or a later 1.x."""
    major, minor = (int(part) for part in offered.split(".")[:2])
    if major != NEEDS_PLUGIN_API[0] or minor < NEEDS_PLUGIN_API[1]:
        raise ImportError(
            f"telltales-acme-nps needs plugin API {NEEDS_PLUGIN_API[0]}.{NEEDS_PLUGIN_API[1]} "
            f"or a later {NEEDS_PLUGIN_API[0]}.x; this telltales offers {offered}"
        )


check_plugin_api(PLUGIN_API_VERSION)
# [/docs:api-version]
