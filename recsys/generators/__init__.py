"""Generators: personal mixes, Release Radar and radios, one module each.

``recsys.generators.registry`` finds them by name and runs them through the final filter.
"""
