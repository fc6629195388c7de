"""Outputs in the cache: files, directories and symbolic links, stored and restored.

A file output is one object. A symbolic link is one object holding its target
text (whose sha256 is the link's recorded digest). A directory is a listing,
``{"entries": [{"path", "sha256", "size"} | {"path", "link"}]}``, stored as an
object and indexed under ``dirs/<directory digest>``; the listing is checked
against the directory's Merkle digest when read, so a damaged or forged listing
never restores. Restores write only inside the repository.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from auditpipe.cache.interface import ObjectStore
from auditpipe.errors import CacheError
from auditpipe.fingerprint.fs import LocalFileSystem
from auditpipe.fingerprint.tree import entry_line, link_digest, merkle_digest, walk

Kind = Literal["file", "directory", "symlink"]


@dataclass(frozen=True)
class Product:
    """One output as a signed run recorded it."""

    path: str
    kind: Kind
    sha256: str


@dataclass(frozen=True)
class SetAside:
    """A file or directory moved into the cache instead of being deleted."""

    path: str
    kind: Kind
    sha256: str
    where: str


def safe_destination(root: Path, rel: str) -> Path:
    """``root/rel`` after checking it stays inside the repository.

    Refuses absolute paths, ``..``, ``.git`` components, and parents that are
    symbolic links (which could carry a write out of the tree).
    """
    parts = rel.split("/")
    if (
        not rel
        or rel.startswith("/")
        or "\\" in rel
        or any(p in ("", ".", "..", ".git") for p in parts)
    ):
        raise CacheError(
            f"refusing to restore {rel!r}: it is not a plain path inside the repository",
            hint="the entry's product paths are unsafe to write; inspect it with `auditpipe show`",
        )
    real_root = root.resolve()
    parent = root
    for part in parts[:-1]:
        parent = parent / part
        outside = parent.exists() and not parent.resolve().is_relative_to(real_root)
        if parent.is_symlink() or outside:
            raise CacheError(
                f"refusing to restore {rel!r}: {parent.relative_to(root)} is a symbolic link",
                hint="remove the link, then run `auditpipe checkout` again",
            )
    return root / rel


def checked_listing(digest: str, data: bytes) -> list[dict[str, Any]]:
    """The entries of a directory listing, if they make up the Merkle digest ``digest``."""
    try:
        entries = json.loads(data)["entries"]
        lines = []
        for e in entries:
            if "link" in e:
                sha, size = link_digest(e["link"])
                lines.append((e["path"], entry_line(e["path"], sha, size, link=True), size))
            else:
                line = entry_line(e["path"], e["sha256"], e["size"], link=False)
                lines.append((e["path"], line, e["size"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CacheError(f"the listing of directory {digest[:12]} is damaged") from exc
    if merkle_digest(lines)[0] != digest:
        raise CacheError(f"the listing of directory {digest[:12]} is damaged")
    return list(entries)


class OutputCache:
    """Products of signed runs kept in an object store, by their recorded digest."""

    def __init__(self, store: ObjectStore, index_dir: Path) -> None:
        self.store = store
        self.index_dir = index_dir  # dirs/<digest> -> listing oid; set-aside.jsonl

    # -- what is held -----------------------------------------------------------

    def _dir_index(self, digest: str) -> Path:
        return self.index_dir / "dirs" / digest[:2] / digest[2:]

    def has(self, product: Product) -> bool:
        if product.kind == "directory":
            index = self._dir_index(product.sha256)
            if not index.is_file():
                return False
            try:
                listing = self._listing(product.sha256)
            except CacheError:
                return False
            return all(self.store.has(e["sha256"]) for e in listing if "sha256" in e)
        return self.store.has(product.sha256)

    def held(self, products: Sequence[Product]) -> bool:
        return all(self.has(p) for p in products)

    def _listing(self, digest: str) -> list[dict[str, Any]]:
        return checked_listing(digest, self.listing_bytes(digest))

    def listing_bytes(self, digest: str) -> bytes:
        """The stored listing of the directory ``digest`` (unchecked; see ``checked_listing``)."""
        oid = self._dir_index(digest).read_text().strip()
        return self.store.read_bytes(oid)

    def adopt_listing(self, digest: str, data: bytes) -> list[dict[str, Any]]:
        """Keep a listing from elsewhere (a remote) once it checks against ``digest``."""
        entries = checked_listing(digest, data)
        index = self._dir_index(digest)
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_text(self.store.add_bytes(data) + "\n")
        return entries

    def objects(self, product: Product) -> list[str]:
        """The object ids a product needs (for gc)."""
        if product.kind != "directory":
            return [product.sha256]
        index = self._dir_index(product.sha256)
        if not index.is_file():
            return []
        oids = [index.read_text().strip()]
        with contextlib.suppress(CacheError, OSError, ValueError, KeyError):
            oids += [e["sha256"] for e in self._listing(product.sha256) if "sha256" in e]
        return oids

    # -- storing ------------------------------------------------------------------

    def keep(self, root: Path, product: Product, *, move: bool = False) -> None:
        """Keep the output at ``root/product.path``, checked against ``product.sha256``."""
        path = root / product.path
        if product.kind == "symlink":
            target = os.readlink(path)
            if link_digest(target)[0] != product.sha256:
                raise CacheError(f"{product.path} changed while it was being stored")
            self.store.add_bytes(os.fsencode(target))
            if move:
                path.unlink()
        elif product.kind == "file":
            self.store.add(path, product.sha256, move=move)
        else:
            self._store_dir(path, product, move=move)

    def _store_dir(self, path: Path, product: Product, *, move: bool) -> None:
        entries: list[dict[str, Any]] = []
        lines = []
        for entry in walk(LocalFileSystem(), str(path), product.path, str(path.parent.resolve())):
            if entry.target is not None:
                sha, size = link_digest(entry.target)
                entries.append({"path": entry.rel, "link": entry.target})
                lines.append((entry.rel, entry_line(entry.rel, sha, size, link=True), size))
            else:
                oid = self.store.add(Path(entry.path), move=move)
                size = entry.stat.size
                entries.append({"path": entry.rel, "sha256": oid, "size": size})
                lines.append((entry.rel, entry_line(entry.rel, oid, size, link=False), size))
        digest = merkle_digest(lines)[0]
        if move:
            shutil.rmtree(path)
        if digest != product.sha256:
            raise CacheError(f"{product.path} changed while it was being stored")
        listing = json.dumps({"entries": entries}, sort_keys=True).encode()
        index = self._dir_index(digest)
        index.parent.mkdir(parents=True, exist_ok=True)
        index.write_text(self.store.add_bytes(listing) + "\n")

    def set_aside(self, root: Path, product: Product) -> SetAside:
        """Move an output no signed run made into the cache, and note it in
        ``set-aside.jsonl`` (gc keeps these unless told otherwise)."""
        self.keep(root, product, move=True)
        where = (
            str(self._dir_index(product.sha256))
            if product.kind == "directory"
            else self.store.where(product.sha256)
        )
        moved = SetAside(product.path, product.kind, product.sha256, where)
        self.index_dir.mkdir(parents=True, exist_ok=True)
        with open(self.index_dir / "set-aside.jsonl", "a", encoding="utf-8") as log:
            record = {**moved.__dict__, "at": datetime.now(UTC).isoformat()}
            log.write(json.dumps(record, sort_keys=True) + "\n")
        return moved

    def set_aside_records(self) -> list[SetAside]:
        try:
            lines = (self.index_dir / "set-aside.jsonl").read_text().splitlines()
        except FileNotFoundError:
            return []
        found = []
        for line in lines:
            try:
                r = json.loads(line)
                found.append(SetAside(r["path"], r["kind"], r["sha256"], r["where"]))
            except (ValueError, KeyError, TypeError):
                continue
        return found

    # -- restoring ------------------------------------------------------------------

    def restore(self, root: Path, products: Sequence[Product]) -> None:
        """Write each product at its path (which must not exist), from the cache.

        Every path is checked first, and every object must be held, so a
        restore either writes all products or raises before writing any.
        """
        targets = [(p, safe_destination(root, p.path)) for p in products]
        missing = [p.path for p in products if not self.has(p)]
        if missing:
            raise CacheError(
                f"not in the cache: {', '.join(missing)}",
                hint="run the stage again: `auditpipe run --force STAGE`",
            )
        for product, dest in targets:
            if os.path.lexists(dest):
                raise CacheError(f"{product.path} exists; it must be cleared before a restore")
            dest.parent.mkdir(parents=True, exist_ok=True)
            if product.kind == "file":
                self.store.place(product.sha256, dest)
            elif product.kind == "symlink":
                self._link(root, dest, self.store.read_bytes(product.sha256))
            else:
                self._restore_dir(root, product, dest)

    def _restore_dir(self, root: Path, product: Product, dest: Path) -> None:
        entries = self._listing(product.sha256)
        for e in entries:
            safe_destination(root, f"{product.path}/{e['path']}")  # listing paths, too
        dest.mkdir()
        for e in entries:
            target = dest / e["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            if "link" in e:
                self._link(root, target, os.fsencode(e["link"]))
            else:
                self.store.place(e["sha256"], target)

    @staticmethod
    def _link(root: Path, dest: Path, target: bytes) -> None:
        text = os.fsdecode(target)
        resolved = (dest.parent / text).resolve()
        if not resolved.is_relative_to(root.resolve()):
            raise CacheError(f"refusing to restore {dest}: the link points out of the repository")
        os.symlink(text, dest)
