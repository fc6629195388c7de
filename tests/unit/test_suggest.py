"""Suggestions for mistyped names (issue 16, item 2): a transposition is one edit."""

from __future__ import annotations

import pytest

from auditpipe.suggest import closest, osa_distance

STAGE_KEYS = ("cmd", "deps", "outs", "metrics", "params", "validate", "wdir", "env", "desc")


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [("dpes", "deps", 1), ("dpes", "desc", 2), ("", "abc", 3), ("abc", "abc", 0), ("ca", "abc", 3)],
)
def test_osa_distance(a: str, b: str, distance: int) -> None:
    assert osa_distance(a, b) == distance


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("dpes", "deps"), ("otus", "outs"), ("parmas", "params"), ("dependencies", "deps")],
)
def test_closest_valid_key(typo: str, meant: str) -> None:
    assert closest(typo, STAGE_KEYS) == meant


def test_nothing_plausible_suggests_nothing() -> None:
    assert closest("zzzzzz", STAGE_KEYS) is None
