"""tolnet reader (not yet implemented; registers nothing)."""
