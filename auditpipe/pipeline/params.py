"""The params file: loading it, and selecting the values a stage reads.

YAML (and so JSON) or TOML; a stage names dotted keys (``prepare.seed``) or
whole sections (``train``); the selected values are recorded in its manifest
and are part of its key.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from auditpipe.errors import ConfigError
from auditpipe.faults import describe as describe_fault
from auditpipe.pipeline.yamlpos import describe, display_path, load_data

if TYPE_CHECKING:
    from auditpipe.pipeline.spec import PipelineSpec


def load_params(spec: PipelineSpec) -> dict[str, Any]:
    """The params file as JSON-able data (``{}`` when absent and no stage uses params).

    YAML (and so JSON), or TOML for a ``.toml`` file; dates become ISO strings.
    """
    file = spec.root / spec.params_file
    where = display_path(file)
    users = [stage for stage in spec.stages.values() if stage.params]
    try:
        data = file.read_bytes()
    except FileNotFoundError as exc:
        if not users:
            return {}
        raise ConfigError(
            f"stage {users[0].name!r} uses params, but {spec.params_file} does not exist",
            path=display_path(spec.path),
            line=users[0].line,
            hint=f"create {spec.params_file}, or point `params:` at your params file",
        ) from exc
    except OSError as exc:
        what, hint = describe_fault(exc)
        raise ConfigError(f"cannot read the params file: {what}", path=where, hint=hint) from exc
    value = load_data(data, where=where, toml=file.suffix == ".toml")
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"params must be a mapping, not {describe(value)}", path=where, line=1)
    return value


def select_params(
    spec_params: Mapping[str, Any],
    keys: Sequence[str],
    *,
    params_path: str,
    stage: str | None = None,
) -> dict[str, Any]:
    """``{key: value}`` for each dotted key (``"prepare.seed"``) or section (``"train"``).

    A missing key is a :class:`ConfigError` naming the params file, the key and
    (when given) the stage that asked for it.
    """
    selected: dict[str, Any] = {}
    for key in keys:
        found, value = _lookup(spec_params, key)
        if not found:
            user = f" (used by stage {stage!r})" if stage else ""
            raise ConfigError(
                f"param {key!r} not found in {params_path}{user}",
                path=params_path,
                hint=f"add {key!r} to {params_path}, or remove it from the stage's params",
            )
        selected[key] = copy.deepcopy(value)
    return selected


def missing_params(spec_params: Mapping[str, Any], keys: Sequence[str]) -> list[str]:
    """The keys (of ``keys``) the params file no longer has."""
    return [key for key in keys if not _lookup(spec_params, key)[0]]


def _lookup(mapping: Mapping[str, Any], key: str) -> tuple[bool, Any]:
    # A literal key with dots ("a.b": 1) wins over nesting; otherwise descend.
    if key in mapping:
        return True, mapping[key]
    for i, char in enumerate(key):
        if char == ".":
            inner = mapping.get(key[:i])
            if isinstance(inner, Mapping):
                found, value = _lookup(inner, key[i + 1 :])
                if found:
                    return True, value
    return False, None
