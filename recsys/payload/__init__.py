"""The stored payload format, owned here: mixes rendered as the API answers them (``render``),
the payload's layout, compression and reading back (``codec``), and a rebuild's payloads
encoded from compiled rows (``encoder``) by compiled assembly (``assembly``).
"""

__all__ = ["assembly", "codec", "encoder", "render"]
