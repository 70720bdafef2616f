"""Record-level resume (holes and resets) and the station registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from crac_tools.collect.manifest import RawArchive
from crac_tools.collect.records import RecordTracker
from crac_tools.collect.registry import load_registry, parse_station_list, retired_stations
from crac_tools.collect.transfer import LocalSource, TransferOptions, collect_source
from crac_tools.errors import CollectError, ConfigError

HEADER = ('"TOA5","alpha","CR1000","1","OS","CPU:met.CR1","1","Met"\n"TIMESTAMP","RECORD","T"\n'
          '"TS","RN","C"\n"","","Smp"\n')


def _rows(records: list[int]) -> str:
    return "".join(f'"2024-01-01 00:{r % 60:02d}:00",{r},1.0\n' for r in records)


def test_tracker_reports_holes_and_resets():
    t = RecordTracker()
    ev = t.feed((HEADER + _rows([1, 2, 3, 7, 8, 0, 1])).encode(), "a.dat", header=True)
    assert [(e.kind, e.after, e.record, e.missing, e.file_mark) for e in ev] == [
        ("hole", 3, 7, 3, 1), ("reset", 8, 0, 0, 2)]
    assert "hole of 3 record(s)" in str(ev[0])
    assert (t.last_record, t.file_mark, t.records) == (1, 2, 7)


def test_tracker_ignores_incomplete_last_line_and_resumes():
    t = RecordTracker()
    assert t.feed((HEADER + _rows([1, 2]) + '"2024-01-01 00:03:00",3,1').encode(), "a", header=True) == []
    assert t.last_record == 2
    t2 = RecordTracker.from_state(t.state())
    assert t2.feed(b'"2024-01-01 00:03:00",3,1.0\n"2024-01-01 00:04:00",4,1\n', "a", header=False) == []
    assert t2.last_record == 4


def test_collection_keeps_resume_pointer_across_files_and_runs(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    raw = RawArchive(tmp_path / "archive", "alpha_met")
    (src / "d1.dat").write_text(HEADER + _rows([10, 11]) + '"2024-01-01 00:12:00",1')
    rep = collect_source(LocalSource(), [str(src / "*.dat")], raw, TransferOptions(settle=60))
    assert rep.records == [] and rep.copied[0].partial
    with open(src / "d1.dat", "a") as fh:
        fh.write("2,1.0\n")
    (src / "d2.dat").write_text(HEADER + _rows([13, 20]))  # next file continues, then jumps
    rep = collect_source(LocalSource(), [str(src / "*.dat")], RawArchive(raw.archive, raw.key),
                         TransferOptions(settle=60))
    assert [(e.kind, e.after, e.record, e.file) for e in rep.records] == [("hole", 13, 20, "d2.dat")]
    state = RawArchive(raw.archive, raw.key).state
    assert state["records"]["alpha.Met"]["last_record"] == 20
    assert state["record_events"][0]["kind"] == "hole"


CSV = """id,product,lat,lon,alt,format,sources
alpha,met,47.5,8.2,410,toa5,/data/alpha/*.dat
bravo,met,47.6,8.3,,toa5,sftp://logger@10.0.0.6/data/*.dat; /mnt/bravo/*.dat
"""


def test_parse_csv_and_yaml():
    st = parse_station_list(CSV.encode(), "stations.csv")
    assert [s.key for s in st] == ["alpha_met", "bravo_met"]
    assert st[1].sources == ["sftp://logger@10.0.0.6/data/*.dat", "/mnt/bravo/*.dat"]
    assert st[1].location.alt == 0.0
    y = b"stations:\n  - {id: c, location: {lat: 1, lon: 2}, sources: [/x/*.dat]}\n"
    assert [s.key for s in parse_station_list(y, "s.yaml")] == ["c_data"]
    with pytest.raises(ConfigError, match="station 1"):
        parse_station_list(b"id,lat,lon,sources\nx,999,1,/a\n", "bad.csv")


def test_registry_adds_retires_and_survives_unreadable_list(tmp_path):
    archive, lst = tmp_path / "archive", tmp_path / "stations.csv"
    lst.write_text(CSV)
    res = load_registry("stations.csv", archive, tmp_path)
    assert res.added == ["alpha_met", "bravo_met"] and res.retired == []
    lst.write_text(CSV.splitlines()[0] + "\n" + CSV.splitlines()[1] + "\n")  # bravo removed
    res = load_registry("stations.csv", archive, tmp_path)
    assert [s.key for s in res.stations] == ["alpha_met"] and res.retired == ["bravo_met"]
    assert retired_stations(archive) == ["bravo_met"]
    lst.unlink()  # unreadable: last good copy, nothing retired
    res = load_registry("stations.csv", archive, tmp_path)
    assert res.warning and [s.key for s in res.stations] == ["alpha_met"] and res.retired == []
    lst.write_text(CSV)
    res = load_registry("stations.csv", archive, tmp_path, static_keys=["alpha_met"])
    assert res.returned == ["bravo_met"] and [s.key for s in res.stations] == ["bravo_met"]
    assert retired_stations(archive) == []
    with pytest.raises(CollectError):
        load_registry("missing.csv", tmp_path / "other-archive", tmp_path)


def test_registry_stations_collected_by_project(tmp_path):
    from crac_tools.collect.run import collect_station, project_stations
    from crac_tools.config import load_project

    (tmp_path / "crac.yaml").write_text("project: {name: t}\n")
    data = tmp_path / "alpha"
    data.mkdir()
    (data / "a.dat").write_text("x\n")
    (tmp_path / "stations.csv").write_text(f"id,lat,lon,sources\nalpha,1,2,{data}/*.dat\n")
    from crac_tools.collect.run import CollectSettings

    project = load_project(tmp_path)
    settings = CollectSettings(station_list="stations.csv")
    stations, changes = project_stations(project, settings)
    assert [s.key for s in stations] == ["alpha_data"] and changes["added"] == ["alpha_data"]
    r = collect_station(RawArchive(project.archive, "alpha_data"), stations[0].sources, settings)
    assert [c.name for c in r.copied] == ["a.dat"] and not r.failed
    assert Path(project.archive / "raw" / "alpha_data" / "a.dat").read_text() == "x\n"


def test_listed_stations_are_ingested_and_retired_ones_stay_in_the_catalog(tmp_path, dask_client):
    import pandas as pd

    from crac_tools.catalog_project import build_catalog, catalog_entries
    from crac_tools.collect.run import collect_project
    from crac_tools.config import load_project
    from crac_tools.pipeline import ingest
    from crac_tools.simulate import met_columns, write_toa5
    from crac_tools.templates import project_yaml

    (tmp_path / "crac.yaml").write_text(project_yaml(name="t") + "collect:\n  station_list: stations.csv\n")
    t = pd.date_range("2024-01-01", periods=48, freq="30min")
    for sid in ("alpha", "bravo"):
        write_toa5(tmp_path / sid / "TOA5.dat", t, met_columns(t, seed=1), station=sid, table="Met")
    (tmp_path / "stations.csv").write_text(
        f"id,lat,lon,sources\nalpha,1,2,{tmp_path}/alpha/*.dat\nbravo,3,4,{tmp_path}/bravo/*.dat\n")
    collect_project(tmp_path / "crac.yaml")
    report = ingest(tmp_path / "crac.yaml", client=dask_client)
    assert sorted(b["station"] for b in report.built) == ["alpha_data", "bravo_data"]
    # bravo leaves the list: collected no more, but its products stay in the catalog, marked retired
    (tmp_path / "stations.csv").write_text(f"id,lat,lon,sources\nalpha,1,2,{tmp_path}/alpha/*.dat\n")
    collect_project(tmp_path / "crac.yaml")
    project = load_project(tmp_path / "crac.yaml")
    assert [s.key for s in project.stations] == ["alpha_data"]
    meta = {e.name: e.metadata for e in catalog_entries(project)}
    assert meta["alpha_data"]["retired"] is False and meta["bravo_data"]["retired"] is True
    assert meta["bravo_data"]["lat"] == 3.0
    build_catalog(project)
