"""Synthetic world generator: a realistic data directory (docs/contract.md section 2) plus a truth
file.

Scenes, power-law popularity, trusted and untrusted partners and labels, verified and
unverified artists, AI spam farms, hidden AI tracks, bot listeners and curator links, sized
from a few hundred users to millions, deterministic for a seed.
"""

from recsys.world.config import WorldConfig
from recsys.world.generate import generate_world

__all__ = ["WorldConfig", "generate_world"]
