"""Record-level resume for record-numbered formats (TOA5 and CSV files with a ``RECORD`` column).

Campbell loggers number every record of a table. LoggerNet keeps, per table, the last record number
collected and a *file mark* that increments whenever the numbers go backwards (a program recompile or a
logger reset) or leave a hole (records overwritten in the ring buffer before they were collected). This
module does the same over the bytes each collection adds: it continues from the last record seen in the
state of the source and reports every hole and reset as a :class:`RecordEvent`, never hiding one.

Examples
--------
>>> data = (b'"TOA5","st","CR1000"\\n"TIMESTAMP","RECORD","T"\\n"TS","RN","C"\\n"","","Smp"\\n'
...         b'"2024-01-01 00:00:00",7,1.5\\n"2024-01-01 00:01:00",8,1.6\\n"2024-01-01 00:05:00",12,1.7\\n')
>>> tracker = RecordTracker.from_state(None)
>>> events = tracker.feed(data, "a.dat", header=True)
>>> [(e.kind, e.after, e.record, e.missing) for e in events]
[('hole', 8, 12, 3)]
>>> tracker.state()["last_record"], tracker.state()["file_mark"]
(12, 1)
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass, field

#: The first bytes of a TOA5 file.
TOA5_MAGIC = b'"TOA5"'


@dataclass
class RecordEvent:
    """A discontinuity in the record numbers of a source.

    Attributes
    ----------
    kind : str
        ``"hole"`` (numbers jumped forward: records lost or never collected) or ``"reset"`` (numbers went
        backwards or restarted: program change, logger reset, ring-buffer wrap).
    file : str
        The archive file name holding the record after the discontinuity.
    after : int
        The last record number before the discontinuity.
    record : int
        The record number found.
    missing : int
        Records missing in a hole (0 for a reset).
    time_after, time : str or None
        Timestamps of the two records, when the format has them.
    file_mark : int
        The file mark after this event (increments at every event, as in LoggerNet).
    """

    kind: str
    file: str
    after: int
    record: int
    missing: int
    time_after: str | None
    time: str | None
    file_mark: int

    def __str__(self) -> str:
        what = f"hole of {self.missing} record(s)" if self.kind == "hole" else "record numbers reset"
        return (f"{self.file}: {what}: record {self.after} ({self.time_after}) -> {self.record} ({self.time}),"
                f" file mark {self.file_mark}")


@dataclass
class RecordTracker:
    """The resume pointer of one source: last record number and time, and the file mark.

    Examples
    --------
    >>> t = RecordTracker.from_state({"last_record": 5, "last_time": "2024-01-01 00:05:00", "file_mark": 0,
    ...                               "columns": [1, 0]})
    >>> [e.kind for e in t.feed(b'"2024-01-01 00:06:00",0,1\\n', "b.dat", header=False)]
    ['reset']
    """

    last_record: int | None = None
    last_time: str | None = None
    file_mark: int = 0
    records: int = 0
    events: list[RecordEvent] = field(default_factory=list)
    _columns: tuple[int, int | None] | None = None

    @property
    def columns(self) -> tuple[int, int | None] | None:
        """Positions of the RECORD and TIMESTAMP columns (None until a header was seen)."""
        return self._columns

    @classmethod
    def from_state(cls, state: dict | None) -> RecordTracker:
        """A tracker continuing from a state entry saved by :meth:`state` (None starts afresh).

        Examples
        --------
        >>> RecordTracker.from_state(None).last_record is None
        True
        """
        state = state or {}
        t = cls(last_record=state.get("last_record"), last_time=state.get("last_time"),
                file_mark=int(state.get("file_mark", 0)), records=int(state.get("records", 0)))
        cols = state.get("columns")
        t._columns = tuple(cols) if cols else None
        return t

    def state(self) -> dict:
        """The resume pointer as a JSON-able dict (kept in the collection state of the source).

        Examples
        --------
        >>> RecordTracker(last_record=3).state()["last_record"]
        3
        """
        return {"last_record": self.last_record, "last_time": self.last_time, "file_mark": self.file_mark,
                "records": self.records, "columns": list(self._columns) if self._columns else None}

    def feed(self, data: bytes, file: str, header: bool) -> list[RecordEvent]:
        """Scan complete lines of ``data`` and return the holes and resets found.

        Parameters
        ----------
        data
            New bytes of the source (starting at a line start). With ``header=True`` they start with the file
            header (four lines for TOA5, one line of column names otherwise), which locates the ``RECORD``
            and ``TIMESTAMP`` columns. An incomplete last line is ignored.
        file
            Name reported in the events.
        header
            Whether ``data`` starts at the beginning of the file.

        Examples
        --------
        >>> t = RecordTracker()
        >>> t.feed(b"TIMESTAMP,RECORD,x\\n2024-01-01,1,3\\n2024-01-02,2,4\\n", "c.csv", header=True)
        []
        >>> t.last_record
        2
        """
        text = data.decode("utf-8", errors="replace")
        lines = text.split("\n")
        lines.pop()  # incomplete (or empty) last piece
        if header:
            skip = 4 if data.startswith(TOA5_MAGIC) or data.startswith(b"\xef\xbb\xbf" + TOA5_MAGIC) else 1
            names_line = 1 if skip == 4 else 0
            if len(lines) <= names_line:
                return []
            names = [n.strip() for n in next(csv.reader([lines[names_line].rstrip("\r")]))]
            if "RECORD" not in names:
                self._columns = None
                return []
            self._columns = (names.index("RECORD"), names.index("TIMESTAMP") if "TIMESTAMP" in names else None)
            lines = lines[skip:]
        if self._columns is None:
            return []
        rec_col, time_col = self._columns
        found: list[RecordEvent] = []
        for row in csv.reader(io.StringIO("\n".join(line.rstrip("\r") for line in lines))):
            if len(row) <= rec_col:
                continue
            try:
                rec = int(row[rec_col])
            except ValueError:
                continue
            ts = row[time_col] if time_col is not None and len(row) > time_col else None
            last = self.last_record
            if last is not None and rec != last + 1:
                self.file_mark += 1
                kind = "hole" if rec > last + 1 else "reset"
                found.append(RecordEvent(kind, file, last, rec, rec - last - 1 if kind == "hole" else 0,
                                         self.last_time, ts, self.file_mark))
            self.last_record, self.last_time = rec, ts
            self.records += 1
        self.events.extend(found)
        return found


def is_record_numbered(head: bytes) -> bool:
    """Whether a file's first bytes look like a record-numbered text table (TOA5, or CSV with ``RECORD``).

    Examples
    --------
    >>> is_record_numbered(b'"TOA5","x"\\n"TIMESTAMP","RECORD"\\n')
    True
    >>> is_record_numbered(bytes(16))
    False
    """
    if b"\0" in head[:4096]:
        return False
    first = head.split(b"\n", 2)
    if head.lstrip(b"\xef\xbb\xbf").startswith(TOA5_MAGIC):
        return len(first) < 2 or b"RECORD" in first[1]
    return b"RECORD" in first[0]


def events_to_json(events: list[RecordEvent]) -> list[dict]:
    """Events as JSON-able dicts (for the collection state and reports).

    Examples
    --------
    >>> events_to_json([])
    []
    """
    return [asdict(e) for e in events]


__all__ = ["RecordEvent", "RecordTracker", "events_to_json", "is_record_numbered"]
