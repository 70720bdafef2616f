"""File naming conventions: format and parse file names from templates.

Built-in conventions are the ones field campaigns and archives use:

``cdaac``
    ``<type6>_<instance>.YYYY.DDD[.HH.MM[.DDDD]][.<rest>]_<SSSS>.<VVVV>_<format>`` — a six-character file-type id,
    the instance, year and day of year (plus start hour, minute and duration in minutes for non-daily files),
    subtype and version (level 1b and above), format suffix. E.g. ``atmPrf_C001.2010.001.00.09.G03_2013.3520_nc``.
``espo``
    ``DDyyyymmdd[__Ln].PLT`` — a two-letter data code, the UT (launch) date, the launch counter for the n-th launch
    that day, the platform suffix. E.g. ``DD20020702__L2.CIT``; file name code ``DD.CIT``.
``espo_image``
    ``IMyyyymmdd_hhmm.EXT`` — images, with the UT start time. E.g. ``IM20020702_1712.JPG``; code ``IM.JPG``.
``indoex``
    ``product_source.YYMMDDHHmm.product_name.ext`` (JOSS field catalog).
``icartt``
    ``dataID_locationID_YYYYMMDD[_hhmmss]_R#[_L#][_V#].ict``.
``geoms``
    ``<discipline>_<data source>_<location>_<start>z_<stop>z_<version>.<ext>``, lower case.

Custom templates use Python format fields (``{station}_{product}_{start:%Y%m%d}.nc``) and parse too.

Examples
--------
>>> fields = parse_name("DD20020702__L2.CIT")
>>> fields["convention"], fields["code"], fields["launch"], fields["platform"]
('espo', 'DD', 2, 'CIT')
>>> format_name("espo", **fields)
'DD20020702__L2.CIT'
"""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from ..errors import CracError


class NamingError(CracError, ValueError):
    """A name does not follow a convention, or fields are missing or malformed."""


