"""xarray backend: ``xr.open_dataset(path, engine="crac")`` is ``crac.read(path)``."""

from __future__ import annotations

import io

import pytest
import xarray as xr

import crac_tools as crac
from crac_tools.errors import ParseError, UnknownFormatError
from crac_tools.formats.backend import CracBackendEntrypoint

TOA5 = (
    '"TOA5","St","CR1000","1","OS","CPU:p.cr1","2","Hourly"\n'
    '"TIMESTAMP","RECORD","AirTC","RH"\n"TS","RN","Deg C","%"\n"","","Avg","Smp"\n'
    '"2024-05-01 01:00:00",0,12.5,80\n"2024-05-01 02:00:00",1,11.25,81\n'
)


@pytest.fixture
def toa5_file(tmp_path):
    path = tmp_path / "hourly.dat"
    path.write_text(TOA5)
    return path


def test_engine_is_registered():
    assert "crac" in xr.backends.list_engines()
    assert isinstance(xr.backends.list_engines()["crac"], CracBackendEntrypoint)
    assert CracBackendEntrypoint.open_dataset_parameters == (
        "filename_or_obj", "drop_variables", "format", "table")


def test_open_dataset_equals_read(toa5_file):
    ds = xr.open_dataset(toa5_file, engine="crac")
    xr.testing.assert_identical(ds, crac.read(toa5_file))
    assert ds["AirTC"].attrs["units"] == "Deg C"
    xr.testing.assert_identical(xr.open_dataset(str(toa5_file), engine="crac", format="toa5", table="Hourly"),
                                ds)


def test_drop_variables(toa5_file):
    ds = xr.open_dataset(toa5_file, engine="crac", drop_variables=["RH", "not_there"])
    assert set(ds.data_vars) == {"RECORD", "AirTC"}
    ds = xr.open_dataset(toa5_file, engine="crac", drop_variables="RECORD")
    assert "RECORD" not in ds


def test_table_mismatch_and_unknown(toa5_file, tmp_path):
    with pytest.raises(ParseError, match="holds table 'Hourly'"):
        xr.open_dataset(toa5_file, engine="crac", table="Daily")
    other = tmp_path / "other.txt"
    other.write_text("just text\n")
    with pytest.raises(UnknownFormatError, match="other.txt"):
        xr.open_dataset(other, engine="crac")


def test_guess_can_open_never_raises(toa5_file, tmp_path):
    be = CracBackendEntrypoint()
    assert be.guess_can_open(toa5_file) and be.guess_can_open(str(toa5_file))
    other = tmp_path / "other.txt"
    other.write_text("just text\n")
    (tmp_path / "empty.dat").write_bytes(b"")
    for obj in (other, tmp_path / "missing.dat", tmp_path, tmp_path / "empty.dat", b"bytes",
                io.BytesIO(TOA5.encode()), None, 42, "https://example.org/x.dat"):
        assert be.guess_can_open(obj) is False


def test_real_files_through_xarray(testdata):
    for name in ("Station_Daily.dat", "TOA5_TOB3_long27_2026_02_19_0946.dat"):
        path = testdata / "campbell" / name
        xr.testing.assert_identical(xr.open_dataset(path, engine="crac"), crac.read(path))
    ds = xr.open_dataset(testdata / "campbell" / "TOA5_BBS.FLUX_2023_08_01_1530.dat", engine="crac",
                         drop_variables=["Uy"])
    assert ds.sizes["time"] == 18000 and "Uy" not in ds and float(ds["Ux"][0]) == pytest.approx(1.016)
