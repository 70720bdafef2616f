"""Register the archive's NetCDF product sets and zarr mirrors in an intake 2 catalog.

The catalog is one YAML file (normally ``ARCHIVE/catalog.yaml``) written with the intake 2 API
(:class:`intake.entry.Catalog`, :class:`intake.readers.XArrayDatasetReader`). Every entry is an
``XArrayDatasetReader`` over an intake data type:

* a NetCDF product set (``kind="netcdf"``) is an :class:`intake.readers.datatypes.HDF5` list of files,
  read with ``engine="h5netcdf"`` and combined along ``time`` into one Dataset
  (``xarray.open_mfdataset(combine="by_coords", data_vars="minimal", coords="minimal",
  compat="override", join="outer", combine_attrs="drop_conflicts", parallel=False)``): variables without
  a ``time`` dimension (scalar ``lat``/``lon``/``alt``) come from the first file, global attributes that
  differ between files (``period_start``...) are dropped, the ones all files share are kept. A set of
  a single file is opened with ``xarray.open_dataset`` and keeps that file's attributes;
* a zarr mirror (``kind="zarr"``) is an :class:`intake.readers.datatypes.Zarr` directory read with
  ``engine="zarr", consolidated=None`` (works whether or not the metadata was consolidated).

Every path is written as ``{CATALOG_DIR}/<path relative to the catalog's folder>``, so the archive can
be moved or restored elsewhere and its catalog still opens. intake expands ``{CATALOG_DIR}`` to a
``file://`` URL; the readers are told ``open_local=True`` so the files reach xarray as local paths.

Names and metadata
------------------
Each entry is stored under its human-readable name (``bbs_flux``, ``bbs_flux_zarr``...) both as the
entry key and as an alias, so ``list(cat)``, ``cat["bbs_flux"]`` and ``cat.bbs_flux`` all work. The
entry's station metadata, plus ``description`` and ``kind``, is the reader's metadata, which intake 2
round-trips: a user sees it as ``cat["bbs_flux"].metadata`` (or, without building a reader,
``cat.entries["bbs_flux"].metadata``). The catalog's own ``name``, ``description`` and metadata are
``cat.metadata``.

Safety
------
The YAML names only intake's own classes (``XArrayDatasetReader``, ``HDF5``, ``NetCDF3``, ``Zarr``).
:func:`open_catalog` checks that before intake imports anything: a catalog naming any other class,
holding user parameters or carrying templates other than ``{CATALOG_DIR}`` (``{env(...)}``,
``{func(...)}``, ``{pickle64(...)}``) is refused. Nothing from the environment is written.

Examples
--------
>>> import tempfile, pathlib
>>> import numpy as np, pandas as pd, xarray as xr
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> f = root / "products" / "s1" / "met" / "2024" / "s1_met_20240101.nc"
>>> f.parent.mkdir(parents=True)
>>> ds = xr.Dataset({"ta": ("time", np.arange(3, dtype="float32"), {"units": "K"})},
...                 coords={"time": pd.date_range("2024-01-01", periods=3, freq="h")})
>>> ds.to_netcdf(f, engine="h5netcdf")
>>> entry = CatalogEntry("s1_met", "netcdf", (f,), "Station s1 met", {"station_id": "s1"})
>>> path = write_catalog([entry], root / "catalog.yaml", description="demo")
>>> cat = open_catalog(path)
>>> entry_names(cat)
['s1_met']
>>> cat["s1_met"].metadata["station_id"]
's1'
>>> float(open_entry(cat, "s1_met")["ta"].sum())
3.0
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import fsspec
import numpy as np
import xarray as xr
import yaml

from crac_tools.errors import StoreError
from crac_tools.fsutil import atomic_path

__all__ = [
    "CatalogEntry",
    "CatalogError",
    "entry_names",
    "open_catalog",
    "open_entry",
    "write_catalog",
]

logger = logging.getLogger(__name__)

CATALOG_DIR = "{CATALOG_DIR}"

_READER = "intake.readers.readers:XArrayDatasetReader"
_HDF5 = "intake.readers.datatypes:HDF5"
_NETCDF3 = "intake.readers.datatypes:NetCDF3"
_ZARR = "intake.readers.datatypes:Zarr"
_ALLOWED_DATATYPES = {_HDF5, _NETCDF3, _ZARR}

#: open_mfdataset options for a NetCDF product set (explicit, so no default-change FutureWarnings).
NETCDF_SET_KWARGS: dict[str, Any] = {
    "engine": "h5netcdf",
    "open_local": True,
    "combine": "by_coords",
    "data_vars": "minimal",
    "coords": "minimal",
    "compat": "override",
    "join": "outer",
    "combine_attrs": "drop_conflicts",
    "parallel": False,
}
#: open_dataset options for a NetCDF product set of one file.
NETCDF_FILE_KWARGS: dict[str, Any] = {"engine": "h5netcdf", "open_local": True}
#: open_dataset options for a zarr mirror.
ZARR_KWARGS: dict[str, Any] = {"engine": "zarr", "consolidated": None}

# reader keyword arguments open_catalog accepts (all plain values, none names a callable)
_ALLOWED_READER_KWARGS = {
    "engine", "open_local", "combine", "concat_dim", "data_vars", "coords", "compat", "join",
    "combine_attrs", "parallel", "consolidated", "chunks", "decode_times", "mask_and_scale", "group",
}
_ALLOWED_DATA_KWARGS = {"url", "storage_options", "path", "root"}
# intake's Catalog._rehydrate replaces any string value of an entry (metadata included) matching this
_REHYDRATE = re.compile(r"{?data[(]([^)]+)[)]}?")
_DATA_REF = re.compile(r"^\{data\(([^)]+)\)\}$")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


class CatalogError(StoreError, ValueError):
    """A catalog entry is invalid, or a catalog file is malformed or names something not allowed."""


@dataclass(frozen=True)
class CatalogEntry:
    """One data set to register in the catalog.

    Parameters
    ----------
    name : str
        Human-readable, unique name, e.g. ``"bbs_flux"`` (NetCDF product set) or ``"bbs_flux_zarr"``
        (zarr mirror).
    kind : {"netcdf", "zarr"}
        ``"netcdf"``: ``paths`` are the NetCDF4 files of the set (sorted by time; the reader combines
        them by their time coordinate anyway). ``"zarr"``: ``paths`` is ``(zarr_dir,)``.
    paths : tuple of Path
        Files or zarr directory, all inside the catalog's folder.
    description : str
        One-line description, stored as ``metadata["description"]`` of the entry.
    metadata : dict
        JSON-serialisable station metadata (id, name, lat, lon, alt, instruments, product, period,
        time coverage, number of files, units...). numpy scalars, dates and paths are converted.

    Examples
    --------
    >>> e = CatalogEntry("s1_met_zarr", "zarr", (Path("/archive/mirror/s1_met.zarr"),), "mirror")
    >>> e.kind, e.paths[0].name
    ('zarr', 's1_met.zarr')
    """

    name: str
    kind: Literal["netcdf", "zarr"]
    paths: tuple[Path, ...]
    description: str = ""
    metadata: dict = field(default_factory=dict)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.datetime64 | np.timedelta64):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return _json_default(obj[()]) if obj.ndim == 0 else [
            _json_default(v) if isinstance(v, np.generic | np.ndarray) else v for v in obj
        ]
    if isinstance(obj, _dt.datetime | _dt.date | _dt.time):
        return obj.isoformat()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, set | frozenset):
        return sorted(obj, key=str)
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def _plain(obj: Any, what: str) -> Any:
    """Return ``obj`` as plain JSON types (so yaml.safe_dump writes it and it loads back equal)."""
    try:
        text = json.dumps(obj, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise CatalogError(f"{what}: metadata is not JSON-serialisable ({exc})") from exc
    return json.loads(text)


def _check_rehydrate_safe(obj: Any, what: str) -> None:
    """Refuse entry metadata strings that intake would take for a ``data(...)`` reference."""
    if isinstance(obj, str):
        if _REHYDRATE.match(obj):
            raise CatalogError(f"{what}: metadata value {obj!r} would be read by intake as a "
                               "data(...) reference; reword it")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_rehydrate_safe(v, f"{what}.{k}")
    elif isinstance(obj, list):
        for v in obj:
            _check_rehydrate_safe(v, what)


def _relative_url(path: Path, base: Path, entry: str) -> str:
    """``{CATALOG_DIR}/<relative posix path>`` for ``path`` inside ``base``."""
    rel = os.path.relpath(os.path.abspath(path), base)
    rel_posix = Path(rel).as_posix()
    if rel_posix in ("", ".") or rel_posix == ".." or rel_posix.startswith("../"):
        raise CatalogError(f"{entry}: {path} is not inside the catalog's folder {base}")
    if any(c in rel_posix for c in "{}") or "::" in rel_posix:
        raise CatalogError(f"{entry}: {path}: '{{', '}}' and '::' are not allowed in catalogued paths")
    return f"{CATALOG_DIR}/{rel_posix}"


def _is_hdf5(path: Path) -> bool:
    # the HDF5 superblock sits at 0 or at a power-of-two offset >= 512 (user block)
    with open(path, "rb") as fh:
        for offset in (0, 512, 1024, 2048, 4096, 8192):
            fh.seek(offset)
            head = fh.read(len(_HDF5_MAGIC))
            if len(head) < len(_HDF5_MAGIC):
                return False
            if head == _HDF5_MAGIC:
                return True
    return False


def _build_reader(entry: CatalogEntry, base: Path):
    from intake.readers.datatypes import HDF5, Zarr
    from intake.readers.readers import XArrayDatasetReader

    what = f"catalog entry {entry.name!r}"
    metadata = _plain(dict(entry.metadata or {}), what)
    metadata["description"] = str(entry.description or "")
    metadata["kind"] = entry.kind
    _check_rehydrate_safe(metadata, what)
    paths = tuple(Path(p) for p in entry.paths)
    if entry.kind == "netcdf":
        if not paths:
            raise CatalogError(f"{what}: a NetCDF product set needs at least one file")
        for p in paths:
            if not p.is_file():
                raise CatalogError(f"{what}: {p} is not a file")
            if not _is_hdf5(p):
                raise CatalogError(f"{what}: {p} is not a NetCDF4/HDF5 file (h5netcdf cannot read it)")
        urls = [_relative_url(p, base, what) for p in paths]
        if len(set(urls)) != len(urls):
            raise CatalogError(f"{what}: the same file is listed twice")
        if len(urls) == 1:
            return XArrayDatasetReader(HDF5(urls[0]), metadata=metadata, **NETCDF_FILE_KWARGS)
        return XArrayDatasetReader(HDF5(urls), metadata=metadata, **NETCDF_SET_KWARGS)
    if entry.kind == "zarr":
        if len(paths) != 1:
            raise CatalogError(f"{what}: a zarr mirror is one directory, got {len(paths)} paths")
        (p,) = paths
        if not (p.is_dir() and any((p / n).is_file() for n in ("zarr.json", ".zgroup", ".zattrs"))):
            raise CatalogError(f"{what}: {p} is not a zarr store directory")
        return XArrayDatasetReader(Zarr(_relative_url(p, base, what)), metadata=metadata, **ZARR_KWARGS)
    raise CatalogError(f"{what}: kind must be 'netcdf' or 'zarr', not {entry.kind!r}")


def write_catalog(
    entries: Sequence[CatalogEntry],
    path: str | os.PathLike,
    *,
    name: str = "crac",
    description: str = "",
    metadata: dict | None = None,
) -> Path:
    """Write (atomically) an intake 2 catalog YAML registering ``entries``; return its path.

    Every path is stored relative to the catalog's folder (``{CATALOG_DIR}/...``), so the archive can
    be moved. The file is written by intake's ``Catalog.to_yaml_file`` into a temporary file beside
    ``path``, checked to load with :func:`open_catalog`'s rules, then renamed into place.

    Parameters
    ----------
    entries : sequence of CatalogEntry
        The data sets; names must be unique and non-empty. Paths must exist inside ``path``'s folder.
    path : path-like
        The catalog file, normally ``ARCHIVE/catalog.yaml``.
    name, description : str
        Catalog name and description, stored in the catalog's metadata (``cat.metadata``).
    metadata : dict, optional
        More catalog-level metadata (JSON-serialisable); ``name``/``description`` take precedence.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    CatalogError
        An entry is invalid: duplicate or empty name, unknown kind, a missing or non-NetCDF4 file,
        a path outside the catalog's folder, metadata that is not JSON-serialisable.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> write_catalog([], root / "catalog.yaml", description="empty").name
    'catalog.yaml'
    >>> open_catalog(root / "catalog.yaml").metadata["description"]
    'empty'
    """
    from intake.readers.entry import Catalog

    final = Path(path)
    base = Path(os.path.abspath(final.parent))
    cat_meta = _plain(dict(metadata or {}), "catalog")
    cat_meta["name"] = str(name)
    cat_meta["description"] = str(description or "")
    cat = Catalog(metadata=cat_meta)
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry.name, str) or not entry.name.strip():
            raise CatalogError(f"catalog entry name must be a non-empty string, got {entry.name!r}")
        if entry.name in seen:
            raise CatalogError(f"catalog entry name {entry.name!r} is used twice")
        seen.add(entry.name)
        reader = _build_reader(entry, base)
        # the name becomes the entry key; the alias makes list(cat) and cat.<name> show it
        token = cat.add_entry(reader, name=entry.name)
        cat.aliases[entry.name] = token
    with atomic_path(final) as tmp:
        cat.to_yaml_file(os.fspath(tmp))
        with open(tmp, encoding="utf-8") as fh:
            _validate(yaml.safe_load(fh), tmp)
    logger.info("wrote catalog %s with %d entries", final, len(seen))
    return final


def _check_template_free(value: Any, where: str, allow_catalog_dir: bool = False) -> None:
    if isinstance(value, str):
        text = value
        if allow_catalog_dir and text.startswith(CATALOG_DIR):
            text = text[len(CATALOG_DIR):]
        if "{" in text or "}" in text:
            raise CatalogError(f"{where}: template {value!r} is not allowed")
    elif isinstance(value, Mapping):
        for k, v in value.items():
            _check_template_free(k, where)
            _check_template_free(v, f"{where}.{k}", allow_catalog_dir)
    elif isinstance(value, list | tuple):
        for v in value:
            _check_template_free(v, where, allow_catalog_dir)
    elif value is not None and not isinstance(value, bool | int | float):
        raise CatalogError(f"{where}: value of type {type(value).__name__} is not allowed")


def _validate(doc: Any, source: Any) -> None:
    """Check a loaded catalog YAML names only intake's xarray reader and data types, before intake
    imports anything it names."""
    where = str(source)
    if not isinstance(doc, dict) or doc.get("version") != 2:
        raise CatalogError(f"{where}: not an intake 2 catalog (version: 2)")
    extra = set(doc) - {"version", "aliases", "data", "entries", "metadata", "user_parameters"}
    if extra:
        raise CatalogError(f"{where}: unexpected keys {sorted(extra)}")
    if doc.get("user_parameters"):
        raise CatalogError(f"{where}: user parameters are not allowed")
    data = doc.get("data") or {}
    entries = doc.get("entries") or {}
    aliases = doc.get("aliases") or {}
    if not all(isinstance(x, dict) for x in (data, entries, aliases)):
        raise CatalogError(f"{where}: data, entries and aliases must be mappings")
    if not isinstance(doc.get("metadata") or {}, dict):
        raise CatalogError(f"{where}: metadata must be a mapping")
    for tok, d in data.items():
        w = f"{where}: data {tok!r}"
        if not isinstance(d, dict) or set(d) - {"datatype", "kwargs", "metadata", "user_parameters"}:
            raise CatalogError(f"{w}: malformed")
        if d.get("datatype") not in _ALLOWED_DATATYPES:
            raise CatalogError(f"{w}: data type {d.get('datatype')!r} is not allowed")
        if d.get("user_parameters"):
            raise CatalogError(f"{w}: user parameters are not allowed")
        kw = d.get("kwargs") or {}
        if not isinstance(kw, dict) or set(kw) - _ALLOWED_DATA_KWARGS:
            raise CatalogError(f"{w}: unexpected kwargs {sorted(set(kw) - _ALLOWED_DATA_KWARGS)}")
        _check_template_free(kw, w, allow_catalog_dir=True)
    for tok, e in entries.items():
        w = f"{where}: entry {tok!r}"
        allowed = {"reader", "kwargs", "metadata", "user_parameters", "output_instance"}
        if not isinstance(e, dict) or set(e) - allowed:
            raise CatalogError(f"{w}: malformed")
        if e.get("reader") != _READER:
            raise CatalogError(f"{w}: reader {e.get('reader')!r} is not allowed")
        if e.get("output_instance") not in (None, "xarray:Dataset"):
            raise CatalogError(f"{w}: output {e.get('output_instance')!r} is not allowed")
        if e.get("user_parameters"):
            raise CatalogError(f"{w}: user parameters are not allowed")
        kw = dict(e.get("kwargs") or {})
        args = kw.pop("args", None)
        if not (isinstance(args, list) and len(args) == 1 and isinstance(args[0], str)):
            raise CatalogError(f"{w}: expected one data reference in args")
        m = _DATA_REF.match(args[0])
        if not m or m.group(1) not in data:
            raise CatalogError(f"{w}: args must reference a data entry of this catalog")
        if set(kw) - _ALLOWED_READER_KWARGS:
            raise CatalogError(f"{w}: unexpected kwargs {sorted(set(kw) - _ALLOWED_READER_KWARGS)}")
        _check_template_free(kw, w)
        if not isinstance(e.get("metadata") or {}, dict):
            raise CatalogError(f"{w}: metadata must be a mapping")
    for alias, tok in aliases.items():
        if not isinstance(alias, str) or tok not in entries:
            raise CatalogError(f"{where}: alias {alias!r} does not point to an entry")


def open_catalog(path: str | os.PathLike, **storage_options: Any):
    """Open a catalog written by :func:`write_catalog`, refusing anything unsafe.

    Equivalent to ``intake.from_yaml_file(path)`` (same object, same ``{CATALOG_DIR}``), except that
    the YAML is first checked to name only intake's ``XArrayDatasetReader`` and the ``HDF5`` /
    ``NetCDF3`` / ``Zarr`` data types, with no user parameters and no templates other than
    ``{CATALOG_DIR}`` - so opening a tampered catalog imports nothing it names.

    Parameters
    ----------
    path : path-like or str
        The catalog file (local path or fsspec URL).
    **storage_options
        Passed to fsspec to read the file.

    Returns
    -------
    intake.readers.entry.Catalog
        ``list(cat)``/:func:`entry_names` gives the names; ``cat[name]`` a reader whose
        ``.metadata`` holds the entry's metadata and ``.read()`` the Dataset; ``cat.metadata`` the
        catalog's metadata.

    Raises
    ------
    CatalogError
        The file is not an intake 2 catalog of the allowed form.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = write_catalog([], pathlib.Path(tempfile.mkdtemp()) / "catalog.yaml", name="demo")
    >>> open_catalog(p).metadata["name"]
    'demo'
    """
    from intake.readers.entry import Catalog

    url = os.fspath(path)
    of = fsspec.open(url, mode="rt", encoding="utf-8", **storage_options)
    with of as fh:
        try:
            doc = yaml.safe_load(fh)
        except yaml.YAMLError as exc:
            raise CatalogError(f"{url}: not valid YAML ({exc})") from exc
    _validate(doc, url)
    cat = Catalog.from_dict(doc)
    # as intake.from_yaml_file does
    cat.user_parameters["CATALOG_PATH"] = url
    cat.user_parameters["CATALOG_DIR"] = of.fs.unstrip_protocol(of.fs._parent(url))
    cat.user_parameters["STORAGE_OPTIONS"] = storage_options
    return cat


def entry_names(cat) -> list[str]:
    """Return the human-readable names of a catalog's entries, sorted.

    These are the catalog's aliases (what ``list(cat)`` gives); entries without an alias (not written
    by :func:`write_catalog`) are listed by their key.

    Examples
    --------
    >>> from intake.readers.entry import Catalog
    >>> entry_names(Catalog())
    []
    """
    names = {a for a, tok in cat.aliases.items() if tok in cat.entries}
    aliased = set(cat.aliases.values())
    names.update(tok for tok in cat.entries if tok not in aliased)
    return sorted(names)


def open_entry(cat, name: str) -> xr.Dataset:
    """Open the named entry as one ``xarray.Dataset`` (``cat[name].read()``).

    Raises
    ------
    KeyError
        ``name`` is not in the catalog (the message lists the names).

    Examples
    --------
    >>> from intake.readers.entry import Catalog
    >>> open_entry(Catalog(), "nope")
    Traceback (most recent call last):
    ...
    KeyError: "no catalog entry 'nope' (entries: )"
    """
    if name not in cat.aliases and name not in cat.entries:
        raise KeyError(f"no catalog entry {name!r} (entries: {', '.join(entry_names(cat))})")
    return cat[name].read()
