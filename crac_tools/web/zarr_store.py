"""Read-only HTTP access to a dataset's zarr mirror: ``GET /zarr/{key}.zarr/{zarr key}``.

Each dataset ``<station>_<product>`` has one zarr (v3) mirror, ``ARCHIVE/mirror/<key>.zarr`` (see
:mod:`crac_tools.store`), holding exactly that dataset's records. This route serves its keys (the root
``zarr.json`` with the consolidated metadata, array ``zarr.json`` files, chunks ``<var>/c/<i>``; the zarr v2 names
``.zmetadata``/``.zgroup``/``.zarray``/``.zattrs`` are accepted too) so that fsspec's HTTP file system reads it::

    xr.open_zarr("https://host/zarr/bravo_met.zarr",
                 storage_options={"headers": {"Authorization": "Bearer <token>"}})

Access
    The embargo unit (project, station or dataset) is never finer than a mirror: a mirror holds one dataset and
    all of its periods, and every declaration that applies to one period applies to the whole dataset. So a
    mirror is served exactly when the caller may see the whole dataset (:meth:`Site.dataset`), and each key is
    then checked by :meth:`Site.file` (the policy with the mirror folder as root: the resolved file must lie
    inside it, so no symbolic link leads out). A key the caller may not see, a missing dataset, a missing key and
    a malformed key get the same 404.

Keys
    Every ``/``-separated part must be a plain name (letters, digits, ``_ . -``, not starting with a dot except
    the four zarr v2 names), at most 16 parts: no ``..``, no empty part, no backslash, no NUL, no absolute path.
    Only regular files are served; folders answer 404 (zarr never lists over HTTP when metadata is consolidated).

Examples
--------
>>> split_key("AirTC_Avg/c/0")
('AirTC_Avg', 'c', '0')
>>> split_key("../public_embargo_met.zarr/zarr.json") is None
True
"""

from __future__ import annotations

import re
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from .datasets import Dataset
from .responses import begin
from .site import NotFound, Site

#: A plain key part; the zarr v2 metadata names are the only ones allowed to start with a dot.
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}|\.zmetadata|\.zgroup|\.zarray|\.zattrs")
_MAX_PARTS = 16
_JSON_NAMES = {"zarr.json", ".zmetadata", ".zgroup", ".zarray", ".zattrs"}


def split_key(key: str) -> tuple[str, ...] | None:
    """The parts of a zarr store key, or None when it is not a plain relative key.

    Parameters
    ----------
    key
        The key as it came in the URL (already percent-decoded by the router).

    Returns
    -------
    tuple of str or None

    Examples
    --------
    >>> split_key("zarr.json"), split_key(".zmetadata")
    (('zarr.json',), ('.zmetadata',))
    >>> [split_key(k) for k in ("", "/etc/passwd", "a//b", "a\\\\b", "..", ".hidden", "a/./b")]
    [None, None, None, None, None, None, None]
    """
    if not isinstance(key, str) or not key or len(key) > 1024:
        return None
    parts = tuple(key.split("/"))
    if len(parts) > _MAX_PARTS or not all(_PART.fullmatch(p) for p in parts):
        return None
    if any(p in (".", "..") for p in parts):  # _PART already refuses them; kept explicit
        return None
    return parts


def mirror_folder(site: Site, d: Dataset) -> Path:
    """The zarr mirror folder of dataset ``d`` (it may not exist).

    Examples
    --------
    >>> mirror_folder(site, site.registry.datasets()["bravo_met"]).name  # doctest: +SKIP
    'bravo_met.zarr'
    """
    return site.archive / "mirror" / f"{d.key}.zarr"


def has_mirror(site: Site, d: Dataset) -> bool:
    """Whether ``d`` has a zarr mirror with metadata (callers must already have checked the policy for ``d``).

    Examples
    --------
    >>> has_mirror(site, site.registry.datasets()["bravo_met"])  # doctest: +SKIP
    True
    """
    return (mirror_folder(site, d) / "zarr.json").is_file()


def zarr_url(base: str, d: Dataset) -> str:
    """The URL of ``d``'s zarr mirror under the server address ``base``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> zarr_url("https://data.example.org/", SimpleNamespace(key="bravo_met"))
    'https://data.example.org/zarr/bravo_met.zarr'
    """
    return f"{base.rstrip('/')}/zarr/{d.key}.zarr"


def zarr_key(request: Request) -> Response:
    """``GET /zarr/{key}.zarr/{path}``: one key of a dataset's zarr mirror (404 for anything not visible)."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    root = mirror_folder(site, d)
    parts = split_key(request.path_params.get("path", ""))
    if parts is None:
        raise NotFound
    path = site.file(ctx, d.files_target(root), root.joinpath(*parts))
    if not path.is_file():
        raise NotFound
    media = "application/json" if parts[-1] in _JSON_NAMES else "application/octet-stream"
    return FileResponse(path, media_type=media)
