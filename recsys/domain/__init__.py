"""The domain's plain values: a mix, its tracks and their reasons, a listener's exclusions,
and the vocabulary that numbers external ids at one boundary. No I/O, no engine: every other
package builds on these.
"""

__all__ = ["exclusions", "mix", "vocabulary"]
