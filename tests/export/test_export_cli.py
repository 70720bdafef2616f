"""`crac export`: product files and catalog entries, every format, paths printed, clean errors."""

from __future__ import annotations

import warnings

import pytest
from click.testing import CliRunner
from export_helpers import assert_ascii_clean, make_product, same

from crac_tools.catalog import CatalogEntry, write_catalog
from crac_tools.cli import main
from crac_tools.templates import project_yaml


@pytest.fixture
def product_file(tmp_path):
    path = tmp_path / "bravo_met_20240601T000000_v2.nc"
    make_product().to_netcdf(path)
    return path


@pytest.mark.parametrize("fmt,suffix", [("icartt", ".ict"), ("nasa_ames", ".na"), ("indoex", ".txt"),
                                        ("csv", ".csv")])
def test_export_file_every_format(tmp_path, product_file, fmt, suffix):
    res = CliRunner().invoke(main, ["export", str(product_file), "--to", fmt, "--out", str(tmp_path / "x"),
                                    "--start", "2024-06-01T06:00", "--end", "2024-06-02"])
    assert res.exit_code == 0, res.output
    (line,) = res.output.strip().splitlines()
    assert line.endswith(suffix)
    assert_ascii_clean(line)


def test_export_catalog_entry(tmp_path, product_file):
    root = tmp_path / "proj"
    (root / "archive" / "products").mkdir(parents=True)
    (root / "crac.yaml").write_text(project_yaml(name="p"))
    target = root / "archive" / "products" / product_file.name
    target.write_bytes(product_file.read_bytes())
    write_catalog([CatalogEntry("bravo_met", "netcdf", (target,), "Bravo met", {"station_id": "bravo"})],
                  root / "archive" / "catalog.yaml")
    res = CliRunner().invoke(main, ["export", "bravo_met", "--config", str(root / "crac.yaml"), "--to", "icartt",
                                    "--variables", "RH,AirTC_Avg", "--out", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    icartt = pytest.importorskip("icartt")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = icartt.Dataset(res.output.strip())
    assert list(r.dependentVariables) == ["Time_Stop", "RH", "AirTC_Avg"]
    assert same(r.data["RH"] * float(r.dependentVariables["RH"].scale), make_product()["RH"].values)
    bad = CliRunner().invoke(main, ["export", "nope", "--config", str(root / "crac.yaml"), "--to", "csv"])
    assert bad.exit_code != 0 and "no catalog entry 'nope'" in bad.output and "bravo_met" in bad.output


def test_export_errors(tmp_path, product_file):
    res = CliRunner().invoke(main, ["export", str(product_file), "--to", "csv", "--variables", "nope"])
    assert res.exit_code != 0 and "unknown variable(s) nope" in res.output
    res = CliRunner().invoke(main, ["export", str(product_file), "--to", "csv", "--start", "2030-01-01"])
    assert res.exit_code != 0 and "no records" in res.output
    res = CliRunner().invoke(main, ["export", "missing.nc", "--config", str(tmp_path / "none.yaml"), "--to", "csv"])
    assert res.exit_code != 0 and "is not a file" in res.output
    res = CliRunner().invoke(main, ["export", "--help"])
    assert res.exit_code == 0 and "--to" in res.output
