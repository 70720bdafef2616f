"""geoms reader (not yet implemented; registers nothing)."""
