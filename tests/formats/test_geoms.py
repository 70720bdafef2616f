"""GEOMS reader (HDF4 / HDF5 / netCDF-4) and GEOMS metadata templates."""

from __future__ import annotations

import warnings

import h5py
import numpy as np
import pytest
import xarray as xr

import crac_tools as crac
from crac_tools.errors import DataQualityWarning, ParseError, UnknownFormatError
from crac_tools.formats import registry

# Fill the registry in its own (sniffing) order before importing reader modules directly: a direct import
# registers that reader first.
registry.formats()

from crac_tools.formats.geoms import GeomsReader, mjd2k_to_datetime, read_geoms  # noqa: E402
from crac_tools.formats.geoms_template import parse_geoms_template, read_geoms_template  # noqa: E402

HDF4_FILE = "geoms/groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf"
O3ND = "O3.NUMBER.DENSITY_ABSORPTION.DIFFERENTIAL"
O3MR = "O3.MIXING.RATIO.VOLUME_DERIVED"
GLOBALS = {"PI_NAME": "Doe;Jane", "PI_AFFILIATION": "Somewhere;SW", "DATA_SOURCE": "LIDAR.O3_TEST001",
           "DATA_TEMPLATE": "GEOMS-TE-LIDAR-O3-005", "DATA_VARIABLES": "DATETIME;ALTITUDE;O3.TEST",
           "FILE_META_VERSION": "04R032;TEST"}


def _read_quiet(path, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        return crac.read(path, **options)


@pytest.fixture(scope="module")
def lidar(testdata):
    return _read_quiet(testdata / HDF4_FILE)


# ----------------------------------------------------------------------------------------- real HDF4 file

def test_hdf4_time_and_dimensions(lidar):
    assert lidar.attrs["file_format"] == "geoms"
    assert lidar.attrs["geoms_container"] == "HDF4"
    assert lidar["time"].dtype == np.dtype("datetime64[ns]")
    assert lidar.sizes["time"] == 1 and lidar.sizes["ALTITUDE"] == 496
    got = lidar["time"].values[0]
    assert abs(got - np.datetime64("2018-09-04T18:31:12.322560", "ns")) < np.timedelta64(1, "ms")
    assert lidar["time"].attrs["original_name"] == "DATETIME"
    assert lidar["time"].attrs["VAR_UNITS"] == "MJD2K"
    alt = lidar["ALTITUDE"]
    assert float(alt[0]) == 326.0 and float(alt[-1]) == 15176.0 and alt.attrs["units"] == "m"
    start = lidar["DATETIME.START"].values[0]
    assert abs(start - np.datetime64("2018-09-04T17:58:30", "ns")) < np.timedelta64(1, "s")
    assert "units" not in lidar["DATETIME.START"].attrs


def test_hdf4_values_units_and_var_attributes(lidar):
    nd = lidar[O3ND]
    assert nd.dims == ("ALTITUDE",)
    assert nd.attrs["units"] == "molec m-3"
    assert nd.attrs["long_name"] == "Ozone number density (molec m-3)"
    assert nd.attrs["VAR_SI_CONVERSION"] == "0.0;1.66054E-24;mol m-3"
    assert nd.attrs["VAR_DEPEND"] == "ALTITUDE"
    assert float(nd[0]) == pytest.approx(7.05844e17, rel=1e-6)
    assert float(nd[129]) == pytest.approx(7.65608e17, rel=1e-5)
    assert nd.encoding["_FillValue"] == pytest.approx(-9e19, rel=1e-6)
    mr = lidar[O3MR]
    assert mr.attrs["units"] == "ppmv"
    assert float(mr[0]) == pytest.approx(0.0299677, rel=1e-6)
    assert int(mr.isnull().sum()) == 366 and bool(mr[130:].isnull().all())
    assert mr.encoding["_FillValue"] == -90000.0
    assert float(lidar["PRESSURE_INDEPENDENT"][248]) == pytest.approx(392.174, rel=1e-6)
    assert float(lidar["TEMPERATURE_INDEPENDENT"][-1]) == pytest.approx(201.114, rel=1e-6)
    assert lidar["LATITUDE.INSTRUMENT"].ndim == 0
    assert float(lidar["LATITUDE.INSTRUMENT"]) == pytest.approx(34.725)
    assert float(lidar["ALTITUDE.INSTRUMENT"]) == 206.0
    assert float(lidar["INTEGRATION.TIME"][0]) == pytest.approx(1.09)
    src = lidar["PRESSURE_INDEPENDENT_SOURCE"]
    assert src.dims == ("ALTITUDE",) and set(src.values.tolist()) == {"Sonde"}


def test_hdf4_global_attributes(lidar):
    assert lidar.attrs["PI_NAME"] == "Newchurch;Michael J."
    assert lidar.attrs["DATA_TEMPLATE"] == "GEOMS-TE-LIDAR-O3-005"
    assert lidar.attrs["DATA_START_DATE"] == "20180904T175830Z"
    assert lidar.attrs["FILE_META_VERSION"] == "04R032;IDLCR8HDF"
    assert lidar.attrs["DATA_LOCATION"] == "HUNTSVILLE.AL"
    assert lidar.attrs["source_file"].endswith("_001.hdf")


def test_hdf4_file_wide_fill(testdata):
    path = testdata / HDF4_FILE
    with pytest.warns(DataQualityWarning, match="file-wide fill value -90000"):
        ds = read_geoms(path)
    assert int(ds[O3ND].isnull().sum()) == 366
    assert ds[O3ND].attrs["file_fill_value"] == -90000.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataQualityWarning)
        raw = read_geoms(path, file_fill=False)
    assert float(raw[O3ND][130]) == -90000.0
    assert "file_fill_value" not in raw[O3ND].attrs


