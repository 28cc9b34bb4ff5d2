"""The core's own behaviour, shipped as plugins so it uses the same hooks as a vendor's."""
