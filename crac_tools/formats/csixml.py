"""csixml reader (not yet implemented; registers nothing)."""
