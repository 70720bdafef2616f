"""Collection over SSH/SFTP against a real OpenSSH sshd started by the tests (see _sshd.py)."""

from __future__ import annotations

import getpass
import hashlib
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from _sshd import FaultProxy, start_sshd, write_ed25519
from click.testing import CliRunner

from crac_tools.cli import main
from crac_tools.collect.manifest import RawArchive
from crac_tools.collect.run import collect_project
from crac_tools.collect.sftp import AccessError, SftpSource, SshSettings, collect_sftp, parse_sftp_url
from crac_tools.errors import CollectError
from crac_tools.fsutil import TMP_PREFIX

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")

KEY = "alpha_met"


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    d = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def sshd_sftp_only(tmp_path_factory, sshd):
    d = start_sshd(tmp_path_factory.mktemp("sshd-sftp-only"), force_sftp=True, user_key=sshd.user_key)
    yield d
    d.stop()


def _settings(d, tmp_path: Path, port: int | None = None, **kw) -> SshSettings:
    kh = tmp_path / "known_hosts"
    if not kh.exists():
        kh.write_text(d.known_hosts_line(port))
    base = dict(known_hosts=kh, identity=d.user_key, ssh_config="none", use_agent=False, settle=0,
                connect_timeout=5, read_timeout=2, file_timeout=30, backoff=0.05)
    return SshSettings(**{**base, **kw})


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _url(port: int, folder: Path, pattern: str = "*.dat") -> str:
    return f"sftp://127.0.0.1:{port}{folder}/{pattern}"


def _temps(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.startswith(TMP_PREFIX)]


def test_parse_url_refuses_passwords():
    with pytest.raises(CollectError, match="passwords in URLs are refused"):
        parse_sftp_url("sftp://u:secret@h/data/*.dat")
    t = parse_sftp_url("sftp://h/~/data/*.dat?retries=5")
    assert (t.user, t.port, t.path, t.params) == (None, None, "data/*.dat", {"retries": "5"})


@pytest.mark.parametrize("which", ["commands", "sftp-only"])
def test_new_grown_version_and_partial_line(request, tmp_path, which):
    d = request.getfixturevalue("sshd" if which == "commands" else "sshd_sftp_only")
    src = tmp_path / "logger"
    src.mkdir()
    a = src / "a.dat"
    a.write_bytes(b"l1\nl2\n")
    (src / "b.dat").write_bytes(os.urandom(300_000))
    raw = RawArchive(tmp_path / "archive", KEY)
    st = _settings(d, tmp_path, settle=60)
    rep = collect_sftp([_url(d.port, src)], raw, st)
    assert rep.failed == [] and sorted(c.action for c in rep.copied) == ["new", "new"]
    with SftpSource(parse_sftp_url(_url(d.port, src)), st) as s:
        assert s.commands is (which == "commands")
    # unchanged -> skipped without copying
    rep = collect_sftp([_url(d.port, src)], raw, st)
    assert rep.copied == [] and rep.skipped == 2
    # grown, with a line still being written: only complete lines are collected
    with open(a, "ab") as fh:
        fh.write(b"l3\nl4-part")
    rep = collect_sftp([_url(d.port, src)], raw, st)
    [c] = rep.copied
    assert (c.action, c.name, c.size, c.transferred, c.partial) == ("grown", "a.dat", 9, 3, True)
    assert raw.path_of("a.dat").read_bytes() == b"l1\nl2\nl3\n"
    # the line completes: the copy is extended to equal the source
    with open(a, "ab") as fh:
        fh.write(b"ial\n")
    [c] = collect_sftp([_url(d.port, src)], raw, st).copied
    assert (c.action, c.size, c.partial) == ("grown", 20, False)
    assert raw.path_of("a.dat").read_bytes() == a.read_bytes()
    # rewritten -> new version beside the old one
    a.write_bytes(b"X1\nl2\n")
    os.utime(a, (1_700_000_000, 1_700_000_000))
    [c] = collect_sftp([_url(d.port, src)], raw, st).copied
    assert (c.action, c.name) == ("version", "a__v2.dat")
    assert raw.path_of("a.dat").read_bytes() == b"l1\nl2\nl3\nl4-partial\n"
    manifest = dict(line.split("  ")[::-1] for line in raw.manifest_path.read_text().splitlines())
    assert manifest == {n: _sha(raw.path_of(n).read_bytes()) for n in ["a.dat", "a__v2.dat", "b.dat"]}
    assert _temps(tmp_path / "archive") == []


