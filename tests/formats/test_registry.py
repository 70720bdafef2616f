"""Reader registry: format names, content sniffing (never the suffix alone), read / read_tree dispatch."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import crac_tools as crac
import crac_tools.formats as formats_pkg
from crac_tools.errors import UnknownFormatError
from crac_tools.formats import registry
from crac_tools.formats.table import TableReader
from crac_tools.formats.toa5 import Toa5Reader

TOA5 = (
    '"TOA5","St","CR1000","1","OS","CPU:p.cr1","2","Hourly"\n'
    '"TIMESTAMP","RECORD","AirTC"\n"TS","RN","Deg C"\n"","","Avg"\n'
    '"2024-05-01 01:00:00",0,12.5\n"2024-05-01 02:00:00",1,"NAN"\n'
)


def test_formats_lists_toa5_first():
    names = crac.formats()
    assert names[0] == "toa5"
    assert formats_pkg.formats() == names



def test_a_sniff_that_raises_means_not_this_format(tmp_path, monkeypatch):
    """One reader's broken sniff (a plug-in, or a format without its own guard) never stops detection."""
    f = tmp_path / "hourly.dat"
    f.write_text(TOA5)

    def broken(self, head, path):
        raise UnicodeDecodeError("utf-8", head, 0, 1, "not text")
    monkeypatch.setattr(Toa5Reader, "sniff", broken)
    with pytest.raises(UnknownFormatError, match="hourly.dat"):  # no reader left that knows TOA5
        registry.get_reader(f)
    table = tmp_path / "daily.txt"  # sniffed by the table reader, which comes after the broken TOA5 one
    table.write_text("year month day temp\n2021 1 1 -3.5\n2021 1 2 -4.0\n")
    assert isinstance(registry._sniff_order()[0], Toa5Reader)
    assert isinstance(registry.get_reader(table), TableReader)

def test_package_reexports():
    for name in ("formats", "read", "read_tree", "get_reader", "register"):
        assert getattr(formats_pkg, name) is getattr(registry, name)
    assert crac.read is registry.read and crac.read_tree is registry.read_tree


def test_sniffing_uses_content_not_suffix(tmp_path):
    odd = tmp_path / "hourly.csv"
    odd.write_text(TOA5)
    assert isinstance(registry.get_reader(odd), Toa5Reader)
    ds = crac.read(odd)
    assert ds.sizes["time"] == 2 and np.isnan(ds["AirTC"].values[1])
    fake = tmp_path / "TOA5_fake.dat"
    fake.write_text('"TOB1","St","CR1000"\n')
    with pytest.raises(UnknownFormatError, match="TOA5_fake.dat"):
        registry.get_reader(fake)


def test_named_format(tmp_path):
    path = tmp_path / "x.dat"
    path.write_text(TOA5)
    assert crac.read(path, format="toa5").attrs["table_name"] == "Hourly"
    with pytest.raises(UnknownFormatError, match="'nope' is not a known format"):
        crac.read(path, format="nope")


def test_empty_missing_and_directory(tmp_path):
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    with pytest.raises(UnknownFormatError, match="empty"):
        crac.read(empty)
    with pytest.raises(FileNotFoundError, match="nothere.dat"):
        crac.read(tmp_path / "nothere.dat")
    with pytest.raises(UnknownFormatError, match="directory"):
        registry.get_reader(tmp_path)


def test_read_tree_one_group_per_table(tmp_path):
    path = tmp_path / "x.dat"
    path.write_text(TOA5)
    tree = crac.read_tree(path)
    assert isinstance(tree, xr.DataTree) and list(tree.children) == ["Hourly"]
    xr.testing.assert_identical(tree["Hourly"].to_dataset(), crac.read(path))


def test_real_toa5_files_sniffed(testdata):
    camp = testdata / "campbell"
    for name in ("Station_Daily.dat", "TOA5_BBS.FLUX_2023_08_01_1530.dat",
                 "TOA5_TOB1_full27_2026_02_19_0946.dat", "TOA5_TOB3_long27_2026_02_19_0946.dat"):
        assert registry.get_reader(camp / name).name == "toa5"
    assert not Toa5Reader().sniff(registry.read_head(camp / "TOB1_full27.dat"), camp / "TOB1_full27.dat")
    tree = crac.read_tree(camp / "Station_Daily.dat")
    assert list(tree.children) == ["Daily"] and tree["Daily"].sizes["time"] == 57
