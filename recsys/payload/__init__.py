"""The stored payload format: mixes rendered as the API answers them (``render``), a rebuild's
payloads encoded from compiled rows (``encoder``) by compiled assembly (``assembly``).
"""

__all__ = ["assembly", "encoder", "render"]
