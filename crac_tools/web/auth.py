"""Passwords, sessions, script tokens and login back-off for the field catalog.

* Passwords are stored as scrypt hashes (``scrypt$n$r$p$salt$hash``, :func:`hashlib.scrypt`), in the
  ``serve.users`` section of ``crac.yaml`` or, once changed through the web, in ``ARCHIVE/state/web/accounts.json``.
* A login creates a random session id (cookie ``crac_session``: ``HttpOnly``, ``SameSite=Strict``); the
  server keeps only its SHA-256, with the user and expiry, in ``ARCHIVE/state/web/sessions.json``. Logging out
  deletes it; changing a password deletes every session and token of that user.
* Scripts authenticate with ``Authorization: Bearer <token>``; tokens are created by ``crac serve --new-token
  USER`` or on the account page, shown once and stored as SHA-256 only.
* After ``login_max_failures`` failed logins for a user name or from one address, further attempts are refused
  (HTTP 429) for a back-off that doubles with every failure (at most 15 minutes). The counters live in
  ``ARCHIVE/state/web/login-backoff.sqlite`` (:class:`LoginBackoff`: SQLite in WAL mode, keys are HMACs of the
  user name and the address, never the plain values), so a restart or a second server process keeps them.

Examples
--------
>>> h = hash_password("correct horse", n=2**10)
>>> verify_password("correct horse", h), verify_password("wrong", h)
(True, False)
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import hmac
import math
import secrets
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ..fsutil import atomic_write_json, read_json
from .policy import User
from .settings import ServeConfig

SESSION_COOKIE = "crac_session"
_MAX_BACKOFF = 900.0
#: Failures older than this (since the last one) are forgotten.
_FORGET_AFTER = 24 * 3600.0
_DUMMY_HASH = None


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, *, n: int = 2**14, r: int = 8, p: int = 1) -> str:
    """Hash a password with scrypt and a random salt.

    Examples
    --------
    >>> hash_password("x", n=2**10).startswith("scrypt$1024$8$1$")
    True
    """
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=128 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches the ``stored`` hash (constant-time comparison; False for no hash).

    Examples
    --------
    >>> verify_password("x", None)
    False
    """
    global _DUMMY_HASH
    if not stored:
        # spend the same time as a real check, so unknown user names cannot be told apart by timing
        _DUMMY_HASH = _DUMMY_HASH or hash_password("dummy")
        stored, ok_user = _DUMMY_HASH, False
    else:
        ok_user = True
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                             maxmem=128 * 1024 * 1024, dklen=len(base64.b64decode(digest)))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest)) and ok_user


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).isoformat()


def backoff_seconds(count: int, max_failures: int, base: float, cap: float = _MAX_BACKOFF) -> float:
    """The wait after ``count`` failures: none below ``max_failures``, then ``base`` doubling per failure, capped.

    Examples
    --------
    >>> [backoff_seconds(n, 3, 2.0) for n in (2, 3, 4, 5)]
    [0.0, 2.0, 4.0, 8.0]
    >>> backoff_seconds(10_000, 3, 2.0)
    900.0
    """
    if count < max_failures:
        return 0.0
    exponent = min(count - max_failures, 64)  # 2**64 * anything positive is past any cap
    return float(min(cap, base * math.ldexp(1.0, exponent)))


