"""End-to-end ingest: raw archive -> period products + zarr mirror, idempotence, rebuilds, quarantine."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from conftest import make_project

import crac_tools as crac
from crac_tools.collect.run import collect_project
from crac_tools.fsutil import sha256_file
from crac_tools.pipeline import ingest
from crac_tools.simulate import met_columns, write_toa5

DAY = pd.Timestamp("2024-03-10")


def _products(root: Path, key: str = "s1_met") -> list[Path]:
    return sorted((root / "archive" / "products" / key).rglob("*.nc"))


@pytest.fixture()
def project(tmp_path):
    """Station s1, 1-min data over two days in two files that overlap by 30 minutes, a 2-hour gap on day 2."""
    cfg = make_project(tmp_path, {"s1": {"interval": "1min", "columns_yaml":
                                         "columns:\n  AirTC_Avg: {standard_name: air_temperature, units: degC}\n"}})
    t1 = pd.date_range(DAY, periods=1440 + 30, freq="1min")  # day 1 + 30 min of day 2
    t2 = pd.date_range(DAY + pd.Timedelta(days=1), periods=1440, freq="1min")
    t2 = t2[(t2.hour < 10) | (t2.hour >= 12)]
    allt = t1.union(t2)
    cols = met_columns(allt, seed=1, nan_fraction=0.01)
    pos1 = allt.get_indexer(t1)
    pos2 = allt.get_indexer(t2)
    write_toa5(tmp_path / "field/s1/TOA5_s1.Met_a.dat", t1, {k: (v[pos1], u, p) for k, (v, u, p) in cols.items()},
               station="s1", table="Met", first_record=0)
    write_toa5(tmp_path / "field/s1/TOA5_s1.Met_b.dat", t2, {k: (v[pos2], u, p) for k, (v, u, p) in cols.items()},
               station="s1", table="Met", first_record=1440)
    collect_project(cfg)
    return cfg


def test_products_hold_the_source_records(project, dask_client):
    root = project.parent
    report = ingest(project, client=dask_client, run_record="pytest")
    assert report.ok, report.summary()
    assert [b["start"] for b in sorted(report.built, key=lambda b: b["start"])] == [
        "2024-03-10T00:00:00", "2024-03-11T00:00:00"]
    files = _products(root)
    assert [f.name for f in files] == ["s1_met_20240310T000000_v1.nc", "s1_met_20240311T000000_v1.nc"]
    d1 = xr.open_dataset(files[0], engine="h5netcdf").load()
    d2 = xr.open_dataset(files[1], engine="h5netcdf").load()
    assert d1.sizes["time"] == 1440 and d2.sizes["time"] == 1440 - 120
    assert d1.attrs["completeness"] == 1.0 and d1.attrs["gap_count"] == 0
    assert d2.attrs["records_expected"] == 1440 and d2.attrs["records_actual"] == 1320
    assert d2.attrs["gaps"] == "2024-03-11T10:00:00/2024-03-11T12:00:00"
    # 30 overlapping records were delivered twice, identically
    assert d2.attrs["exact_duplicates_dropped"] == 30 and d2.attrs["conflicting_duplicates"] == 0
    # values equal the raw files, float32 kept, NaN where the logger wrote NAN
    raw_a = crac.read(root / "archive/raw/s1_met/TOA5_s1.Met_a.dat")
    np.testing.assert_array_equal(d1["AirTC_Avg"].values, raw_a["AirTC_Avg"].values[:1440])
    assert d1["AirTC_Avg"].dtype == np.float32 and np.isnan(d1["RH"].values).any()
    assert d1["RECORD"].values[0] == 0 and d2["RECORD"].values[-1] == 1440 + 1320 - 1
    # CF/ACDD + station metadata + provenance
    assert d1.attrs["Conventions"] == "CF-1.10, ACDD-1.3"
    assert float(d1["lat"]) == 45.5 and float(d1["lon"]) == 7.25 and float(d1["alt"]) == 1200
    assert d1["AirTC_Avg"].attrs["units"] == "degC" and d1["AirTC_Avg"].attrs["source_units"] == "Deg C"
    assert d1["AirTC_Avg"].attrs["standard_name"] == "air_temperature"
    for name, var in d1.data_vars.items():
        assert var.attrs.get("long_name"), name
        assert var.attrs.get("units"), name
    sources = dict(line.split() for line in d2.attrs["source_files"].splitlines())
    assert sources == {"TOA5_s1.Met_a.dat": sha256_file(root / "archive/raw/s1_met/TOA5_s1.Met_a.dat"),
                       "TOA5_s1.Met_b.dat": sha256_file(root / "archive/raw/s1_met/TOA5_s1.Met_b.dat")}
    assert d1.attrs["crac_tools_version"] == crac.__version__ and d1.attrs["run_record"] == "pytest"
    assert json.loads(d1.attrs["processing_options"])["period"] == "day"
    assert d1.attrs["time_coverage_start"] == "2024-03-10T00:00:00Z"
    # the product opens with netCDF4 too (stock library, no plugins)
    import netCDF4

    with netCDF4.Dataset(files[0]) as nc:
        assert nc["time"].units.startswith("seconds since 1970-01-01") and nc["time"].dtype == np.int64
        assert nc["AirTC_Avg"].filters()["zlib"] is False


def test_mirror_equals_products(project, dask_client):
    root = project.parent
    ingest(project, client=dask_client)
    m = xr.open_zarr(root / "archive/mirror/s1_met.zarr").load()
    assert m.sizes["time"] == 2 * 1440
    assert m["time"].values[0] == np.datetime64("2024-03-10T00:00")
    both = xr.concat([xr.open_dataset(f, engine="h5netcdf").load() for f in _products(root)], dim="time")
    on_grid = m.sel(time=both["time"])
    np.testing.assert_array_equal(on_grid["AirTC_Avg"].values, both["AirTC_Avg"].values)
    np.testing.assert_array_equal(on_grid["RECORD"].values, both["RECORD"].values.astype("f8"))
    gap = m.sel(time=slice("2024-03-11T10:00", "2024-03-11T11:59"))
    assert gap.sizes["time"] == 120 and np.isnan(gap["AirTC_Avg"].values).all()
    assert m["AirTC_Avg"].attrs["units"] == "degC"


def test_rerun_rewrites_nothing_and_new_data_rebuilds_one_period(project, dask_client):
    root = project.parent
    ingest(project, client=dask_client)
    files = _products(root)
    before = {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in files}
    mirror_chunk = root / "archive/mirror/s1_met.zarr/AirTC_Avg/c/0"
    chunk_before = mirror_chunk.stat().st_mtime_ns
    again = ingest(project, client=dask_client)
    assert again.built == [] and again.skipped == 2
    assert {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in files} == before
    assert mirror_chunk.stat().st_mtime_ns == chunk_before
    # the logger delivers day 3 in a new file and re-delivers the end of day 2 with a correction
    t3 = pd.date_range(DAY + pd.Timedelta(days=2), periods=60, freq="1min")
    write_toa5(root / "field/s1/TOA5_s1.Met_c.dat", t3, met_columns(t3, seed=3), station="s1", table="Met")
    collect_project(project)
    third = ingest(project, client=dask_client)
    assert [b["start"] for b in third.built] == ["2024-03-12T00:00:00"]
    assert {f: (f.stat().st_mtime_ns, f.stat().st_ino) for f in files} == before
    m = xr.open_zarr(root / "archive/mirror/s1_met.zarr")
    assert m.sizes["time"] == 3 * 1440
    assert int(m["AirTC_Avg"].sel(time=slice("2024-03-12", None)).notnull().sum()) == 60


def test_conflicting_redelivery_is_reported(project, dask_client):
    root = project.parent
    t = pd.date_range(DAY + pd.Timedelta(hours=5), periods=3, freq="1min")
    cols = met_columns(t, seed=99)
    write_toa5(root / "field/s1/TOA5_s1.Met_fix.dat", t, cols, station="s1", table="Met")
    collect_project(project)
    report = ingest(project, client=dask_client)
    d1 = xr.open_dataset(_products(root)[0], engine="h5netcdf").load()
    assert d1.attrs["conflicting_duplicates"] == 3
    assert d1.attrs["conflicting_duplicate_times"].startswith("2024-03-10T05:00:00")
    # the latest delivery wins
    assert d1["AirTC_Avg"].sel(time="2024-03-10T05:01").item() == cols["AirTC_Avg"][0][1]
    assert any("conflicting" in w for w in report.warnings)


def test_corrupt_file_is_quarantined_and_the_rest_ingested(project, dask_client):
    root = project.parent
    bad = root / "field/s1/TOA5_s1.Met_bad.dat"
    t = pd.date_range(DAY + pd.Timedelta(days=1, hours=10, minutes=30), periods=5, freq="1min")
    write_toa5(bad, t, met_columns(t, seed=5), station="s1", table="Met")
    lines = bad.read_bytes().split(b"\r\n")
    fields = lines[6].split(b",")
    fields[3] = b"1x1"
    lines[6] = b",".join(fields)
    bad.write_bytes(b"\r\n".join(lines))
    collect_project(project)
    report = ingest(project, client=dask_client)
    assert not report.ok
    assert [q["file"] for q in report.quarantined] == ["TOA5_s1.Met_bad.dat"]
    reason = report.quarantined[0]["reason"]
    assert "line 7" in reason and "1x1" in reason
    qdir = root / "archive/quarantine/s1_met"
    assert (qdir / "TOA5_s1.Met_bad.dat").read_bytes() == bad.read_bytes()
    assert "line 7" in (qdir / "TOA5_s1.Met_bad.dat.error.txt").read_text()
    assert not (root / "archive/raw/s1_met/TOA5_s1.Met_bad.dat").exists()
    assert "TOA5_s1.Met_bad.dat" not in (root / "archive/raw/s1_met/SHA256SUMS").read_text()
    assert len(_products(root)) == 2  # both days built from the good files
    # a second collection does not fetch the quarantined file again
    assert collect_project(project)[0].copied == []


def test_truncated_last_line_is_reported(tmp_path, dask_client):
    cfg = make_project(tmp_path, {"s2": {"interval": "1min"}})
    t = pd.date_range(DAY, periods=100, freq="1min")
    write_toa5(tmp_path / "field/s2/TOA5_s2.dat", t, met_columns(t, seed=2), truncate_last=True,
               station="s2", table="Met")
    collect_project(cfg)
    report = ingest(cfg, client=dask_client)
    assert report.ok
    assert any("line 104" in w and "truncated" in w for w in report.warnings)
    ds = xr.open_dataset(_products(tmp_path, "s2_met")[0], engine="h5netcdf")
    assert ds.sizes["time"] == 99


def test_archive_lock_refuses_a_second_writer(project):
    from crac_tools.config import load_project
    from crac_tools.errors import PipelineError
    from crac_tools.pipeline import archive_lock

    archive = load_project(project).archive
    with archive_lock(archive):
        with pytest.raises(PipelineError, match=f"pid {os.getpid()}"):
            with archive_lock(archive):
                pass


def _set_products(cfg: Path, **kw) -> None:
    text = cfg.read_text()
    for k, v in kw.items():
        text = text.replace("  mirror: true", f"  {k}: {v}\n  mirror: true")
    cfg.write_text(text)


def test_keep_versioning_writes_a_new_version_beside_the_old(project, dask_client):
    from crac_tools.ledger import read_ledger

    root = project.parent
    _set_products(project, versioning="keep")
    ingest(project, client=dask_client)
    t = pd.date_range(DAY + pd.Timedelta(hours=23), periods=3, freq="1min")
    write_toa5(root / "field/s1/TOA5_s1.Met_late.dat", t, met_columns(t, seed=42), station="s1", table="Met")
    collect_project(project)
    ingest(project, client=dask_client)
    names = [f.name for f in _products(root)]
    assert names == ["s1_met_20240310T000000_v1.nc", "s1_met_20240310T000000_v2.nc", "s1_met_20240311T000000_v1.nc"]
    v2 = xr.open_dataset(_products(root)[1], engine="h5netcdf")
    assert v2.attrs["product_version"] == "2"
    ledger = read_ledger(root / "archive")
    assert [(e["period_start"][:10], e["version"], e["previous_action"]) for e in ledger] == [
        ("2024-03-10", 1, None), ("2024-03-11", 1, None), ("2024-03-10", 2, "kept")] or \
        sorted((e["period_start"][:10], e["version"]) for e in ledger) == [
        ("2024-03-10", 1), ("2024-03-10", 2), ("2024-03-11", 1)]
    assert ledger[-1]["sha256"] == sha256_file(_products(root)[1])
    assert ledger[-1]["previous"] == "products/s1_met/2024/s1_met_20240310T000000_v1.nc"
    # the catalog shows the latest version of each period only
    from crac_tools.catalog_project import catalog_entries
    from crac_tools.config import load_project

    entry = next(e for e in catalog_entries(load_project(project)) if e.kind == "netcdf")
    assert [p.name for p in entry.paths] == ["s1_met_20240310T000000_v2.nc", "s1_met_20240311T000000_v1.nc"]


def test_replace_versioning_replaces_the_file(project, dask_client):
    from crac_tools.ledger import read_ledger

    root = project.parent
    ingest(project, client=dask_client)
    _set_products(project, versioning="replace")
    cfg = project.read_text().replace("  version: 1 ", "  version: 2 ")
    project.write_text(cfg)
    ingest(project, client=dask_client)
    assert [f.name for f in _products(root)] == ["s1_met_20240310T000000_v2.nc", "s1_met_20240311T000000_v2.nc"]
    ledger = read_ledger(root / "archive")
    assert len(ledger) == 4 and {e["previous_action"] for e in ledger[2:]} == {"replaced"}


def test_keep_versioning_needs_version_in_template(tmp_path):
    from crac_tools.config import load_project
    from crac_tools.errors import ConfigError

    cfg = make_project(tmp_path, {"s1": {"interval": "1min"}})
    _set_products(cfg, versioning="keep")
    cfg.write_text(cfg.read_text().replace("_v{{version}}", "").replace("_v{version}", ""))
    with pytest.raises(ConfigError, match="needs {version}"):
        load_project(cfg)


def test_geoms_mode_writes_a_valid_geoms_file_beside_the_product(project, dask_client):
    from crac_tools.conventions.geoms_validate import validate_geoms
    from crac_tools.conventions.naming import parse_name

    root = project.parent
    st = root / "stations" / "s1.yaml"
    st.write_text(st.read_text() + "product_format: geoms\n")
    report = ingest(project, client=dask_client)
    assert report.ok, report.summary()
    geoms = sorted((root / "archive/products/s1_met").rglob("*.h5"))
    assert len(geoms) == 2
    for g in geoms:
        assert parse_name(g.name)["convention"] == "geoms"
        assert [p for p in validate_geoms(g) if p.severity == "error"] == []
    back = crac.read(geoms[0])
    nc = xr.open_dataset(_products(root)[0], engine="h5netcdf")
    assert back.sizes["time"] == nc.sizes["time"] == 1440
    state = json.loads((root / "archive/state/ingest/s1_met.json").read_text())
    assert sorted(p["geoms"] for p in state["periods"].values()) == [str(g) for g in geoms]


def test_small_run_is_built_in_this_process(project):
    report = ingest(project)  # 2 days of 1-min data: far below dask.inline_below_mb
    assert report.ok, report.summary()
    assert report.workers == {f"local:{os.getpid()}"}
    files = _products(project.parent)
    assert [xr.open_dataset(f, engine="h5netcdf").sizes["time"] for f in files] == [1440, 1320]
    mirror = xr.open_zarr(project.parent / "archive" / "mirror" / "s1_met.zarr")
    assert int(mirror["AirTC_Avg"].notnull().sum()) == int(sum(
        xr.open_dataset(f, engine="h5netcdf")["AirTC_Avg"].notnull().sum() for f in files))


def test_runs_above_the_inline_limit_use_a_local_cluster_of_processes(project):
    text = project.read_text()
    assert "inline_below_mb: 64" in text
    project.write_text(text.replace("inline_below_mb: 64", "inline_below_mb: 0"))
    report = ingest(project)
    assert report.ok, report.summary()
    assert report.workers and all(w.startswith("tcp://127.0.0.1:") for w in report.workers)
    assert len(_products(project.parent)) == 2


def test_a_variable_that_needs_float64_later_rebuilds_the_mirror(project):
    root = project.parent
    assert ingest(project).ok
    m = xr.open_zarr(root / "archive/mirror/s1_met.zarr")
    assert m["AirTC_Avg"].dtype == np.float32
    # day 3 brings a value with 12 significant digits: the product holds it as float64, the mirror must widen
    t3 = pd.date_range(DAY + pd.Timedelta(days=2), periods=60, freq="1min")
    cols = met_columns(t3, seed=3)
    values, units, proc = cols["AirTC_Avg"]
    values = values.astype(np.float64)
    values[7] = 21.1234567891
    cols["AirTC_Avg"] = (values, units, proc)
    write_toa5(root / "field/s1/TOA5_s1.Met_c.dat", t3, cols, station="s1", table="Met")
    collect_project(project)
    report = ingest(project)
    assert report.ok, report.summary()
    assert any("widened to <f8; mirror rebuilt" in w for w in report.warnings)
    m = xr.open_zarr(root / "archive/mirror/s1_met.zarr")
    assert m["AirTC_Avg"].dtype == np.float64 and m.sizes["time"] == 3 * 1440
    assert float(m["AirTC_Avg"].sel(time=t3[7])) == 21.1234567891
    day1 = xr.open_dataset(_products(root)[0], engine="h5netcdf")
    np.testing.assert_array_equal(m["AirTC_Avg"].values[:1440], day1["AirTC_Avg"].values.astype(np.float64))
