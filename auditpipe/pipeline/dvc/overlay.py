"""``auditpipe.yaml`` over a DVC pipeline: adds what only auditpipe has, by stage name.

Beside a dvc.yaml, ``auditpipe.yaml`` may hold ``signer`` and, per stage,
``validate``, ``env`` and ``content``; the stages themselves stay defined in
dvc.yaml, so a team keeps one pipeline definition. A name is a stage as DVC
names it (``train``, ``train@1``, ``sub/dvc.yaml:train``); the name of a
foreach/matrix group (``train``) applies to each of its expansions.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from types import MappingProxyType

from auditpipe.errors import ConfigError
from auditpipe.faults import describe as describe_fault
from auditpipe.pipeline.spec import SIGNERS, PipelineSpec, StageSpec, _Parser
from auditpipe.pipeline.yamlpos import compose, decode, display_path, is_null
from auditpipe.suggest import did_you_mean

OVERLAY_TOP = ("signer", "stages")
OVERLAY_FIELDS = ("validate", "env", "content")


def apply_overlay(spec: PipelineSpec, file: Path) -> PipelineSpec:
    """``spec`` (from dvc.yaml) with the overlay in ``file`` applied; ConfigError on bad input."""
    where = display_path(file)
    try:
        data = file.read_bytes()
    except OSError as exc:
        what, hint = describe_fault(exc)
        raise ConfigError(f"cannot read: {what}", path=where, hint=hint) from exc
    reader = _Parser(where)
    root = compose(decode(data, where=where), where=where)
    stages = dict(spec.stages)
    signer = spec.signer
    if root is not None and not is_null(root):
        hint = "beside dvc.yaml, auditpipe.yaml only adds signer and per-stage validate/env/content"
        for key, key_node, _ in reader.items(root, "the top level"):
            if key not in OVERLAY_TOP:
                raise reader.fail(key_node, f"{key!r} has no place in an overlay of dvc.yaml", hint)
        top = reader.fields(root, OVERLAY_TOP, "the top level")
        if "signer" in top:
            signer = reader.string(top["signer"][1], "signer")
            if signer not in SIGNERS:
                raise reader.fail(top["signer"][1], f"signer must be one of {', '.join(SIGNERS)}")
        if "stages" in top:
            for name, key_node, body in reader.items(top["stages"][1], "stages"):
                targets = [n for n in stages if n == name or n.startswith(f"{name}@")]
                if not targets:
                    raise reader.fail(
                        key_node,
                        f"stage {name!r} is not in the DVC pipeline",
                        hint=did_you_mean(name, list(stages)) or "name a stage of dvc.yaml",
                    )
                for target in targets:
                    stages[target] = _overlay(reader, stages[target], body, hint)
    digest = hashlib.sha256(f"{spec.sha256}\0{hashlib.sha256(data).hexdigest()}".encode())
    return dataclasses.replace(
        spec,
        signer=signer,
        stages=MappingProxyType(stages),
        sha256=digest.hexdigest(),
        files=(*spec.files, file.relative_to(spec.root).as_posix()),
    )


def _overlay(reader: _Parser, stage: StageSpec, body: object, hint: str) -> StageSpec:
    what = f"the overlay of stage {stage.name!r}"
    from yaml.nodes import Node

    assert isinstance(body, Node)
    for key, key_node, _ in reader.items(body, what):
        if key not in OVERLAY_FIELDS:
            raise reader.fail(
                key_node,
                f"{key!r} cannot be set in {what}; it is defined in {stage.source or 'dvc.yaml'}",
                hint,
            )
    fields = reader.fields(body, OVERLAY_FIELDS, what)
    node = {f: v for f, (_, v) in fields.items()}
    paths = [*stage.deps, *stage.all_outputs]
    validate = stage.validate
    if "validate" in node:
        validate = reader.validations(node["validate"], f"stage {stage.name!r}", paths, None)
    env, public, secret = stage.env, stage.env_public, stage.env_secret
    if "env" in node:
        names, public_names, secret_names = reader.env(node["env"])
        env, public, secret = tuple(names), tuple(public_names), tuple(secret_names)
    content = stage.content
    if "content" in node:
        value = reader.value(node["content"])
        if not isinstance(value, bool):
            raise reader.fail(node["content"], f"content must be true or false, not {value!r}")
        content = value
    return dataclasses.replace(
        stage,
        validate=validate,
        env=env,
        env_public=public,
        env_secret=secret,
        content=content,
    )
