"""table reader (not yet implemented; registers nothing)."""
