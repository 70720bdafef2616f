"""Collect every station of a project into the raw archive.

Examples
--------
>>> from crac_tools.collect.run import collect_project
>>> results = collect_project("demo/crac.yaml")  # doctest: +SKIP
>>> sum(len(r.copied) for r in results)  # doctest: +SKIP
9
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from ..config import Project, load_project
from ..errors import CollectError
from .folder import Collected, collect_folder, is_local

log = logging.getLogger(__name__)


@dataclass
class StationCollection:
    """What collection did for one station."""

    key: str
    copied: list[Collected] = field(default_factory=list)
    error: str | None = None


def collect_project(project: Project | str | os.PathLike,
                    stations: list[str] | None = None) -> list[StationCollection]:
    """Copy new and grown files of every (selected) station's sources into the raw archive.

    One station failing (a missing folder, an unreachable host) is reported in its result and does not
    stop the others.

    Examples
    --------
    >>> [r.key for r in collect_project("demo")]  # doctest: +SKIP
    ['alpha_sonic', 'bravo_met', 'charlie_soil']
    """
    if not isinstance(project, Project):
        project = load_project(project)
    out = []
    for st in project.select(stations):
        res = StationCollection(st.key)
        local = [project.resolve_source(s) for s in st.sources if is_local(s)]
        remote = [s for s in st.sources if not is_local(s)]
        try:
            if remote:
                raise CollectError(f"{st.key}: remote sources are not supported yet: {', '.join(remote)}")
            if local:
                res.copied = collect_folder(local, project.archive, st.key)
        except CollectError as exc:
            res.error = str(exc)
            log.error("%s", exc)
        out.append(res)
    return out
