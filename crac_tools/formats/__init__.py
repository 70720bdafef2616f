"""Format readers: sniffing, the reader registry and the per-format modules.

The subpackage is named like the contract's ``crac.formats()`` function. Importing any
``crac_tools.formats.*`` module binds ``crac_tools.formats`` to this package, so the package itself is
callable and returns :func:`~crac_tools.formats.registry.formats`: ``crac.formats()`` works either way.

Examples
--------
>>> from crac_tools.formats import formats
>>> "toa5" in formats()
True
>>> import crac_tools
>>> crac_tools.formats() == formats()
True
"""

from __future__ import annotations

import sys
import types

from .registry import formats, get_reader, read, read_tree, register


class _CallableFormatsPackage(types.ModuleType):
    """Module type of this package: calling it lists the supported format names."""

    def __call__(self) -> list[str]:
        return formats()


sys.modules[__name__].__class__ = _CallableFormatsPackage

__all__ = ["formats", "get_reader", "read", "read_tree", "register"]