def test_hdf4_tree_time_range_and_sniff(testdata):
    path = testdata / HDF4_FILE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataQualityWarning)
        tree = crac.read_tree(path)
        assert list(tree.children) == ["LIDAR.O3_UAH001"]
        assert tree["LIDAR.O3_UAH001"].sizes["ALTITUDE"] == 496
        tr = GeomsReader().time_range(path)
        assert tr.n == 1 and tr.first == tr.last
        with pytest.raises(ParseError, match="LIDAR.O3_UAH001"):
            GeomsReader().read(path, table="other")
    assert GeomsReader().sniff(path.read_bytes()[:4096], path)
    assert not GeomsReader().sniff(b"\x0e\x03\x13\x01" + b"\x00" * 100, testdata / "campbell" / "Station_Daily.dat")


@pytest.mark.parametrize("engine", ["h5netcdf", "zarr"])
def test_hdf4_round_trip(lidar, tmp_path, engine):
    if engine == "zarr":
        lidar.to_zarr(tmp_path / "g.zarr", mode="w")
        back = xr.open_zarr(tmp_path / "g.zarr").load()
    else:
        lidar.to_netcdf(tmp_path / "g.nc", engine="h5netcdf")
        back = xr.open_dataset(tmp_path / "g.nc", engine="h5netcdf").load()
    xr.testing.assert_identical(lidar, back)
    assert back[O3MR].encoding["_FillValue"] == -90000.0


def test_hdf4_malformed(testdata, tmp_path):
    bad = tmp_path / "truncated.hdf"
    bad.write_bytes((testdata / HDF4_FILE).read_bytes()[:3000])
    with pytest.raises(ParseError, match="truncated.hdf"):
        read_geoms(bad)
    garbage = tmp_path / "garbage.hdf"
    garbage.write_bytes(b"\x0e\x03\x13\x01" + bytes(range(256)) * 8)
    with pytest.raises(ParseError):
        read_geoms(garbage)
    with pytest.raises(ParseError, match="HDF4 or HDF5 signature"):
        read_geoms(testdata / "campbell" / "Station_Daily.dat")


def test_hdf4_without_geoms_attributes_is_not_claimed(tmp_path):
    pyhdf = pytest.importorskip("pyhdf.SD")
    path = tmp_path / "plain.hdf"
    sd = pyhdf.SD(str(path), pyhdf.SDC.WRITE | pyhdf.SDC.CREATE)
    sd.title = "not GEOMS"
    sds = sd.create("x", pyhdf.SDC.FLOAT32, (3,))
    sds[:] = np.arange(3, dtype=np.float32)
    sds.endaccess()
    sd.end()
    assert not GeomsReader().sniff(path.read_bytes()[:4096], path)
    with pytest.raises(UnknownFormatError):
        crac.read(path)
    with pytest.raises(ParseError, match="not a GEOMS file"):
        read_geoms(path)


# ----------------------------------------------------------------------------------------- HDF5 / netCDF-4

