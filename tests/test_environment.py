"""pyproject.toml, environment.yml and binder/ name the same dependencies; the set-up files exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
# pip name -> conda-forge name where they differ
CONDA_NAME = {"netcdf4": "netcdf4"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[;]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    specs = data["project"]["dependencies"] + data["project"]["optional-dependencies"]["test"]
    return {CONDA_NAME.get(_name(s), _name(s)): s.strip() for s in specs}


def _conda(path: Path) -> dict[str, str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    out = {}
    for d in deps:
        assert isinstance(d, str), f"{path}: nested pip section not expected: {d!r}"
        n = _name(d)
        if n not in ("python", "pip"):
            out[n] = d.strip()
    return out


def _bound(spec: str) -> str:
    return spec[len(_name(spec)):].replace(" ", "")


def test_environment_yml_matches_pyproject():
    py = _pyproject()
    conda = _conda(ROOT / "environment.yml")
    assert sorted(conda) == sorted(py)
    for name, spec in py.items():
        assert _bound(conda[name]) == _bound(spec), f"{name}: pyproject {spec!r} vs environment.yml {conda[name]!r}"


def test_binder_environment_is_the_same():
    assert _conda(ROOT / "binder" / "environment.yml") == _conda(ROOT / "environment.yml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]


def test_binder_postbuild_installs_and_runs_demo():
    text = (ROOT / "binder" / "postBuild").read_text()
    assert "pip install" in text and "crac demo" in text
    assert (ROOT / "binder" / "postBuild").stat().st_mode & 0o111


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    assert "make test" in (ROOT / "README.md").read_text()
    assert "make demo" in (ROOT / "README.md").read_text()
