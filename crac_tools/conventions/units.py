"""UDUNITS spellings for the unit strings loggers and campaigns write.

Readers keep each file's own unit string (``Deg C``, ``m/s``, ``[hPa]``). Products carry a UDUNITS-valid
``units`` (CF requires it) and keep the file's spelling in ``source_units``. :func:`to_udunits` maps a spelling
through a maintained table of the spellings seen in the field, then through a few mechanical rules (``a/b^2``
-> ``a b-2``); when that gives nothing it can vouch for, it returns ``None`` and the caller decides.

Examples
--------
>>> to_udunits("Deg C"), to_udunits("m/s"), to_udunits("[hPa]"), to_udunits("W/m^2"), to_udunits("%")
('degC', 'm s-1', 'hPa', 'W m-2', 'percent')
>>> to_udunits("widgets/bucket") is None
True
"""

from __future__ import annotations

import functools
import re

#: Spellings seen in logger and campaign files (lower-cased keys) -> UDUNITS.
KNOWN: dict[str, str] = {
    "deg c": "degC", "degc": "degC", "°c": "degC", "c": "degC", "celsius": "degC", "degrees c": "degC",
    "degree c": "degC", "deg_c": "degC", "oc": "degC", "degree_celsius": "degC", "degrees_celsius": "degC",
    "deg f": "degF", "°f": "degF", "f": "degF", "degf": "degF",
    "k": "K", "kelvin": "K",
    "%": "percent", "percent": "percent", "pct": "percent", "%rh": "percent", "% rh": "percent",
    "m/s": "m s-1", "meters/second": "m s-1", "meter/second": "m s-1", "m s-1": "m s-1", "ms-1": "m s-1",
    "mph": "mile hour-1", "knots": "knot", "kts": "knot", "km/h": "km hour-1",
    "deg": "degree", "degrees": "degree", "degree": "degree", "°": "degree", "degrees_north": "degrees_north",
    "degrees_east": "degrees_east", "deg n": "degrees_north", "deg e": "degrees_east",
    "volts": "V", "volt": "V", "v": "V", "vdc": "V", "mv": "mV", "millivolts": "mV", "ohms": "ohm", "ohm": "ohm",
    "mbar": "mbar", "mb": "mbar", "hpa": "hPa", "kpa": "kPa", "pa": "Pa", "mmhg": "mmHg", "inhg": "inHg",
    "mm": "mm", "cm": "cm", "m": "m", "km": "km", "ft": "ft", "in": "in", "inches": "in",
    "ppm": "1e-6", "ppmv": "1e-6", "ppb": "1e-9", "ppbv": "1e-9", "ppt": "1e-12", "pptv": "1e-12",
    "arb": "1", "unitless": "1", "none": "1", "dimensionless": "1", "-": "1", "#": "1", "1": "1", "n/a": "1",
    "counts": "count", "count": "count", "#/cm3": "cm-3", "#/cc": "cm-3",
    "s": "s", "sec": "s", "seconds": "s", "ms": "ms", "min": "min", "minutes": "min", "h": "hour", "hr": "hour",
    "hours": "hour", "days": "day",
    "w/m2": "W m-2", "w/m^2": "W m-2", "w m-2": "W m-2", "kw/m2": "kW m-2", "kw/m^2": "kW m-2",
    "mj/m2": "MJ m-2", "mj/m^2": "MJ m-2", "umol/m2/s": "umol m-2 s-1", "umol/m^2/s": "umol m-2 s-1",
    "mg/m3": "mg m-3", "mg/m^3": "mg m-3", "g/m3": "g m-3", "ug/m3": "ug m-3", "µg/m3": "ug m-3",
    "m3/m3": "m3 m-3", "m^3/m^3": "m3 m-3", "vwc": "m3 m-3",
    "us/cm": "uS cm-1", "ms/cm": "mS cm-1", "umol/mol": "umol mol-1", "mmol/mol": "mmol mol-1",
    "g/kg": "g kg-1", "kg/m3": "kg m-3", "l/min": "L min-1", "lpm": "L min-1",
    "ts": "1", "rn": "1",
}

_POW = re.compile(r"\^?(-?\d+)$")


def _mechanical(text: str) -> str | None:
    """``a/b^2`` -> ``a b-2``; ``a*b`` -> ``a b``; only plain alphabetic symbols, at most one '/'."""
    text = text.replace("**", "^").replace("*", " ").replace("·", " ")
    num, _, den = text.partition("/")
    if "/" in den:
        return None
    out = []
    for part, sign in ((num, 1), (den, -1)):
        for tok in part.split():
            m = re.fullmatch(r"([A-Za-zµ]+)\^?(-?\d+)?", tok)
            if not m:
                return None
            sym = m.group(1).replace("µ", "u")
            power = int(m.group(2) or 1) * sign
            out.append(sym if power == 1 else f"{sym}{power}")
    return " ".join(out) or None


@functools.lru_cache(maxsize=1024)
def to_udunits(spelling: str | None) -> str | None:
    """The UDUNITS form of a unit spelling, or None when it is not known.

    A result from the mechanical rules is checked with ``cf_units`` when that package is installed.
    """
    if spelling is None:
        return None
    s = spelling.strip().strip("[]()").strip()
    if s.lower() in KNOWN:
        return KNOWN[s.lower()]
    guess = _mechanical(s)
    if guess is None:
        return None
    try:
        import cf_units
    except ImportError:
        return guess
    try:
        cf_units.Unit(guess)
    except ValueError:
        return None
    return guess