class LoginBackoff:
    """Failed-login counters kept in a small SQLite file (WAL), shared by restarts and server processes.

    Each counter is keyed by an HMAC (with the server secret) of ``kind:value`` (``user:alice``,
    ``addr:192.0.2.7``), so the file names no user and no address. A counter holds the number of failures and
    the instant of the last one; it is deleted on a successful login and forgotten a day after its last failure.

    Parameters
    ----------
    path
        The database file (created with mode 0600).
    secret
        The server secret the keys are derived with.

    Examples
    --------
    >>> import tempfile, datetime as dt
    >>> b = LoginBackoff(Path(tempfile.mkdtemp()) / "b.sqlite", b"k")
    >>> t = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    >>> for _ in range(3):
    ...     b.fail([("user", "bob")], t)
    >>> b.wait([("user", "bob")], t, max_failures=3, base=2.0)
    2.0
    >>> LoginBackoff(b.path, b"k").wait([("user", "bob")], t + dt.timedelta(seconds=1), 3, 2.0)
    1.0
    """

    def __init__(self, path: Path, secret: bytes) -> None:
        self.path = Path(path)
        self._secret = secret
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS failures (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                       "last REAL NOT NULL)")
        self.path.chmod(0o600)

    def _connect(self) -> contextlib.closing[sqlite3.Connection]:
        # autocommit mode (explicit transactions where needed); closed at the end of each ``with`` block
        db = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        return contextlib.closing(db)

    def _key(self, kind: str, value: str) -> str:
        return hmac.new(self._secret, f"backoff:{kind}:{value}".encode("utf-8", "replace"), hashlib.sha256).hexdigest()

    def wait(self, keys: Iterable[tuple[str, str]], now: dt.datetime, max_failures: int, base: float) -> float:
        """Seconds before another attempt is allowed for every one of ``keys`` (0: may try now)."""
        t = now.timestamp()
        wait = 0.0
        with self._connect() as db:
            for kind, value in keys:
                row = db.execute("SELECT count, last FROM failures WHERE key = ?", (self._key(kind, value),)).fetchone()
                if row is None or int(row[0]) < max_failures or t - row[1] > _FORGET_AFTER:
                    continue
                wait = max(wait, row[1] + backoff_seconds(int(row[0]), max_failures, base) - t)
        return max(0.0, wait)

    def fail(self, keys: Iterable[tuple[str, str]], now: dt.datetime) -> None:
        """Count one failed attempt against each of ``keys`` (one transaction)."""
        t = now.timestamp()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute("DELETE FROM failures WHERE last < ?", (t - _FORGET_AFTER,))
                for kind, value in keys:
                    db.execute("INSERT INTO failures (key, count, last) VALUES (?, 1, ?) ON CONFLICT(key) DO UPDATE "
                               "SET count = count + 1, last = excluded.last", (self._key(kind, value), t))
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def clear(self, keys: Iterable[tuple[str, str]]) -> None:
        """Forget the failures of ``keys`` (after a successful login)."""
        with self._connect() as db:
            db.executemany("DELETE FROM failures WHERE key = ?", [(self._key(k, v),) for k, v in keys])


