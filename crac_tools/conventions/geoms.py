"""GEOMS mode: structure a dataset as a GEOMS file and write it (HDF5, or netCDF-4 on request).

GEOMS (Generic Earth Observation Metadata Standard, used by NDACC, TOLNet and EVDC) files hold global attributes
``PI_*``, ``DO_*``, ``DS_*``, ``DATA_*`` and ``FILE_*`` (all strings) and one dataset per variable, each with the
``VAR_*`` attributes ``VAR_NAME``, ``VAR_DESCRIPTION``, ``VAR_NOTES``, ``VAR_SIZE``, ``VAR_DEPEND``,
``VAR_DATA_TYPE``, ``VAR_UNITS``, ``VAR_SI_CONVERSION``, ``VAR_VALID_MIN``, ``VAR_VALID_MAX`` and
``VAR_FILL_VALUE`` (the last three in the variable's own type). Time is ``DATETIME`` in MJD2K (float64 days since
2000-01-01T00:00:00 UTC); the instrument position is ``LATITUDE.INSTRUMENT``, ``LONGITUDE.INSTRUMENT`` and
``ALTITUDE.INSTRUMENT``; ``VAR_DEPEND`` names the dimensions (``DATETIME``, ``DATETIME;ALTITUDE``, ``CONSTANT``).

:func:`to_geoms` builds that structure as an :class:`xarray.Dataset` (raw values with fill values, MJD2K time,
every ``VAR_*`` attribute) from a reader or pipeline dataset, taking attribute values, in increasing precedence,
from defaults, the dataset's own attributes (a GEOMS file read back keeps its ``VAR_*`` and global attributes),
the project and station configuration, a GEOMS metadata template (:func:`~crac_tools.formats.geoms_template.
read_geoms_template`) and the ``attrs`` argument. Variable names come from the column's ``geoms_name`` attribute
(station config ``columns: {T: {attrs: {geoms_name: TEMPERATURE.SURFACE}}}``), a ``VAR_NAME`` attribute, a
template variable of the same name, or the upper-cased, sanitized column name. :func:`write_geoms` writes it
(atomically) to HDF5 with h5py or to netCDF-4, named by the GEOMS convention
(``<discipline>_<data source>_<location>_<start>z_<stop>z_<version>.h5``).

Examples
--------
>>> import numpy as np, pandas as pd, xarray as xr
>>> ds = xr.Dataset({"T": ("time", np.array([1.5, np.nan], "f4"), {"units": "degC"})},
...                 coords={"time": pd.date_range("2024-01-01", periods=2, freq="h")})
>>> g = to_geoms(ds, attrs={"DATA_SOURCE": "THERMOMETER_DEMO001", "DATA_LOCATION": "DEMO"})
>>> list(g.variables)
['DATETIME', 'LATITUDE.INSTRUMENT', 'LONGITUDE.INSTRUMENT', 'ALTITUDE.INSTRUMENT', 'T']
>>> g["T"].attrs["VAR_SI_CONVERSION"], bool(g["T"].values[1] == g["T"].attrs["VAR_FILL_VALUE"])
('273.15;1.0;K', True)
>>> g.attrs["FILE_NAME"]
'groundbased_thermometer_demo001_demo_20240101t000000z_20240101t010000z_001.h5'
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import CracError
from ..formats.geoms import MJD2K_EPOCH
from ..formats.geoms_template import GeomsTemplate
from .naming import NamingError, format_name
from .units import to_udunits

#: The global attributes every GEOMS file carries, in the GEOMS order.
GLOBAL_ATTRIBUTES = (
    "PI_NAME", "PI_AFFILIATION", "PI_ADDRESS", "PI_EMAIL",
    "DO_NAME", "DO_AFFILIATION", "DO_ADDRESS", "DO_EMAIL",
    "DS_NAME", "DS_AFFILIATION", "DS_ADDRESS", "DS_EMAIL",
    "DATA_DESCRIPTION", "DATA_DISCIPLINE", "DATA_GROUP", "DATA_LOCATION", "DATA_SOURCE", "DATA_VARIABLES",
    "DATA_START_DATE", "DATA_STOP_DATE", "DATA_FILE_VERSION", "DATA_MODIFICATIONS", "DATA_CAVEATS",
    "DATA_RULES_OF_USE", "DATA_ACKNOWLEDGEMENT", "DATA_QUALITY", "DATA_TEMPLATE", "DATA_PROCESSOR",
    "FILE_NAME", "FILE_GENERATION_DATE", "FILE_ACCESS", "FILE_PROJECT_ID", "FILE_ASSOCIATION", "FILE_DOI",
    "FILE_META_VERSION",
)
#: The attributes every GEOMS variable carries, in the GEOMS order.
VARIABLE_ATTRIBUTES = ("VAR_NAME", "VAR_DESCRIPTION", "VAR_NOTES", "VAR_SIZE", "VAR_DEPEND", "VAR_DATA_TYPE",
                       "VAR_UNITS", "VAR_SI_CONVERSION", "VAR_VALID_MIN", "VAR_VALID_MAX", "VAR_FILL_VALUE")
_PREFIXES = ("PI_", "DO_", "DS_", "DATA_", "FILE_")
#: GEOMS data types <-> numpy dtypes.
GEOMS_TYPES = {"BYTE": np.dtype("i1"), "SHORT": np.dtype("i2"), "INTEGER": np.dtype("i4"),
               "REAL": np.dtype("f4"), "DOUBLE": np.dtype("f8")}
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
DEFAULT_TEMPLATE = "GEOMS-TE-CUSTOM-001"
DEFAULT_META_VERSION = "04R032;CRAC.TOOLS"
_NS_PER_DAY = 86_400 * 10**9
_FLOAT_FILL = -9.99e19
_POSITION = {  # name, description, units, SI conversion, valid min, valid max
    "LATITUDE.INSTRUMENT": ("Instrument geolocation (+ for north; - for south)", "deg", "0.0;1.74533E-2;rad",
                            -90.0, 90.0),
    "LONGITUDE.INSTRUMENT": ("Instrument geolocation (+ for east; - for west)", "deg", "0.0;1.74533E-2;rad",
                             -180.0, 180.0),
    "ALTITUDE.INSTRUMENT": ("Instrument altitude above sea level", "m", "0.0;1.0;m", -500.0, 20000.0),
}
_POSITION_ALIASES = {"LATITUDE.INSTRUMENT": ("lat", "latitude", "LATITUDE"),
                     "LONGITUDE.INSTRUMENT": ("lon", "longitude", "LONGITUDE"),
                     "ALTITUDE.INSTRUMENT": ("alt", "altitude")}
_GEOMS_UNITS = {"degree": "deg", "percent": "%", "1e-6": "ppmv", "1e-9": "ppbv", "1e-12": "pptv", "hour": "h"}


class GeomsError(CracError, ValueError):
    """A dataset cannot be structured or written as a GEOMS file."""


# ------------------------------------------------------------------------------------------- helpers
def datetime_to_mjd2k(times: Any) -> np.ndarray:
    """datetime64 values -> MJD2K days (float64); NaT -> NaN.

    Examples
    --------
    >>> datetime_to_mjd2k(np.array(["2000-01-02T06:00", "NaT"], "datetime64[ns]"))
    array([1.25,  nan])
    """
    t = np.asarray(times).astype("datetime64[ns]")
    bad = np.isnat(t)
    ns = (t - MJD2K_EPOCH).astype("timedelta64[ns]").astype(np.int64)
    whole, rest = np.divmod(ns, _NS_PER_DAY)
    out = whole.astype(np.float64) + rest.astype(np.float64) / _NS_PER_DAY
    return np.where(bad, np.nan, out)


def geoms_date(t: Any) -> str:
    """A time in the GEOMS date format ``YYYYMMDDTHHMMSSZ`` (UTC, rounded to the nearest second).

    Rounding (not truncation) absorbs the float noise of MJD2K values (17:58:29.997 is 17:58:30).

    Examples
    --------
    >>> geoms_date(np.datetime64("2018-09-04T17:58:29.997"))
    '20180904T175830Z'
    """
    return pd.Timestamp(t).round("s").strftime(DATE_FORMAT)


def parse_geoms_date(text: str) -> pd.Timestamp:
    """Parse a GEOMS date ``YYYYMMDDTHHMMSSZ``; raises :class:`ValueError` for other spellings.

    Examples
    --------
    >>> parse_geoms_date("20180904T175830Z")
    Timestamp('2018-09-04 17:58:30')
    """
    return pd.Timestamp(dt.datetime.strptime(text.strip(), DATE_FORMAT))


def geoms_variable_name(name: str) -> str:
    """A sanitized upper-case GEOMS variable name (letters, digits, ``.`` and ``_``).

    Examples
    --------
    >>> geoms_variable_name("AirT_Max"), geoms_variable_name("CO2 (dry)")
    ('AIRT_MAX', 'CO2_DRY')
    """
    text = re.sub(r"[^A-Z0-9._]+", "_", str(name).upper()).strip("_.")
    return text or "VARIABLE"


def geoms_data_type(dtype: Any) -> str:
    """The GEOMS ``VAR_DATA_TYPE`` of a numpy dtype (strings: ``STRING``).

    Examples
    --------
    >>> geoms_data_type("f4"), geoms_data_type("i4"), geoms_data_type("i8"), geoms_data_type("U3")
    ('REAL', 'INTEGER', 'DOUBLE', 'STRING')
    """
    d = np.dtype(dtype)
    if d.kind in "SUO":
        return "STRING"
    if d.kind == "M":
        return "DOUBLE"
    if d.kind == "b":
        return "BYTE"
    if d.kind == "f":
        return "REAL" if d.itemsize <= 4 else "DOUBLE"
    if d.kind in "iu":
        size = d.itemsize + (d.kind == "u")
        return "BYTE" if size == 1 else "SHORT" if size == 2 else "INTEGER" if size <= 4 else "DOUBLE"
    raise GeomsError(f"dtype {d} has no GEOMS data type")


def geoms_units(units: str | None) -> str:
    """A unit spelling for ``VAR_UNITS``: the UDUNITS form when known (``deg``, ``%`` and ``ppmv`` kept GEOMS-style).

    Examples
    --------
    >>> geoms_units("Deg C"), geoms_units("degs"), geoms_units("none"), geoms_units(None)
    ('degC', 'deg', '1', '1')
    """
    if units is None or not str(units).strip():
        return "1"
    good = to_udunits(str(units))
    if good is None and str(units).strip().lower() in ("degs", "degrees e", "degrees n"):
        good = "degree"
    if good is None:
        return str(units).strip()
    return _GEOMS_UNITS.get(good, good)


def si_conversion(units: str | None) -> str:
    """GEOMS ``VAR_SI_CONVERSION`` (``offset;factor;SI unit``, SI = (value + offset) * factor) of a unit.

    Returns ``''`` when the unit is not known to UDUNITS.

    Examples
    --------
    >>> si_conversion("degC"), si_conversion("hPa"), si_conversion("deg"), si_conversion("MJD2K")
    ('273.15;1.0;K', '0.0;100.0;m-1 kg s-2', '0.0;0.0174533;rad', '0.0;86400.0;s')
    >>> si_conversion("widgets")
    ''
    """
    if units is None:
        return "0.0;1.0;1"
    text = str(units).strip()
    if text.upper() in ("MJD2K", "MJD2000"):
        return "0.0;86400.0;s"
    good = to_udunits(text) or ("degree" if text == "deg" else "percent" if text == "%" else text)
    try:
        import cf_units

        unit = cf_units.Unit(good)
        definition = unit.definition or "1"
        base = re.sub(r"^[-+0-9.eE]+(\s+|$)", "", definition.split("@")[0].strip()).strip() or "1"
        y0 = float(unit.convert(0.0, cf_units.Unit(base)))
        y1 = float(unit.convert(1.0, cf_units.Unit(base)))
    except (ImportError, ValueError, TypeError):
        return ""
    factor = y1 - y0
    if factor == 0:
        return ""
    offset = y0 / factor
    return f"{_num(offset)};{_num(factor)};{base.replace('.', ' ')}"


def _num(x: float) -> str:
    text = f"{x:.6g}"
    return text + ".0" if re.fullmatch(r"-?\d+", text) else text


def _text_attr(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes | np.bytes_):
        value = bytes(value).decode("utf-8", "replace")
    if isinstance(value, np.ndarray):
        value = ";".join(str(v) for v in value.ravel())
    return str(value).strip()


def _kept(base: dict[str, Any], key: str, blank: bool = False) -> str:
    """A text ``VAR_*`` attribute exactly as given (a GEOMS file or template); blank ones only when ``blank``."""
    value = base.get(key)
    if isinstance(value, bytes | np.bytes_):
        value = bytes(value).decode("utf-8", "replace")
    if not isinstance(value, str) or (not value.strip() and not blank):
        return ""
    return value


def _last_first(name: str) -> str:
    """``John Doe`` -> ``Doe;John`` (GEOMS name order); names already holding ``;`` are kept."""
    name = name.strip()
    if ";" in name or not name:
        return name
    if "," in name:
        last, _, first = name.partition(",")
        return f"{last.strip()};{first.strip()}"
    parts = name.split()
    return f"{parts[-1]};{' '.join(parts[:-1])}" if len(parts) > 1 else name


def _acronym(institution: str) -> str:
    words = re.findall(r"[A-Za-z]+", institution)
    caps = "".join(w[0] for w in words if w[0].isupper())
    return caps or institution.upper()


def _token(text: str) -> str:
    """A GEOMS name token: upper case, words joined with ``.``."""
    return re.sub(r"[^A-Z0-9]+", ".", str(text).upper()).strip(".")


def _fill_for(dtype: np.dtype, lo: float | None, hi: float | None) -> Any:
    if dtype.kind == "f":
        return dtype.type(_FLOAT_FILL)
    info = np.iinfo(dtype)
    for cand in (-9999, -99, info.min):
        if info.min <= cand and not (lo is not None and hi is not None and lo <= cand <= hi):
            return dtype.type(cand)
    return dtype.type(info.min)


def _cast(value: Any, dtype: np.dtype) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(str(value).replace("D", "E").replace("d", "e")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not np.isfinite(number) or not info.min <= number <= info.max:
            return None
        return dtype.type(round(number))
    return dtype.type(number)


# --------------------------------------------------------------------------------------- to_geoms
def _source_name(name: str, var: xr.DataArray, template: GeomsTemplate | None) -> str:
    for key in ("geoms_name", "VAR_NAME"):
        value = var.attrs.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    if template is not None:
        for tname in template.variables:
            if tname.upper() == str(name).upper():
                return tname
    return geoms_variable_name(name)


def _global_defaults(ds: xr.Dataset, station, project) -> dict[str, str]:
    a = ds.attrs
    info = getattr(getattr(project, "config", None), "project", None) or project
    pi = getattr(info, "pi", None) or a.get("creator_name") or a.get("originator") or a.get("PI_NAME") or "unknown"
    institution = (getattr(info, "institution", None) or a.get("institution") or a.get("organization")
                   or a.get("PI_AFFILIATION") or "unknown")
    email = getattr(info, "pi_email", None) or a.get("creator_email") or ""
    affiliation = institution if ";" in institution or institution == "unknown" else \
        f"{institution};{_acronym(institution)}"
    out = {}
    for role in ("PI", "DO", "DS"):
        out.update({f"{role}_NAME": _last_first(str(pi)), f"{role}_AFFILIATION": affiliation,
                    f"{role}_ADDRESS": "", f"{role}_EMAIL": str(email)})
    instrument = (station.instruments[0].model or station.instruments[0].name) if station and station.instruments \
        else a.get("logger_model") or a.get("instrument") or a.get("file_format") or "INSTRUMENT"
    site = (station.id if station else a.get("station_id") or a.get("station_name") or a.get("PLATFORM")
            or "STATION")
    location = (station.name or station.id) if station else a.get("station_name") or a.get("LOCATION") or site
    title = getattr(info, "title", None) or getattr(info, "name", None) or a.get("title")
    out.update({
        "DATA_DESCRIPTION": str(a.get("summary") or title or f"{instrument} records of {location}"),
        "DATA_DISCIPLINE": "ATMOSPHERIC.PHYSICS;IN.SITU;GROUNDBASED",
        "DATA_GROUP": "EXPERIMENTAL;SCALAR.STATIONARY",
        "DATA_LOCATION": _token(str(location))[:60] or "UNKNOWN",
        "DATA_SOURCE": f"{_token(str(instrument)) or 'INSTRUMENT'}_{_token(str(site)) or 'STATION'}",
        "DATA_MODIFICATIONS": "", "DATA_CAVEATS": "",
        "DATA_RULES_OF_USE": str(getattr(info, "license", None) or a.get("license") or ""),
        "DATA_ACKNOWLEDGEMENT": str(getattr(info, "acknowledgement", None) or a.get("acknowledgement") or ""),
        "DATA_QUALITY": str(getattr(info, "processing_level", None) or a.get("processing_level") or ""),
        "DATA_TEMPLATE": DEFAULT_TEMPLATE,
        "DATA_PROCESSOR": f"crac_tools {_crac_version()}",
        "FILE_ACCESS": str(getattr(info, "name", None) or a.get("project") or "CRAC"),
        "FILE_PROJECT_ID": "", "FILE_ASSOCIATION": "", "FILE_DOI": "",
        "FILE_META_VERSION": DEFAULT_META_VERSION,
    })
    return out


def _crac_version() -> str:
    from .. import __version__

    return __version__


def _aliases(ds: xr.Dataset, name: str) -> list[str]:
    """Variables of ``ds`` that hold the instrument position ``name`` (case-insensitive aliases)."""
    wanted = [a.lower() for a in (name, *_POSITION_ALIASES[name])]
    names = {str(n).lower(): str(n) for n in ds.variables}
    return [names[w] for w in wanted if w in names]


def _position(ds: xr.Dataset, station, name: str) -> tuple[Any, tuple[str, ...]] | None:
    """The instrument position: from the station config (scalar), or the dataset (scalar or along time)."""
    if station is not None:
        loc = station.location
        value = {"LATITUDE.INSTRUMENT": loc.lat, "LONGITUDE.INSTRUMENT": loc.lon, "ALTITUDE.INSTRUMENT": loc.alt}[name]
        if name == "LONGITUDE.INSTRUMENT" and value > 180:
            value -= 360.0
        return np.float32(value), ()
    for alias in _aliases(ds, name):
        if ds[alias].dtype.kind in "iuf" and set(ds[alias].dims) <= {"time"}:
            values = ds[alias].values.astype("f4")
            units = str(ds[alias].attrs.get("units", ""))
            if alias != name and name == "ALTITUDE.INSTRUMENT" and units.lower() == "km":
                values = values * np.float32(1000)
            if name == "LONGITUDE.INSTRUMENT":
                values = np.where(values > 180, values - 360, values).astype("f4")
            return values, tuple("DATETIME" if d == "time" else d for d in ds[alias].dims)
    return None


def to_geoms(ds: xr.Dataset, template: GeomsTemplate | str | os.PathLike | None = None, station=None,
             attrs: dict[str, Any] | None = None, project=None, version: int = 1,
             fmt: Literal["hdf5", "netcdf4"] = "hdf5") -> xr.Dataset:
    """Structure ``ds`` as a GEOMS dataset: GEOMS names, MJD2K ``DATETIME``, fill values, all GEOMS attributes.

    Parameters
    ----------
    ds
        A reader or pipeline dataset with a ``time`` coordinate (a GEOMS file read back works too).
    template
        A GEOMS metadata template (or its path): its global attributes and, for variables of the same GEOMS
        name, its ``VAR_*`` attributes (description, units, valid range, fill value, data type ...) are used.
    station
        A :class:`~crac_tools.config.StationConfig`: instrument position, ``DATA_LOCATION`` / ``DATA_SOURCE``
        defaults; GEOMS-named keys in its ``attrs`` (``PI_ADDRESS: ...``) become global attributes.
    attrs
        Global attributes that override everything else (``DATA_DISCIPLINE``, ``DATA_SOURCE`` ...).
    project
        A :class:`~crac_tools.config.Project` (or its ``ProjectInfo``): PI, e-mail, institution, licence.
    version
        ``DATA_FILE_VERSION`` (three digits in the file name).
    fmt
        The container the file will be written in (``h5`` or ``nc`` extension of ``FILE_NAME``).

    Returns
    -------
    xarray.Dataset
        One data variable per GEOMS variable (``DATETIME`` first, values with fill values, no NaN), dimensions
        named as in ``VAR_DEPEND``, and every GEOMS global and variable attribute.

    Raises
    ------
    GeomsError
        No ``time`` coordinate, or no valid time.

    Examples
    --------
    >>> ds = xr.Dataset({"p": ("time", np.array([1013.2], "f4"), {"units": "hPa", "geoms_name": "PRESSURE"})},
    ...                 coords={"time": [np.datetime64("2000-01-02T12:00")]})
    >>> g = to_geoms(ds, attrs={"DATA_SOURCE": "BARO_X001", "DATA_LOCATION": "HERE"})
    >>> float(g["DATETIME"].values[0]), g["PRESSURE"].attrs["VAR_DEPEND"], g.attrs["DATA_VARIABLES"].split(";")[-1]
    (1.5, 'DATETIME', 'PRESSURE')
    """
    if template is not None and not isinstance(template, GeomsTemplate):
        from ..formats.geoms_template import read_geoms_template

        template = read_geoms_template(template)
    if "time" not in ds.coords:
        raise GeomsError("a GEOMS dataset needs a 'time' coordinate (it becomes DATETIME)")
    times = ds["time"].values.astype("datetime64[ns]")
    if times.size == 0 or np.isnat(times).all():
        raise GeomsError("the dataset has no valid time")
    tvars = template.variables if template is not None else {}

    out: dict[str, xr.Variable] = {}
    order: list[str] = []

    def add(gname: str, dims: tuple[str, ...], values: np.ndarray, source: dict[str, Any], units: str | None,
            description: str, notes: str = "") -> None:
        if gname in out:
            i = 2
            while f"{gname}_{i}" in out:
                i += 1
            gname = f"{gname}_{i}"
        base = {k: v for k, v in source.items() if k.startswith("VAR_")}
        base.update(tvars.get(gname, {}))
        values = np.asarray(values)
        is_time = values.dtype.kind == "M" or str(base.get("VAR_UNITS", units or "")).upper() in ("MJD2K",
                                                                                               "MJD2000")
        if values.dtype.kind == "M":
            values = datetime_to_mjd2k(values)
        if values.dtype.kind in "SUO":
            dtype, kind = None, "STRING"
        else:
            kind = str(base.get("VAR_DATA_TYPE", "")).strip().upper()
            if kind not in GEOMS_TYPES:
                kind = "DOUBLE" if is_time else geoms_data_type(values.dtype)
                if values.dtype.kind in "iu" and kind == "DOUBLE" and (values.size == 0 or (
                        values.min() >= -(2**31) + 1 and values.max() < 2**31)):
                    kind = "INTEGER"
            dtype = GEOMS_TYPES[kind]
        vattrs: dict[str, Any] = {"VAR_NAME": gname}
        vattrs["VAR_DESCRIPTION"] = _kept(base, "VAR_DESCRIPTION") or description or gname
        vattrs["VAR_NOTES"] = _kept(base, "VAR_NOTES", blank=True) or notes
        vattrs["VAR_SIZE"] = ";".join(str(n) for n in values.shape) or "1"
        vattrs["VAR_DEPEND"] = ";".join(dims) or "CONSTANT"
        vattrs["VAR_DATA_TYPE"] = kind
        vattrs["VAR_UNITS"] = "MJD2K" if is_time else _kept(base, "VAR_UNITS", blank=kind == "STRING") or \
            geoms_units(units)
        vattrs["VAR_SI_CONVERSION"] = _kept(base, "VAR_SI_CONVERSION", blank=kind == "STRING") or \
            si_conversion(vattrs["VAR_UNITS"])
        if dtype is None:
            text = np.array(["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
                             for v in values.ravel()], dtype=str).reshape(values.shape)
            vattrs.update(VAR_VALID_MIN="", VAR_VALID_MAX="", VAR_FILL_VALUE="")
            out[gname] = xr.Variable(dims, text, vattrs)
            order.append(gname)
            return
        finite = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
        fill = _cast(base.get("VAR_FILL_VALUE"), dtype)
        lo = _cast(base.get("VAR_VALID_MIN", source.get("valid_min")), dtype)
        hi = _cast(base.get("VAR_VALID_MAX", source.get("valid_max")), dtype)
        if lo is None and finite.size:
            lo = dtype.type(np.floor(finite.min()) if is_time else finite.min())
        if hi is None and finite.size:
            hi = dtype.type(np.ceil(finite.max()) if is_time else finite.max())
        lo = dtype.type(0) if lo is None else lo
        hi = dtype.type(0) if hi is None else hi
        if fill is None:
            fill = dtype.type(-9999.0) if is_time and not lo <= -9999 <= hi else _fill_for(dtype, lo, hi)
        data = values
        if values.dtype.kind == "f":
            missing = ~np.isfinite(values)
            data = np.where(missing, 0, values)
            if dtype.kind in "iu":
                data = np.rint(data)
            data = data.astype(dtype)
            data[missing] = fill
        elif values.dtype.kind == "b":
            data = values.astype(dtype)
        else:
            data = values.astype(dtype)
        vattrs.update(VAR_VALID_MIN=lo, VAR_VALID_MAX=hi, VAR_FILL_VALUE=fill)
        out[gname] = xr.Variable(dims, data, vattrs)
        order.append(gname)

    # time
    tattrs = dict(ds["time"].attrs)
    add("DATETIME", ("DATETIME",), times, {k: v for k, v in tattrs.items() if k.startswith("VAR_")} | {
        "VAR_DATA_TYPE": "DOUBLE", "VAR_UNITS": "MJD2K"}, "MJD2K",
        _text_attr(tattrs.get("VAR_DESCRIPTION")) or "Date and time of the measurement (MJD2K: days since "
                                                     "2000-01-01T00:00:00 UTC)")
    # instrument position
    used: set[str] = {"time"}
    for pname, (desc, units, si, vmin, vmax) in _POSITION.items():
        found = _position(ds, station, pname)
        src: dict[str, Any] = {"VAR_SI_CONVERSION": si, "VAR_VALID_MIN": vmin, "VAR_VALID_MAX": vmax,
                               "VAR_FILL_VALUE": -999.0, "VAR_DATA_TYPE": "REAL"}
        for alias in _aliases(ds, pname):
            if found is None or found[1] or station is None:
                src.update({k: v for k, v in ds[alias].attrs.items() if k.startswith("VAR_")})
                if found is not None and station is None:
                    used.add(alias)
                break
        if found is None:
            found = (np.float32(np.nan), ())
        add(pname, found[1], np.asarray(found[0]), src, units, desc)
    # coordinates other than time (ALTITUDE ...): independent variables
    dim_names: dict[str, str] = {"time": "DATETIME"}
    for dim in ds.dims:
        if dim == "time":
            continue
        gname = _source_name(str(dim), ds[dim], template) if dim in ds.variables else geoms_variable_name(dim)
        dim_names[str(dim)] = gname
        if dim in ds.variables:
            var = ds[dim]
            add(gname, (gname,), var.values, dict(var.attrs), var.attrs.get("units"),
                str(var.attrs.get("long_name", gname)))
        else:
            add(gname, (gname,), np.arange(ds.sizes[dim], dtype="i4"), {}, "1", f"index along {dim}")
        used.add(str(dim))
    for name, var in list(ds.data_vars.items()) + [(c, ds[c]) for c in ds.coords if c not in ds.dims]:
        if name in used or str(name) in ("station_id",) or (station is not None and str(name) in ("lat", "lon",
                                                                                                  "alt")):
            continue
        if var.dtype.kind not in "iufbMSUO":
            continue
        gname = _source_name(str(name), var, template)
        dims = tuple(dim_names[str(d)] for d in var.dims)
        if var.dtype.kind == "O":
            values = np.array([str(v) if v is not None else "" for v in var.values.ravel()],
                              dtype=str).reshape(var.shape)
        else:
            values = var.values
        notes = str(var.attrs.get("comment", ""))
        add(gname, dims, values, dict(var.attrs), var.attrs.get("units"), str(var.attrs.get("long_name", name)),
            notes)

    # global attributes
    g = _global_defaults(ds, station, project)
    g.update({k: _text_attr(v) for k, v in ds.attrs.items() if k.startswith(_PREFIXES)})
    if station is not None:
        g.update({k: _text_attr(v) for k, v in station.attrs.items() if str(k).startswith(_PREFIXES)})
    if template is not None:
        g.update({k: v for k, v in template.global_attributes.items() if v.strip()})
    g.update({k: _text_attr(v) for k, v in (attrs or {}).items()})
    t_start = out["DATETIME.START"].values if "DATETIME.START" in out else out["DATETIME"].values
    t_stop = out["DATETIME.STOP"].values if "DATETIME.STOP" in out else out["DATETIME"].values
    start = _mjd_extreme(t_start, out["DATETIME"].attrs, min)
    stop = _mjd_extreme(t_stop, out["DATETIME"].attrs, max)
    g["DATA_VARIABLES"] = ";".join(order)
    g["DATA_START_DATE"] = geoms_date(start)
    g["DATA_STOP_DATE"] = geoms_date(stop)
    g["DATA_FILE_VERSION"] = f"{int(version):03d}"
    g["FILE_GENERATION_DATE"] = dt.datetime.now(dt.UTC).strftime(DATE_FORMAT)
    g["FILE_NAME"] = geoms_file_name(g, fmt)
    ordered = {k: g.get(k, "") for k in GLOBAL_ATTRIBUTES}
    ordered.update({k: v for k, v in g.items() if k not in ordered})
    return xr.Dataset({k: out[k] for k in order}, attrs=ordered)


def _mjd_extreme(values: np.ndarray, attrs: dict, pick) -> np.datetime64:
    from ..formats.geoms import mjd2k_to_datetime

    t = mjd2k_to_datetime(np.asarray(values, "f8"), float(attrs["VAR_FILL_VALUE"]))
    t = t[~np.isnat(t)]
    if not t.size:
        raise GeomsError("the dataset has no valid time")
    return t.min() if pick is min else t.max()


def geoms_file_name(attrs: dict[str, str], fmt: str = "hdf5") -> str:
    """The GEOMS file name of a file with these global attributes (``h5`` or ``nc`` by ``fmt``).

    Raises
    ------
    GeomsError
        ``DATA_DISCIPLINE`` / ``DATA_SOURCE`` / ``DATA_LOCATION`` do not give a valid GEOMS name.

    Examples
    --------
    >>> geoms_file_name({"DATA_DISCIPLINE": "ATMOSPHERIC.CHEMISTRY;REMOTE.SENSING;GROUNDBASED",
    ...                  "DATA_SOURCE": "LIDAR.O3_UAH001", "DATA_LOCATION": "HUNTSVILLE.AL",
    ...                  "DATA_START_DATE": "20180904T175830Z", "DATA_STOP_DATE": "20180904T190354Z",
    ...                  "DATA_FILE_VERSION": "001"}, "hdf5")
    'groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.h5'
    """
    parts = [p.strip() for p in str(attrs.get("DATA_DISCIPLINE", "")).split(";")]
    try:
        return format_name("geoms", discipline=(parts[2] if len(parts) > 2 else parts[-1]).lower(),
                           data_source=str(attrs.get("DATA_SOURCE", "")).lower(),
                           location=str(attrs.get("DATA_LOCATION", "")).lower(),
                           start=parse_geoms_date(attrs["DATA_START_DATE"]),
                           stop=parse_geoms_date(attrs["DATA_STOP_DATE"]),
                           version=int(attrs.get("DATA_FILE_VERSION") or 1),
                           ext="nc" if fmt == "netcdf4" else "h5")
    except (NamingError, KeyError, ValueError) as exc:
        raise GeomsError(f"cannot name the GEOMS file from DATA_DISCIPLINE={attrs.get('DATA_DISCIPLINE')!r}, "
                         f"DATA_SOURCE={attrs.get('DATA_SOURCE')!r}, DATA_LOCATION={attrs.get('DATA_LOCATION')!r}: "
                         f"{exc} (DATA_SOURCE must be INSTRUMENT_AFFILIATION with one '_')") from None


# ----------------------------------------------------------------------------------------- writing
def _h5_text(value: str) -> np.bytes_:
    return np.bytes_(str(value).encode("utf-8"))


def _attr_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value
    if isinstance(value, str):
        return _h5_text(value)
    return value


def _variables(ds: xr.Dataset) -> list[tuple[str, xr.Variable]]:
    """The GEOMS variables in ``DATA_VARIABLES`` order (independent ones are xarray index coordinates)."""
    listed = [v for v in str(ds.attrs.get("DATA_VARIABLES", "")).split(";") if v in ds.variables]
    rest = [str(n) for n in ds.variables if n not in listed]
    return [(n, ds.variables[n]) for n in listed + rest]


def _self_dependent(ds: xr.Dataset) -> list[str]:
    return [n for n, v in _variables(ds) if v.dims == (n,)]


def _write_hdf5(ds: xr.Dataset, tmp: Path, dimension_scales: bool) -> None:
    import h5py

    with h5py.File(tmp, "w") as f:
        for key, value in ds.attrs.items():
            f.attrs[key] = _h5_text(_text_attr(value))
        for name, var in _variables(ds):
            data = var.values
            if data.dtype.kind in "UO":
                width = max([len(s.encode("utf-8")) for s in data.ravel()] + [1])
                data = np.char.encode(data.astype(str), "utf-8").astype(f"S{width}")
            dset = f.create_dataset(name, data=data)
            for key in VARIABLE_ATTRIBUTES:
                dset.attrs[key] = _attr_value(var.attrs.get(key, ""))
            for key, value in var.attrs.items():
                if key not in VARIABLE_ATTRIBUTES:
                    dset.attrs[key] = _attr_value(value)
        if dimension_scales:
            scales = [n for n in _self_dependent(ds) if ds[n].ndim == 1]
            for n in scales:
                f[n].make_scale(n)
            for name, var in _variables(ds):
                for axis, dim in enumerate(var.dims):
                    if dim in scales and dim != name:
                        f[name].dims[axis].attach_scale(f[dim])


def _write_netcdf4(ds: xr.Dataset, tmp: Path) -> None:
    import netCDF4

    from ..store import NETCDF_LOCK

    with NETCDF_LOCK, netCDF4.Dataset(tmp, "w", format="NETCDF4") as nc:
        for dim, size in ds.sizes.items():
            nc.createDimension(dim, size)
        for name, var in _variables(ds):
            data = var.values
            if data.dtype.kind in "UO":
                v = nc.createVariable(name, str, var.dims, fill_value=False)
                if data.ndim == 0:
                    v[0] = str(data.item())
                else:
                    v[...] = np.asarray(data, dtype=object)
            else:
                v = nc.createVariable(name, data.dtype, var.dims, fill_value=False)
                v.set_auto_maskandscale(False)
                v[...] = data
            for key in VARIABLE_ATTRIBUTES:
                value = var.attrs.get(key, "")
                v.setncattr(key, value if isinstance(value, np.generic) else str(value))
        for key, value in ds.attrs.items():
            nc.setncattr(key, _text_attr(value))


def write_geoms(ds: xr.Dataset, path: str | os.PathLike, fmt: Literal["hdf5", "netcdf4"] = "hdf5",
                dimension_scales: bool = True) -> Path:
    """Write a GEOMS dataset (from :func:`to_geoms`) atomically; return the path written.

    Parameters
    ----------
    ds
        The output of :func:`to_geoms`.
    path
        The file, or a folder: the file is then named by ``FILE_NAME`` (the GEOMS convention; its extension
        follows ``fmt``). ``FILE_NAME`` in the file is always the name actually written.
    fmt
        ``hdf5`` (h5py; global attributes as fixed-length strings, ``VAR_*`` attributes on every dataset) or
        ``netcdf4`` (netCDF4 library; ``DATETIME`` / ``ALTITUDE`` ... as netCDF dimensions).
    dimension_scales
        HDF5 only: make the independent variables (``DATETIME``, ``ALTITUDE``) HDF5 dimension scales attached to
        the variables that depend on them, so that xarray / h5netcdf open the file with named dimensions.

    Raises
    ------
    GeomsError
        ``fmt`` unknown or the file cannot be written.

    Examples
    --------
    >>> write_geoms(to_geoms(ds), "products/")  # doctest: +SKIP
    PosixPath('products/groundbased_logger_alpha_alpha_20240101t000000z_20240101t235000z_001.h5')
    """
    from ..fsutil import atomic_path

    if fmt not in ("hdf5", "netcdf4"):
        raise GeomsError(f"unknown GEOMS container {fmt!r}; use 'hdf5' or 'netcdf4'")
    path = Path(path)
    if path.is_dir():
        name = str(ds.attrs.get("FILE_NAME") or geoms_file_name(ds.attrs, fmt))
        path = path / (name.rsplit(".", 1)[0] + (".nc" if fmt == "netcdf4" else ".h5"))
    ds = ds.copy()
    ds.attrs = {**ds.attrs, "FILE_NAME": path.name}
    try:
        with atomic_path(path) as tmp:
            if fmt == "hdf5":
                _write_hdf5(ds, tmp, dimension_scales)
            else:
                _write_netcdf4(ds, tmp)
    except (OSError, ValueError, TypeError, RuntimeError) as exc:
        raise GeomsError(f"{path}: writing the GEOMS file failed: {exc}") from exc
    return path


__all__ = ["GLOBAL_ATTRIBUTES", "VARIABLE_ATTRIBUTES", "GeomsError", "datetime_to_mjd2k", "geoms_data_type",
           "geoms_date", "geoms_file_name", "geoms_units", "geoms_variable_name", "parse_geoms_date",
           "si_conversion", "to_geoms", "write_geoms"]
