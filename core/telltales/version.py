"""Version numbers: the package's, and the plugin API's (which moves on its own)."""

__version__ = "0.1.0"

PLUGIN_API_VERSION = "1.5"
"""The hook set and contracts a plugin can rely on. The minor part grows when hooks
or batch fields are added; the major part would change only with a removal, after a
deprecation that warns first."""
