"""One-file conversion to CF and GEOMS products from real files (``crac convert``)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

import crac_tools as crac
from crac_tools.cli import main
from crac_tools.conventions.geoms_validate import validate_geoms
from crac_tools.convert import ConvertError, convert

BIN = Path(sys.executable).parent
FILES = ["campbell/Station_Daily.dat", "icartt/ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict"]


def _cf_high_failures(path: Path) -> list:
    out = path.parent / (path.name + ".cc.json")
    subprocess.run([str(BIN / "compliance-checker"), "--test=cf:1.10", "--criteria=normal", "--format=json",
                    "-o", str(out), str(path)], capture_output=True, timeout=300)
    report = json.loads(out.read_text())
    out.unlink()
    return [(x["name"], x["msgs"]) for res in report.values() for x in res["high_priorities"]
            if x["value"][0] < x["value"][1]]


def _read(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return crac.read(path)


@pytest.mark.parametrize("name", FILES)
def test_convert_to_cf(testdata, tmp_path, name, caplog):
    src = _read(testdata / name)
    with caplog.at_level("INFO", logger="crac_tools.convert"):
        path = convert(testdata / name, to="cf", out_dir=tmp_path)
    assert f"wrote {path}" in caplog.text
    assert path.suffix == ".nc" and path.parent == tmp_path
    with xr.open_dataset(path) as ds:
        assert ds.attrs["Conventions"] == "CF-1.10, ACDD-1.3"
        np.testing.assert_array_equal(ds["time"].values, src["time"].values)
        var = next(v for v in src.data_vars if src[v].dtype.kind == "f")
        np.testing.assert_array_equal(ds[var].values, src[var].values)
    assert _cf_high_failures(path) == []


@pytest.mark.parametrize("name", FILES)
def test_convert_to_geoms(testdata, tmp_path, name):
    src = _read(testdata / name)
    path = convert(testdata / name, to="geoms", out_dir=tmp_path, echo=False)
    assert path.suffix == ".h5"
    assert validate_geoms(path) == []
    back = _read(path)
    assert (abs(back["time"].values - src["time"].values) < np.timedelta64(1, "us")).all()
    var = next(v for v in src.data_vars if src[v].dtype.kind == "f" and v.upper() not in ("LATITUDE", "LONGITUDE"))
    np.testing.assert_array_equal(back[var.upper()].values, src[var].values.astype(back[var.upper()].dtype))


def test_convert_with_template_and_cli(testdata, tmp_path):
    tpl = testdata / "geoms" / "GEOMS-LIDAR-O3-005-redacted.txt"
    result = CliRunner().invoke(main, ["convert", str(testdata / FILES[0]), "--to", "geoms", "--template", str(tpl),
                                       "--attr", "DATA_SOURCE=LIDAR.O3_NASA.LARC001", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip().splitlines()[-1])
    assert path.exists()
    back = _read(path)
    assert back.attrs["DATA_TEMPLATE"] == "GEOMS-TE-LIDAR-O3-005"
    assert back.attrs["PI_AFFILIATION"] == "NASA Langley Research Center;NASA.LARC"
    assert back.attrs["DATA_SOURCE"] == "LIDAR.O3_NASA.LARC001"
    # the template's own DATA_SOURCE has a second '_' qualifier (LIDAR.O3_NASA.LARC001_HiRes): named all the same
    own = CliRunner().invoke(main, ["convert", str(testdata / FILES[0]), "--to", "geoms", "--template", str(tpl),
                                    "--out", str(tmp_path / "own")])
    assert own.exit_code == 0, own.output
    from crac_tools.conventions.naming import parse_name

    fields = parse_name(Path(own.output.strip().splitlines()[-1]).name)
    assert fields["convention"] == "geoms" and fields["data_source"] == "lidar.o3_nasa.larc001_hires"


def test_convert_geoms_hdf4_to_cf(testdata, tmp_path):
    name = "geoms/groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf"
    path = convert(testdata / name, to="cf", out_dir=tmp_path, echo=False)
    with xr.open_dataset(path) as ds:
        assert float(ds["lat"]) == pytest.approx(34.725, abs=0.01)


def test_convert_errors(testdata, tmp_path):
    with pytest.raises(ConvertError, match="--template"):
        convert(testdata / FILES[0], to="cf", template=testdata / "geoms" / "GEOMS-LIDAR-O3-005-redacted.txt",
                out_dir=tmp_path)
    with pytest.raises(ConvertError, match="unknown"):
        convert(testdata / FILES[0], to="xml", out_dir=tmp_path)
