"""Verify a backup target: re-read its bytes and compare them with its manifest.

Every problem names the file: ``missing``, ``truncated`` (shorter than recorded), ``different`` (other
size or hash), ``stale`` (holds an older version of the same file), ``swapped`` (holds another file's
content), ``extra`` (an object no manifest refers to) and ``manifest`` (a damaged manifest: its own
checksum fails). Sizes of all objects are always checked (one listing); ``sample`` chooses the share of
objects whose bytes are re-read and hashed.

Examples
--------
>>> report = verify_target("/mnt/usb/crac", sample=0.05)  # doctest: +SKIP
>>> report.ok, report.summary()  # doctest: +SKIP
(True, '/mnt/usb/crac: OK: 812 objects listed, 41 re-read (61.2 MiB), 0 problems in 0.4 s')
"""

from __future__ import annotations

import random
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

from .backup import _bar, _human
from .manifest import FILES, HISTORY, MANIFEST, is_temp_key, load_manifest
from .targets import Target, open_target


@dataclass
class Problem:
    """One problem found on a target: kind, the file (or object) it concerns, and details."""

    kind: str
    name: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class VerifyReport:
    """The result of one verify."""

    target: str
    problems: list[Problem] = field(default_factory=list)
    listed: int = 0
    read: int = 0
    read_bytes: int = 0
    seconds: float = 0.0
    manifest: str = ""

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def summary(self) -> str:
        """One line, then one line per problem."""
        head = (f"{self.target}: {'OK' if self.ok else 'FAILED'}: {self.listed} objects listed, {self.read} "
                f"re-read ({_human(self.read_bytes)}), {len(self.problems)} problem(s) in {self.seconds:.1f} s")
        return "\n".join([head, *(f"  {p}" for p in self.problems)])


def verify(target: Target, sample: float = 1.0, seed: int | None = None, progress: bool = False) -> VerifyReport:
    """Check an open target against its manifest (see the module docstring).

    Parameters
    ----------
    target
        From :func:`~crac_tools.backup.targets.open_target`.
    sample
        Share of objects whose bytes are re-read (1.0 = all; at least one object when above 0).
    seed
        Random seed of the sample (default: a fresh random choice each run).
    progress
        Show a tqdm bar (bytes and rate).

    Examples
    --------
    >>> import tempfile
    >>> from crac_tools.backup.targets import open_target
    >>> verify(open_target(tempfile.mkdtemp())).problems
    [Problem(kind='missing', name='MANIFEST.json', detail='no completed backup on this target')]
    """
    t0 = time.perf_counter()
    rep = VerifyReport(target.url)
    listing = target.list()
    rep.listed = len(listing)
    manifest, problems = load_manifest(target, listing)
    for p in problems:
        name, _, detail = p.partition(": ")
        rep.problems.append(Problem("manifest" if "missing" not in detail else "missing", name, detail))
    if manifest is None:
        if not problems:
            rep.problems.append(Problem("missing", MANIFEST, "no completed backup on this target"))
        rep.seconds = time.perf_counter() - t0
        return rep
    rep.manifest = manifest.created
    expected = manifest.objects()
    # which path holds which content, to tell stale and swapped objects from plain damage
    by_sha: dict[str, list[tuple[str, str]]] = {}
    for role, path, e in expected.values():
        by_sha.setdefault(e["sha256"], []).append((role, path))
    to_read: list[str] = []
    for key, (role, path, e) in sorted(expected.items()):
        label = path if role == "current" else f"{path} [{role} {e['sha256'][:12]}]"
        size = listing.get(key)
        if size is None:
            rep.problems.append(Problem("missing", label, f"object {key} is not on the target"))
        elif size < e["size"]:
            rep.problems.append(Problem("truncated", label, f"{size} of {e['size']} bytes"))
        elif size != e["size"]:
            rep.problems.append(Problem("different", label, f"size {size}, expected {e['size']}"))
        else:
            to_read.append(key)
    for key in sorted(listing):
        if key in expected or key == MANIFEST:
            continue
        if key.startswith(HISTORY + "/") and not is_temp_key(key):
            continue
        what = "temporary object of an interrupted backup" if is_temp_key(key) else "not in the manifest"
        name = key[len(FILES) + 1:] if key.startswith(FILES + "/") else key
        rep.problems.append(Problem("extra", name, what))
    if 0 < sample < 1 and to_read:
        rng = random.Random(seed)
        to_read = sorted(rng.sample(to_read, max(1, round(sample * len(to_read)))))
    elif sample <= 0:
        to_read = []
    bar = _bar(sum(expected[k][2]["size"] for k in to_read), f"verify {target.url}", progress)

    def check(key: str) -> tuple[str, str, int]:
        digest, n = target.sha256(key)
        return key, digest, n

    def name_of(key: str) -> str:
        role, path, e = expected[key]
        return path if role == "current" else f"{path} [{role} {e['sha256'][:12]}]"

    with ThreadPoolExecutor(max(1, target.read_parallel or target.parallel)) as ex:
        futures = {ex.submit(check, k): k for k in to_read}
        for fut in as_completed(futures):
            try:
                key, digest, n = fut.result()
            except FileNotFoundError:
                rep.problems.append(Problem("missing", name_of(futures[fut]), "disappeared while being read"))
                continue
            except Exception as exc:  # noqa: BLE001 - any failure to read is a problem to name, not a crash
                rep.problems.append(Problem("unreadable", name_of(futures[fut]), f"{type(exc).__name__}: {exc}"))
                continue
            role, path, e = expected[key]
            rep.read += 1
            rep.read_bytes += n
            bar.update(n)
            if digest == e["sha256"] and n == e["size"]:
                continue
            label = name_of(key)
            others = [(r, p) for r, p in by_sha.get(digest, []) if (r, p) != (role, path)]
            if any(p == path for _r, p in others):
                rep.problems.append(Problem("stale", label, "holds an older version of this file"))
            elif others:
                rep.problems.append(Problem("swapped", label, f"holds the content of {others[0][1]}"))
            elif n != e["size"]:
                rep.problems.append(Problem("truncated" if n < e["size"] else "different", label,
                                            f"{n} of {e['size']} bytes"))
            else:
                rep.problems.append(Problem("different", label, "sha256 differs from the manifest"))
    bar.close()
    rep.problems.sort(key=lambda p: (p.name, p.kind))
    rep.seconds = time.perf_counter() - t0
    return rep


def verify_target(url: str, sample: float = 1.0, seed: int | None = None, progress: bool = False,
                  **options) -> VerifyReport:
    """Open the target at ``url`` and verify it (options as for :func:`open_target`).

    Examples
    --------
    >>> verify_target("s3://bucket/crac", sample=0.1).ok  # doctest: +SKIP
    True
    """
    with open_target(url, **options) as target:
        return verify(target, sample=sample, seed=seed, progress=progress)

