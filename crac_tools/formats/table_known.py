"""Known text-table families recognised by structure, with their documented missing-value conventions.

The generic table reader treats a value as missing only when the file (or the caller's spec) declares it,
or when the file belongs to one of these families whose documentation fixes the convention:

- ``gml_met``: NOAA GML baseline-observatory meteorology (``met_<stn>_insitu_1_obop_{hour,minute}_<yyyy>.txt``):
  site code (BRW, MLO, SMO, SPO, SUM, THD), year, month, day, hour[, minute], then nine fields with
  per-field missing codes (GML met README: wind direction -999, wind speed -999.9, steadiness -9,
  pressure -999.90, temperatures -999.9, relative humidity -99, precipitation intensity -99).
- ``surfrad``: NOAA GML SURFRAD/SOLRAD daily radiation files: a station-name line, a ``lat lon elev m`` line,
  then year, day-of-year, month, day, hour, minute, decimal hour, solar zenith angle and value/QC-flag pairs;
  missing values are -9999.9 (SURFRAD README).
- ``gml_ccgg``: NOAA GML CCGG / ObsPack text (``# header_lines : N``): missing codes come from the
  ``var:_FillValue`` header lines, plus the printed codes the CCGG README documents for the measured value
  (-999.99) and its standard deviation (-99.99).
- ``joss``: UCAR/JOSS (INDOEX-style) files with ``KEY = value`` header lines and ``##END OF HEADER##``;
  -999.99 is the JOSS missing-value code (in addition to any ``MISSING ...`` key the header declares).
- ``hobo``: Onset HOBOware CSV exports: an empty cell means "no value logged" (event rows hold no
  sensor values and sensor rows no events).

Examples
--------
>>> is_hobo('"Plot Title: 10234567"', '"#","Date Time, GMT-05:00","Temp, °C"')
True
>>> is_hobo("a,b", "1,2")
False
"""

from __future__ import annotations

import re

#: NOAA GML baseline observatories with meteorology files.
GML_SITES = frozenset({"BRW", "MLO", "SMO", "SPO", "SUM", "THD"})

#: (long_name, units, missing code) of the fields after the date/time columns of GML met files.
GML_MET_FIELDS = (
    ("wind direction (from which the wind blows)", "degree", "-999"),
    ("wind speed", "m s-1", "-999.9"),
    ("wind steadiness factor (100 x vector / scalar wind speed)", "1", "-9"),
    ("barometric pressure", "hPa", "-999.90"),
    ("air temperature at 2 m", "degC", "-999.9"),
    ("air temperature at 10 m", "degC", "-999.9"),
    ("air temperature at tower top", "degC", "-999.9"),
    ("relative humidity", "%", "-99"),
    ("precipitation intensity", "mm h-1", "-99"),
)

#: SURFRAD value columns (each followed by its QC flag column), in file order.
SURFRAD_FIELDS = (
    ("downwelling global solar", "W m-2"), ("upwelling global solar", "W m-2"),
    ("direct-normal solar", "W m-2"), ("downwelling diffuse solar", "W m-2"),
    ("downwelling thermal infrared", "W m-2"), ("downwelling IR case temperature", "K"),
    ("downwelling IR dome temperature", "K"), ("upwelling thermal infrared", "W m-2"),
    ("upwelling IR case temperature", "K"), ("upwelling IR dome temperature", "K"),
    ("global UVB", "mW m-2"), ("photosynthetically active radiation", "W m-2"),
    ("net solar", "W m-2"), ("net infrared", "W m-2"), ("net radiation", "W m-2"),
    ("air temperature at 10 m", "degC"), ("relative humidity", "%"), ("wind speed", "m s-1"),
    ("wind direction", "degree"), ("station pressure", "hPa"),
)
SURFRAD_MISSING = "-9999.9"
CCGG_DOCUMENTED = {"value": "-999.99", "value_std_dev": "-99.99"}
JOSS_MISSING = "-999.99"

_HOBO_TITLE = re.compile(r'^\s*"?Plot Title:')
_LATLON = re.compile(r"^\s*-?\d+\.\d+\s+-?\d+\.\d+\s+-?\d+(?:\.\d+)?\s*m?\s*$")
_YEAR = re.compile(r"(1[89]|2[01])\d\d\Z")


def is_hobo(first: str, second: str) -> bool:
    """True for an Onset HOBOware CSV export (``Plot Title:`` line, or a ``Date Time, GMT...`` names row)."""
    first = first.lstrip("\ufeff").strip()
    if _HOBO_TITLE.match(first):
        return True
    return "Date Time, GMT" in first and ('"#"' in first or "LGR S/N" in first)


def _set(layout, j: int, long_name: str | None, units: str | None, missing: str | None) -> None:
    attrs = layout.index_attrs.setdefault(j, {})
    if long_name:
        attrs["long_name"] = long_name
    if units:
        attrs["units"] = units
    if missing is not None:
        layout.col_missing.setdefault(j, set()).add(missing)


def apply(layout, lines: list[str], data_i: int, sample: list[str]) -> None:
    """Recognise a known family from the header lines and data sample; set its convention on ``layout``."""
    rows = [ln.split() for ln in lines[data_i:data_i + 20] if ln.strip()]
    if layout.convention == "gml_ccgg":
        for name, code in CCGG_DOCUMENTED.items():
            if layout.names and name in layout.names:
                layout.col_missing.setdefault(name, set()).add(code)
        return
    if layout.convention == "joss":
        layout.missing.add(JOSS_MISSING)
        return
    if layout.convention or layout.delim != " " or not rows:
        return
    if (layout.names is None and layout.ncol in (14, 15) and all(len(r) == layout.ncol for r in rows)
            and all(r[0] in GML_SITES and _YEAR.match(r[1]) for r in rows)):
        layout.convention = "gml_met"
        first = layout.ncol - len(GML_MET_FIELDS)
        layout.attrs.setdefault("site_code", rows[0][0])
        for k, (long_name, units, code) in enumerate(GML_MET_FIELDS):
            _set(layout, first + k, long_name, units, code)
        return
    if (data_i == 2 and len(lines) > 2 and _LATLON.match(lines[1]) and layout.names is None
            and layout.ncol >= 10 and layout.ncol % 2 == 0 and all(_YEAR.match(r[0]) for r in rows if r)):
        layout.convention = "surfrad"
        layout.attrs.setdefault("station_name", lines[0].strip())
        lat, lon, elev = lines[1].split()[:3]
        layout.attrs.update({"latitude": lat, "longitude": lon, "elevation": elev})
        _set(layout, 6, "decimal hour (UTC)", "h", None)
        _set(layout, 7, "solar zenith angle", "degree", None)
        named = layout.ncol == 8 + 2 * len(SURFRAD_FIELDS)
        for k in range((layout.ncol - 8) // 2):
            long_name, units = SURFRAD_FIELDS[k] if named else (None, None)
            _set(layout, 8 + 2 * k, long_name, units, SURFRAD_MISSING)
            _set(layout, 9 + 2 * k, f"quality flag for {long_name}" if long_name else "quality flag", None, None)
            layout.index_attrs[9 + 2 * k]["comment"] = "0 = good, 1 = bad, 2 = questionable"
