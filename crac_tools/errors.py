"""One exception tree for crac_tools.

Every error raised on purpose by the library derives from :class:`CracError`, so a caller can catch
everything crac_tools reports with one ``except``. Parse errors are also ``ValueError`` so generic code
that expects bad input to raise ``ValueError`` keeps working.

Examples
--------
>>> from crac_tools.errors import ParseError
>>> err = ParseError("x.dat", "bad number", line=12, expected="a number", found="'1x1'")
>>> str(err)
"x.dat, line 12: bad number (expected a number, found '1x1')"
"""

from __future__ import annotations

import os
import warnings


class CracError(Exception):
    """Root of every error crac_tools raises on purpose."""


class ConfigError(CracError):
    """A configuration file is missing, unreadable or invalid (names file, key, expected vs found)."""

    def __init__(self, path: str | os.PathLike | None, message: str, key: str | None = None) -> None:
        self.path = None if path is None else str(path)
        self.key = key
        where = self.path or "<configuration>"
        if key:
            where += f": {key}"
        super().__init__(f"{where}: {message}")


class ParseError(CracError, ValueError):
    """A data file cannot be parsed; names the file, the 1-based line (where known), expected vs found."""

    def __init__(
        self,
        path: str | os.PathLike,
        message: str,
        line: int | None = None,
        expected: str | None = None,
        found: str | None = None,
        column: str | None = None,
    ) -> None:
        self.path = str(path)
        self.line = line
        self.expected = expected
        self.found = found
        self.column = column
        text = self.path
        if line is not None:
            text += f", line {line}"
        if column is not None:
            text += f", column {column!r}"
        text += f": {message}"
        if expected is not None or found is not None:
            text += f" (expected {expected or '?'}, found {found or '?'})"
        super().__init__(text)


class UnknownFormatError(CracError, ValueError):
    """No registered reader accepts the file; the message names the file and the formats tried."""

    def __init__(self, path: str | os.PathLike, tried: list[str], detail: str = "") -> None:
        self.path = str(path)
        self.tried = list(tried)
        msg = f"{self.path}: no reader recognises this file (tried: {', '.join(tried)})"
        if detail:
            msg += f"; {detail}"
        super().__init__(msg)


class CollectError(CracError):
    """A source could not be collected (unreachable, unreadable, verification failed)."""


class StoreError(CracError):
    """A product, mirror or archive file could not be written or is inconsistent."""


class PipelineError(CracError):
    """A run finished but some stations, periods or files failed; ``failures`` lists them."""

    def __init__(self, message: str, failures: list[dict] | None = None) -> None:
        self.failures = list(failures or [])
        super().__init__(message)


class CracWarning(UserWarning):
    """Base class of the warnings crac_tools emits about data (reported, never silent)."""


class TruncatedRecordWarning(CracWarning):
    """A file's last line is incomplete (a file still being written); it was left out of the data."""


class DataQualityWarning(CracWarning):
    """Duplicates, conflicts, off-grid times or other data issues that were handled and reported."""


def warn(category: type[CracWarning], message: str) -> None:
    """Emit a crac_tools data warning attributed to the caller's caller.

    Examples
    --------
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as got:
    ...     warnings.simplefilter("always")
    ...     warn(TruncatedRecordWarning, "f.dat, line 9: truncated")
    >>> got[0].category.__name__
    'TruncatedRecordWarning'
    """
    warnings.warn(message, category, stacklevel=3)
