"""The remote output cache of a pipeline: the top-level ``cache:`` section of ``auditpipe.yaml``.

::

    cache:
      remote: s3://ml-cache/wine        # the default remote (a URL, or a name below)
      remotes:                          # named remotes, for an output's `remote: NAME`
        models: s3://ml-models/wine

An output's DVC-style options choose among them (``outs: [p: {remote: models}]``)
and ``push: false`` keeps it off every remote. ``--cache-remote URL`` (or
``AUDITPIPE_CACHE_REMOTE``) replaces the default remote for one command. Not
part of any stage key: where bytes are shared does not change what a stage is.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from yaml.nodes import Node

from auditpipe.errors import ConfigError
from auditpipe.pipeline.yamlpos import NodeReader
from auditpipe.storage.urls import is_url, normalize_url

CACHE_FIELDS = ("remote", "remotes")
ENV = "AUDITPIPE_CACHE_REMOTE"


@dataclass(frozen=True)
class Remotes:
    """Where a pipeline's products are shared: a default remote and named ones."""

    default: str | None = None
    named: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    where: str = "auditpipe.yaml"

    def url(self, name: str | None) -> str | None:
        """The URL of remote ``name`` (None: the default); None when there is none."""
        if name is None:
            return self.default
        if name not in self.named:
            raise ConfigError(
                f"an output names remote {name!r}, which `cache: remotes:` does not define",
                path=self.where,
                hint=f"add `{name}: s3://bucket/prefix` under `cache: remotes:`",
            )
        return self.named[name]

    def overridden(self, url: str | None) -> Remotes:
        """These remotes with the default replaced by ``url`` (else ``$AUDITPIPE_CACHE_REMOTE``)."""
        chosen = url or os.environ.get(ENV)
        if not chosen:
            return self
        return Remotes(self._url(chosen, "--cache-remote"), self.named, self.where)

    def _url(self, text: str, what: str) -> str:
        if text in self.named:
            return self.named[text]
        try:
            return normalize_url(text)
        except ValueError as exc:
            raise ConfigError(
                f"{what} {text!r} {exc}", hint="write it as s3://bucket/prefix (or gs://, abfs://)"
            ) from exc


def parse_remotes(reader: NodeReader, node: Node) -> Remotes:
    """The ``cache:`` mapping, every URL normalized; errors point at the line."""
    fields = reader.fields(node, CACHE_FIELDS, "cache")
    named: dict[str, str] = {}
    if "remotes" in fields:
        for name, _key, value in reader.items(fields["remotes"][1], "cache: remotes"):
            named[name] = _checked(reader, value, f"remote {name!r}")
    default = None
    if "remote" in fields:
        value = fields["remote"][1]
        text = reader.string(value, "cache: remote")
        default = named[text] if text in named else _checked(reader, value, "cache: remote")
    return Remotes(default, MappingProxyType(named), reader.where)


def _checked(reader: NodeReader, node: Node, what: str) -> str:
    text = reader.string(node, what)
    if not is_url(text):
        raise reader.fail(
            node,
            f"{what} {text!r} is not an object-store URL (s3://, gs://, abfs://, hdfs://)",
            hint="write it as s3://bucket/prefix",
        )
    try:
        return normalize_url(text)
    except ValueError as exc:
        raise reader.fail(node, f"{what} {text!r} {exc}") from exc
