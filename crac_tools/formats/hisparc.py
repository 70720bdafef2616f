"""hisparc reader (not yet implemented; registers nothing)."""
