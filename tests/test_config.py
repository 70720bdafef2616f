"""Tests of crac_tools.config (project and station YAML) and crac_tools.templates (starter project)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pandas as pd
import pytest

from crac_tools.config import Project, load_project, load_station
from crac_tools.errors import ConfigError
from crac_tools.templates import init_project, project_yaml, station_yaml

STATION_FULL = """\
id: alpha
name: Alpha ridge
location: {lat: 47.5, lon: 11.25, alt: 1820.5}
instruments:
  - {name: logger, model: CR1000X, serial: "4711"}
  - name: sonic
product: met
format: toa5
table: Table1
interval: 30min
period: week
sources:
  - incoming/alpha/*.dat
  - /abs/alpha/**/*.dat
columns:
  AirTC_Avg:
    standard_name: air_temperature
    units: degC
    valid_min: -60
    valid_max: 60
  Rain_mm_Tot:
    - {units: mm, standard_name: thickness_of_rainfall_amount, until: 2024-05-01}
    - {units: mm, missing_values: [-6999], rename: rain, from: 2024-05-01}
attrs:
  site_code: ALP
  elevation_class: 3
"""


def _project(tmp_path: Path, stations: dict[str, str], project: str | None = None) -> Path:
    (tmp_path / "stations").mkdir(parents=True, exist_ok=True)
    (tmp_path / "crac.yaml").write_text(project if project is not None else project_yaml(), encoding="utf-8")
    for name, text in stations.items():
        (tmp_path / "stations" / name).write_text(text, encoding="utf-8")
    return tmp_path / "crac.yaml"


def _error(tmp_path: Path, station_text: str, file: str = "s.yaml") -> tuple[ConfigError, Path]:
    cfg = _project(tmp_path, {file: station_text})
    with pytest.raises(ConfigError) as info:
        load_project(cfg)
    return info.value, (tmp_path / "stations" / file).resolve()


# -- valid projects -----------------------------------------------------------------------------------


def test_init_project_loads(tmp_path):
    written = init_project(tmp_path / "p")
    assert sorted(p.relative_to(tmp_path / "p").as_posix() for p in written) == [
        "crac.yaml", "stations/station1.yaml"]
    assert (tmp_path / "p" / "incoming" / "station1").is_dir()
    project = load_project(tmp_path / "p")  # a folder is accepted
    assert project.path == (tmp_path / "p" / "crac.yaml").resolve()
    assert project.config.project.name == "myproject"
    assert project.config.project.pi_email == "jane.doe@example.org"
    assert project.config.project.keywords == ["meteorology", "surface station"]
    assert project.config.period == "day"
    assert project.config.products.compression == "none"
    assert project.config.dask.scheduler is None
    assert project.archive == (tmp_path / "p" / "archive").resolve()
    [st] = project.stations
    assert (st.id, st.product, st.key, st.format, st.interval) == ("station1", "met", "station1_met", "toa5", "1min")
    assert st.interval_td == pd.Timedelta(minutes=1)
    assert st.sources == ["incoming/station1/*.dat"]
    assert st.columns["AirTC_Avg"][0].units == "degC"
    assert st.path == (tmp_path / "p" / "stations" / "station1.yaml").resolve()
    assert project.period_of(st) == "day"


def test_template_arguments_are_used(tmp_path):
    cfg = _project(tmp_path, {"b.yaml": station_yaml(id="bravo", name="Bravo", lat=-33.5, lon=151.0, alt=12.0,
                                                     product="soil", interval="10s", source="/data/b/*.csv")},
                   project=project_yaml(name="net", title="Net", pi="A B", pi_email="a@b.c", institution="Inst"))
    project = load_project(cfg)
    assert (project.config.project.name, project.config.project.pi, project.config.project.institution) == (
        "net", "A B", "Inst")
    [st] = project.stations
    assert (st.id, st.name, st.product, st.interval, st.sources) == ("bravo", "Bravo", "soil", "10s",
                                                                     ["/data/b/*.csv"])
    assert (st.location.lat, st.location.lon, st.location.alt) == (-33.5, 151.0, 12.0)


def test_every_station_field_parsed(tmp_path):
    project = load_project(_project(tmp_path, {"alpha.yaml": STATION_FULL}))
    [st] = project.stations
    assert st.name == "Alpha ridge"
    assert (st.location.lat, st.location.lon, st.location.alt) == (47.5, 11.25, 1820.5)
    assert [(i.name, i.model, i.serial) for i in st.instruments] == [("logger", "CR1000X", "4711"),
                                                                      ("sonic", None, None)]
    assert (st.product, st.key, st.format, st.table) == ("met", "alpha_met", "toa5", "Table1")
    assert st.interval_td == pd.Timedelta(minutes=30)
    assert st.period == "week"
    assert project.period_of(st) == "week"
    assert st.sources == ["incoming/alpha/*.dat", "/abs/alpha/**/*.dat"]
    assert st.attrs == {"site_code": "ALP", "elevation_class": 3}
    air = st.columns["AirTC_Avg"]
    assert len(air) == 1  # a single mapping becomes a one-entry list
    assert (air[0].standard_name, air[0].units, air[0].valid_min, air[0].valid_max) == (
        "air_temperature", "degC", -60.0, 60.0)
    assert air[0].valid_from is None and air[0].valid_until is None
    rain = st.columns["Rain_mm_Tot"]
    assert rain[0].valid_until == dt.datetime(2024, 5, 1)
    assert rain[1].valid_from == dt.datetime(2024, 5, 1)
    assert rain[1].missing_values == [-6999.0]
    assert rain[1].rename == "rain"


def test_column_meta_by_date(tmp_path):
    st = load_station(_project(tmp_path, {"alpha.yaml": STATION_FULL}).parent / "stations" / "alpha.yaml")
    day = pd.Timedelta(days=1)
    before = st.column_meta("Rain_mm_Tot", pd.Timestamp("2024-04-30"), pd.Timestamp("2024-04-30") + day)
    after = st.column_meta("Rain_mm_Tot", pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-01") + day)
    assert before.standard_name == "thickness_of_rainfall_amount" and before.missing_values == []
    assert after.missing_values == [-6999.0] and after.standard_name is None
    # the change at exactly 2024-05-01 00:00: the day before ends there ([start, end) is half open)
    assert st.column_meta("Rain_mm_Tot", pd.Timestamp("2024-04-30 23:00"),
                          pd.Timestamp("2024-05-01")).valid_until == dt.datetime(2024, 5, 1)
    # an open-ended entry applies at any time
    assert st.column_meta("AirTC_Avg", pd.Timestamp("1990-01-01"), pd.Timestamp("1990-01-02")).units == "degC"
    assert st.column_meta("NoSuchColumn", pd.Timestamp("2024-01-01"), pd.Timestamp("2024-01-02")) is None


def test_column_meta_timezone_aware_bounds(tmp_path):
    text = STATION_FULL.replace("until: 2024-05-01}", "until: '2024-05-01T02:00:00+02:00'}")
    st = load_project(_project(tmp_path, {"alpha.yaml": text})).stations[0]
    assert st.columns["Rain_mm_Tot"][0].valid_until == dt.datetime(2024, 5, 1)  # UTC, tz-naive
    meta = st.column_meta("Rain_mm_Tot", pd.Timestamp("2024-04-30"), pd.Timestamp("2024-05-01"))
    assert meta.standard_name == "thickness_of_rainfall_amount"


def test_station_defaults_and_yml_suffix(tmp_path):
    proj = project_yaml() + "station_defaults:\n  interval: 10min\n  format: cr10x\n"
    text = "id: s2\nlocation: {lat: 1, lon: 2}\nformat: toa5\n"
    project = load_project(_project(tmp_path, {"s2.yml": text}, project=proj))
    [st] = project.stations
    assert (st.interval, st.format, st.product) == ("10min", "toa5", "data")  # own keys beat defaults


def test_select_and_station(tmp_path):
    a = station_yaml(id="alpha", product="met")
    a2 = station_yaml(id="alpha", product="flux")
    b = station_yaml(id="bravo", product="met")
    project = load_project(_project(tmp_path, {"a.yaml": a, "a2.yaml": a2, "b.yaml": b}))
    assert [s.key for s in project.stations] == ["alpha_met", "alpha_flux", "bravo_met"]
    assert [s.key for s in project.select(None)] == ["alpha_met", "alpha_flux", "bravo_met"]
    assert [s.key for s in project.select([])] == ["alpha_met", "alpha_flux", "bravo_met"]
    assert [s.key for s in project.select(["alpha"])] == ["alpha_met", "alpha_flux"]
    assert [s.key for s in project.select(["bravo_met", "alpha_flux"])] == ["bravo_met", "alpha_flux"]
    assert [s.key for s in project.select(["alpha_met", "alpha"])] == ["alpha_met", "alpha_flux"]  # no repeats
    assert project.station("bravo").key == "bravo_met"
    with pytest.raises(ConfigError) as info:
        project.select(["charlie"])
    msg = str(info.value)
    assert "'charlie'" in msg and "alpha_met, alpha_flux, bravo_met" in msg and str(project.path) in msg


def test_resolve_source(tmp_path):
    project = Project(tmp_path / "proj" / "crac.yaml", None, [])
    root = tmp_path / "proj"
    assert project.resolve_source("incoming/a/*.dat") == str(root / "incoming/a/*.dat")
    assert project.resolve_source("/data/a/*.dat") == "/data/a/*.dat"
    assert project.resolve_source("file:///data/a/*.dat") == "/data/a/*.dat"
    assert project.resolve_source("file://in/a/*.dat") == str(root / "in/a/*.dat")
    assert project.resolve_source("~/x/*.dat") == os.path.expanduser("~/x/*.dat")
    assert project.resolve_source("sftp://u@h:22/d/*.dat") == "sftp://u@h:22/d/*.dat"


def test_no_stations_folder(tmp_path):
    (tmp_path / "crac.yaml").write_text(project_yaml())
    assert load_project(tmp_path / "crac.yaml").stations == []


# -- init_project ------------------------------------------------------------------------------------


def test_init_project_refuses_to_overwrite(tmp_path):
    init_project(tmp_path)
    (tmp_path / "crac.yaml").write_text("mine\n")
    with pytest.raises(ConfigError) as info:
        init_project(tmp_path)
    assert str(tmp_path / "crac.yaml") in str(info.value) and "already exists" in str(info.value)
    assert (tmp_path / "crac.yaml").read_text() == "mine\n"
    init_project(tmp_path, force=True)
    assert (tmp_path / "crac.yaml").read_text() == project_yaml()


def test_init_project_keeps_an_existing_station_file(tmp_path):
    st = tmp_path / "stations" / "station1.yaml"
    st.parent.mkdir()
    st.write_text("id: mine\n")
    with pytest.raises(ConfigError) as info:
        init_project(tmp_path)
    assert str(st) in str(info.value)
    assert st.read_text() == "id: mine\n"
    assert not (tmp_path / "crac.yaml").exists()


# -- bad files ---------------------------------------------------------------------------------------


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    text = "id: s1\nlocation: {lat: 1, lon: 2}\nsources: [a, b\nformat: toa5\n"
    err, path = _error(tmp_path, text)
    msg = str(err)
    assert str(path) in msg and "not valid YAML" in msg
    assert "line 4" in msg
    assert err.path == str(path)


def test_yaml_syntax_error_in_project_file(tmp_path):
    (tmp_path / "crac.yaml").write_text("project:\n  name: x\n\tarchive: a\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert str((tmp_path / "crac.yaml").resolve()) in str(info.value) and "line 3" in str(info.value)


def test_duplicate_yaml_key_is_an_error(tmp_path):
    text = "id: s1\nlocation: {lat: 1, lon: 2}\ninterval: 1min\ninterval: 1s\n"
    err, path = _error(tmp_path, text)
    msg = str(err)
    assert str(path) in msg and "duplicate key 'interval'" in msg and "line 4" in msg and "line 3" in msg


def test_unknown_key(tmp_path):
    err, path = _error(tmp_path, "id: s1\nlocation: {lat: 1, lon: 2, altitude: 5}\n")
    msg = str(err)
    assert str(path) in msg
    assert "location.altitude: unknown key" in msg
    assert err.key == "location.altitude"


def test_unknown_key_in_column_entry(tmp_path):
    err, path = _error(tmp_path, "id: s1\nlocation: {lat: 1, lon: 2}\ncolumns:\n  T: {unit: K}\n")
    assert str(path) in str(err) and "columns.T.0.unit: unknown key" in str(err)


def test_unknown_key_in_project(tmp_path):
    (tmp_path / "crac.yaml").write_text(project_yaml() + "archiv: elsewhere\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path / "crac.yaml")
    assert str((tmp_path / "crac.yaml").resolve()) in str(info.value)
    assert "archiv: unknown key" in str(info.value)


def test_wrong_type_names_key_expected_and_found(tmp_path):
    err, path = _error(tmp_path, "id: s1\nlocation: {lat: north, lon: 2}\n")
    msg = str(err)
    assert str(path) in msg and "location.lat" in msg and "valid number" in msg and "'north'" in msg


def test_out_of_range_value(tmp_path):
    err, path = _error(tmp_path, "id: s1\nlocation: {lat: 91, lon: 2}\n")
    assert str(path) in str(err) and "location.lat" in str(err) and "less than or equal to 90" in str(err)
    assert "found 91" in str(err)


def test_missing_required_key(tmp_path):
    err, path = _error(tmp_path, "id: s1\nname: no location\n")
    assert str(path) in str(err) and "location: required key is missing" in str(err)
    assert err.key == "location"


def test_missing_project_section(tmp_path):
    (tmp_path / "crac.yaml").write_text("period: day\n")
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert "project: required key is missing" in str(info.value)


def test_bad_period(tmp_path):
    err, path = _error(tmp_path, "id: s1\nlocation: {lat: 1, lon: 2}\nperiod: fortnight\n")
    msg = str(err)
    assert str(path) in msg and "period" in msg and "'fortnight'" in msg and "'month'" in msg


def test_bad_project_period(tmp_path):
    (tmp_path / "crac.yaml").write_text(project_yaml().replace("period: day ", "period: daily "))
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    assert "period" in str(info.value) and "'daily'" in str(info.value)


@pytest.mark.parametrize("value, expect", [
    ("often", "expected a duration"),
    ("-5min", "positive duration"),
    ("0s", "positive duration"),
    ("'60'", "with a unit"),  # pandas would read a bare number as nanoseconds
])
def test_bad_interval(tmp_path, value, expect):
    err, path = _error(tmp_path, f"id: s1\nlocation: {{lat: 1, lon: 2}}\ninterval: {value}\n")
    msg = str(err)
    assert str(path) in msg and "interval" in msg and expect in msg


def test_bad_station_id(tmp_path):
    err, path = _error(tmp_path, "id: 'my station'\nlocation: {lat: 1, lon: 2}\n")
    assert str(path) in str(err) and "id:" in str(err) and "'my station'" in str(err)


@pytest.mark.parametrize("template, expect", [
    ("{station}_{stop:%Y}.nc", "unknown field"),
    ("{station}_{start.year}_{start.nonexistent}.nc", "unknown field"),
    ("{station}_{start[0]}.nc", "unknown field"),
    ("{station}_{product}.nc", "must contain {start"),
])
def test_bad_naming_template(tmp_path, template, expect):
    text = project_yaml().replace('"{station}_{product}_{start:%Y%m%dT%H%M%S}_v{version}.nc"', f'"{template}"')
    assert template in text
    (tmp_path / "crac.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path)
    msg = str(info.value)
    assert str((tmp_path / "crac.yaml").resolve()) in msg and "naming.template" in msg and expect in msg


def test_duplicate_station_across_files(tmp_path):
    cfg = _project(tmp_path, {"a.yaml": station_yaml(id="alpha"), "b.yaml": station_yaml(id="alpha")})
    with pytest.raises(ConfigError) as info:
        load_project(cfg)
    msg = str(info.value)
    a, b = (tmp_path / "stations" / "a.yaml").resolve(), (tmp_path / "stations" / "b.yaml").resolve()
    assert msg.startswith(f"{b}: id: ")
    assert f"also defined in {a}" in msg
    assert info.value.key == "id"


def test_not_a_mapping_and_missing_file(tmp_path):
    err, path = _error(tmp_path, "- just\n- a list\n")
    assert str(path) in str(err) and "found list" in str(err)
    with pytest.raises(ConfigError) as info:
        load_project(tmp_path / "nowhere" / "crac.yaml")
    assert "nowhere" in str(info.value) and "file not found" in str(info.value)
