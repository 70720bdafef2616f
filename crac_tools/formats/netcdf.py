"""netcdf reader (not yet implemented; registers nothing)."""
