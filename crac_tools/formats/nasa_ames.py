"""nasa_ames reader (not yet implemented; registers nothing)."""
