"""Model cards: the top-level ``artifacts:`` section of ``auditpipe.yaml`` (DVC's shape).

::

    artifacts:
      wine-quality:                      # the name registries and reports use
        path: models/model.pkl
        type: model
        desc: Predicts wine quality from physico-chemical measurements
        labels: [regression, tabular]
        meta:                            # model-card fields; anything else is kept
          owner: Risk Analytics <risk@bank.example>
          risk_tier: high
          intended_use: Pricing support; not for credit decisions
          limitations: Trained on Portuguese wines only
          inventory_id: MRM-0042
          data_classification: internal
          version: 1.2.0

A card's digest (sha256 of its canonical JSON) is recorded in the runs that
produce its path and in approvals. It is not part of the stage key: editing
``limitations`` does not force retraining, but it voids approvals.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from yaml.nodes import Node

from auditpipe.errors import ConfigError, Error
from auditpipe.manifest.canonical import canonical_bytes
from auditpipe.pipeline.yamlpos import NodeReader, is_null, line_of

if TYPE_CHECKING:
    from auditpipe.pipeline.spec import PipelineSpec
    from auditpipe.workspace import Workspace

CARD_FIELDS = ("path", "type", "desc", "labels", "meta")
CARD_META = (
    "owner",
    "risk_tier",
    "intended_use",
    "limitations",
    "inventory_id",
    "data_classification",
    "version",
)
NAME = re.compile(r"^[a-z0-9]([a-z0-9-/]*[a-z0-9])?$")  # DVC's artifact-name rule
GTO_TAG = re.compile(r"^(?P<name>.+)@v(?P<version>\d+\.\d+\.\d+([-+].*)?)$")


@dataclass(frozen=True)
class ModelCard:
    """One declared artifact and its card fields."""

    name: str
    path: str
    type: str | None = None
    desc: str | None = None
    labels: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)
    line: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "path": self.path,
            "type": self.type,
            "desc": self.desc,
            "labels": list(self.labels),
            "meta": dict(self.meta),
        }

    @property
    def sha256(self) -> str:
        """Digest of the card as declared (what runs and approvals record)."""
        return hashlib.sha256(canonical_bytes(self.as_json())).hexdigest()

    def field(self, name: str) -> str | None:
        value = self.meta.get(name)
        return None if value is None else str(value)


def parse_cards(
    reader: NodeReader, node: Node, normalize: Callable[[Node, str], str]
) -> dict[str, ModelCard]:
    """The ``artifacts:`` mapping; ``normalize`` checks and normalizes a path node."""
    cards: dict[str, ModelCard] = {}
    paths: dict[str, str] = {}
    for name, key_node, body in reader.items(node, "artifacts"):
        if not NAME.match(name):
            raise reader.fail(
                key_node,
                f"artifact name {name!r} is not valid",
                hint="use lowercase letters, digits, '-' and '/' (DVC's rule), e.g. wine-quality",
            )
        fields = reader.fields(body, CARD_FIELDS, f"artifact {name!r}")
        if "path" not in fields:
            raise reader.fail(key_node, f"artifact {name!r} needs a `path`")
        path = normalize(fields["path"][1], "artifact path")
        if path in paths:
            raise reader.fail(
                fields["path"][1], f"path {path} is already declared by artifact {paths[path]!r}"
            )
        paths[path] = name
        labels: tuple[str, ...] = ()
        if "labels" in fields:
            labels = tuple(
                reader.string(n, "label") for n in reader.sequence(fields["labels"][1], "labels")
            )
        meta: dict[str, Any] = {}
        if "meta" in fields:
            raw = reader.value(fields["meta"][1])
            if not isinstance(raw, dict):
                raise reader.fail(fields["meta"][1], "meta must be a mapping")
            meta = _jsonable(raw, reader, fields["meta"][1])
        cards[name] = ModelCard(
            name=name,
            path=path,
            type=_opt(reader, fields, "type"),
            desc=_opt(reader, fields, "desc"),
            labels=labels,
            meta=meta,
            line=line_of(key_node),
        )
    return cards


def _opt(reader: NodeReader, fields: dict[str, tuple[Node, Node]], name: str) -> str | None:
    if name not in fields or is_null(fields[name][1]):
        return None
    return reader.string(fields[name][1], name)


def _jsonable(raw: dict[Any, Any], reader: NodeReader, node: Node) -> dict[str, Any]:
    """Card meta as JSON values (dates become ISO strings), refusing what JSON cannot hold."""
    try:
        value: dict[str, Any] = json.loads(json.dumps(raw, default=str, allow_nan=False))
        canonical_bytes(value)
    except (ValueError, TypeError, Error) as exc:
        raise reader.fail(node, f"meta holds a value JSON cannot represent: {exc}") from None
    return value


def declared_artifacts(spec: PipelineSpec) -> list[str]:
    """Paths of the artifacts declared under ``artifacts:``, in file order."""
    return [card.path for card in spec.artifacts.values()]


def card_for(spec: PipelineSpec | None, path: str) -> ModelCard | None:
    """The card declaring ``path`` (repo-relative), if any."""
    if spec is None:
        return None
    return next((c for c in spec.artifacts.values() if c.path == path), None)


def project_cards(root: Path) -> PipelineSpec | None:
    """The working tree's pipeline (for its cards); None when there is no auditpipe.yaml."""
    from auditpipe.pipeline.spec import PIPELINE_FILE, load_pipeline

    if not (root / PIPELINE_FILE).exists():
        return None
    return load_pipeline(root)


def card_version(card: ModelCard, workspace: Workspace) -> str:
    """``meta.version``, else a GTO tag ``name@vX.Y.Z`` on HEAD, else ``unversioned``."""
    version = card.field("version")
    if version:
        return version
    try:
        repo = workspace.open()
    except Error:
        return "unversioned"
    try:
        head = repo.head()
        found = []
        for ref, target in repo.get_refs().items():
            if not ref.startswith(b"refs/tags/"):
                continue
            match = GTO_TAG.match(ref[len(b"refs/tags/") :].decode("utf-8", "replace"))
            if match is None or match["name"] != card.name:
                continue
            obj = repo[target]
            commit = getattr(obj, "object", (None, target))[1]  # annotated tags point on
            if commit == head:
                found.append(match["version"])
        return f"v{sorted(found)[-1]}" if found else "unversioned"
    except (KeyError, ValueError):
        return "unversioned"
    finally:
        repo.close()


def missing_card(path: str) -> ConfigError:
    return ConfigError(
        f"no model card declares {path}",
        path="auditpipe.yaml",
        hint="declare it under `artifacts:` (name, path, meta with owner and risk_tier)",
    )
