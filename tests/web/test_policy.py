"""The one policy function: exact names, release edges on a frozen clock, paths under the root."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from crac_tools.web.policy import SITE, Target, User, allowed
from crac_tools.web.settings import EmbargoConfig

UTC = dt.UTC
T = dt.datetime(2030, 1, 1, tzinfo=UTC)


def rule(**kw) -> EmbargoConfig:
    kw.setdefault("release", T)
    return EmbargoConfig(**kw)


def tgt(station="public_embargo", keys=("public_embargo_met",), rules=(), root=None, project="CAMPAIGN"):
    return Target(project, station, keys, root, tuple(rules))


ALICE = User("alice", frozenset({"pi"}))


def test_dataset_rule_is_exact_not_prefix():
    r = rule(dataset="public", members=("alice",))
    before = T - dt.timedelta(seconds=1)
    assert not allowed(tgt("public", ("public",), [r]), None, None, before)
    assert allowed(tgt("public_embargo", ("public_embargo",), [r]), None, None, before)  # sibling is not matched
    r2 = rule(dataset="public_embargo", members=("alice",))
    assert allowed(tgt("public", ("public",), [r2]), None, None, before)  # and the other way round


def test_station_and_project_rules_exact():
    before = T - dt.timedelta(seconds=1)
    assert not allowed(tgt(rules=[rule(station="public_embargo", roles=("x",))]), None, None, before)
    assert allowed(tgt(station="public_embargo2", rules=[rule(station="public_embargo", roles=("x",))]),
                   None, None, before)
    p = rule(project="CAMPAIGN", roles=("x",))
    assert not allowed(tgt(rules=[p]), None, None, before)
    assert allowed(tgt(project="CAMPAIGN_private", rules=[p]), None, None, before)
    assert allowed(SITE, None, None, before)  # a site page holds no project data


def test_roles_are_exact():
    r = rule(dataset="public_embargo_met", roles=("CAMPAIGN_private",))
    before = T - dt.timedelta(seconds=1)
    assert not allowed(tgt(rules=[r]), None, User("carol", frozenset({"CAMPAIGN"})), before)
    assert not allowed(tgt(rules=[r]), None, User("carol", frozenset({"CAMPAIGN_private_x"})), before)
    assert allowed(tgt(rules=[r]), None, User("dave", frozenset({"CAMPAIGN_private"})), before)
    assert not allowed(tgt(rules=[r]), None, User("CAMPAIGN_private"), before)  # a user name is not a role


@pytest.mark.parametrize("offset", [14, 12, 0, -11, -12])
def test_release_edges_any_zone(offset):
    """T - 1 s refused, T served, whatever zone the release and the clock are written in."""
    zone = dt.timezone(dt.timedelta(hours=offset))
    release = dt.datetime(2030, 1, 1, 12, 0, tzinfo=zone)  # local noon on the date line's either side
    r = rule(dataset="public_embargo_met", members=("alice",), release=release)
    t = tgt(rules=[r])
    for clock_zone in (UTC, dt.timezone(dt.timedelta(hours=-offset)), zone):
        at = release.astimezone(clock_zone)
        assert not allowed(t, None, None, at - dt.timedelta(seconds=1))
        assert not allowed(t, None, None, at - dt.timedelta(microseconds=1))
        assert allowed(t, None, None, at)
        assert allowed(t, None, None, at + dt.timedelta(days=400))
        assert allowed(t, None, ALICE, at - dt.timedelta(seconds=1))


def test_every_active_rule_must_pass_and_inactive_ones_do_not_count():
    rules = [rule(project="CAMPAIGN", members=("alice",)), rule(dataset="public_embargo_met", members=("bob",))]
    before = T - dt.timedelta(seconds=1)
    assert not allowed(tgt(rules=rules), None, ALICE, before)
    assert not allowed(tgt(rules=rules), None, User("bob"), before)
    final = [rule(dataset="public_embargo_met", members=("bob",), preliminary=False)]
    assert allowed(tgt(rules=final), None, None, before)
    never = [rule(dataset="public_embargo_met", members=("bob",), release=None)]
    assert not allowed(tgt(rules=never), None, None, T + dt.timedelta(days=10_000))


def test_naive_clock_is_refused():
    with pytest.raises(ValueError):
        allowed(SITE, None, None, dt.datetime(2030, 1, 1))


def test_paths_stay_under_the_root(tmp_path):
    root = tmp_path / "products" / "public"
    root.mkdir(parents=True)
    sib = tmp_path / "products" / "public_embargo"
    sib.mkdir()
    (root / "a.nc").write_text("a")
    (sib / "b.nc").write_text("secret")
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    os.symlink(outside, root / "link.nc")
    os.symlink(sib, root / "dirlink")
    os.symlink(root / "a.nc", root / "inner.nc")
    t = tgt("public", ("public",), root=root)
    now = T
    assert allowed(t, root / "a.nc", None, now)
    assert allowed(t, root / "inner.nc", None, now)  # a link that stays inside is fine
    for bad in [sib / "b.nc", root / ".." / "public_embargo" / "b.nc", root / "link.nc", root / "dirlink" / "b.nc",
                outside, "/etc/passwd", root / "missing.nc", str(root / "a.nc") + "\x00.png", "a.nc",
                root / "..%2fpublic_embargo" / "b.nc"]:
        assert not allowed(t, bad, None, now), bad
    assert not allowed(tgt("public", ("public",), root=None), root / "a.nc", None, now)
    # a root that is itself a link puts another folder in its place; links above the root keep its name
    (tmp_path / "products" / "swapped").symlink_to(sib)
    assert not allowed(tgt("public", ("public",), root=tmp_path / "products" / "swapped"),
                       tmp_path / "products" / "swapped" / "b.nc", None, now)
    (tmp_path / "moved").symlink_to(tmp_path / "products")
    assert allowed(tgt("public", ("public",), root=tmp_path / "moved" / "public"), root / "a.nc", None, now)
