"""Directory digests: a Merkle digest over (path, size, sha256) that coreutils can recompute."""

from __future__ import annotations

import os
import random
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditpipe.errors import FingerprintError
from auditpipe.fingerprint import fingerprint
from tests.unit.fingerprint.conftest import write_tree

# The recomputation documented in auditpipe/fingerprint/tree.py, verbatim.
COREUTILS_DIGEST = r"""
cd "$1" && find . \( -name .git -prune \) -o \( -type f -o -type l \) -printf '%P\0' |
  LC_ALL=C sort -z | while IFS= read -r -d '' f; do
    if [ -L "$f" ]; then
      printf 'link:%s  %s  %s\n' "$(readlink -n "$f" | sha256sum | cut -d' ' -f1)" \
        "$(readlink -n "$f" | wc -c)" "$f"
    else
      printf '%s  %s  %s\n' "$(sha256sum < "$f" | cut -d' ' -f1)" "$(stat -c %s "$f")" "$f"
    fi
  done | sha256sum | cut -d' ' -f1
"""


def coreutils_digest(directory: Path) -> str:
    proc = subprocess.run(
        ["bash", "-c", COREUTILS_DIGEST, "digest", str(directory)],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stdout.strip()


def test_digest_is_recomputable_with_coreutils(tree: Path) -> None:
    (tree / "data" / "a-b").write_text("sorts before a/ by bytes\n")
    (tree / "data" / "Z").write_text("upper case sorts first\n")
    (tree / "data" / "sub" / "ünïcode name.txt").write_text("x")
    (tree / "data" / "dangling").symlink_to("sub/not-there")
    (tree / "data" / "sub" / ".git").mkdir()  # skipped at any depth
    (tree / "data" / "sub" / ".git" / "x").write_text("ignored")
    fp = fingerprint(tree / "data", root=tree)
    assert fp.sha256 == coreutils_digest(tree / "data")
    assert fp.kind == "directory"
    assert fp.files == 8
    entries = [p for p in (tree / "data").rglob("*") if ".git" not in p.parts]
    sizes = [p.stat().st_size for p in entries if p.is_file() and not p.is_symlink()]
    links = [len(os.readlink(p)) for p in entries if p.is_symlink()]
    assert fp.size == sum(sizes) + sum(links)


def test_symlinks_are_recorded_as_links_not_followed(tree: Path) -> None:
    before = fingerprint(tree / "data", root=tree)
    (tree / "data" / "a.txt").write_text("changed target\n")
    after = fingerprint(tree / "data", root=tree)
    assert after.sha256 != before.sha256  # a.txt itself changed
    link = fingerprint(tree / "data" / "link", root=tree)
    assert link.kind == "symlink"
    assert link.target == "a.txt"
    (tree / "data" / "link").unlink()
    (tree / "data" / "link").symlink_to("sub/b.bin")
    assert fingerprint(tree / "data", root=tree).sha256 != after.sha256


def test_link_escaping_the_repository_is_an_error_naming_it(tree: Path, tmp_path: Path) -> None:
    (tmp_path / "secret").write_text("outside")
    (tree / "data" / "sub" / "out").symlink_to(tmp_path / "secret")
    with pytest.raises(FingerprintError) as info:
        fingerprint(tree / "data", root=tree)
    assert info.value.path == "data/sub/out"
    assert "outside the repository" in info.value.message
    # A relative link climbing out is caught the same way, also when given directly.
    (tree / "data" / "sub" / "out").unlink()
    (tree / "data" / "up").symlink_to("../../secret")
    with pytest.raises(FingerprintError, match="outside the repository"):
        fingerprint(tree / "data" / "up", root=tree)


def test_fifo_is_an_error_naming_it(tree: Path) -> None:
    os.mkfifo(tree / "data" / "sub" / "pipe")
    with pytest.raises(FingerprintError) as info:
        fingerprint(tree / "data", root=tree)
    assert info.value.path == "data/sub/pipe"
    assert "FIFO" in info.value.message


def test_device_file_is_an_error() -> None:
    with pytest.raises(FingerprintError, match="device file"):
        fingerprint("/dev/null", root="/dev")


# -- properties over random trees ---------------------------------------------------

names = st.text(alphabet="abcXY_-. 0é", min_size=1, max_size=6).filter(
    lambda s: s not in (".", "..", ".git")
)
rel_paths = st.lists(names, min_size=1, max_size=3).map("/".join)
trees = st.dictionaries(rel_paths, st.binary(max_size=300), min_size=1, max_size=12).filter(
    # no path may be both a file and a directory
    lambda d: not any(a != b and b.startswith(a + "/") for a in d for b in d)
)


def build(root: Path, files: dict[str, bytes], seed: int) -> Path:
    """Write ``files`` in a seed-dependent order, with seed-dependent mtimes."""
    rng = random.Random(seed)
    items = list(files.items())
    rng.shuffle(items)
    write_tree(root, dict(items))
    for rel in files:
        t = rng.randrange(10**9, 2 * 10**9) * 10**9 + rng.randrange(10**9)
        os.utime(root / rel, ns=(t, t))
    return root


def digest(root: Path) -> str:
    return fingerprint(root, root=root).sha256


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(files=trees, seed_a=st.integers(0, 99), seed_b=st.integers(0, 99))
def test_equal_trees_in_different_places_have_equal_digests(
    files: dict[str, bytes], seed_a: int, seed_b: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        a = digest(build(Path(tmp, "one"), files, seed_a))
        b = digest(build(Path(tmp, "elsewhere", "two"), files, seed_b))
    assert a == b


@SETTINGS
@given(files=trees, data=st.data())
def test_content_name_or_presence_changes_change_the_digest(
    files: dict[str, bytes], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = build(Path(tmp, "t"), files, 0)
        original = digest(root)
        victim = data.draw(st.sampled_from(sorted(files)))
        change = data.draw(st.sampled_from(["content", "rename", "remove", "add", "touch"]))
        path = root / victim
        if change == "content":
            path.write_bytes(files[victim] + data.draw(st.binary(min_size=1, max_size=5)))
        elif change == "rename":
            path.rename(path.with_name(path.name + "~"))
        elif change == "remove":
            path.unlink()
        elif change == "add":
            (path.parent / (path.name + "+new")).write_bytes(b"")
        else:
            os.utime(path, ns=(1, 1))
        changed = digest(root)
    if change == "touch":
        assert changed == original
    else:
        assert changed != original, change
