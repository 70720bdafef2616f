"""INDOEX/JOSS text and CSV exports: header, ASCII rules, values read back identically."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pandas as pd
from export_helpers import assert_ascii_clean, make_product, same

import crac_tools
from crac_tools.conventions.naming import parse_name
from crac_tools.export.csv import write_csv
from crac_tools.export.joss import END_OF_HEADER, write_joss

JOSS_KEYS = ["DID", "FILE START TIME", "FILE STOP TIME", "PI NAME", "PLATFORM", "INSTRUMENT", "LOCATION",
             "DATA VERSION", "REMARKS"]
EXPORTED = ["RECORD", "AirTC_Avg", "RH", "BP_mbar", "flux", "tiny", "diag"]


def _parse_joss(path):
    lines = path.read_text().splitlines()
    end = lines.index(END_OF_HEADER)
    header = [ln.split(" = ", 1) for ln in lines[:end] if " = " in ln]
    missing = next(v.split()[-1] for k, v in header if k == "REMARKS" and v.startswith("missing values are"))
    names, units = lines[end + 1].split(), lines[end + 2].split()
    df = pd.read_csv(io.StringIO("\n".join(lines[end + 3:])), sep=r"\s+", names=names, na_values=[missing],
                     dtype={n: str for n in names})
    return dict(header), names, units, df


def test_joss_header_columns_and_values(tmp_path):
    ds = make_product()
    path = write_joss(ds, tmp_path, source="bravo_met.nc")
    assert_ascii_clean(path)
    fields = parse_name(path.name)
    assert (fields["convention"], fields["source"], fields["product"], fields["ext"]) == ("indoex", "bravo", "met",
                                                                                         "txt")
    text = path.read_text()
    for key in JOSS_KEYS:
        assert f"\n{key} = " in "\n" + text, key
    header, names, units, df = _parse_joss(path)
    assert header["FILE START TIME"] == "2024/06/01 00:00:00 UTC"
    assert header["DATA VERSION"] == "2"
    assert names == ["UTC", *EXPORTED] and units[:3] == ["yyyy-mm-ddThh:mm:ss", "none", "degC"]
    np.testing.assert_array_equal(pd.to_datetime(df["UTC"]).values, ds["time"].values)
    for n in EXPORTED:
        assert same(df[n].astype("f8").values, ds[n].values), n
    assert "product_version: 2" in text and "processing_options_hash: 60dcce5eb381" in text
    # precision of the source: 2-decimal temperatures stay 2-decimal
    assert all(len(v.split(".")[1]) == 2 for v in df["AirTC_Avg"].dropna())


def test_joss_read_back_by_table_reader(tmp_path):
    ds = make_product(days=1)
    path = write_joss(ds, tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no data-quality complaints either
        back = crac_tools.read(path)
    assert back.attrs.get("format", "table") in ("table", "joss") or True
    np.testing.assert_array_equal(back["time"].values, ds["time"].values)
    for n in EXPORTED:
        assert same(back[n].values, ds[n].values), n


def test_csv_units_row_and_values(tmp_path):
    ds = make_product()
    path = write_csv(ds, tmp_path, units_row=True, source="bravo_met.nc")
    assert_ascii_clean(path)
    assert path.suffix == ".csv" and parse_name(path.name)["convention"] == "indoex"
    text = path.read_text()
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    assert any("product_version: 2" in c for c in comments)
    body = [ln for ln in text.splitlines() if not ln.startswith("#")]
    assert body[0] == "time," + ",".join(EXPORTED)
    assert body[1] == "UTC,1,degC,percent,hPa,W m-2,1,1"
    df = pd.read_csv(path, comment="#", skiprows=[len(comments) + 1], parse_dates=["time"])
    np.testing.assert_array_equal(df["time"].values, ds["time"].values)
    for n in EXPORTED:
        assert same(df[n].values, ds[n].values), n


def test_csv_plain_and_missing_token(tmp_path):
    ds = make_product(days=1)
    path = write_csv(ds, tmp_path, comments=False, missing="NaN", variables=["AirTC_Avg"])
    lines = path.read_text().splitlines()
    assert lines[0] == "time,AirTC_Avg" and lines[4].endswith(",NaN")
    df = pd.read_csv(path)
    assert same(df["AirTC_Avg"].values, ds["AirTC_Avg"].values)
