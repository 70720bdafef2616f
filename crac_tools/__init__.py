"""crac_tools: collect, read, assemble, store, catalog, back up and plot station and campaign data.

The public reader contract::

    import crac_tools as crac
    ds = crac.read(path)                 # one table -> xarray.Dataset
    tree = crac.read_tree(path)          # every table -> xarray.DataTree
    crac.formats()                       # supported format names
    cat = crac.open_catalog("archive/catalog.yaml")

Importing the package has no side effects; heavy modules load on first use.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import Any

try:
    __version__ = _metadata.version("crac-tools")
except _metadata.PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "format_name", "formats", "open_catalog", "parse_name", "read", "read_tree"]


def __getattr__(name: str) -> Any:
    if name in ("read", "read_tree", "formats"):
        from .formats import registry

        return getattr(registry, name)
    if name in ("parse_name", "format_name"):
        from .conventions import naming

        return getattr(naming, name)
    if name == "open_catalog":
        from .catalog import open_catalog

        return open_catalog
    raise AttributeError(f"module 'crac_tools' has no attribute {name!r}")
