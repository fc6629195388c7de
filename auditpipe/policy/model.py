"""The policy file format (YAML in ``policies/``), as frozen pydantic models.

::

    version: 1
    name: production
    artifacts: ["models/*.pkl"]          # what this policy governs (globs)
    trust:
      keys: []                           # keyids; empty = every key in policies/keys/
      identities:                        # sigstore keyless signers (identity + issuer)
        - identity: https://github.com/acme/models/.github/workflows/train.yml@refs/heads/main
          issuer: https://token.actions.githubusercontent.com
    require:
      stages: [prepare, train, evaluate]  # must appear in the artifact's lineage
    rules:
      - gates_passed
      - no_dirty_code
      - trusted_signers
      - not_stale
      - metric: {stage: evaluate, name: accuracy, min: 0.9}
      - no_regression: {stage: evaluate, metric: accuracy, tolerance: 0.01}
      - cel: {name: enough test rows, expr: "stages.evaluate.metrics.test_rows >= 40"}
      - witnessed: {by: [<keyid>], min: 1}  # cosigned checkpoints cover the lineage
      - gates_passed: {on_missing: allow}   # a lineage without gates is allowed
      - reproduced: {stages: [train]}       # `auditpipe reproduce` matched these runs

A rule with nothing to check (no gates, no runs, no metric, no baseline) never
passes silently: ``on_missing`` (per rule, in its body) decides, ``deny`` by default.
      - approvals: {validator: 1, approver: 1, valid_for: 90d}   # see approvals_rule.py
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from auditpipe.policy.approvals_rule import ApprovalsRule

BUILTIN_RULES = ("gates_passed", "no_dirty_code", "trusted_signers", "not_stale")


class Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Identity(Strict):
    identity: str
    issuer: str
    repository: str | None = None
    ref: str | None = None


class Trust(Strict):
    keys: list[str] = Field(default_factory=list)
    identities: list[Identity] = Field(default_factory=list)


class Require(Strict):
    stages: list[str] = Field(default_factory=list)


class MetricRule(Strict):
    stage: str
    name: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _bound(self) -> MetricRule:
        if self.min is None and self.max is None:
            raise ValueError("a metric rule needs min or max")
        return self


class RegressionRule(Strict):
    stage: str
    metric: str
    tolerance: float = 0.0
    direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"


class WitnessRule(Strict):
    by: list[str] = Field(min_length=1)
    """keyids of the witnesses whose cosignatures count."""
    min: int = Field(default=1, ge=1)


class ReproducedRule(Strict):
    stages: list[str] = Field(min_length=1)


class CelRule(Strict):
    name: str
    expr: str


OnMissing = Literal["deny", "allow"]


class Rule(Strict):
    """One entry of ``rules``: a built-in name, or a one-key mapping."""

    kind: str
    metric: MetricRule | None = None
    no_regression: RegressionRule | None = None
    cel: CelRule | None = None
    witnessed: WitnessRule | None = None
    reproduced: ReproducedRule | None = None
    on_missing: OnMissing = "deny"
    """What a rule with nothing to check decides: deny unless the policy says allow."""
    approvals: ApprovalsRule | None = None
    line: int = 0

    @property
    def title(self) -> str:
        if self.metric:
            bounds = " and ".join(
                f"{op} {v:g}"
                for op, v in ((">=", self.metric.min), ("<=", self.metric.max))
                if v is not None
            )
            return f"metric {self.metric.stage}.{self.metric.name} {bounds}"
        if self.no_regression:
            r = self.no_regression
            return f"no regression of {r.stage}.{r.metric} (tolerance {r.tolerance:g})"
        if self.cel:
            return self.cel.name
        if self.witnessed:
            return f"witnessed by {self.witnessed.min} of {len(self.witnessed.by)} witness(es)"
        if self.reproduced:
            return f"reproduced: {', '.join(self.reproduced.stages)}"
        if self.approvals:
            return self.approvals.title
        return self.kind


class Policy(Strict):
    version: Literal[1] = 1
    name: str
    description: str | None = None
    artifacts: list[str] = Field(default_factory=list)
    trust: Trust = Field(default_factory=Trust)
    require: Require = Field(default_factory=Require)
    rules: list[Rule] = Field(default_factory=list)


def rule_from(value: Any) -> dict[str, Any]:
    """Normalize a raw rule (``"gates_passed"`` or ``{"metric": {...}}``) for ``Rule``."""
    if isinstance(value, str):
        return {"kind": value}
    if isinstance(value, dict) and len(value) == 1:
        ((kind, body),) = value.items()
        if isinstance(body, dict) and "on_missing" in body:
            body = dict(body)
            on_missing = body.pop("on_missing")
            if kind in BUILTIN_RULES:
                if body:
                    raise ValueError(f"{kind} takes only on_missing, not {', '.join(body)}")
                return {"kind": kind, "on_missing": on_missing}
            return {"kind": kind, kind: body, "on_missing": on_missing}
        if kind in BUILTIN_RULES:
            raise ValueError(f"{kind} takes only `{{on_missing: deny|allow}}`")
        return {"kind": kind, kind: body}
    raise ValueError("a rule is a built-in name or a mapping with exactly one key")
