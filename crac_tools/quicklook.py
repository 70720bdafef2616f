"""Quick-look stage: one PNG per station product and period, one multi-page PDF per station product.

Images live in ``ARCHIVE/quicklook/<station key>/``; a PNG is redrawn only when its product is newer.

Examples
--------
>>> from crac_tools.quicklook import quicklook_project
>>> paths = quicklook_project("demo/crac.yaml")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from .config import Project, load_project
from .conventions.naming import product_name
from .fsutil import read_json
from .plot import write_quicklook_pdf, write_quicklook_png
from .store import open_product

log = logging.getLogger(__name__)


def _image_name(project: Project, st, product: Path, start, end, entry: dict) -> str:
    """The quick-look's file name: the project's image template, or the product's name with .png."""
    tpl = project.config.naming.image_template
    if not tpl:
        return product.stem + ".png"
    name = product_name(tpl, st.id, st.product, project.period_of(st), start, end,
                        int(entry.get("version", project.config.products.version)))
    return name if Path(name).suffix.lower() == ".png" else str(Path(name).with_suffix(".png"))


def quicklook_project(project: Project | str | os.PathLike, stations: list[str] | None = None, start=None,
                      end=None, force: bool = False) -> list[Path]:
    """Draw the quick-looks of every (selected) station's products; return the files written.

    Examples
    --------
    >>> [p.suffix for p in quicklook_project("demo", stations=["alpha"])]  # doctest: +SKIP
    ['.png', '.png', '.pdf']
    """
    if not isinstance(project, Project):
        project = load_project(project)
    archive = project.archive
    written: list[Path] = []
    lo = pd.Timestamp(start) if start is not None else None
    hi = pd.Timestamp(end) if end is not None else None
    for st in project.select(stations):
        state = read_json(archive / "state" / "ingest" / f"{st.key}.json", default=None) or {"periods": {}}
        outdir = archive / "quicklook" / st.key
        products = []
        changed = False
        for s in sorted(state["periods"], key=pd.Timestamp):
            entry = state["periods"][s]
            product = Path(entry["product"])
            ps, pe = pd.Timestamp(s), pd.Timestamp(entry["end"])
            if not product.exists() or (lo is not None and pe <= lo) or (hi is not None and ps >= hi):
                continue
            products.append(product)
            png = outdir / _image_name(project, st, product, ps, pe, entry)
            if force or not png.exists() or png.stat().st_mtime < product.stat().st_mtime:
                write_quicklook_png(open_product(product), png)
                written.append(png)
                changed = True
        pdf = outdir / f"{st.key}.pdf"
        if products and (changed or not pdf.exists()):
            write_quicklook_pdf((open_product(p) for p in products), pdf)
            written.append(pdf)
    return written
