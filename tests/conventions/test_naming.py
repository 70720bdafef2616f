"""Naming engine: every convention formats and parses its own names, on the seeds' examples."""

from __future__ import annotations

import datetime as dt

import pytest

import crac_tools as crac
from crac_tools.conventions.naming import NamingError, espo_code, format_name, parse_name, template_convention

SEED_NAMES = {
    "DD20020702.CIT": "espo",
    "DD20020702__L2.CIT": "espo",
    "IM20020702_1712.JPG": "espo_image",
    "IM20020702_1732.JPG": "espo_image",
    "atmPrf_C001.2010.001.00.09.G03_2013.3520_nc": "cdaac",
    "ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict": "icartt",
    "groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf": "geoms",
    "sonde_ship.9903011200.skewt.gif": "indoex",
}


@pytest.mark.parametrize("name,convention", SEED_NAMES.items())
def test_seed_names_round_trip(name, convention):
    fields = parse_name(name)
    assert fields["convention"] == convention
    assert format_name(convention, **fields) == name
    assert parse_name(format_name(convention, **fields), convention) == fields


def test_parsed_fields_have_real_values():
    f = parse_name("DD20020702__L2.CIT")
    assert (f["code"], f["date"], f["launch"], f["platform"]) == ("DD", dt.datetime(2002, 7, 2), 2, "CIT")
    assert parse_name("DD20020702.CIT")["launch"] == 1
    f = parse_name("IM20020702_1712.JPG")
    assert f["start"] == dt.datetime(2002, 7, 2, 17, 12)
    f = parse_name("atmPrf_C001.2010.001.00.09.G03_2013.3520_nc")
    assert (f["file_type"], f["instance"], f["start"], f["subtype"], f["version"], f["format"]) == (
        "atmPrf", "C001", dt.datetime(2010, 1, 1, 0, 9), "2013", "3520", "nc")
    f = parse_name("ACTAMERICA-flag-metadata_B200_20170308_R0_L2.ict")
    assert (f["data_id"], f["location_id"], f["start"], f["revision"], f["launch"]) == (
        "ACTAMERICA-flag-metadata", "B200", dt.datetime(2017, 3, 8), "0", 2)
    f = parse_name("groundbased_lidar.o3_uah001_huntsville.al_20180904t175830z_20180904t190354z_001.hdf")
    assert (f["discipline"], f["data_source"], f["location"], f["version"]) == (
        "groundbased", "lidar.o3_uah001", "huntsville.al", 1)
    assert f["stop"] - f["start"] == dt.timedelta(hours=1, minutes=5, seconds=24)
    f = parse_name("sonde_ship.9903011200.skewt.gif")
    assert f["start"] == dt.datetime(1999, 3, 1, 12, 0) and f["product"] == "skewt"


def test_cdaac_daily_and_timed_names():
    daily = format_name("cdaac", file_type="metDat", instance="alpha", start=dt.datetime(2024, 6, 1),
                        subtype="0001", version="0002", format="nc")
    assert daily == "metDat_alpha.2024.153_0001.0002_nc"
    timed = format_name("cdaac", file_type="metDat", instance="alpha", start=dt.datetime(2024, 6, 1, 6, 30),
                        duration=60, subtype="0001", version="0002", format="nc")
    assert timed == "metDat_alpha.2024.153.06.30.0060_0001.0002_nc"
    assert parse_name(timed)["duration"] == 60


def test_icartt_with_time_and_volume():
    name = format_name("icartt", data_id="CRAC-MET", location_id="ALPHA", start=dt.datetime(2024, 6, 1, 6, 30),
                       revision="1", volume=2)
    assert name == "CRAC-MET_ALPHA_20240601_063000_R1_V2.ict"
    assert parse_name(name)["volume"] == 2


def test_espo_codes():
    assert espo_code("DD20020702__L2.CIT") == "DD.CIT"
    assert espo_code("IM20020702_1712.JPG") == "IM.JPG"


def test_template_convention_round_trip():
    tpl = "{station}_{product}_{start:%Y%m%dT%H%M%S}_v{version}.nc"
    c = template_convention(tpl)
    f = c.parse("alpha_met_20240601T000000_v3.nc")
    assert f == {"station": "alpha", "product": "met", "start": dt.datetime(2024, 6, 1), "version": 3,
                 "convention": "template"}
    assert format_name(tpl, **f) == "alpha_met_20240601T000000_v3.nc"


@pytest.mark.parametrize("bad", ["DD2002070.CIT", "dd20020702.CIT", "DD20020702__L1.CIT", "IM20020702-1712.JPG",
                                 "random.txt", "ACTAMERICA_B200_2017030_R0.ict"])
def test_malformed_names_give_clear_errors(bad):
    with pytest.raises(NamingError, match="follows none of the conventions"):
        parse_name(bad)


def test_wrong_convention_and_missing_fields():
    with pytest.raises(NamingError, match="is not a espo file name"):
        parse_name("IM20020702_1712.JPG", "espo")
    with pytest.raises(NamingError, match="need the field 'platform'"):
        format_name("espo", code="DD", date=dt.datetime(2002, 7, 2))
    with pytest.raises(NamingError, match="unknown naming convention"):
        format_name("nope", x=1)
    with pytest.raises(NamingError, match="looks like a espo name but a date/time field is invalid"):
        parse_name("DD20021332.CIT")  # month 13


def test_top_level_api():
    assert crac.parse_name("DD20020702.CIT")["convention"] == "espo"
    assert crac.format_name("espo", code="DD", date=dt.datetime(2002, 7, 2), platform="CIT") == "DD20020702.CIT"
