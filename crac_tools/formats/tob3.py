"""tob3 reader (not yet implemented; registers nothing)."""
