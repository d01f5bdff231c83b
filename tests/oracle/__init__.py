"""The Python generators of personal mixes and Release Radar, kept as a test oracle: the
compiled generators (``recsys.generators.batch``) must give exactly what they give."""
