"""GEOMS validator: clean on our own files, catches each kind of defect, reports the real HDF4 file's findings."""

from __future__ import annotations

import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from click.testing import CliRunner

from crac_tools.cli import main
from crac_tools.config import Location, StationConfig
from crac_tools.conventions.geoms import to_geoms, write_geoms
from crac_tools.conventions.geoms_validate import Problem, validate_geoms

REAL = "geoms/groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf"


@pytest.fixture
def good(tmp_path):
    t = pd.date_range("2024-03-01", periods=6, freq="10min")
    ds = xr.Dataset({"T": ("time", np.array([1, 2, np.nan, 4, 5, 6], "f4"), {"units": "degC"}),
                     "p": ("time", np.arange(900, 906, dtype="f8"), {"units": "hPa", "valid_min": 800.0,
                                                                     "valid_max": 1100.0})},
                    coords={"time": t})
    st = StationConfig(id="alpha", location=Location(lat=45.5, lon=7.25, alt=1200.0),
                       instruments=[{"name": "logger", "model": "CR1000X"}])
    return write_geoms(to_geoms(ds, station=st, attrs={"PI_NAME": "Doe;Jane"}), tmp_path)


def _copy(good, tmp_path, name=None):
    bad = tmp_path / "bad" / (name or good.name)
    bad.parent.mkdir(exist_ok=True)
    shutil.copy(good, bad)
    return bad


def _messages(path):
    return [str(p) for p in validate_geoms(path)]


def test_own_file_is_clean(good):
    assert validate_geoms(good) == []
    result = CliRunner().invoke(main, ["validate", str(good)])
    assert result.exit_code == 0 and "clean" in result.output


@pytest.mark.parametrize("edit, expected", [
    (lambda f: f["T"].attrs.__setitem__("VAR_SIZE", b"7"), "T: VAR_SIZE is '7' but the data shape is (6,)"),
    (lambda f: f["P"].attrs.__setitem__("VAR_VALID_MAX", np.float64(902.0)),
     "P: VAR_VALID_MIN 3 value(s) outside the valid range [800, 902]"),
    (lambda f: f["T"].attrs.__setitem__("VAR_FILL_VALUE", np.float32(2.0)),
     "warning: T: VAR_FILL_VALUE 2 lies inside the valid range"),
    (lambda f: f.attrs.__setitem__("DATA_VARIABLES", b"DATETIME;T;P;EXTRA"),
     "DATA_VARIABLES lists EXTRA but the file has no such variable"),
    (lambda f: f.attrs.__setitem__("DATA_VARIABLES", b"DATETIME;T"), "DATA_VARIABLES does not list the variable"),
    (lambda f: f.attrs.__setitem__("DATA_STOP_DATE", b"20240301T003000Z"),
     "DATA_STOP_DATE is 20240301T003000Z but the last DATETIME is 20240301T005000Z"),
    (lambda f: f["T"].attrs.__setitem__("VAR_DEPEND", b"DATETIME;HEIGHT"), "VAR_DEPEND names unknown variable"),
    (lambda f: f["T"].attrs.__setitem__("VAR_DATA_TYPE", b"DOUBLE"),
     "T: VAR_DATA_TYPE is DOUBLE but the data are stored as REAL"),
    (lambda f: f["T"].attrs.__delitem__("VAR_UNITS"), "T: VAR_UNITS is missing"),
    (lambda f: f.attrs.__delitem__("PI_EMAIL"), "global: PI_EMAIL is missing"),
    (lambda f: f.attrs.__setitem__("DATA_SOURCE", b""), "DATA_SOURCE is empty"),
    (lambda f: f["P"].attrs.__setitem__("VAR_SI_CONVERSION", b"100"), "P: VAR_SI_CONVERSION is '100'"),
    (lambda f: f.attrs.__setitem__("DATA_START_DATE", b"2024-03-01"), "not a GEOMS date"),
])
def test_each_defect_is_reported(good, tmp_path, edit, expected):
    bad = _copy(good, tmp_path)
    with h5py.File(bad, "r+") as f:
        edit(f)
    messages = _messages(bad)
    assert any(expected in m for m in messages), messages
    result = CliRunner().invoke(main, ["validate", str(bad)])
    assert result.exit_code == 1 and expected in result.output


def test_file_name_checks(good, tmp_path):
    renamed = _copy(good, tmp_path, "alpha.h5")
    messages = _messages(renamed)
    assert any("FILE_NAME is" in m and "'alpha.h5'" in m for m in messages)
    assert any("file name does not follow the GEOMS convention" in m for m in messages)
    wrong_version = _copy(good, tmp_path, good.name.replace("_001.h5", "_002.h5"))
    with h5py.File(wrong_version, "r+") as f:
        f.attrs["FILE_NAME"] = np.bytes_(wrong_version.name)
    assert any("version 002 does not match DATA_FILE_VERSION (001)" in m for m in _messages(wrong_version))


def test_real_hdf4_file(testdata):
    """The TOLNet file is valid except that three variables lack VAR_NOTES (a real defect of the file)."""
    problems = validate_geoms(testdata / REAL)
    assert problems == [Problem(f"O3.MIXING.RATIO.VOLUME_DERIVED_UNCERTAINTY.{kind}.STANDARD", "VAR_NOTES",
                                "is missing") for kind in ("COMBINED", "RANDOM", "SYSTEMATIC")]
    result = CliRunner().invoke(main, ["validate", str(testdata / REAL)])
    assert result.exit_code == 1 and "VAR_NOTES is missing" in result.output


def test_not_a_geoms_container(tmp_path):
    p = tmp_path / "x.h5"
    p.write_text("hello")
    result = CliRunner().invoke(main, ["validate", str(p)])
    assert result.exit_code != 0 and "HDF" in result.output
