"""SFTP target against a real OpenSSH sshd on 127.0.0.1 (host keys checked, unknown hosts rejected)."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import pytest
from _helpers import built_project as _built
from _helpers import copy_project, project_files

from crac_tools.backup import BackupError, backup_project, open_target, restore_target, verify_target

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "collect"))
from _sshd import start_sshd  # noqa: E402


@pytest.fixture()
def sshd(tmp_path):
    server = start_sshd(tmp_path / "sshd")
    yield server
    server.stop()


def test_sftp_backup_verify_restore(sshd, tmp_path, dask_client):
    project = copy_project(_built(dask_client), tmp_path / "proj")
    kh = tmp_path / "known_hosts"
    kh.write_text(sshd.known_hosts_line())
    url = f"sftp://{getpass.getuser()}@127.0.0.1:{sshd.port}{tmp_path / 'remote'}"
    opts = {"known_hosts": str(kh), "key_filename": str(sshd.user_key)}
    [res] = backup_project(project, to=url, options=opts)
    assert res.ok, res.summary()
    rep = verify_target(url, **opts)
    assert rep.ok and rep.read == res.files, rep.summary()
    r = restore_target(url, tmp_path / "restored", **opts)
    assert r.ok, r.summary()
    assert project_files(tmp_path / "restored") == project_files(project.parent)


def test_sftp_unknown_host_is_rejected(sshd, tmp_path):
    url = f"sftp://{getpass.getuser()}@127.0.0.1:{sshd.port}{tmp_path / 'remote'}"
    kh = tmp_path / "empty_known_hosts"
    with pytest.raises(BackupError, match="unknown host key"):
        open_target(url, known_hosts=str(kh), key_filename=str(sshd.user_key))
    # explicit accept-new records the key, and it is then trusted
    with open_target(url, known_hosts=str(kh), key_filename=str(sshd.user_key), host_key_policy="accept-new") as t:
        t.put_bytes("x", b"1")
    assert "127.0.0.1" in kh.read_text()
    with open_target(url, known_hosts=str(kh), key_filename=str(sshd.user_key)) as t:
        assert t.get_bytes("x") == b"1"
