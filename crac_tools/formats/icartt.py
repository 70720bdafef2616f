"""icartt reader (not yet implemented; registers nothing)."""
