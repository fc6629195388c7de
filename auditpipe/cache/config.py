"""Where this repository's output cache is and how it links files out.

Machine-local settings, so they live in git's own config (not in a committed
file): ``git config auditpipe.cacheDir PATH`` (relative to the repository
root; default ``.git/auditpipe/cache``) and ``git config auditpipe.cacheType
hardlink,copy`` (DVC's ``cache.type``: tried in order; default
``reflink,copy``). ``AUDITPIPE_CACHE_DIR`` / ``AUDITPIPE_CACHE_TYPE`` override both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from auditpipe.cache.interface import LINK_TYPES, LinkType
from auditpipe.cache.local import LocalObjectStore
from auditpipe.cache.outputs import OutputCache
from auditpipe.errors import ConfigError
from auditpipe.workspace import Workspace

DEFAULT_TYPES: tuple[LinkType, ...] = ("reflink", "copy")


@dataclass(frozen=True)
class CacheConfig:
    directory: Path
    link_types: tuple[LinkType, ...]


def _git_setting(workspace: Workspace, name: str) -> str | None:
    repo = workspace.open()
    try:
        config = repo.get_config()
        try:
            return config.get((b"auditpipe",), name.encode()).decode()
        except KeyError:
            return None
    finally:
        repo.close()


def parse_link_types(text: str, where: str) -> tuple[LinkType, ...]:
    found = [t.strip() for t in text.split(",") if t.strip()]
    bad = [t for t in found if t not in LINK_TYPES]
    if bad or not found:
        raise ConfigError(
            f"cache type {text!r} is not a comma-separated list of {', '.join(LINK_TYPES)}",
            path=where,
            hint="e.g. `git config auditpipe.cacheType hardlink,copy`",
        )
    return tuple(cast(LinkType, t) for t in found)


def cache_config(workspace: Workspace) -> CacheConfig:
    raw_dir = os.environ.get("AUDITPIPE_CACHE_DIR") or _git_setting(workspace, "cacheDir")
    directory = workspace.git_dir / "auditpipe" / "cache"
    if raw_dir:
        directory = (workspace.root / Path(raw_dir).expanduser()).resolve()
    env_type = os.environ.get("AUDITPIPE_CACHE_TYPE")
    raw_type = env_type or _git_setting(workspace, "cacheType")
    where = "AUDITPIPE_CACHE_TYPE" if env_type else "git config auditpipe.cacheType"
    types = parse_link_types(raw_type, where) if raw_type else DEFAULT_TYPES
    return CacheConfig(directory, types)


def open_cache(workspace: Workspace) -> OutputCache:
    """The output cache configured for this repository."""
    config = cache_config(workspace)
    store = LocalObjectStore(config.directory, config.link_types)
    return OutputCache(store, config.directory)
