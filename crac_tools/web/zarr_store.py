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
    then checked by :func:`mirror_file` (the policy with the mirror folder as root: the folder must not itself be
    a symbolic link and the resolved file must lie inside it, so no link leads out). The plot reads the mirror
    through :class:`MirrorStore`, which puts every key it reads through the same :func:`mirror_file`. A key the
    caller may not see, a missing dataset, a missing key and a malformed key get the same 404.

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

import os
import re
from collections.abc import Iterable
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from zarr.abc.store import ByteRequest
from zarr.core.buffer import Buffer, BufferPrototype
from zarr.storage import LocalStore

from .datasets import Dataset
from .responses import begin
from .site import Ctx, NotFound, Site

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
    if len(parts) > _MAX_PARTS or not all(_PART.fullmatch(p) for p in parts):  # refuses "." and ".." too
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


def mirror_file(site: Site, ctx: Ctx, d: Dataset, key: str) -> Path:
    """The file of zarr key ``key`` in ``d``'s mirror, when the caller may read it; else :class:`NotFound`.

    The one check of every mirror file served (``/zarr/``) or read (the plot, through :class:`MirrorStore`).

    Parameters
    ----------
    site, ctx
        The app's site and the caller.
    d
        The dataset whose mirror is read.
    key
        A zarr key such as ``"AirTC_Avg/c/0"``: a plain key (:func:`split_key`) naming a regular file that resolves
        inside the mirror folder, which must not itself be a symbolic link (:func:`~.policy.allowed`).

    Returns
    -------
    Path

    Raises
    ------
    NotFound
        The key is malformed, missing, a folder, leads out of the mirror, or the caller may not see ``d``.
    """
    parts = split_key(key)
    if parts is None:
        raise NotFound
    root = mirror_folder(site, d)
    path = site.file(ctx, d.files_target(root), root.joinpath(*parts))
    if not path.is_file():
        raise NotFound
    return path


class MirrorStore(LocalStore):
    """A read-only zarr store of ``d``'s mirror that reads a key only when :func:`mirror_file` allows it.

    Every read of a key present on disk (``get``, ``get_sync``, ``get_partial_values``, ``exists``, ``getsize``)
    is vetted first; a refused key (a link out of the mirror, a mirror folder that is itself a link, a dataset the
    caller may no longer see) raises :class:`PermissionError` instead of returning another dataset's bytes. A key
    absent from disk stays absent (zarr fills a missing chunk). Listing reads no file and is not vetted (zarr does
    not list a group with consolidated metadata).

    Parameters
    ----------
    site, ctx
        The app's site and the caller.
    d
        A dataset the caller may see.

    Examples
    --------
    >>> g = zarr.open_group(store=MirrorStore(site, ctx, d), mode="r", use_consolidated=True)  # doctest: +SKIP
    """

    def __init__(self, site: Site, ctx: Ctx, d: Dataset) -> None:
        super().__init__(mirror_folder(site, d), read_only=True)
        self._vet = lambda key: mirror_file(site, ctx, d, key)

    def _check(self, key: str) -> None:
        if os.path.lexists(self.root / key):
            try:
                self._vet(key)
            except NotFound:
                raise PermissionError(f"{key}: not a file of the mirror {self.root.name}") from None

    async def get(self, key: str, prototype: BufferPrototype | None = None,
                  byte_range: ByteRequest | None = None) -> Buffer | None:
        """The value of ``key`` (None when absent), after :func:`mirror_file` allowed it."""
        self._check(key)
        return await super().get(key, prototype, byte_range)

    def get_sync(self, key: str, *, prototype: BufferPrototype | None = None,
                 byte_range: ByteRequest | None = None) -> Buffer | None:
        """The value of ``key`` (None when absent), after :func:`mirror_file` allowed it."""
        self._check(key)
        return super().get_sync(key, prototype=prototype, byte_range=byte_range)

    async def get_partial_values(self, prototype: BufferPrototype,
                                 key_ranges: Iterable[tuple[str, ByteRequest | None]]) -> list[Buffer | None]:
        """Byte ranges of keys, after :func:`mirror_file` allowed each key."""
        key_ranges = list(key_ranges)
        for key, _ in key_ranges:
            self._check(key)
        return await super().get_partial_values(prototype, key_ranges)

    async def exists(self, key: str) -> bool:
        """Whether ``key`` exists (raises for a key present but refused)."""
        self._check(key)
        return await super().exists(key)

    async def getsize(self, key: str) -> int:
        """The size of ``key`` in bytes, after :func:`mirror_file` allowed it."""
        self._check(key)
        return await super().getsize(key)


def zarr_key(request: Request) -> Response:
    """``GET /zarr/{key}.zarr/{path}``: one key of a dataset's zarr mirror (404 for anything not visible)."""
    site, ctx = begin(request)
    d = site.dataset(ctx, request.path_params["key"])
    key = request.path_params.get("path", "")
    path = mirror_file(site, ctx, d, key)
    media = "application/json" if key.rsplit("/", 1)[-1] in _JSON_NAMES else "application/octet-stream"
    return FileResponse(path, media_type=media)