def _write_geoms_h5(path, transposed=False, with_datetime=True, bad_shape=False):
    with h5py.File(path, "w") as f:
        for k, v in GLOBALS.items():
            f.attrs[k] = np.bytes_(v)

        def var(name, data, depend, units, fill, desc):
            d = f.create_dataset(name, data=data)
            d.attrs["VAR_NAME"] = np.bytes_(name)
            d.attrs["VAR_DESCRIPTION"] = np.bytes_(desc)
            d.attrs["VAR_DEPEND"] = np.bytes_(depend)
            d.attrs["VAR_UNITS"] = np.bytes_(units)
            if fill is not None:
                d.attrs["VAR_FILL_VALUE"] = np.array([fill], dtype=data.dtype if data.dtype.kind == "f" else "f4")
            d.attrs["VAR_VALID_MIN"] = np.array([0.0], dtype="f4")

        if with_datetime:
            var("DATETIME", np.array([6821.5, 6821.75, 6822.0]), "DATETIME", "MJD2K", -90000.0, "time")
        var("ALTITUDE", np.array([100.0, 200.0, 300.0, 400.0], dtype="f4"), "ALTITUDE", "m", -90000.0, "Altitude")
        o3 = np.arange(12, dtype="f4").reshape(3, 4) * 1e17
        o3[1, 2] = -9.99e19
        if transposed:
            o3 = np.ascontiguousarray(o3.T)
        if bad_shape:
            o3 = np.zeros((5, 6), dtype="f4")
        var("O3.TEST", o3, "DATETIME;ALTITUDE", "molec m-3", -9.99e19, "Ozone number density")
        var("LATITUDE.INSTRUMENT", np.array([34.7], dtype="f4"), "CONSTANT", "deg", -90000.0, "Latitude")
        var("FLAG", np.array([1, -99, 3], dtype="i2"), "DATETIME", "1", -99.0, "a flag")
        src = f.create_dataset("SOURCE", data=np.array([b"Sonde", b"Model", b"Sonde", b"NCEP "], dtype="S5"))
        src.attrs["VAR_NAME"] = np.bytes_("SOURCE")
        src.attrs["VAR_DEPEND"] = np.bytes_("ALTITUDE")
        src.attrs["VAR_DATA_TYPE"] = np.bytes_("STRING")
    return path


def test_hdf5_flavour(tmp_path):
    path = _write_geoms_h5(tmp_path / "geoms.h5")
    assert GeomsReader().sniff(path.read_bytes()[:4096], path)
    ds = crac.read(path)
    assert ds.attrs["file_format"] == "geoms" and ds.attrs["geoms_container"] == "HDF5"
    assert ds.attrs["PI_NAME"] == "Doe;Jane"
    assert ds["O3.TEST"].dims == ("time", "ALTITUDE")
    assert np.isnan(ds["O3.TEST"].values[1, 2])
    assert float(ds["O3.TEST"][2, 3]) == pytest.approx(11e17)
    assert ds["O3.TEST"].attrs["units"] == "molec m-3"
    assert ds["O3.TEST"].attrs["long_name"] == "Ozone number density"
    assert str(ds["time"].values[1]) == "2018-09-04T18:00:00.000000000"
    assert ds["FLAG"].dtype == np.float64 and np.isnan(ds["FLAG"].values[1]) and ds["FLAG"].values[2] == 3
    assert ds["LATITUDE.INSTRUMENT"].ndim == 0
    assert ds["SOURCE"].values.tolist() == ["Sonde", "Model", "Sonde", "NCEP"]
    assert ds["ALTITUDE"].values.tolist() == [100.0, 200.0, 300.0, 400.0]


def test_hdf5_flavour_dimension_order_follows_shape(tmp_path):
    ds = read_geoms(_write_geoms_h5(tmp_path / "t.h5", transposed=True))
    assert ds["O3.TEST"].dims == ("ALTITUDE", "time")
    assert float(ds["O3.TEST"].sel(ALTITUDE=400.0).isel(time=2)) == pytest.approx(11e17)


def test_hdf5_flavour_bad_shape_and_missing_datetime(tmp_path):
    with pytest.warns(DataQualityWarning, match="does not match VAR_DEPEND"):
        ds = read_geoms(_write_geoms_h5(tmp_path / "b.h5", bad_shape=True))
    assert ds["O3.TEST"].dims == ("O3.TEST_dim0", "O3.TEST_dim1")
    with pytest.raises(ParseError, match="no DATETIME variable"):
        read_geoms(_write_geoms_h5(tmp_path / "n.h5", with_datetime=False))


