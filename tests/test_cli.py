"""The `crac` command: help on every subcommand, init, exit codes, errors naming the file."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import make_project

from crac_tools.cli import main
from crac_tools.config import load_project
from crac_tools.simulate import met_columns, write_toa5

COMMANDS = ["init", "collect", "ingest", "run", "catalog", "quicklook", "demo"]


@pytest.mark.parametrize("cmd", COMMANDS)
def test_every_subcommand_has_help(cmd):
    res = CliRunner().invoke(main, [cmd, "--help"])
    assert res.exit_code == 0
    assert "Usage: main " + cmd in res.output or f"Usage: crac {cmd}" in res.output or cmd in res.output
    if cmd in ("ingest", "run", "demo"):
        assert "--scheduler" in res.output


def test_top_level_help_lists_subcommands():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0
    for cmd in COMMANDS:
        assert cmd in res.output


def test_init_writes_a_loadable_project(tmp_path):
    res = CliRunner().invoke(main, ["init", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    project = load_project(tmp_path / "p" / "crac.yaml")
    assert [s.key for s in project.stations] == ["station1_met"]
    assert "# " in (tmp_path / "p" / "crac.yaml").read_text()  # commented starter
    again = CliRunner().invoke(main, ["init", str(tmp_path / "p")])
    assert again.exit_code == 1 and "already exists" in again.output


def test_bad_config_exits_nonzero_naming_file_and_key(tmp_path):
    cfg = make_project(tmp_path, {"s1": {"interval": "1min"}})
    st = tmp_path / "stations" / "s1.yaml"
    st.write_text(st.read_text().replace("lat: 45.5", "lat: north"))
    res = CliRunner().invoke(main, ["collect", "--config", str(cfg)])
    assert res.exit_code == 1
    assert str(st) in res.output and "location.lat" in res.output and "north" in res.output


def test_collect_ingest_catalog_quicklook_and_failure_exit(tmp_path):
    cfg = make_project(tmp_path, {"s1": {"interval": "30min"}})
    t = pd.date_range("2024-01-01", periods=96, freq="30min")
    write_toa5(tmp_path / "field/s1/TOA5_ok.dat", t, met_columns(t, seed=1), station="s1", table="Met")
    r = CliRunner()
    res = r.invoke(main, ["collect", "--config", str(cfg)])
    assert res.exit_code == 0 and "1 file(s) copied" in res.output
    res = r.invoke(main, ["ingest", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    assert "2 period product(s) written" in res.output
    res = r.invoke(main, ["catalog", "--config", str(cfg)])
    assert res.exit_code == 0 and "catalog.yaml" in res.output
    res = r.invoke(main, ["quicklook", "--config", str(cfg)])
    assert res.exit_code == 0 and "3 quick-look file(s) written" in res.output
    # a corrupt delivery: quarantined, exit status 1, summary names file and line
    (tmp_path / "field/s1/TOA5_bad.dat").write_bytes(b'"TOA5","s1"\r\nrubbish\r\n')
    r.invoke(main, ["collect", "--config", str(cfg)])
    res = r.invoke(main, ["ingest", "--config", str(cfg)])
    assert res.exit_code == 1
    assert "quarantined TOA5_bad.dat" in res.output and "line" in res.output


def test_collect_missing_source_folder_fails(tmp_path):
    cfg = make_project(tmp_path, {"s1": {"interval": "1min"}})
    (tmp_path / "field" / "s1").rmdir()
    res = CliRunner().invoke(main, ["collect", "--config", str(cfg)])
    assert res.exit_code == 1 and "not found" in res.output


def test_quicklook_names_follow_the_image_template(tmp_path):
    from crac_tools.conventions.naming import parse_name

    cfg = make_project(tmp_path, {"s1": {"interval": "30min"}})
    cfg.write_text(cfg.read_text().replace("naming:\n", 'naming:\n  image_template: "IM{start:%Y%m%d_%H%M}.PNG"\n'))
    t = pd.date_range("2024-01-01", periods=96, freq="30min")
    write_toa5(tmp_path / "field/s1/TOA5_ok.dat", t, met_columns(t, seed=1), station="s1", table="Met")
    r = CliRunner()
    assert r.invoke(main, ["collect", "--config", str(cfg)]).exit_code == 0
    assert r.invoke(main, ["ingest", "--config", str(cfg)]).exit_code == 0
    res = r.invoke(main, ["quicklook", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    pngs = sorted(p.name for p in (tmp_path / "archive/quicklook/s1_met").glob("IM*"))
    assert pngs == ["IM20240101_0000.PNG", "IM20240102_0000.PNG"]
    assert parse_name("IM20240101_0000.PNG")["convention"] == "espo_image"
