"""tob1 reader (not yet implemented; registers nothing)."""