@dataclass
class AuthStore:
    """Accounts, sessions and tokens of one server (files under ``ARCHIVE/state/web/``).

    Examples
    --------
    >>> store = AuthStore(Path(tempfile.mkdtemp()), ServeConfig())  # doctest: +SKIP
    """

    folder: Path
    config: ServeConfig
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        secret_file = self.folder / "secret"
        if not secret_file.exists():
            atomic_write_json(secret_file, {"secret": secrets.token_hex(32)})
            secret_file.chmod(0o600)
        self.secret = read_json(secret_file)["secret"].encode("ascii")
        self.backoff = LoginBackoff(self.folder / "login-backoff.sqlite", self.secret)

    # -- files ---------------------------------------------------------------------------------------
    def _read(self, name: str) -> dict:
        return read_json(self.folder / f"{name}.json", default=None) or {}

    def _write(self, name: str, data: dict) -> None:
        path = self.folder / f"{name}.json"
        atomic_write_json(path, data)
        path.chmod(0o600)

    # -- users ---------------------------------------------------------------------------------------
    def user(self, name: str) -> User | None:
        """The configured user ``name`` (None when not configured)."""
        cfg = self.config.users.get(name)
        return None if cfg is None else User(name, frozenset(cfg.roles))

    def _hash_of(self, name: str) -> str | None:
        if name not in self.config.users:
            return None
        acct = self._read("accounts").get(name)
        return acct["password_hash"] if acct else self.config.users[name].password_hash

    def set_password(self, name: str, password: str, now: dt.datetime) -> None:
        """Store a new password for ``name`` and revoke every session and token of that user.

        Examples
        --------
        >>> store.set_password("alice", "new secret", now)  # doctest: +SKIP
        """
        if name not in self.config.users:
            raise KeyError(f"no user {name!r} under serve.users")
        if len(password) < 8:
            raise ValueError("a password needs at least 8 characters")
        with self._lock:
            accounts = self._read("accounts")
            accounts[name] = {"password_hash": hash_password(password), "changed": _iso(now)}
            self._write("accounts", accounts)
            self._write("sessions", {k: v for k, v in self._read("sessions").items() if v["user"] != name})
            self._write("tokens", {k: v for k, v in self._read("tokens").items() if v["user"] != name})

    # -- login back-off ------------------------------------------------------------------------------
    def retry_after(self, name: str, address: str, now: dt.datetime) -> float:
        """Seconds the caller must wait before another login attempt (0: may try now).

        Examples
        --------
        >>> store.retry_after("alice", "192.0.2.7", now)  # doctest: +SKIP
        0.0
        """
        return self.backoff.wait((("user", name), ("addr", address)), now, self.config.login_max_failures,
                                 self.config.login_backoff_seconds)

    def login(self, name: str, password: str, address: str, now: dt.datetime) -> str | None:
        """Check a password; on success return a new session id (the cookie value), else None."""
        ok = verify_password(password, self._hash_of(name))
        keys = (("user", name), ("addr", address))
        if not ok:
            self.backoff.fail(keys, now)
            return None
        self.backoff.clear(keys)
        with self._lock:
            sid = secrets.token_urlsafe(32)
            sessions = {k: v for k, v in self._read("sessions").items()
                        if dt.datetime.fromisoformat(v["expires"]) > now}
            sessions[_digest(sid)] = {"user": name, "created": _iso(now),
                                      "expires": _iso(now + dt.timedelta(hours=self.config.session_hours))}
            self._write("sessions", sessions)
        return sid

    def logout(self, sid: str) -> None:
        """Delete the session ``sid``."""
        with self._lock:
            sessions = self._read("sessions")
            if sessions.pop(_digest(sid), None) is not None:
                self._write("sessions", sessions)

    def session_user(self, sid: str | None, now: dt.datetime) -> User | None:
        """The user of a live session id (None when unknown, expired or the user was removed)."""
        if not sid or len(sid) > 200:
            return None
        entry = self._read("sessions").get(_digest(sid))
        if entry is None or dt.datetime.fromisoformat(entry["expires"]) <= now:
            return None
        return self.user(entry["user"])

    # -- tokens --------------------------------------------------------------------------------------
    def new_token(self, name: str, label: str, now: dt.datetime) -> str:
        """Create a script token for ``name``; returns it (shown once; only its hash is kept).

        Examples
        --------
        >>> token = store.new_token("alice", "laptop", now)  # doctest: +SKIP
        """
        if name not in self.config.users:
            raise KeyError(f"no user {name!r} under serve.users")
        token = "crac_" + secrets.token_urlsafe(32)
        with self._lock:
            tokens = self._read("tokens")
            tokens[_digest(token)] = {"user": name, "label": label[:80], "created": _iso(now)}
            self._write("tokens", tokens)
        return token

    def token_user(self, token: str | None) -> User | None:
        """The user of a script token (None when unknown)."""
        if not token or len(token) > 200:
            return None
        entry = self._read("tokens").get(_digest(token))
        return None if entry is None else self.user(entry["user"])

    def tokens_of(self, name: str) -> list[dict]:
        """The labels and creation times of ``name``'s tokens."""
        return [{"label": v["label"], "created": v["created"], "id": k[:12]}
                for k, v in self._read("tokens").items() if v["user"] == name]

    def revoke_token(self, name: str, token_id: str) -> None:
        """Delete one of ``name``'s tokens by the id shown on the account page."""
        with self._lock:
            tokens = self._read("tokens")
            keep = {k: v for k, v in tokens.items() if not (v["user"] == name and k[:12] == token_id)}
            if len(keep) != len(tokens):
                self._write("tokens", keep)

    # -- CSRF ----------------------------------------------------------------------------------------
    def csrf_token(self, sid: str | None) -> str:
        """The form token bound to a session (empty for anonymous callers)."""
        if not sid:
            return ""
        return hmac.new(self.secret, b"csrf:" + sid.encode("utf-8"), hashlib.sha256).hexdigest()

    def check_csrf(self, sid: str | None, token: str | None) -> bool:
        """Whether a submitted form token belongs to the session."""
        return bool(sid) and bool(token) and hmac.compare_digest(self.csrf_token(sid), str(token))
