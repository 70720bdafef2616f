"""Validate GEOMS files: every missing or inconsistent global or variable attribute.

:func:`validate_geoms` opens a GEOMS file (HDF5 and netCDF-4 with h5py, HDF4 read-only with pyhdf, through the
GEOMS reader's raw access, i.e. before any decoding) and returns one :class:`Problem` per defect:

- a required global attribute (``PI_*``, ``DO_*``, ``DS_*``, ``DATA_*``, ``FILE_*``) missing, or empty where
  GEOMS needs a value; ``DATA_START_DATE`` / ``DATA_STOP_DATE`` / ``FILE_GENERATION_DATE`` not in the GEOMS date
  format ``YYYYMMDDTHHMMSSZ``;
- ``DATA_VARIABLES`` not listing exactly the variables of the file;
- ``DATA_START_DATE`` / ``DATA_STOP_DATE`` not matching the first and last time in the file (``DATETIME``, or
  ``DATETIME.START`` / ``DATETIME.STOP`` when present; 1 s tolerance);
- the file name not following the GEOMS convention, not matching ``FILE_NAME``, or its fields (discipline, data
  source, location, dates, version) not matching the attributes;
- per variable: a missing ``VAR_*`` attribute, ``VAR_NAME`` not the dataset's name, ``VAR_SIZE`` not matching the
  data shape, ``VAR_DEPEND`` naming an unknown variable or sizes that disagree, ``VAR_DATA_TYPE`` not matching the
  stored type, ``VAR_VALID_MIN`` > ``VAR_VALID_MAX``, data outside the valid range, a fill value that the data
  type cannot hold, a malformed ``VAR_SI_CONVERSION``, ``DATETIME`` not in MJD2K.

GEOMS reads a ``VAR_FILL_VALUE`` outside ``[VAR_VALID_MIN, VAR_VALID_MAX]`` as *missing* and one inside it as a
*default* value; a fill value inside the valid range is reported as a warning (severity ``'warning'``) because
readers then cannot tell missing data from a real value. Everything else is an ``'error'``.

Examples
--------
>>> from crac_tools.conventions.geoms_validate import validate_geoms
>>> problems = validate_geoms("groundbased_lidar.o3_..._001.hdf")  # doctest: +SKIP
>>> [str(p) for p in problems][:1]  # doctest: +SKIP
['error: DATA_VARIABLES: ...']
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CracError
from .geoms import GEOMS_TYPES, GLOBAL_ATTRIBUTES, VARIABLE_ATTRIBUTES, geoms_date, parse_geoms_date

#: Global attributes that must hold a value (the others must be present, possibly empty).
REQUIRED_VALUES = ("PI_NAME", "PI_AFFILIATION", "DATA_DISCIPLINE", "DATA_GROUP", "DATA_LOCATION", "DATA_SOURCE",
                   "DATA_VARIABLES", "DATA_START_DATE", "DATA_STOP_DATE", "DATA_FILE_VERSION", "DATA_TEMPLATE",
                   "FILE_NAME", "FILE_GENERATION_DATE", "FILE_META_VERSION")
_SCALAR_DEPEND = {"CONSTANT", "INDEPENDENT"}
_TIME_UNITS = {"MJD2K", "MJD2000"}
_NUMBER = re.compile(r"\s*[-+]?(\d+\.?\d*|\.\d+)([eEdD][-+]?\d+)?\s*\Z")


@dataclass(frozen=True)
class Problem:
    """One defect of a GEOMS file.

    Attributes
    ----------
    where
        ``'global'``, ``'file name'`` or the variable name.
    attribute
        The attribute concerned (``''`` when none).
    message
        What is wrong, with the values found.
    severity
        ``'error'`` or ``'warning'``.

    Examples
    --------
    >>> print(Problem("O3", "VAR_SIZE", "is '10' but the data shape is (496,)"))
    error: O3: VAR_SIZE is '10' but the data shape is (496,)
    """

    where: str
    attribute: str
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        head = f"{self.where}: {self.attribute}" if self.attribute else self.where
        return f"{self.severity}: {head} {self.message}"


class GeomsValidationError(CracError):
    """The file cannot be opened as a GEOMS container at all."""


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _NUMBER.match(value):
        return float(value.strip().replace("D", "E").replace("d", "e"))
    return None


def _split(text: Any) -> list[str]:
    return [t.strip() for t in str(text).split(";") if t.strip()] if isinstance(text, str) else []


def _type_of(data: np.ndarray) -> str:
    kind, size = data.dtype.kind, data.dtype.itemsize
    if kind in "SUO":
        return "STRING"
    if kind == "f":
        return "REAL" if size == 4 else "DOUBLE"
    if kind in "iu":
        return {1: "BYTE", 2: "SHORT", 4: "INTEGER"}.get(size, f"{kind}{size * 8}")
    return str(data.dtype)


def _check_globals(attrs: dict[str, Any], out: list[Problem]) -> None:
    for key in GLOBAL_ATTRIBUTES:
        if key not in attrs:
            out.append(Problem("global", key, "is missing"))
        elif not isinstance(attrs[key], str):
            out.append(Problem("global", key, f"should be a string, found {attrs[key]!r}"))
        elif key in REQUIRED_VALUES and not attrs[key].strip():
            out.append(Problem("global", key, "is empty; GEOMS needs a value"))
    for key in ("DATA_START_DATE", "DATA_STOP_DATE", "FILE_GENERATION_DATE"):
        text = _text(attrs.get(key))
        if text and text.strip():
            try:
                parse_geoms_date(text)
            except ValueError:
                out.append(Problem("global", key, f"is {text!r}, not a GEOMS date YYYYMMDDTHHMMSSZ"))
    version = _text(attrs.get("DATA_FILE_VERSION"))
    if version and version.strip() and not re.fullmatch(r"\d{3}", version.strip()):
        out.append(Problem("global", "DATA_FILE_VERSION", f"is {version!r}, expected three digits such as '001'"))
    discipline = _split(attrs.get("DATA_DISCIPLINE"))
    if discipline and len(discipline) != 3:
        out.append(Problem("global", "DATA_DISCIPLINE", f"has {len(discipline)} part(s); GEOMS expects three "
                                                        "(e.g. ATMOSPHERIC.CHEMISTRY;REMOTE.SENSING;GROUNDBASED)"))
    template = _text(attrs.get("DATA_TEMPLATE"))
    if template and template.strip() and not template.strip().startswith("GEOMS-TE-"):
        out.append(Problem("global", "DATA_TEMPLATE", f"is {template!r}, expected a GEOMS template id GEOMS-TE-..."))


def _check_variable(var, names: dict[str, Any], out: list[Problem]) -> None:  # noqa: C901 - one check per rule
    a, data, where = var.attrs, var.data, var.name
    for key in VARIABLE_ATTRIBUTES:
        if key not in a:
            out.append(Problem(where, key, "is missing"))
    vname = _text(a.get("VAR_NAME"))
    if vname is not None and vname.strip() != var.name:
        out.append(Problem(where, "VAR_NAME", f"is {vname!r} but the dataset is named {var.name!r}"))
    shape = data.shape
    size = _text(a.get("VAR_SIZE"))
    if size is not None:
        try:
            sizes = [int(s) for s in _split(size)]
        except ValueError:
            out.append(Problem(where, "VAR_SIZE", f"is {size!r}, not ';'-separated integers"))
        else:
            flat = list(shape) or [1]
            if sizes != flat and sizes != flat[::-1] and not (sizes == [1] and data.size == 1) and \
                    [s for s in sizes if s != 1] != [s for s in flat if s != 1]:
                out.append(Problem(where, "VAR_SIZE", f"is {size!r} but the data shape is {tuple(shape)}"))
    depend = _split(a.get("VAR_DEPEND"))
    if "VAR_DEPEND" in a and not depend:
        out.append(Problem(where, "VAR_DEPEND", "is empty; use CONSTANT for a scalar"))
    if depend and not (len(depend) == 1 and depend[0].upper() in _SCALAR_DEPEND):
        unknown = [d for d in depend if d not in names]
        if unknown:
            out.append(Problem(where, "VAR_DEPEND", f"names unknown variable(s) {', '.join(unknown)}"))
        else:
            dims = [names[d].data.size if d != where else data.shape[0] if data.ndim else 1 for d in depend]
            flat = list(shape)
            if dims != flat and dims != flat[::-1] and [d for d in dims if d != 1] != [s for s in flat if s != 1]:
                out.append(Problem(where, "VAR_DEPEND", f"{';'.join(depend)} gives sizes {tuple(dims)} but the data "
                                                        f"shape is {tuple(shape)}"))
    elif depend and data.size != 1:
        out.append(Problem(where, "VAR_DEPEND", f"is {depend[0]} but the variable holds {data.size} values"))
    dtype = _text(a.get("VAR_DATA_TYPE"))
    stored = _type_of(data)
    if dtype is not None:
        dtype = dtype.strip().upper()
        if dtype not in (*GEOMS_TYPES, "STRING"):
            out.append(Problem(where, "VAR_DATA_TYPE", f"is {dtype!r}, not a GEOMS type (BYTE, SHORT, INTEGER, "
                                                       "REAL, DOUBLE, STRING)"))
        elif dtype != stored:
            out.append(Problem(where, "VAR_DATA_TYPE", f"is {dtype} but the data are stored as {stored}"))
    units = _text(a.get("VAR_UNITS"))
    if where == "DATETIME" or where.startswith("DATETIME."):
        if units is not None and units.strip().upper() not in _TIME_UNITS:
            out.append(Problem(where, "VAR_UNITS", f"is {units!r}; GEOMS time is MJD2K"))
        if where == "DATETIME" and stored != "DOUBLE":
            out.append(Problem(where, "VAR_DATA_TYPE", f"DATETIME must be DOUBLE, found {stored}"))
    si = _text(a.get("VAR_SI_CONVERSION"))
    if stored != "STRING" and si is not None:
        parts = si.split(";")
        if len(parts) != 3 or _number(parts[0]) is None or _number(parts[1]) is None or not parts[2].strip():
            out.append(Problem(where, "VAR_SI_CONVERSION", f"is {si!r}, expected 'offset;factor;SI unit'"))
    if stored == "STRING":
        for key in ("VAR_VALID_MIN", "VAR_VALID_MAX", "VAR_FILL_VALUE"):
            if key in a and str(a[key]).strip():
                out.append(Problem(where, key, f"is {a[key]!r}; GEOMS wants it empty for STRING variables"))
        return
    values = {k: _number(a.get(k)) for k in ("VAR_VALID_MIN", "VAR_VALID_MAX", "VAR_FILL_VALUE")}
    for key, value in values.items():
        if key in a and value is None:
            out.append(Problem(where, key, f"is {a[key]!r}, not a number"))
    lo, hi, fill = values["VAR_VALID_MIN"], values["VAR_VALID_MAX"], values["VAR_FILL_VALUE"]
    if lo is not None and hi is not None and lo > hi:
        out.append(Problem(where, "VAR_VALID_MIN", f"{lo:g} is greater than VAR_VALID_MAX {hi:g}"))
        return
    if fill is not None and data.dtype.kind in "iu":
        info = np.iinfo(data.dtype)
        if not (info.min <= fill <= info.max and fill == round(fill)):
            out.append(Problem(where, "VAR_FILL_VALUE", f"{fill:g} cannot be stored in {stored}"))
    if data.dtype.kind not in "iuf":
        return
    values_ = data.astype("f8").ravel()
    valid = np.isfinite(values_)
    if fill is not None:
        valid &= values_ != np.asarray(fill).astype(data.dtype).astype("f8")
    if lo is not None and hi is not None:
        bad = valid & ((values_ < np.float64(np.asarray(lo).astype(data.dtype))) |
                       (values_ > np.float64(np.asarray(hi).astype(data.dtype))))
        if bad.any():
            out.append(Problem(where, "VAR_VALID_MIN", f"{int(bad.sum())} value(s) outside the valid range "
                                                       f"[{lo:g}, {hi:g}] that are not the fill value "
                                                       f"(e.g. {values_[bad][0]:g})"))
        if fill is not None and lo <= fill <= hi:
            out.append(Problem(where, "VAR_FILL_VALUE", f"{fill:g} lies inside the valid range [{lo:g}, {hi:g}]: "
                                                        "GEOMS reads it as a default value, not as missing",
                               "warning"))


def _time_extreme(var, pick) -> Any:
    from ..formats.geoms import mjd2k_to_datetime

    fill = _number(var.attrs.get("VAR_FILL_VALUE"))
    t = mjd2k_to_datetime(np.asarray(var.data, "f8").ravel(), fill)
    t = t[~np.isnat(t)]
    return None if not t.size else (t.min() if pick == "min" else t.max())


def _check_dates(attrs: dict[str, Any], names: dict[str, Any], out: list[Problem]) -> None:
    if "DATETIME" not in names:
        out.append(Problem("DATETIME", "", "is missing: GEOMS files hold their time as DATETIME (MJD2K)"))
        return
    for key, var, pick in (("DATA_START_DATE", names.get("DATETIME.START", names["DATETIME"]), "min"),
                           ("DATA_STOP_DATE", names.get("DATETIME.STOP", names["DATETIME"]), "max")):
        text = _text(attrs.get(key))
        if not text or var.data.dtype.kind not in "iuf":
            continue
        try:
            date = parse_geoms_date(text)
        except ValueError:
            continue
        t = _time_extreme(var, pick)
        if t is None:
            out.append(Problem(var.name, "", "has no valid time"))
            continue
        gap = abs((np.datetime64(date, "ns") - t) / np.timedelta64(1, "s"))
        if gap > 1.0:
            out.append(Problem("global", key, f"is {text} but the {'first' if pick == 'min' else 'last'} "
                                              f"{var.name} is {geoms_date(t)} ({gap:.0f} s apart)"))


def _check_name(path: Path, attrs: dict[str, Any], out: list[Problem]) -> None:
    from .naming import NamingError, parse_name

    file_name = _text(attrs.get("FILE_NAME"))
    if file_name is not None and file_name.strip() and file_name.strip() != path.name:
        out.append(Problem("global", "FILE_NAME", f"is {file_name.strip()!r} but the file is named {path.name!r}"))
    try:
        fields = parse_name(path.name, "geoms")
    except NamingError as exc:
        out.append(Problem("file name", "", f"does not follow the GEOMS convention: {exc}"))
        return
    discipline = _split(attrs.get("DATA_DISCIPLINE"))
    expected = {
        "discipline": (discipline[-1].lower() if discipline else None, "DATA_DISCIPLINE"),
        "data_source": (str(attrs.get("DATA_SOURCE", "")).strip().lower(), "DATA_SOURCE"),
        "location": (str(attrs.get("DATA_LOCATION", "")).strip().lower(), "DATA_LOCATION"),
    }
    for field_, (value, key) in expected.items():
        if value is not None and fields[field_] != value:
            out.append(Problem("file name", key, f"field {fields[field_]!r} does not match {key} ({value!r})"))
    for field_, key in (("start", "DATA_START_DATE"), ("stop", "DATA_STOP_DATE")):
        text = _text(attrs.get(key))
        try:
            if text and parse_geoms_date(text) != fields[field_]:
                out.append(Problem("file name", key, f"date {fields[field_]:%Y%m%dT%H%M%SZ} does not match "
                                                     f"{key} ({text})"))
        except ValueError:
            pass
    version = _text(attrs.get("DATA_FILE_VERSION"))
    if version and version.strip().isdigit() and int(version) != fields["version"]:
        out.append(Problem("file name", "DATA_FILE_VERSION", f"version {fields['version']:03d} does not match "
                                                             f"DATA_FILE_VERSION ({version.strip()})"))


def validate_geoms(path: str | os.PathLike, check_name: bool = True) -> list[Problem]:
    """Every missing or inconsistent attribute of a GEOMS file (empty list: the file is clean).

    Parameters
    ----------
    path
        A GEOMS HDF5, netCDF-4 or HDF4 file (HDF4 needs pyhdf; it is only read).
    check_name
        Also check the file name against the GEOMS convention and ``FILE_NAME``.

    Returns
    -------
    list of Problem
        Errors first, then warnings; each names the variable (or ``global`` / ``file name``) and attribute.

    Raises
    ------
    GeomsValidationError
        The file is not an HDF4 / HDF5 / netCDF-4 file or cannot be read.

    Examples
    --------
    >>> problems = validate_geoms("archive/products/x.h5")  # doctest: +SKIP
    >>> [p for p in problems if p.severity == "error"]  # doctest: +SKIP
    []
    """
    from ..formats.geoms import _join_chars, _read_raw

    path = Path(path)
    try:
        raw = _read_raw(path)
    except CracError as exc:
        raise GeomsValidationError(f"{path}: {exc}") from None
    attrs = {k: v for k, v in raw.attrs.items() if v is not None}
    out: list[Problem] = []
    _check_globals(attrs, out)
    for var in raw.variables:
        if var.data.dtype.kind in "SU":
            var.data = _join_chars(var.data)
    names = {v.name: v for v in raw.variables}
    listed = _split(attrs.get("DATA_VARIABLES"))
    if "DATA_VARIABLES" in attrs:
        missing = [n for n in listed if n not in names]
        extra = [n for n in names if n not in listed]
        if missing:
            out.append(Problem("global", "DATA_VARIABLES", f"lists {', '.join(missing)} but the file has no such "
                                                           "variable"))
        if extra:
            out.append(Problem("global", "DATA_VARIABLES", f"does not list the variable(s) {', '.join(extra)}"))
        dups = sorted({n for n in listed if listed.count(n) > 1})
        if dups:
            out.append(Problem("global", "DATA_VARIABLES", f"lists {', '.join(dups)} more than once"))
    for var in raw.variables:
        _check_variable(var, names, out)
    _check_dates(attrs, names, out)
    if check_name:
        _check_name(path, attrs, out)
    return sorted(out, key=lambda p: p.severity != "error")


__all__ = ["GeomsValidationError", "Problem", "REQUIRED_VALUES", "validate_geoms"]