def test_hdf5_without_geoms_attributes(tmp_path):
    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    assert not GeomsReader().sniff(path.read_bytes()[:4096], path)
    with pytest.raises(ParseError, match="not a GEOMS file"):
        read_geoms(path)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\xff" * 500)
    with pytest.raises(ParseError, match="cannot open"):
        read_geoms(garbage)


def test_netcdf4_flavour(tmp_path):
    netCDF4 = pytest.importorskip("netCDF4")
    path = tmp_path / "geoms.nc"
    with netCDF4.Dataset(path, "w") as nc:
        nc.setncatts(GLOBALS)
        nc.createDimension("DATETIME", 2)
        nc.createDimension("ALTITUDE", 3)
        t = nc.createVariable("DATETIME", "f8", ("DATETIME",))
        t[:] = [0.0, 0.25]
        t.setncatts({"VAR_NAME": "DATETIME", "VAR_DEPEND": "DATETIME", "VAR_UNITS": "MJD2K",
                     "VAR_FILL_VALUE": -90000.0})
        a = nc.createVariable("ALTITUDE", "f4", ("ALTITUDE",))
        a[:] = [1.0, 2.0, 3.0]
        a.setncatts({"VAR_NAME": "ALTITUDE", "VAR_DEPEND": "ALTITUDE", "VAR_UNITS": "km"})
        o3 = nc.createVariable("O3.MIXING.RATIO.VOLUME_ABSORPTION.SOLAR", "f4", ("DATETIME", "ALTITUDE"),
                               fill_value=np.float32(-999.0))
        o3[:] = [[1.0, 2.0, -999.0], [4.0, 5.0, 6.0]]
        o3.setncatts({"VAR_NAME": "O3.MIXING.RATIO.VOLUME_ABSORPTION.SOLAR", "VAR_DEPEND": "DATETIME;ALTITUDE",
                      "VAR_UNITS": "ppmv", "VAR_DESCRIPTION": "O3 mixing ratio", "VAR_FILL_VALUE": -999.0})
    from crac_tools.formats.netcdf import NetcdfReader

    head = path.read_bytes()[:4096]
    assert GeomsReader().sniff(head, path) and not NetcdfReader().sniff(head, path)
    ds = crac.read(path)
    assert ds.attrs["geoms_container"] == "netCDF-4"
    var = ds["O3.MIXING.RATIO.VOLUME_ABSORPTION.SOLAR"]
    assert var.dims == ("time", "ALTITUDE") and var.attrs["units"] == "ppmv"
    assert np.isnan(var.values[0, 2]) and float(var[1, 2]) == 6.0
    assert str(ds["time"].values[1]) == "2000-01-01T06:00:00.000000000"
    assert "_FillValue" not in var.attrs and "DIMENSION_LIST" not in var.attrs


def test_mjd2k_to_datetime_precision():
    got = mjd2k_to_datetime(np.array([6821.7716704, 0.0, -1.0, np.nan]))
    assert str(got[0]).startswith("2018-09-04T18:31:12.3225")
    assert str(got[1]) == "2000-01-01T00:00:00.000000000"
    assert str(got[2]) == "1999-12-31T00:00:00.000000000"
    assert np.isnat(got[3])


# ----------------------------------------------------------------------------------------- templates

