"""The steps the notebooks, the CLI and the daemon share: thin compositions of the stage functions.

Examples
--------
>>> from crac_tools.workflow import ingest_step
>>> summary = ingest_step("demo/crac.yaml")  # doctest: +SKIP
>>> summary["ok"]  # doctest: +SKIP
True
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from .catalog_project import build_catalog
from .collect.run import collect_project
from .config import Project, load_project
from .fsutil import atomic_write_json
from .pipeline import IngestReport, ingest, report_json


def ingest_step(config: str | os.PathLike | Project, stations: list[str] | None = None, start: str | None = None,
                end: str | None = None, scheduler: str | None = None, collect: bool = True,
                run_record: str | None = None, summary_path: str | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Collect (optionally), ingest and re-catalog a project; return (and optionally save) a summary.

    Returns
    -------
    dict
        ``ok``, ``collected`` (files per station), ``collect_errors``, the ingest report (``built``,
        ``skipped``, ``quarantined``, ``warnings``, ``failures``, ``workers``) and ``catalog`` (path).
    """
    project = config if isinstance(config, Project) else load_project(config)
    summary: dict = {"collected": {}, "collect_errors": []}
    if collect:
        for res in collect_project(project, stations):
            summary["collected"][res.key] = [c.name for c in res.copied]
            if res.error:
                summary["collect_errors"].append(res.error)
    report: IngestReport = ingest(project, stations, start or None, end or None, scheduler=scheduler or None,
                                  run_record=run_record or None, progress=progress)
    summary.update(report_json(report))
    summary["summary_text"] = report.summary()
    summary["catalog"] = str(build_catalog(project))
    summary["failures"] = summary["failures"] + [{"key": "collect", "error": e}
                                                 for e in summary["collect_errors"]]
    summary["ok"] = report.ok and not summary["collect_errors"]
    if summary_path:
        atomic_write_json(Path(summary_path), summary)
    return summary
