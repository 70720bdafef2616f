"""cr10x reader (not yet implemented; registers nothing)."""
