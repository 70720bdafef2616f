"""Run the pipeline as parameterized notebooks (papermill), keeping the executed notebooks as run records.

``crac run`` executes ``ingest.ipynb`` (collect -> ingest -> catalog) and ``quicklook.ipynb`` with the
run's parameters; the executed copies go to ``ARCHIVE/runs/<UTC time>/`` and the ingest notebook's path
is written into every product's provenance (``run_record``).

Examples
--------
>>> from crac_tools.runner import run_notebooks
>>> run = run_notebooks("demo/crac.yaml")  # doctest: +SKIP
>>> sorted(p.name for p in run.notebooks)  # doctest: +SKIP
['ingest.ipynb', 'quicklook.ipynb']
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from .config import Project, load_project
from .errors import PipelineError

log = logging.getLogger(__name__)

NOTEBOOK_DIR = Path(__file__).resolve().parent / "notebooks"
PIPELINE = ("ingest.ipynb", "quicklook.ipynb")


@dataclass
class RunResult:
    """Where a notebook run left its records."""

    folder: Path
    notebooks: list[Path] = field(default_factory=list)
    summary: dict = field(default_factory=dict)


def notebook_path(name: str) -> Path:
    """Path of a bundled notebook (``ingest.ipynb``, ``quicklook.ipynb``, ``explore.ipynb``)."""
    p = NOTEBOOK_DIR / name
    if not p.exists():
        raise FileNotFoundError(f"bundled notebook {name} not found in {NOTEBOOK_DIR}")
    return p


def execute(name: str, output: Path, parameters: dict, cwd: Path | None = None) -> Path:
    """Execute one bundled notebook with papermill into ``output`` (kernel ``python3`` = this venv)."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    pm.execute_notebook(str(notebook_path(name)), str(output), parameters=parameters, kernel_name="python3",
                        cwd=str(cwd) if cwd else None, progress_bar=False, log_output=False)
    return output


def run_notebooks(project: Project | str | os.PathLike, stations: list[str] | None = None,
                  start: str | None = None, end: str | None = None, scheduler: str | None = None,
                  collect: bool = True) -> RunResult:
    """Run collect -> ingest -> catalog -> quicklook through the notebooks; return the run record.

    Raises
    ------
    PipelineError
        When a notebook fails or the ingest reported quarantined files or failed periods (the
        executed notebooks are kept either way).
    """
    import papermill as pm

    if not isinstance(project, Project):
        project = load_project(project)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = project.archive / "runs" / stamp
    folder.mkdir(parents=True, exist_ok=True)
    params = {"config": str(project.path), "stations": list(stations or []), "start": start or "",
              "end": end or "", "scheduler": scheduler or ""}
    result = RunResult(folder)
    summary_path = folder / "summary.json"
    try:
        for name in PIPELINE:
            out = folder / name
            extra = {"run_record": str(out), "collect": collect, "summary_path": str(summary_path)} \
                if name == "ingest.ipynb" else {}
            execute(name, out, {**params, **extra}, cwd=project.root)
            result.notebooks.append(out)
    except pm.PapermillExecutionError as exc:
        raise PipelineError(f"notebook {exc.exec_count and name} failed: {exc.ename}: {exc.evalue}; "
                            f"executed notebook kept in {folder}") from exc
    if summary_path.exists():
        result.summary = json.loads(summary_path.read_text())
    if result.summary and not result.summary.get("ok", True):
        raise PipelineError(f"run finished with problems; see {folder}",
                            failures=result.summary.get("failures", []) + result.summary.get("quarantined", []))
    return result