def test_template_005(testdata):
    t = read_geoms_template(testdata / "geoms" / "GEOMS-LIDAR-O3-005-redacted.txt")
    assert t.data_template == "GEOMS-TE-LIDAR-O3-005"
    assert t.global_attributes["PI_NAME"] == "REDACTED;REDACTED"
    assert t.global_attributes["DATA_SOURCE"] == "LIDAR.O3_NASA.LARC001_HiRes"
    assert t.global_attributes["FILE_META_VERSION"] == "04R028;CUSTOM"
    assert t.global_attributes["DATA_START_DATE"] == ""
    assert list(t.global_attributes)[0] == "PI_NAME" and list(t.global_attributes)[-1] == "FILE_META_VERSION"
    assert len(t.global_attributes) == 35
    assert len(t.variables) == 30
    names = list(t.variables)
    assert names[0] == "LATITUDE.INSTRUMENT" and names[3] == "DATETIME" and names[-1] == "SOURCE.PRODUCT"
    nd = t.variables["O3.NUMBER.DENSITY_ABSORPTION.DIFFERENTIAL"]
    assert nd["VAR_UNITS"] == "molec m-3"
    assert nd["VAR_SI_CONVERSION"] == "0.0;1.66054E-24;mol m-3"
    assert nd["VAR_FILL_VALUE"] == "-9.99E+019"
    assert t.number("O3.NUMBER.DENSITY_ABSORPTION.DIFFERENTIAL", "VAR_FILL_VALUE") == -9.99e19
    assert t.number("O3.NUMBER.DENSITY_ABSORPTION.DIFFERENTIAL", "VAR_VALID_MAX") == 2.5e19
    assert t.number("LATITUDE.INSTRUMENT", "VAR_FILL_VALUE") == -999.0
    assert t.number("PRESSURE_INDEPENDENT_SOURCE", "VAR_FILL_VALUE") is None
    assert t.depend("O3.NUMBER.DENSITY_ABSORPTION.DIFFERENTIAL") == ["DATETIME", "ALTITUDE"]
    assert t.depend("PRESSURE_INDEPENDENT") == ["ALTITUDE"]
    assert t.depend("TEMPERATURE_INDEPENDENT_SOURCE") == ["ALTITUDE"]  # 'VAR_DEPEND =  ALTITUDE'
    assert t.variables["DATETIME"]["VAR_UNITS"] == "MJD2K"
    assert t.variables["LATITUDE.INSTRUMENT"]["VAR_NOTES"] == ""
    assert list(t.variables["DATETIME"]) == ["VAR_NAME", "VAR_DESCRIPTION", "VAR_NOTES", "VAR_SIZE", "VAR_DEPEND",
                                             "VAR_DATA_TYPE", "VAR_UNITS", "VAR_SI_CONVERSION", "VAR_VALID_MIN",
                                             "VAR_VALID_MAX", "VAR_FILL_VALUE"]
    assert len(t.listed_variables) == 21
    assert len(t.optional) == 9 and t.optional[-1] == "SOURCE.PRODUCT"
    assert "O3.NUMBER.DENSITY_ABSORPTION.DIFFERENTIAL_RESOLUTION.ALTITUDE.DF.CUTOFF" in t.optional
    assert "DATETIME" not in t.optional


def test_template_model_variant_and_file_agree(testdata, lidar):
    base = read_geoms_template(testdata / "geoms" / "GEOMS-LIDAR-O3-005-redacted.txt")
    model = read_geoms_template(testdata / "geoms" / "GEOMS-LIDAR-O3-model-redacted.txt")
    assert model.depend("PRESSURE_INDEPENDENT") == ["DATETIME", "ALTITUDE"]
    assert model.depend("TEMPERATURE_INDEPENDENT") == ["DATETIME", "ALTITUDE"]
    differ = [n for n in base.variables if base.variables[n] != model.variables[n]]
    assert differ == ["PRESSURE_INDEPENDENT", "TEMPERATURE_INDEPENDENT"]
    # the real file follows the same template: every listed variable is in it
    in_file = {"DATETIME"} | set(lidar.data_vars) | set(lidar.coords)
    assert set(base.listed_variables) <= in_file
    assert lidar.attrs["DATA_TEMPLATE"] == base.data_template


def test_template_malformed(tmp_path):
    with pytest.raises(ParseError, match="line 2"):
        parse_geoms_template("PI_NAME=x\nthis is not an attribute\n")
    with pytest.raises(ParseError, match="before the first VAR_NAME"):
        parse_geoms_template("PI_NAME=x\nVAR_UNITS = m\n")
    with pytest.raises(ParseError, match="duplicated variable"):
        parse_geoms_template("VAR_NAME = A\nVAR_NAME = A\n")
    with pytest.raises(ParseError, match="duplicated attribute"):
        parse_geoms_template("VAR_NAME = A\nVAR_UNITS = m\nVAR_UNITS = km\n")
    path = tmp_path / "empty.txt"
    path.write_bytes(b"! only comments\r\n!\r\n")
    with pytest.raises(ParseError, match="empty.txt"):
        read_geoms_template(path)
    t = parse_geoms_template("PI_NAME=x\n!END\nnot parsed after END\n")
    assert t.global_attributes == {"PI_NAME": "x"}