@dataclass(frozen=True)
class Convention:
    """A naming convention: a regex that parses names and a function that formats them."""

    name: str
    description: str
    pattern: re.Pattern
    build: Callable[[dict], str]
    convert: Callable[[dict], dict]

    def parse(self, filename: str) -> dict:
        """Fields of ``filename``; raises :class:`NamingError` when it does not match."""
        m = self.pattern.fullmatch(filename)
        if not m:
            raise NamingError(f"{filename!r} is not a {self.name} file name ({self.description})")
        try:
            fields = self.convert({k: v for k, v in m.groupdict().items()})
        except ValueError as exc:
            raise NamingError(f"{filename!r} looks like a {self.name} name but a date/time field is invalid "
                              f"({exc})") from None
        fields["convention"] = self.name
        return fields

    def format(self, **fields: Any) -> str:
        """The file name for ``fields``."""
        fields.pop("convention", None)
        try:
            name = self.build(fields)
        except KeyError as exc:
            raise NamingError(f"{self.name} names need the field {exc.args[0]!r}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            raise NamingError(f"{self.name}: cannot format {fields}: {exc}") from None
        if not self.pattern.fullmatch(name):
            raise NamingError(f"{self.name}: fields {fields} give {name!r}, which is not a valid name")
        return name


def _dt(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    return pd.Timestamp(value).to_pydatetime()


# ---------------------------------------------------------------------------------------------- CDAAC
def _cdaac_convert(g: dict) -> dict:
    date = dt.datetime.strptime(f"{g['year']}.{g['doy']}", "%Y.%j")
    if g["hour"] is not None:
        date = date.replace(hour=int(g["hour"]), minute=int(g["minute"]))
    out = {"file_type": g["file_type"], "instance": g["instance"], "start": date,
           "duration": int(g["duration"]) if g["duration"] else None, "rest": g["rest"],
           "subtype": g["subtype"], "version": g["version"], "format": g["format"],
           "timed": g["hour"] is not None}
    return out


def _cdaac_build(f: dict) -> str:
    start = _dt(f["start"])
    name = f"{f['file_type']}_{f['instance']}.{start:%Y.%j}"
    timed = f.get("timed", f.get("duration") is not None or start.hour or start.minute)
    if timed:
        name += f".{start:%H.%M}"
        if f.get("duration") is not None:
            name += f".{int(f['duration']):04d}"
    if f.get("rest"):
        name += f".{f['rest']}"
    if f.get("subtype") or f.get("version"):
        name += f"_{f['subtype']}.{f['version']}"
    return name + f"_{f['format']}"


CDAAC = Convention(
    "cdaac", "type6_instance.YYYY.DDD[.HH.MM[.DDDD]]_SSSS.VVVV_format",
    re.compile(r"(?P<file_type>[A-Za-z0-9]{6})_(?P<instance>[A-Za-z0-9-]+)\.(?P<year>\d{4})\.(?P<doy>\d{3})"
               r"(?:\.(?P<hour>\d{2})\.(?P<minute>\d{2})(?:\.(?P<duration>\d{4}))?)?(?:\.(?P<rest>[A-Za-z0-9.]+?))?"
               r"(?:_(?P<subtype>[A-Za-z0-9]{4})\.(?P<version>[A-Za-z0-9]{4}))?_(?P<format>[a-z0-9]+)"),
    _cdaac_build, _cdaac_convert)


# ----------------------------------------------------------------------------------------------- ESPO
def _espo_convert(g: dict) -> dict:
    return {"code": g["code"], "date": dt.datetime.strptime(g["date"], "%Y%m%d"),
            "launch": int(g["launch"]) if g["launch"] else 1, "platform": g["platform"]}


def _espo_build(f: dict) -> str:
    launch = int(f.get("launch") or 1)
    return f"{f['code']}{_dt(f['date']):%Y%m%d}" + (f"__L{launch}" if launch > 1 else "") + f".{f['platform']}"


ESPO = Convention("espo", "DDyyyymmdd[__Ln].PLT",
                  re.compile(r"(?P<code>[A-Z]{2})(?P<date>\d{8})(?:__L(?P<launch>[2-9]|[1-9]\d+))?"
                             r"\.(?P<platform>[A-Z0-9]{2,4})"),
                  _espo_build, _espo_convert)


def _espo_image_convert(g: dict) -> dict:
    return {"code": g["code"], "start": dt.datetime.strptime(g["date"] + g["time"], "%Y%m%d%H%M"),
            "ext": g["ext"]}


ESPO_IMAGE = Convention("espo_image", "IMyyyymmdd_hhmm.EXT",
                        re.compile(r"(?P<code>[A-Z]{2})(?P<date>\d{8})_(?P<time>\d{4})\.(?P<ext>[A-Z0-9]{2,4})"),
                        lambda f: f"{f['code']}{_dt(f['start']):%Y%m%d_%H%M}.{f['ext']}", _espo_image_convert)


def espo_code(filename: str) -> str:
    """The ESPO "file name code" of a data or image name (its constant parts), e.g. ``DD.CIT``.

    Examples
    --------
    >>> espo_code("IM20020702_1712.JPG")
    'IM.JPG'
    """
    f = parse_name(filename)
    if f["convention"] == "espo":
        return f"{f['code']}.{f['platform']}"
    if f["convention"] == "espo_image":
        return f"{f['code']}.{f['ext']}"
    raise NamingError(f"{filename!r} is not an ESPO name")


# --------------------------------------------------------------------------------------------- INDOEX
INDOEX = Convention(
    "indoex", "product_source.YYMMDDHHmm.product_name.ext",
    re.compile(r"(?P<source>[A-Za-z0-9_-]+)\.(?P<stamp>\d{10})\.(?P<product>[A-Za-z0-9_-]+)\.(?P<ext>[A-Za-z0-9]+)"),
    lambda f: f"{f['source']}.{_dt(f['start']):%y%m%d%H%M}.{f['product']}.{f['ext']}",
    lambda g: {"source": g["source"], "start": dt.datetime.strptime(g["stamp"], "%y%m%d%H%M"),
               "product": g["product"], "ext": g["ext"]})


# --------------------------------------------------------------------------------------------- ICARTT
def _icartt_convert(g: dict) -> dict:
    stamp = g["date"] + (g["time"] or "000000")
    return {"data_id": g["data_id"], "location_id": g["location_id"],
            "start": dt.datetime.strptime(stamp, "%Y%m%d%H%M%S"), "timed": g["time"] is not None,
            "revision": g["revision"], "launch": int(g["launch"]) if g["launch"] else None,
            "volume": int(g["volume"]) if g["volume"] else None, "ext": g["ext"]}


def _icartt_build(f: dict) -> str:
    start = _dt(f["start"])
    timed = f.get("timed", bool(start.hour or start.minute or start.second))
    name = f"{f['data_id']}_{f['location_id']}_{start:%Y%m%d}" + (f"_{start:%H%M%S}" if timed else "")
    name += f"_R{f.get('revision', '0')}"
    if f.get("launch") is not None:
        name += f"_L{int(f['launch'])}"
    if f.get("volume") is not None:
        name += f"_V{int(f['volume'])}"
    return name + "." + f.get("ext", "ict")


ICARTT = Convention(
    "icartt", "dataID_locationID_YYYYMMDD[_hhmmss]_R#[_L#][_V#].ict",
    re.compile(r"(?P<data_id>[A-Za-z0-9-]+)_(?P<location_id>[A-Za-z0-9-]+)_(?P<date>\d{8})(?:_(?P<time>\d{6}))?"
               r"_R(?P<revision>[0-9]+|[A-Z])(?:_L(?P<launch>\d+))?(?:_V(?P<volume>\d+))?\.(?P<ext>ict|ICT)"),
    _icartt_build, _icartt_convert)


# ---------------------------------------------------------------------------------------------- GEOMS
def _geoms_convert(g: dict) -> dict:
    return {"discipline": g["discipline"], "data_source": g["data_source"], "location": g["location"],
            "start": dt.datetime.strptime(g["start"], "%Y%m%dt%H%M%S"),
            "stop": dt.datetime.strptime(g["stop"], "%Y%m%dt%H%M%S"), "version": int(g["version"]), "ext": g["ext"]}


GEOMS = Convention(
    "geoms", "discipline_datasource_location_yyyymmddthhmmssz_yyyymmddthhmmssz_vvv.ext (lower case)",
    re.compile(r"(?P<discipline>[a-z]+)_(?P<data_source>[a-z0-9.\-]+(?:_[a-z0-9.\-]+)+?)_(?P<location>[a-z0-9.\-]+)"
               r"_(?P<start>\d{8}t\d{6})z_(?P<stop>\d{8}t\d{6})z_(?P<version>\d{3})\.(?P<ext>h5|hdf|nc)"),
    lambda f: (f"{f['discipline']}_{f['data_source']}_{f['location']}_{_dt(f['start']):%Y%m%dt%H%M%S}z_"
               f"{_dt(f['stop']):%Y%m%dt%H%M%S}z_{int(f['version']):03d}.{f.get('ext', 'h5')}").lower(),
    _geoms_convert)


CONVENTIONS: dict[str, Convention] = {c.name: c for c in (CDAAC, ESPO, ESPO_IMAGE, INDOEX, ICARTT, GEOMS)}


# ---------------------------------------------------------------------------------------- templates
_STRFTIME = {"Y": r"\d{4}", "y": r"\d{2}", "m": r"\d{2}", "d": r"\d{2}", "H": r"\d{2}", "M": r"\d{2}",
             "S": r"\d{2}", "j": r"\d{3}", "f": r"\d{6}", "%": "%"}
_INT_FORMAT = re.compile(r"0?\d*d")


def template_convention(template: str, name: str = "template") -> Convention:
    """A convention from a Python format template such as ``{station}_{product}_{start:%Y%m%d}_v{version}.nc``.

    Fields with a strftime spec parse to datetimes, ``{version}`` / ``{x:03d}`` to integers, others to strings.

    Examples
    --------
    >>> c = template_convention("{station}_{product}_{start:%Y%m%dT%H%M%S}_v{version}.nc")
    >>> f = c.parse("alpha_met_20240601T000000_v1.nc")
    >>> f["station"], f["start"].isoformat(), f["version"]
    ('alpha', '2024-06-01T00:00:00', 1)
    """
    regex = []
    kinds: dict[str, tuple[str, str]] = {}
    for literal, field, spec, _conv in string.Formatter().parse(template):
        regex.append(re.escape(literal))
        if field is None:
            continue
        if field in kinds:
            regex.append(f"(?P={field})")
            continue
        spec = spec or ""
        if "%" in spec:
            parts = re.split(r"(%.)", spec)
            pat = "".join(_STRFTIME.get(p[1], None) or re.escape(p) if p.startswith("%") else re.escape(p)
                          for p in parts if p)
            kinds[field] = ("time", spec)
        elif field == "version" or _INT_FORMAT.fullmatch(spec):
            pat, kinds[field] = r"\d+", ("int", spec)
        else:
            pat, kinds[field] = r"[A-Za-z0-9.\-]+?", ("str", spec)
        regex.append(f"(?P<{field}>{pat})")
    pattern = re.compile("".join(regex))

    def convert(g: dict) -> dict:
        out: dict[str, Any] = {}
        for k, v in g.items():
            kind, spec = kinds[k]
            out[k] = dt.datetime.strptime(v, spec) if kind == "time" else int(v) if kind == "int" else v
        return out

    return Convention(name, template, pattern, lambda f: template.format(**f), convert)


def get_convention(convention: str) -> Convention:
    """A built-in convention by name, or a template convention when ``convention`` contains ``{``."""
    if "{" in convention:
        return template_convention(convention)
    try:
        return CONVENTIONS[convention]
    except KeyError:
        raise NamingError(f"unknown naming convention {convention!r}; known: {', '.join(CONVENTIONS)} "
                          "or a template such as '{station}_{start:%Y%m%d}.nc'") from None


def parse_name(name: str, convention: str | None = None) -> dict:
    """Parse a file name into its fields; detect the convention when ``convention`` is None.

    Examples
    --------
    >>> f = parse_name("ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict")
    >>> f["convention"], f["data_id"], f["location_id"], f["start"].date().isoformat(), f["launch"]
    ('icartt', 'ACTAMERICA-flag-metadata', 'B200', '2017-03-08', 2)
    """
    import os

    name = os.path.basename(str(name))
    if convention is not None:
        return get_convention(convention).parse(name)
    matches = [conv.parse(name) for conv in CONVENTIONS.values() if conv.pattern.fullmatch(name)]
    if not matches:
        raise NamingError(f"{name!r} follows none of the conventions {', '.join(CONVENTIONS)}")
    return matches[0]


def format_name(convention: str, /, **fields: Any) -> str:
    """Format a file name by a convention (or template); the inverse of :func:`parse_name`.

    Examples
    --------
    >>> import datetime as dt
    >>> format_name("espo_image", code="IM", start=dt.datetime(2002, 7, 2, 17, 12), ext="JPG")
    'IM20020702_1712.JPG'
    """
    return get_convention(convention).format(**fields)


def product_name(template: str, station: str, product: str, period: str, start: pd.Timestamp,
                 end: pd.Timestamp, version: int) -> str:
    """Format a product file name from a template (fields station, product, period, start, end, version).

    Examples
    --------
    >>> product_name("{station}_{product}_{start:%Y%m%d}_v{version}.nc", "alpha", "met", "day",
    ...              pd.Timestamp("2024-03-01"), pd.Timestamp("2024-03-02"), 1)
    'alpha_met_20240301_v1.nc'
    """
    return template.format(station=station, product=product, period=period,
                           start=pd.Timestamp(start).to_pydatetime(), end=pd.Timestamp(end).to_pydatetime(),
                           version=version)
