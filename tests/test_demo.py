"""`crac demo` end to end: products, mirrors, catalog, quick-looks and executed notebooks on the demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import intake
import nbformat
import numpy as np
import pytest
import xarray as xr

from crac_tools.demo import STATIONS, expected_records

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    d = tmp_path_factory.mktemp("demo") / "demo"
    out = subprocess.run([str(BIN / "crac"), "demo", str(d)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    return d, out.stdout


def _products(d: Path, key: str) -> list[Path]:
    return sorted((d / "archive/products" / key).rglob("*.nc"))


def test_demo_prints_where_everything_is(demo):
    d, stdout = demo
    for what in ("products", "zarr mirrors", "quick-looks", "run notebooks", "intake catalog"):
        assert what in stdout
    assert str(d / "archive" / "catalog.yaml") in stdout
    assert "9 period product(s) written" in stdout
    assert "truncated last line left out" in stdout


def test_demo_products_hold_every_record(demo):
    d, _ = demo
    for sid, n in expected_records().items():
        key = f"{sid}_{STATIONS[sid]['product']}"
        files = _products(d, key)
        total = sum(xr.open_dataset(f, engine="h5netcdf").sizes["time"] for f in files)
        assert total == n, key
    bravo = xr.open_dataset(_products(d, "bravo_met")[1], engine="h5netcdf")
    assert bravo.attrs["gaps"] == "2024-06-02T08:00:00/2024-06-02T13:00:00"
    assert bravo.attrs["completeness"] == pytest.approx(1 - 300 / 1440, abs=1e-6)
    charlie = xr.open_dataset(_products(d, "charlie_soil")[1], engine="h5netcdf")
    assert charlie.attrs["exact_duplicates_dropped"] == 48 and charlie.attrs["conflicting_duplicates"] == 0
    alpha = xr.open_dataset(_products(d, "alpha_sonic")[1], engine="h5netcdf")
    assert alpha.attrs["records_actual"] == 86400 - 3600 - 1


def test_catalog_entries_open_and_match_the_stored_files(demo):
    d, _ = demo
    cat = intake.from_yaml_file(str(d / "archive/catalog.yaml"))
    names = sorted(cat)
    assert names == sorted([f"{s}_{v['product']}" for s, v in STATIONS.items()]
                           + [f"{s}_{v['product']}_zarr" for s, v in STATIONS.items()])
    for sid, st in STATIONS.items():
        key = f"{sid}_{st['product']}"
        ds = cat[key].read().load()
        stored = xr.concat([xr.open_dataset(f, engine="h5netcdf").load() for f in _products(d, key)], dim="time",
                           data_vars="all", coords="minimal", compat="override")
        np.testing.assert_array_equal(ds["time"].values, stored["time"].values)
        for v in stored.data_vars:
            np.testing.assert_array_equal(ds[v].values, stored[v].values, err_msg=f"{key}:{v}")
        meta = cat[key].metadata
        assert meta["station_id"] == sid and meta["lat"] == st["lat"] and meta["n_files"] == len(_products(d, key))
        mirror = cat[f"{key}_zarr"].read()
        direct = xr.open_zarr(d / f"archive/mirror/{key}.zarr")
        assert mirror.sizes == direct.sizes
        on_grid = mirror.sel(time=stored["time"]).load()
        for v in on_grid.data_vars:
            np.testing.assert_array_equal(on_grid[v].values, stored[v].values.astype(on_grid[v].dtype))


def test_quicklooks_per_station_and_period(demo):
    d, _ = demo
    for sid, st in STATIONS.items():
        key = f"{sid}_{st['product']}"
        pngs = sorted((d / "archive/quicklook" / key).glob("*.png"))
        assert [p.stem for p in pngs] == [p.stem for p in _products(d, key)]
        assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
        pdf = (d / "archive/quicklook" / key / f"{key}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") + \
            pdf.count(b"/Type /Page>") >= len(pngs)


def test_executed_notebooks_are_the_run_record(demo):
    d, _ = demo
    runs = sorted((d / "archive/runs").iterdir())
    assert len(runs) == 1
    assert sorted(p.name for p in runs[0].glob("*.ipynb")) == ["ingest.ipynb", "quicklook.ipynb"]
    product = _products(d, "bravo_met")[0]
    assert xr.open_dataset(product, engine="h5netcdf").attrs["run_record"] == str(runs[0] / "ingest.ipynb")
    nb = nbformat.read(runs[0] / "ingest.ipynb", as_version=4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in nb.cells)


@pytest.mark.parametrize("name", ["ingest", "quicklook", "explore"])
def test_notebooks_have_one_parameters_cell(name):
    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_explore_and_quicklook_notebooks_run_with_papermill(demo, tmp_path):
    import papermill as pm

    d, _ = demo
    out = tmp_path / "explore.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks/explore.ipynb"), str(out), kernel_name="python3",
                        parameters={"config": str(d / "crac.yaml"), "station": "bravo_met",
                                    "variables": ["AirTC_Avg", "RH"], "start": "2024-06-02", "end": "2024-06-03"},
                        progress_bar=False)
    nb = nbformat.read(out, as_version=4)
    outputs = "".join(str(o) for c in nb.cells for o in c.get("outputs", []))
    assert "bravo_met" in outputs and "AirTC_Avg" in outputs
    q = tmp_path / "quicklook.ipynb"
    pm.execute_notebook(str(ROOT / "notebooks/quicklook.ipynb"), str(q), kernel_name="python3",
                        parameters={"config": str(d / "crac.yaml"), "stations": ["charlie"]}, progress_bar=False)
    assert "quick-look file(s) written" in "".join(str(o) for c in nbformat.read(q, as_version=4).cells
                                                  for o in c.get("outputs", []))


def _checker_failures(path: Path) -> list[tuple[str, str, list]]:
    """High- and medium-priority failures of the IOOS compliance-checker (CF 1.10 + ACDD 1.3) on a file."""
    import json

    out = path.parent / (path.name + ".cc.json")
    subprocess.run([str(BIN / "compliance-checker"), "--test=cf:1.10", "--test=acdd:1.3", "--criteria=normal",
                    "--format=json", "-o", str(out), str(path)], capture_output=True, timeout=300)
    report = json.loads(out.read_text())
    out.unlink()
    bad = []
    for test, res in report.items():
        for prio in ("high_priorities", "medium_priorities"):
            bad += [(test, x["name"], x["msgs"]) for x in res[prio] if x["value"][0] < x["value"][1]]
    return bad


@pytest.mark.parametrize("key", [f"{s}_{v['product']}" for s, v in STATIONS.items()])
def test_demo_products_pass_cf_and_acdd_checks(demo, key, tmp_path):
    d, _ = demo
    product = _products(d, key)[0]
    copy = tmp_path / product.name
    copy.write_bytes(product.read_bytes())
    assert _checker_failures(copy) == []
