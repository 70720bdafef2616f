"""Tests of crac_tools.catalog: intake 2 catalog of NetCDF product sets and zarr mirrors."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import intake
import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
import zarr

from crac_tools.catalog import (
    CatalogEntry,
    CatalogError,
    entry_names,
    open_catalog,
    open_entry,
    write_catalog,
)

STATION_META = {
    "station_id": "s1",
    "station_name": "Station One",
    "lat": 45.5,
    "lon": 7.25,
    "alt": 1234.0,
    "instruments": ["hmp155", "cs215"],
    "product": "met",
    "period": "daily",
    "time_coverage_start": "2024-03-01T00:00:00",
    "time_coverage_end": "2024-03-03T23:30:00",
    "n_files": 3,
    "units": {"ta": "K", "rh": "%"},
}


def _day(day: int) -> xr.Dataset:
    t = pd.date_range(f"2024-03-0{day}", periods=48, freq="30min")
    rng = np.random.default_rng(day)
    ta = (270 + rng.random(48) * 10).astype("float32")
    rh = (rng.random(48) * 100).astype("float32")
    rh[5] = np.nan
    return xr.Dataset(
        {"ta": ("time", ta, {"units": "K"}), "rh": ("time", rh, {"units": "%"})},
        coords={"time": t, "lat": 45.5, "lon": 7.25, "alt": 1234.0},
        attrs={"station_id": "s1", "period_start": str(t[0]), "period_end": str(t[-1])},
    )


@pytest.fixture
def archive(tmp_path: Path) -> dict:
    root = tmp_path / "ARCHIVE"
    files = []
    days = [_day(d) for d in (1, 2, 3)]
    for ds in days:
        year = ds.time.dt.year.values[0]
        stamp = ds.time.dt.strftime("%Y%m%d").values[0]
        f = root / "products" / "s1" / "met" / str(year) / f"s1_met_{stamp}.nc"
        f.parent.mkdir(parents=True, exist_ok=True)
        ds.to_netcdf(f, engine="h5netcdf")
        files.append(f)
    expected = xr.concat(days, dim="time", data_vars="minimal", coords="minimal", compat="override",
                         join="outer", combine_attrs="drop_conflicts")
    zdir = root / "mirror" / "s1_met.zarr"
    zdir.parent.mkdir(parents=True)
    expected.to_zarr(zdir, consolidated=False, zarr_format=3)
    zarr.consolidate_metadata(str(zdir))
    entries = [
        CatalogEntry("s1_met", "netcdf", tuple(files), "Station One meteorology, daily files", STATION_META),
        CatalogEntry("s1_met_zarr", "zarr", (zdir,), "Station One meteorology, zarr mirror",
                     {**STATION_META, "n_files": 1}),
    ]
    cat_path = write_catalog(entries, root / "catalog.yaml", description="test archive",
                             metadata={"institution": "crac"})
    return {"root": root, "files": files, "days": days, "expected": expected, "zdir": zdir,
            "cat_path": cat_path, "entries": entries}


def _check_catalog(cat, archive: dict) -> None:
    assert list(cat) == ["s1_met", "s1_met_zarr"]
    assert entry_names(cat) == ["s1_met", "s1_met_zarr"]
    assert cat.metadata["name"] == "crac"
    assert cat.metadata["description"] == "test archive"
    assert cat.metadata["institution"] == "crac"
    expected = archive["expected"]
    for entry in archive["entries"]:
        reader = cat[entry.name]
        assert reader.metadata["description"] == entry.description
        assert reader.metadata["kind"] == entry.kind
        for k, v in entry.metadata.items():
            assert reader.metadata[k] == v
            assert cat.entries[entry.name].metadata[k] == v
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            ds = open_entry(cat, entry.name)
            ds.load()
        xr.testing.assert_equal(ds, expected)
        np.testing.assert_array_equal(ds["time"].values, expected["time"].values)
        for var in ("ta", "rh"):
            assert ds[var].dtype == np.float32
            assert ds[var].attrs["units"] == expected[var].attrs["units"]
            np.testing.assert_array_equal(ds[var].values, expected[var].values)
        for c in ("lat", "lon", "alt"):
            assert float(ds[c]) == float(expected[c])
        assert "period_start" not in ds.attrs  # differs between files
        assert ds.attrs["station_id"] == "s1"  # the same in every file
        ds.close()


def test_netcdf_set_equals_concat_of_files(archive):
    cat = open_catalog(archive["cat_path"])
    ds = open_entry(cat, "s1_met")
    direct = [xr.open_dataset(f, engine="h5netcdf") for f in archive["files"]]
    xr.testing.assert_equal(ds, xr.concat(direct, dim="time", data_vars="minimal", coords="minimal",
                                          compat="override", join="outer",
                                          combine_attrs="drop_conflicts"))
    assert ds.sizes["time"] == 3 * 48
    for d in direct:
        d.close()
    ds.close()


def test_open_with_intake_and_open_catalog(archive):
    _check_catalog(intake.from_yaml_file(str(archive["cat_path"])), archive)
    _check_catalog(open_catalog(archive["cat_path"]), archive)
    _check_catalog(open_catalog(str(archive["cat_path"])), archive)


def test_attribute_access(archive):
    cat = open_catalog(archive["cat_path"])
    assert cat.s1_met.metadata["station_id"] == "s1"


def test_yaml_is_relative_and_clean(archive):
    text = archive["cat_path"].read_text()
    assert str(archive["root"]) not in text
    assert str(archive["root"].parent) not in text
    assert "/tmp" not in text
    assert "file://" not in text
    assert "{CATALOG_DIR}/products/s1/met/2024/s1_met_20240301.nc" in text
    assert "{CATALOG_DIR}/mirror/s1_met.zarr" in text
    doc = yaml.safe_load(text)
    assert doc["version"] == 2
    assert doc["user_parameters"] == {}
    readers = {e["reader"] for e in doc["entries"].values()}
    assert readers == {"intake.readers.readers:XArrayDatasetReader"}
    datatypes = {d["datatype"] for d in doc["data"].values()}
    assert datatypes == {"intake.readers.datatypes:HDF5", "intake.readers.datatypes:Zarr"}
    # written atomically: no temporary file left beside it
    assert sorted(p.name for p in archive["root"].iterdir()) == ["catalog.yaml", "mirror", "products"]


def test_moved_archive_still_opens(archive, tmp_path):
    moved = tmp_path / "elsewhere" / "restored archive"
    shutil.copytree(archive["root"], moved)
    shutil.rmtree(archive["root"])
    _check_catalog(intake.from_yaml_file(str(moved / "catalog.yaml")), archive)
    _check_catalog(open_catalog(moved / "catalog.yaml"), archive)


def test_relative_catalog_path(archive, monkeypatch):
    monkeypatch.chdir(archive["root"].parent)
    _check_catalog(open_catalog(Path("ARCHIVE") / "catalog.yaml"), archive)


def test_files_in_any_order_and_single_file(archive):
    root = archive["root"]
    files = archive["files"]
    entries = [
        CatalogEntry("shuffled", "netcdf", (files[2], files[0], files[1]), "out of order", {}),
        CatalogEntry("one", "netcdf", (files[1],), "one day", {"n_files": 1}),
    ]
    cat = open_catalog(write_catalog(entries, root / "other.yaml"))
    xr.testing.assert_equal(open_entry(cat, "shuffled"), archive["expected"])
    one = open_entry(cat, "one")
    xr.testing.assert_equal(one, archive["days"][1])
    assert one.attrs["period_start"] == archive["days"][1].attrs["period_start"]
    one.close()


def test_numpy_metadata_is_converted(archive):
    meta = {"lat": np.float32(45.5), "n": np.int64(3), "start": np.datetime64("2024-03-01T00:00:00"),
            "path": Path("products/s1")}
    p = write_catalog([CatalogEntry("x", "zarr", (archive["zdir"],), "d", meta)],
                      archive["root"] / "np.yaml")
    md = open_catalog(p)["x"].metadata
    assert md["lat"] == 45.5 and md["n"] == 3 and md["start"] == "2024-03-01T00:00:00"
    assert md["path"] == "products/s1"


@pytest.mark.parametrize(
    "make",
    [
        lambda a: [CatalogEntry("a", "zarr", (a["zdir"],), ""), CatalogEntry("a", "zarr", (a["zdir"],), "")],
        lambda a: [CatalogEntry("", "zarr", (a["zdir"],), "")],
        lambda a: [CatalogEntry("a", "csv", (a["zdir"],), "")],  # type: ignore[arg-type]
        lambda a: [CatalogEntry("a", "netcdf", (), "")],
        lambda a: [CatalogEntry("a", "netcdf", (a["root"] / "missing.nc",), "")],
        lambda a: [CatalogEntry("a", "netcdf", (a["zdir"] / "zarr.json",), "")],  # not HDF5
        lambda a: [CatalogEntry("a", "zarr", (a["files"][0],), "")],
        lambda a: [CatalogEntry("a", "zarr", (a["zdir"], a["zdir"]), "")],
        lambda a: [CatalogEntry("a", "netcdf", (a["files"][0], a["files"][0]), "")],
        lambda a: [CatalogEntry("a", "zarr", (a["zdir"],), "", {"bad": object()})],
        lambda a: [CatalogEntry("a", "zarr", (a["zdir"],), "", {"note": "data(other)"})],
    ],
)
def test_invalid_entries_rejected(archive, make):
    target = archive["root"] / "bad.yaml"
    with pytest.raises(CatalogError):
        write_catalog(make(archive), target)
    assert not target.exists()
    assert not [p for p in archive["root"].iterdir() if p.name.startswith(".crac-tmp-")]


def test_path_outside_catalog_folder_rejected(archive, tmp_path):
    outside = tmp_path / "outside.nc"
    shutil.copy(archive["files"][0], outside)
    with pytest.raises(CatalogError, match="not inside"):
        write_catalog([CatalogEntry("a", "netcdf", (outside,), "")], archive["root"] / "c.yaml")


def test_template_in_path_rejected(archive):
    odd = archive["root"] / "products" / "{env(HOME)}.nc"
    shutil.copy(archive["files"][0], odd)
    with pytest.raises(CatalogError, match="not allowed"):
        write_catalog([CatalogEntry("a", "netcdf", (odd,), "")], archive["root"] / "c.yaml")


def _tamper(archive, edit) -> Path:
    doc = yaml.safe_load(archive["cat_path"].read_text())
    edit(doc)
    p = archive["root"] / "tampered.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def _first(d: dict) -> dict:
    return next(iter(d.values()))


@pytest.mark.parametrize(
    "edit",
    [
        lambda d: _first(d["entries"]).update(reader="os:system"),
        lambda d: _first(d["entries"]).update(cls="os:system"),
        lambda d: _first(d["data"]).update(datatype="pickle:loads"),
        lambda d: _first(d["entries"])["kwargs"].update(preprocess="{func(os:getcwd)}"),
        lambda d: _first(d["entries"])["kwargs"].update(engine="{env(HOME)}"),
        lambda d: _first(d["data"])["kwargs"].update(url="{pickle64(abc)}"),
        lambda d: d["user_parameters"].update(x={"cls": "os:system", "default": 1}),
        lambda d: d.update(version=1),
        lambda d: d["aliases"].update(ghost="nope"),
    ],
)
def test_open_catalog_refuses_tampered_yaml(archive, edit):
    with pytest.raises(CatalogError):
        open_catalog(_tamper(archive, edit))


def test_open_entry_unknown_name(archive):
    cat = open_catalog(archive["cat_path"])
    with pytest.raises(KeyError, match="s1_met_zarr"):
        open_entry(cat, "nope")
