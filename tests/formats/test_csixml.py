"""Campbell CSIXML reader. There is no real CSIXML sample in testdata: the files here are generated following the
layout in Campbell's LoggerNet manual (appendix "CSIXML": csixml/head/environment, fields/field with name, type,
units and process; data/r with no and time attributes and v1..vN values), and checked against the TOA5 reader
reading the same records written as TOA5."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from formats_helpers import assert_round_trip, for_netcdf, quiet

import crac_tools as crac
from crac_tools.errors import ParseError, TruncatedRecordWarning
from crac_tools.formats import csixml as csixml_module
from crac_tools.formats.csixml import CsixmlReader, read_csixml
from crac_tools.formats.registry import get_reader, read_head
from crac_tools.formats.toa5 import read_toa5

T = np.datetime64

FIELDS = [  # name, type, units, process
    ("BattVolt_Min", "xsd:float", "Volts", "Min"),
    ("BattVolt_TMn", "xsd:dateTime", "Volts", "TMn"),
    ("AirTemp_Avg", "xsd:float", "Deg C", "Avg"),
    ("RH", "xsd:float", "%", "Smp"),
    ("Rain_Tot", "xsd:float", "mm", "Tot"),
    ("WindDir", "xsd:short", "deg", "Smp"),
    ("Door", "xsd:boolean", "", "Smp"),
    ("Status", "xsd:string", "", "Smp"),
]
RECORDS = [  # no, time, values (as LoggerNet writes them)
    (10, "2010-12-20T00:00:00", ["13.29", "2010-12-19T05:15:00", "1.532", "81.4", "0", "270", "false", "ok"]),
    (11, "2010-12-21T00:00:00", ["13.26", "2010-12-20T06:30:00", "-2.07", "NAN", "0.254", "15", "true", "ok"]),
    (12, "2010-12-22T00:00:00", ["13.3", "2010-12-21T04:45:00.5", "-0.5542219", "97.2", "12.7", "0", "false", "low"]),
]


def csixml_text(records=RECORDS, fields=FIELDS, close: bool = True, with_no: bool = True, names: bool = False) -> str:
    out = ['<?xml version="1.0" standalone="yes"?>', '<csixml version="1.0">', "<head>", "<environment>",
           "<station-name>logan-nw</station-name>", "<table-name>OneDay</table-name>", "<model>CR1000</model>",
           "<serial-no>11467</serial-no>", "<os-version>CR1000.Std.20</os-version>",
           "<dld-name>CPU:file format.CR1</dld-name>", "<dld-sig>26243</dld-sig>", "</environment>", "<fields>"]
    for name, typ, units, proc in fields:
        unit_attr = f' units="{units}"' if units else ""
        out.append(f'<field name="{name}" type="{typ}"{unit_attr} process="{proc}" />')
    out += ["</fields>", "</head>", "<data>"]
    for no, time, values in records:
        vals = "".join(f'<v{j + 1}{" n=" + chr(34) + fields[j][0] + chr(34) if names else ""}>{v}</v{j + 1}>'
                       for j, v in enumerate(values))
        no_attr = f' no="{no}"' if with_no else ""
        out.append(f'<r time="{time}"{no_attr}>{vals}</r>')
    if close:
        out += ["</data>", "</csixml>"]
    return "\n".join(out) + "\n"


def toa5_text(records=RECORDS, fields=FIELDS) -> str:
    """The same records as a TOA5 file (strings and times quoted, numbers not, NAN quoted)."""
    lines = ['"TOA5","logan-nw","CR1000","11467","CR1000.Std.20","CPU:file format.CR1","26243","OneDay"',
             '"TIMESTAMP","RECORD",' + ",".join(f'"{f[0]}"' for f in fields),
             '"TS","RN",' + ",".join(f'"{f[2]}"' for f in fields),
             '"","",' + ",".join(f'"{f[3]}"' for f in fields)]
    for no, time, values in records:
        cells = []
        for (_, typ, _, _), v in zip(fields, values, strict=True):
            if typ == "xsd:boolean":
                v = "-1" if v == "true" else "0"
            quoted = typ in ("xsd:string", "xsd:dateTime") or v == "NAN"
            cells.append(f'"{v.replace("T", " ")}"' if quoted else v)
        lines.append(f'"{time.replace("T", " ")}",{no},' + ",".join(cells))
    return "\n".join(lines) + "\n"


def write(tmp_path: Path, text: str, name: str = "OneDay.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def line_of(text: str, needle: str) -> int:
    return text[:text.index(needle)].count("\n") + 1


def test_generated_sample(tmp_path):
    ds = quiet(read_csixml, write(tmp_path, csixml_text()))
    assert ds.sizes["time"] == 3
    assert ds["time"].dtype == np.dtype("datetime64[ns]") and ds["time"].values[1] == T("2010-12-21")
    assert ds["RECORD"].dtype == np.int64 and ds["RECORD"].values.tolist() == [10, 11, 12]
    assert ds["BattVolt_Min"].dtype == np.float32 and ds["BattVolt_Min"].values[0] == np.float32(13.29)
    assert ds["BattVolt_Min"].attrs == {"units": "Volts", "process": "Min", "long_name": "BattVolt_Min (Min)",
                                        "xsd_type": "xsd:float"}
    assert ds["BattVolt_TMn"].dtype == np.dtype("datetime64[ns]")
    assert ds["BattVolt_TMn"].values[2] == T("2010-12-21T04:45:00.5")
    assert ds["AirTemp_Avg"].values[2] == np.float32(-0.5542219)
    assert np.isnan(ds["RH"].values[1]) and ds["RH"].encoding["_FillValue"] != ds["RH"].encoding["_FillValue"]
    assert ds["Rain_Tot"].values.tolist() == [0.0, np.float32(0.254), np.float32(12.7)]
    assert ds["WindDir"].dtype == np.int32 and ds["WindDir"].values.tolist() == [270, 15, 0]
    assert ds["Door"].values.tolist() == [0, -1, 0]
    assert ds["Status"].dtype == object and ds["Status"].values.tolist() == ["ok", "ok", "low"]
    assert "units" not in ds["Status"].attrs
    assert ds.attrs == {"file_format": "CSIXML", "station_name": "logan-nw", "table_name": "OneDay",
                        "logger_model": "CR1000", "logger_serial": "11467", "logger_os": "CR1000.Std.20",
                        "program_name": "CPU:file format.CR1", "program_signature": "26243",
                        "csixml_version": "1.0", "source_file": "OneDay.xml"}


def test_same_as_the_toa5_of_the_same_records(tmp_path):
    xml = quiet(read_csixml, write(tmp_path, csixml_text(names=True)))
    toa5 = read_toa5(write(tmp_path, toa5_text(), "OneDay.dat"))
    assert list(xml.data_vars) == list(toa5.data_vars)
    for name in toa5.variables:
        assert xml[name].dtype == toa5[name].dtype, name
        assert xml[name].attrs.get("units") == toa5[name].attrs.get("units")
    xr.testing.assert_equal(xml, toa5)


@pytest.mark.parametrize("variant", ["plain", "names", "crlf", "entities", "latin1", "no_numbers"])
def test_fast_and_streaming_paths_agree(tmp_path, variant):
    recs = [list(r) for r in RECORDS]
    recs[1][2] = recs[1][2][:-1] + ["a &amp; b &lt;c&gt; &#233;"] if variant == "entities" else recs[1][2]
    text = csixml_text([tuple(r) for r in recs], names=variant == "names", with_no=variant != "no_numbers")
    if variant == "crlf":
        text = text.replace("\n", "\r\n").replace("</v1>", "</v1>\r\n  ")
    data = text.encode()
    if variant == "latin1":
        text = text.replace('standalone="yes"', 'encoding="ISO-8859-1"').replace("ok", "\u00e9t\u00e9")
        data = text.encode("latin-1")
    path = tmp_path / "x.xml"
    path.write_bytes(data)
    fast = csixml_module._Parser(path)
    used_fast = csixml_module._fast(data, fast)
    assert used_fast == (variant != "latin1")
    slow = csixml_module._Parser(path)
    assert slow.parse(data) is False
    a = csixml_module._dataset(fast if used_fast else slow, path, False)
    b = csixml_module._dataset(slow, path, False)
    xr.testing.assert_identical(a, b)
    assert read_csixml(path)["Status"].values[0] == ("\u00e9t\u00e9" if variant == "latin1" else "ok")
    if variant == "entities":
        assert a["Status"].values[1] == "a & b <c> \u00e9"


def test_records_without_numbers(tmp_path):
    ds = quiet(read_csixml, write(tmp_path, csixml_text(with_no=False)))
    assert "RECORD" not in ds and ds.sizes["time"] == 3


def test_file_cut_while_written(tmp_path):
    text = csixml_text(close=False)
    cut = text[:text.rindex("<v5>") + 6]  # inside the last record
    with pytest.warns(TruncatedRecordWarning, match="cut off after 2 complete records"):
        ds = read_csixml(write(tmp_path, cut))
    assert ds.sizes["time"] == 2 and ds["RECORD"].values.tolist() == [10, 11]
    with pytest.warns(TruncatedRecordWarning):
        ds = read_csixml(write(tmp_path, text))  # all records, closing tags missing
    assert ds.sizes["time"] == 3


def test_malformed_xml_names_the_line(tmp_path):
    text = csixml_text().replace("<v3>1.532</v3>", "<v3>1.532</v4>")
    with pytest.raises(ParseError, match="malformed XML") as info:
        read_csixml(write(tmp_path, text))
    assert info.value.line == line_of(text, "1.532") and "OneDay.xml" in str(info.value)


def test_missing_value_and_bad_values(tmp_path):
    text = csixml_text().replace("<v4>97.2</v4>", "")
    with pytest.raises(ParseError, match="a record lacks a value") as info:
        read_csixml(write(tmp_path, text))
    assert info.value.line == line_of(text, 'no="12"') and info.value.column == "RH"
    bad = [(1, "2010-12-20T00:00:00", ["1x1", "2010-12-19T05:15:00", "1", "2", "3", "4", "true", "s"])]
    with pytest.raises(ParseError, match="bad value in a number field") as info:
        read_csixml(write(tmp_path, csixml_text(bad)))
    assert info.value.column == "BattVolt_Min" and "'1x1'" in str(info.value)
    bad = [(1, "2010-12-20T00:00:00", ["1", "2010-12-19T05:15:00", "1", "2", "3", "4", "maybe", "s"])]
    with pytest.raises(ParseError, match="bad value in a boolean field"):
        read_csixml(write(tmp_path, csixml_text(bad)))
    bad = [(1, "yesterday", ["1", "2010-12-19T05:15:00", "1", "2", "3", "4", "true", "s"])]
    with pytest.raises(ParseError, match="bad time stamp"):
        read_csixml(write(tmp_path, csixml_text(bad)))
    text = csixml_text().replace(' time="2010-12-21T00:00:00"', "")
    with pytest.raises(ParseError, match="a record without a time") as info:
        read_csixml(write(tmp_path, text))
    assert info.value.line == line_of(text, 'no="11"')
    with pytest.raises(ParseError, match="value element beyond the fields"):
        read_csixml(write(tmp_path, csixml_text().replace("<v8>low</v8>", "<v8>low</v8><v9>1</v9>")))


def test_integer_field_with_nan_becomes_float(tmp_path):
    recs = [(1, "2010-12-20T00:00:00", ["1", "2010-12-19T05:15:00", "1", "2", "3", "NAN", "true", "s"]),
            (2, "2010-12-21T00:00:00", ["1", "2010-12-19T05:15:00", "1", "2", "3", "90", "true", "s"])]
    ds = quiet(read_csixml, write(tmp_path, csixml_text(recs)))
    assert ds["WindDir"].dtype == np.float32 and np.isnan(ds["WindDir"].values[0])


def test_header_problems(tmp_path):
    with pytest.raises(ParseError, match="ends inside the CSIXML header"):
        read_csixml(write(tmp_path, csixml_text()[:300]))
    with pytest.raises(ParseError, match="not a CSIXML document"):
        read_csixml(write(tmp_path, '<?xml version="1.0"?><kml></kml>'))
    with pytest.raises(ParseError, match="no field definitions"):
        read_csixml(write(tmp_path, "<csixml><head><environment/></head><data></data></csixml>"))


def test_empty_data(tmp_path):
    ds = quiet(read_csixml, write(tmp_path, csixml_text(records=[])))
    assert ds.sizes["time"] == 0 and ds["WindDir"].dtype == np.int64
    assert np.isnat(CsixmlReader().time_range(tmp_path / "OneDay.xml").first)


def test_sniff_table_tree_time_range(tmp_path):
    path = write(tmp_path, csixml_text(), "export.dat")
    assert get_reader(path).name == "csixml"
    assert crac.read(path).attrs["table_name"] == "OneDay"
    assert CsixmlReader().read(path, table="OneDay").sizes["time"] == 3
    with pytest.raises(ParseError, match="holds table 'OneDay', not 'Hourly'"):
        CsixmlReader().read(path, table="Hourly")
    assert list(CsixmlReader().read_tree(path).children) == ["OneDay"]
    tr = CsixmlReader().time_range(path)
    assert (tr.first, tr.last, tr.n) == (T("2010-12-20"), T("2010-12-22"), 3)
    reader = CsixmlReader()
    assert reader.sniff(b"\xef\xbb\xbf<?xml version='1.0'?>\n<!-- x -->\n<csixml version='1.0'>", None)
    assert not reader.sniff(b'<?xml version="1.0"?>\n<kml xmlns="http://www.opengis.net/kml/2.2">', None)
    assert not reader.sniff(b'"TOA5","St","CR1000"', None)


def test_real_campbell_files_not_sniffed(testdata):
    for path in sorted((testdata / "campbell").iterdir()):
        assert not CsixmlReader().sniff(read_head(path), path), path.name


def test_round_trip(tmp_path):
    ds = quiet(read_csixml, write(tmp_path, csixml_text()))
    assert_round_trip(for_netcdf(ds), tmp_path)


def test_large_file_reads_in_reasonable_time(tmp_path):
    n = 50_000
    t = (T("2024-01-01") + np.arange(n).astype("timedelta64[m]")).astype(str)
    recs = [(i, t[i], ["12.5", t[i], f"{i % 300 / 10}", "55.5", "0", str(i % 360), "false", "ok"])
            for i in range(n)]
    path = write(tmp_path, csixml_text(recs))
    ds = read_csixml(path)
    assert ds.sizes["time"] == n and ds["WindDir"].values[-1] == (n - 1) % 360
