"""GEOMS metadata templates (idlcr8hdf ``.meta``-style attribute listings).

A GEOMS metadata template is a text file listing the global attributes of a GEOMS file (``PI_*``, ``DO_*``,
``DS_*``, ``DATA_*``, ``FILE_*``), one ``KEY=value`` per line, followed by one block of ``VAR_*`` attributes per
variable, each block starting with ``VAR_NAME``. Lines starting with ``!`` are comments; ``!END`` ends the
listing. Both ``KEY=value`` and ``KEY = value`` spacing occur; values are taken verbatim after stripping the
surrounding blanks (an empty value is kept as ``""``).

:func:`read_geoms_template` returns a :class:`GeomsTemplate`: the global attributes and, in file order, the
variables with their ``VAR_*`` attributes (all values as strings, exactly as written, so that a writer can
reproduce them; :meth:`GeomsTemplate.number` parses the numeric ones). A ``!OPTIONAL`` comment just before a
variable block marks that variable as optional.

Examples
--------
>>> from crac_tools.formats.geoms_template import parse_geoms_template
>>> t = parse_geoms_template("DATA_TEMPLATE=GEOMS-TE-X\\nVAR_NAME = DATETIME\\nVAR_UNITS = MJD2K\\n")
>>> t.data_template, t.variables["DATETIME"]["VAR_UNITS"]
('GEOMS-TE-X', 'MJD2K')
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ParseError

_KEY_RE = re.compile(r"[A-Z][A-Z0-9_.]*\Z")
_NUMBER_RE = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eEdD][-+]?\d+)?\Z")


@dataclass
class GeomsTemplate:
    """The content of a GEOMS metadata template.

    Attributes
    ----------
    global_attributes
        ``PI_*`` / ``DO_*`` / ``DS_*`` / ``DATA_*`` / ``FILE_*`` attributes in file order (values as written).
    variables
        ``VAR_NAME`` -> its ``VAR_*`` attributes (``VAR_NAME`` included), both in file order.
    optional
        Names of the variables marked ``!OPTIONAL`` in the template.
    path
        The file the template was read from (``None`` when parsed from text).

    Examples
    --------
    >>> t = GeomsTemplate({"DATA_VARIABLES": "A;B"}, {"A": {"VAR_NAME": "A", "VAR_DEPEND": "DATETIME;ALTITUDE"}})
    >>> t.depend("A"), t.listed_variables
    (['DATETIME', 'ALTITUDE'], ['A', 'B'])
    """

    global_attributes: dict[str, str] = field(default_factory=dict)
    variables: dict[str, dict[str, str]] = field(default_factory=dict)
    optional: list[str] = field(default_factory=list)
    path: str | None = None

    @property
    def data_template(self) -> str | None:
        """The ``DATA_TEMPLATE`` global attribute (e.g. ``'GEOMS-TE-LIDAR-O3-005'``), if present."""
        return self.global_attributes.get("DATA_TEMPLATE")

    @property
    def listed_variables(self) -> list[str]:
        """The variable names listed in ``DATA_VARIABLES`` (``;``-separated), in that order."""
        text = self.global_attributes.get("DATA_VARIABLES", "")
        return [v.strip() for v in text.split(";") if v.strip()]

    def depend(self, name: str) -> list[str]:
        """``VAR_DEPEND`` of variable ``name`` split on ``;`` (e.g. ``['DATETIME', 'ALTITUDE']``)."""
        text = self.variables[name].get("VAR_DEPEND", "")
        return [v.strip() for v in text.split(";") if v.strip()]

    def number(self, name: str, key: str) -> float | None:
        """Attribute ``key`` of variable ``name`` as a float (``-999.`` -> -999.0); ``None`` when empty or text.

        Examples
        --------
        >>> GeomsTemplate(variables={"A": {"VAR_FILL_VALUE": "-9.99E+019"}}).number("A", "VAR_FILL_VALUE")
        -9.99e+19
        """
        text = self.variables[name].get(key, "").strip()
        if not _NUMBER_RE.match(text):
            return None
        return float(text.replace("d", "e").replace("D", "E"))


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def parse_geoms_template(text: str, path: str | os.PathLike | None = None) -> GeomsTemplate:
    """Parse the text of a GEOMS metadata template (see :func:`read_geoms_template`).

    Raises
    ------
    ParseError
        A line that is neither a comment nor ``KEY=value``, a ``VAR_*`` attribute before the first ``VAR_NAME``,
        a duplicated variable or a duplicated attribute (names the 1-based line).

    Examples
    --------
    >>> t = parse_geoms_template("PI_NAME=Doe;John\\n!OPTIONAL\\nVAR_NAME=X\\nVAR_FILL_VALUE = -999.\\n")
    >>> t.global_attributes["PI_NAME"], t.optional, t.number("X", "VAR_FILL_VALUE")
    ('Doe;John', ['X'], -999.0)
    """
    where = "<text>" if path is None else path
    template = GeomsTemplate(path=None if path is None else str(path))
    current: dict[str, str] | None = None
    pending_optional = False
    for lineno, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("!"):
            body = line[1:].strip()
            if body.upper() == "END":
                break
            if body.upper().startswith("OPTIONAL"):
                pending_optional = True
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not _KEY_RE.match(key):
            raise ParseError(where, "not a GEOMS template line", line=lineno, expected="KEY=value or a '!' comment",
                             found=repr(line[:60]))
        if key == "VAR_NAME":
            if not value:
                raise ParseError(where, "empty VAR_NAME", line=lineno, expected="a variable name", found="''")
            if value in template.variables:
                raise ParseError(where, "duplicated variable", line=lineno, expected="unique VAR_NAME values",
                                 found=repr(value))
            current = template.variables[value] = {"VAR_NAME": value}
            if pending_optional:
                template.optional.append(value)
            pending_optional = False
            continue
        if key.startswith("VAR_"):
            if current is None:
                raise ParseError(where, "variable attribute before the first VAR_NAME", line=lineno,
                                 expected="VAR_NAME = <name> first", found=repr(key))
            target = current
        else:
            target = template.global_attributes
        if key in target:
            raise ParseError(where, "duplicated attribute", line=lineno, expected=f"{key} once per block",
                             found=f"a second {key}")
        target[key] = value
    if not template.global_attributes and not template.variables:
        raise ParseError(where, "no GEOMS attributes found", expected="KEY=value lines", found="none")
    return template


def read_geoms_template(path: str | os.PathLike) -> GeomsTemplate:
    """Read a GEOMS metadata template file into a :class:`GeomsTemplate`.

    Examples
    --------
    >>> t = read_geoms_template("GEOMS-LIDAR-O3-005-redacted.txt")  # doctest: +SKIP
    >>> t.data_template, len(t.variables)  # doctest: +SKIP
    ('GEOMS-TE-LIDAR-O3-005', 30)
    """
    path = Path(path)
    return parse_geoms_template(_decode(path.read_bytes()), path)


__all__ = ["GeomsTemplate", "parse_geoms_template", "read_geoms_template"]
