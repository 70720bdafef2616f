"""Failed-login back-off: kept on disk (restarts, several processes), per user name and per address, capped."""

from __future__ import annotations

import datetime as dt
import threading

from starlette.testclient import TestClient
from web_helpers import login

from crac_tools.web.auth import LoginBackoff, backoff_seconds


def _client(app, address: str = "192.0.2.10") -> TestClient:
    return TestClient(app, client=(address, 50000))


def test_backoff_survives_a_restart(web_project, clock):
    from crac_tools.web.app import create_app

    c = _client(create_app(web_project, now=clock))
    for _ in range(3):
        assert login(c, "bob", "guess").status_code == 401
    assert login(c, "bob").status_code == 429
    # a new server process on the same archive (restart): still refused, with the remaining wait
    c2 = _client(create_app(web_project, now=clock))
    r = login(c2, "bob")
    assert r.status_code == 429 and "try again in 2 s" in r.text
    clock.t += dt.timedelta(seconds=2)
    assert login(c2, "bob", "guess").status_code == 401
    c3 = _client(create_app(web_project, now=clock))
    assert "try again in 4 s" in login(c3, "bob").text  # doubled, across the restart
    clock.t += dt.timedelta(seconds=4)
    assert login(c3, "bob").status_code == 303
    # success clears the counters for good
    c4 = _client(create_app(web_project, now=clock))
    assert login(c4, "bob", "guess").status_code == 401
    assert login(c4, "bob").status_code == 303


def test_backoff_by_user_name_and_by_address(app, clock):
    attacker = _client(app, "198.51.100.7")
    for i in range(3):
        assert login(attacker, f"nosuchuser{i}", "guess").status_code == 401  # three names, one address
    assert login(attacker, "carol").status_code == 429  # the address is slowed, whatever name it tries
    elsewhere = _client(app, "203.0.113.9")
    assert login(elsewhere, "carol").status_code == 303  # another address and an untouched name: fine
    spread = [_client(app, f"203.0.113.{20 + i}") for i in range(3)]
    for c in spread:
        assert login(c, "dave", "guess").status_code == 401  # one name from three addresses
    assert login(_client(app, "203.0.113.99"), "dave").status_code == 429  # the name is slowed everywhere


def test_backoff_file_names_no_user_or_address(app, web_project):
    c = _client(app, "192.0.2.77")
    for _ in range(4):
        login(c, "erin", "guess")
    folder = web_project.archive / "state" / "web"
    db = folder / "login-backoff.sqlite"
    assert db.is_file() and (db.stat().st_mode & 0o077) == 0
    blob = b"".join(p.read_bytes() for p in folder.glob("login-backoff.sqlite*"))
    assert b"erin" not in blob and b"192.0.2.77" not in blob


def test_exponential_capped_and_forgotten(tmp_path):
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    b = LoginBackoff(tmp_path / "b.sqlite", b"secret")
    keys = [("user", "x"), ("addr", "a")]
    waits = []
    for _ in range(16):
        b.fail(keys, t0)
        waits.append(b.wait(keys, t0, 3, 2.0))
    assert waits[:6] == [0.0, 0.0, 2.0, 4.0, 8.0, 16.0]
    assert max(waits) == 900.0 and waits[-1] == 900.0
    assert backoff_seconds(10**9, 3, 2.0) == 900.0
    assert b.wait(keys, t0 + dt.timedelta(seconds=899), 3, 2.0) == 1.0
    assert b.wait(keys, t0 + dt.timedelta(hours=25), 3, 2.0) == 0.0  # forgotten a day after the last failure
    b.fail([("user", "y")], t0 + dt.timedelta(hours=25))  # also purges the stale rows
    assert b.wait(keys, t0, 3, 2.0) == 0.0
    b.clear([("user", "y")])
    assert b.wait([("user", "y")], t0 + dt.timedelta(hours=25), 1, 2.0) == 0.0


def test_concurrent_writers_count_every_failure(tmp_path):
    """Several server processes (here: separate connections in threads) share one counter."""
    t0 = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    path = tmp_path / "b.sqlite"
    stores = [LoginBackoff(path, b"secret") for _ in range(4)]

    def hammer(store):
        for _ in range(10):
            store.fail([("user", "bob")], t0)

    threads = [threading.Thread(target=hammer, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # 40 failures with max_failures 40: the first back-off step exactly
    assert LoginBackoff(path, b"secret").wait([("user", "bob")], t0, 40, 2.0) == 2.0
    assert LoginBackoff(path, b"other").wait([("user", "bob")], t0, 1, 2.0) == 0.0  # keys depend on the secret