def test_unknown_host_key_refused_with_fix(sshd, tmp_path):
    kh = tmp_path / "empty_known_hosts"
    kh.write_text("")
    st = _settings(sshd, tmp_path, known_hosts=kh)
    with pytest.raises(AccessError) as info:
        SftpSource(parse_sftp_url(_url(sshd.port, tmp_path)), st).connect()
    msg = str(info.value)
    assert "unknown" in msg and "ssh-keyscan" in msg and "accept-new" in msg and "SHA256:" in msg
    assert kh.read_text() == ""
    # not retried: one failure reported, no retries
    rep = collect_sftp([_url(sshd.port, tmp_path)], RawArchive(tmp_path / "arch", KEY), st)
    assert rep.retried == 0 and len(rep.failed) == 1 and "unknown" in rep.failed[0]


def test_accept_new_stores_then_enforces(sshd, tmp_path):
    kh = tmp_path / "kh" / "known_hosts"
    st = _settings(sshd, tmp_path, known_hosts=kh, host_key_policy="accept-new")
    with SftpSource(parse_sftp_url(_url(sshd.port, tmp_path)), st):
        pass
    assert kh.read_text() == sshd.known_hosts_line()
    with SftpSource(parse_sftp_url(_url(sshd.port, tmp_path)), st):
        pass  # stored key accepted
    assert kh.read_text() == sshd.known_hosts_line()
    # the host now presents another key (simulated by storing a different one): refused, file untouched
    other = write_ed25519(tmp_path / "other_key")
    kh.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    with pytest.raises(AccessError) as info:
        SftpSource(parse_sftp_url(_url(sshd.port, tmp_path)), st).connect()
    assert "HOST KEY CHANGED" in str(info.value) and "ssh-keygen -R" in str(info.value)
    assert kh.read_text() == f"[127.0.0.1]:{sshd.port} {other}\n"


def test_wrong_key_authentication_error(sshd, tmp_path):
    write_ed25519(tmp_path / "stranger")
    st = _settings(sshd, tmp_path, identity=tmp_path / "stranger")
    with pytest.raises(AccessError, match="authentication as .* failed.*authorized_keys"):
        SftpSource(parse_sftp_url(_url(sshd.port, tmp_path)), st).connect()


