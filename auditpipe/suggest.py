""" "Did you mean ...?": the closest valid name to a mistyped one.

Ranks candidates by optimal-string-alignment distance (Damerau-Levenshtein where
no substring is edited twice), so a transposition (``dpes`` -> ``deps``) counts
as one edit, not two. Only names valid at that place are offered.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def osa_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two adjacent characters) from ``a`` to ``b``."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[i - 1][j] + 1, row[j - 1] + 1, rows[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[i - 2][j - 2] + 1)
        rows.append(row)
    return rows[len(a)][len(b)]


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate nearest to ``word``, or ``None`` when none is plausibly meant.

    A candidate qualifies within a third of the longer name's length (at least
    one edit); case is ignored; ties go to the earlier candidate. When none is
    that close, a long spelling of a short name (``dependencies`` -> ``deps``) is
    matched by similarity of shared blocks instead.
    """
    names = list(candidates)
    best: tuple[int, str] | None = None
    for name in names:
        if name == word:
            continue
        distance = osa_distance(word.lower(), name.lower())
        if distance > max(1, max(len(word), len(name)) // 3):
            continue
        if best is None or distance < best[0]:
            best = (distance, name)
    if best is not None:
        return best[1]
    similar = difflib.get_close_matches(word, names, n=1, cutoff=0.5)
    return similar[0] if similar else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """``did you mean 'deps'?`` or ``None``."""
    name = closest(word, candidates)
    return f"did you mean {name!r}?" if name else None
