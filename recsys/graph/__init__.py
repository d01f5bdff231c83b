"""The similar-artist graph: curators' links joined with ALS neighbours."""