def test_adhoc_cli(sshd, tmp_path):
    src = tmp_path / "logger"
    src.mkdir()
    (src / "x.dat").write_bytes(b"1\n2\n")
    kh = tmp_path / "known_hosts"
    into = tmp_path / "into"
    args = ["collect", "--source", _url(sshd.port, src) + "?ssh_config=none&use_agent=false&settle=0",
            "--into", str(into), "--identity", str(sshd.user_key), "--known-hosts", str(kh)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1 and "unknown" in res.output and not (into / "x.dat").exists()
    res = CliRunner().invoke(main, args + ["--host-key-policy", "accept-new"])
    assert res.exit_code == 0, res.output
    assert "1 file(s) copied" in res.output and (into / "x.dat").read_bytes() == b"1\n2\n"
    assert (into / "SHA256SUMS").read_text() == _sha(b"1\n2\n") + "  x.dat\n"
    assert (into / ".crac" / "collect-state.json").is_file()
    res = CliRunner().invoke(main, args)  # key now known
    assert res.exit_code == 0 and "0 file(s) copied, 1 unchanged" in res.output


def _blackhole() -> socket.socket:
    """A listening socket that accepts TCP connections but never speaks SSH."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(10)
    return s


def test_unreachable_station_does_not_block_others(sshd, tmp_path):
    from crac_tools.config import load_project

    root = tmp_path / "proj"
    (root / "stations").mkdir(parents=True)
    (root / "crac.yaml").write_text("project: {name: t}\n")
    good = tmp_path / "good"
    good.mkdir()
    (good / "g.dat").write_bytes(b"g\n")
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    hole = _blackhole()
    q = (f"?known_hosts={kh}&identity={sshd.user_key}&ssh_config=none&use_agent=false&settle=0"
         "&connect_timeout=1&retries=1&backoff=0.05")
    defs = {"good": _url(sshd.port, good) + q, "silent": _url(hole.getsockname()[1], good) + q,
            "closed": f"sftp://127.0.0.1:1{good}/*.dat" + q, "folder": str(good / "*.dat")}
    for name, source in defs.items():
        (root / "stations" / f"{name}.yaml").write_text(
            f"id: {name}\nlocation: {{lat: 1, lon: 2}}\nsources: ['{source}']\n")
    t0 = time.monotonic()
    results = {r.key: r for r in collect_project(load_project(root))}
    elapsed = time.monotonic() - t0
    hole.close()
    assert [c.name for c in results["good_data"].copied] == ["g.dat"] and not results["good_data"].failed
    assert [c.name for c in results["folder_data"].copied] == ["g.dat"]
    assert results["silent_data"].failed and "deadline" in results["silent_data"].failed[0]
    assert results["silent_data"].retried == 1
    assert results["closed_data"].failed and results["closed_data"].copied == []
    assert elapsed < 10
    res = CliRunner().invoke(main, ["collect", "--config", str(root)])
    assert res.exit_code == 1 and "silent_data" in res.output and "FAILED" in res.output


def test_stall_aborted_within_read_deadline(sshd, tmp_path):
    src = tmp_path / "logger"
    src.mkdir()
    data = os.urandom(2_000_000)
    (src / "big.dat").write_bytes(data)
    proxy = FaultProxy(sshd.port, faults=[(600_000, "stall")])
    try:
        st = _settings(sshd, tmp_path, port=proxy.port, read_timeout=1.0, retries=2)
        raw = RawArchive(tmp_path / "archive", KEY)
        rep = collect_sftp([_url(proxy.port, src)], raw, st)
    finally:
        proxy.close()
    assert rep.failed == [] and rep.retried == 1
    [stall] = proxy.stalls
    assert stall.end is not None and stall.end - stall.start < 1.0 + 0.5
    [(label, seconds, elapsed)] = rep.deadline_hits
    assert seconds == 1.0 and elapsed < 1.5
    assert raw.path_of("big.dat").read_bytes() == data
    assert _temps(tmp_path / "archive") == []


def test_watchdog_bounds_a_whole_file(sshd, tmp_path):
    src = tmp_path / "logger"
    src.mkdir()
    (src / "big.dat").write_bytes(os.urandom(3_000_000))
    # a link that delivers, but too slowly for the whole-file deadline: every attempt aborted, then failure
    proxy = FaultProxy(sshd.port, throttle=0.02)
    try:
        st = _settings(sshd, tmp_path, port=proxy.port, file_timeout=1.0, read_timeout=5, retries=1)
        raw = RawArchive(tmp_path / "archive", KEY)
        t0 = time.monotonic()
        rep = collect_sftp([_url(proxy.port, src)], raw, st)
        elapsed = time.monotonic() - t0
    finally:
        proxy.close()
    assert rep.copied == [] and rep.failed and "transfer of" in rep.failed[0]
    assert all(label.startswith("transfer of") and e < 1.5 for label, _s, e in rep.deadline_hits)
    assert elapsed < 8
    assert not raw.path_of("big.dat").exists() and _temps(tmp_path / "archive") == []


def test_delete_after_verify(sshd, tmp_path):
    src = tmp_path / "logger"
    src.mkdir()
    old, new = src / "old.dat", src / "new.dat"
    old.write_bytes(b"old\n")
    os.utime(old, (1_700_000_000, 1_700_000_000))
    new.write_bytes(b"new\n")  # just written: never deleted
    raw = RawArchive(tmp_path / "archive", KEY)
    rep = collect_sftp([_url(sshd.port, src)], raw, _settings(sshd, tmp_path, delete_after_verify=True))
    assert rep.deleted == [f"sftp://{getpass.getuser()}@127.0.0.1:{sshd.port}{old}"]
    assert not old.exists() and new.exists()
    assert raw.path_of("old.dat").read_bytes() == b"old\n"
    # default: nothing deleted
    old.write_bytes(b"old2\n")
    os.utime(old, (1_700_000_000, 1_700_000_000))
    collect_sftp([_url(sshd.port, src)], raw, _settings(sshd, tmp_path))
    assert old.exists()


def test_second_collector_of_a_station_fails_fast(tmp_path):
    from crac_tools.collect.transfer import station_lock

    raw = RawArchive(tmp_path / "archive", KEY)
    with station_lock(raw):
        done = threading.Event()
        err: list[Exception] = []

        def other():
            try:
                with station_lock(RawArchive(tmp_path / "archive", KEY)):
                    pass
            except CollectError as exc:
                err.append(exc)
            done.set()

        threading.Thread(target=other).start()
        assert done.wait(5)
    assert err and "another collection" in str(err[0]) and str(os.getpid()) in str(err[0])
