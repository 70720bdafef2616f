"""xarray backend: ``xr.open_dataset(path, engine="crac")`` reads any format crac_tools knows.

The entry point is declared in ``pyproject.toml`` (``[project.entry-points."xarray.backends"]``).

Examples
--------
>>> import xarray as xr
>>> ds = xr.open_dataset("Station_Daily.dat", engine="crac")  # doctest: +SKIP
>>> ds.attrs["file_format"]  # doctest: +SKIP
'TOA5'
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import xarray as xr
from xarray.backends import BackendEntrypoint

from . import registry


def _as_path(filename_or_obj: Any) -> Path | None:
    """The local path behind ``filename_or_obj``, or None for file objects, bytes, stores and URLs."""
    if isinstance(filename_or_obj, str | os.PathLike):
        text = os.fspath(filename_or_obj)
        if isinstance(text, bytes) or "://" in text:
            return None
        return Path(text)
    return None


class CracBackendEntrypoint(BackendEntrypoint):
    """Open station / campaign data files with the crac_tools readers (same result as ``crac.read``).

    Examples
    --------
    >>> import xarray as xr
    >>> ds = xr.open_dataset("TOA5_BBS.FLUX_2023_08_01_1530.dat", engine="crac")  # doctest: +SKIP
    >>> ds = xr.open_dataset("f.dat", engine="crac", drop_variables=["RECORD"])  # doctest: +SKIP
    """

    description = "Campbell TOA5/TOB1/TOB3, ICARTT, NASA Ames and other station formats via crac_tools"
    url = "https://github.com/crac-tools/crac_tools"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "format", "table")

    def open_dataset(  # type: ignore[override]
        self,
        filename_or_obj: str | os.PathLike,
        *,
        drop_variables: str | Iterable[str] | None = None,
        format: str | None = None,
        table: str | None = None,
    ) -> xr.Dataset:
        """Read ``filename_or_obj`` with :func:`crac_tools.read`, then drop ``drop_variables``.

        Examples
        --------
        >>> CracBackendEntrypoint().open_dataset("Station_Daily.dat")  # doctest: +SKIP
        """
        path = _as_path(filename_or_obj)
        if path is None:
            raise TypeError(f"engine='crac' reads local files only, not {type(filename_or_obj).__name__}")
        ds = registry.read(path, format=format, table=table)
        if drop_variables is not None:
            names = [drop_variables] if isinstance(drop_variables, str) else list(drop_variables)
            ds = ds.drop_vars(names, errors="ignore")
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        """True when a registered reader recognises the file's content; never raises.

        Examples
        --------
        >>> CracBackendEntrypoint().guess_can_open("no/such/file.dat")
        False
        """
        try:
            path = _as_path(filename_or_obj)
            if path is None or not path.is_file():
                return False
            registry.get_reader(path)
            return True
        except Exception:  # noqa: BLE001 - a guess must never raise
            return False


__all__ = ["CracBackendEntrypoint"]
