"""Deadlines enforced outside the SSH library, and retries with backoff.

paramiko's own timeouts cover the TCP connect, the banner and the authentication, but not every stall
after that: a link that stops forwarding bytes without closing leaves an SFTP read waiting for ever. A
:class:`Watchdog` is a small thread that holds the current deadlines (connect, one read, one whole file)
and, when one passes, calls an abort function (closing the socket and the transport), which makes the
blocked call fail at once. The code that armed the deadline then raises :class:`DeadlineExceeded`
naming what took too long.

Examples
--------
>>> import time
>>> wd = Watchdog(on_expire=lambda label: None)
>>> with wd.guard(5.0, "read"):
...     time.sleep(0.01)
>>> wd.stop()
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..errors import CollectError

log = logging.getLogger(__name__)

#: How often the watchdog thread looks at its deadlines (seconds).
TICK = 0.05


class DeadlineExceeded(CollectError):
    """An operation took longer than its configured deadline and was aborted.

    Attributes
    ----------
    label : str
        What was aborted (e.g. ``"read of /data/a.dat"``).
    seconds : float
        The deadline that passed.
    elapsed : float
        How long the operation had run when it was aborted.
    """

    def __init__(self, label: str, seconds: float, elapsed: float) -> None:
        self.label = label
        self.seconds = seconds
        self.elapsed = elapsed
        super().__init__(f"{label}: no progress within the {seconds:g} s deadline (aborted after {elapsed:.2f} s)")


@dataclass
class Deadlines:
    """The deadlines of a remote source (seconds).

    Attributes
    ----------
    connect : float
        TCP connect + SSH handshake + authentication + opening SFTP.
    read : float
        One read request (or one remote hash command) without an answer.
    file : float
        One whole file transfer, including its verification.
    """

    connect: float = 20.0
    read: float = 30.0
    file: float = 1800.0


class Watchdog:
    """A thread that aborts operations whose deadline passed.

    Parameters
    ----------
    on_expire
        Called (from the watchdog thread) with the label of the first deadline that passed; it must make
        the blocked operation fail, e.g. by closing the socket.

    Examples
    --------
    >>> fired = []
    >>> wd = Watchdog(on_expire=fired.append)
    >>> try:
    ...     with wd.guard(0.1, "sleep"):
    ...         time.sleep(0.4)
    ... except DeadlineExceeded as exc:
    ...     print(exc.label)
    sleep
    >>> fired
    ['sleep']
    >>> wd.stop()
    """

    def __init__(self, on_expire: Callable[[str], None]) -> None:
        self.on_expire = on_expire
        self._lock = threading.Lock()
        self._armed: dict[int, tuple[float, str, float]] = {}
        self._ids = itertools.count()
        self._stop = threading.Event()
        #: ``(label, seconds)`` of the deadline that fired (None while none did).
        self.fired: tuple[str, float] | None = None
        self._thread = threading.Thread(target=self._loop, name="crac-watchdog", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(TICK):
            now = time.monotonic()
            with self._lock:
                due = [(label, secs) for (t, label, secs) in self._armed.values() if t <= now]
                if due and self.fired is None:
                    self.fired = due[0]
                else:
                    due = []
            if due:
                log.warning("deadline of %g s passed: %s; aborting the connection", due[0][1], due[0][0])
                try:
                    self.on_expire(due[0][0])
                except Exception:  # the abort must never kill the watchdog
                    log.exception("aborting %s failed", due[0][0])

    @contextlib.contextmanager
    def guard(self, seconds: float | None, label: str) -> Iterator[None]:
        """Run the block under a deadline of ``seconds``; raise :class:`DeadlineExceeded` when it passed.

        Any exception the block raises after the deadline fired (the closed socket's EOFError, say) is
        replaced by :class:`DeadlineExceeded`. ``seconds=None`` means no deadline.

        Examples
        --------
        >>> wd = Watchdog(on_expire=lambda label: None)
        >>> with wd.guard(1.0, "quick"):
        ...     pass
        >>> wd.stop()
        """
        start = time.monotonic()
        ident = next(self._ids)
        if seconds is not None:
            with self._lock:
                self._armed[ident] = (start + seconds, label, seconds)
        try:
            yield
        except BaseException as exc:
            fired = self.fired
            if fired is not None and not isinstance(exc, CollectError):  # already reported by an inner guard
                raise DeadlineExceeded(fired[0], fired[1], time.monotonic() - start) from exc
            raise
        finally:
            with self._lock:
                self._armed.pop(ident, None)
        if self.fired is not None:
            # the block finished although the abort fired (it raced with the deadline): still a failure,
            # the connection is closed
            raise DeadlineExceeded(self.fired[0], self.fired[1], time.monotonic() - start)

    def stop(self) -> None:
        """End the watchdog thread."""
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)


def backoff_delays(retries: int, base: float = 0.5, cap: float = 30.0, jitter: float = 0.25) -> list[float]:
    """Waiting times before each retry: ``base * 2**i`` capped at ``cap``, with +-``jitter`` randomness.

    Examples
    --------
    >>> [round(d) for d in backoff_delays(4, base=1.0, jitter=0.0)]
    [1, 2, 4, 8]
    """
    out = []
    for i in range(retries):
        d = min(cap, base * 2**i)
        out.append(max(0.0, d * (1 + random.uniform(-jitter, jitter))))
    return out


__all__ = ["DeadlineExceeded", "Deadlines", "Watchdog", "backoff_delays"]
