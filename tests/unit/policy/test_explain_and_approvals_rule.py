"""A failed CEL rule names the values it compared; the approvals rule's own syntax."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from auditpipe.policy.approvals_rule import ApprovalsRule
from auditpipe.policy.explain import compared_values

FACTS = {
    "stages": {"evaluate": {"metrics": {"rows": 3, "accuracy": 0.81}}},
    "artifact": {"path": "models/m.bin"},
}


def test_compared_values_reads_each_fact_path_of_the_expression() -> None:
    expr = "stages.evaluate.metrics.rows >= 40 && stages.evaluate.metrics.accuracy > 0.9"
    assert compared_values(expr, FACTS) == (
        "stages.evaluate.metrics.rows = 3; stages.evaluate.metrics.accuracy = 0.81"
    )


def test_compared_values_ignores_string_literals_and_says_what_is_absent() -> None:
    expr = "artifact.path == 'a.b.c' && stages.train.metrics.loss < 1"
    assert compared_values(expr, FACTS) == (
        'artifact.path = "models/m.bin"; stages.train.metrics.loss is absent'
    )


def test_approvals_rule_reads_roles_and_valid_for() -> None:
    rule = ApprovalsRule.model_validate({"validator": 1, "approver": 2, "valid_for": "12w"})
    assert rule.roles == {"validator": 1, "approver": 2}
    assert rule.valid_for_days == 84
    assert rule.title == "approvals: validator 1, approver 2, valid for 84 days"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"validator": 0}, "whole number of approvals"),
        ({"validator": True}, "whole number of approvals"),
        ({"valid_for": "90d"}, "at least one role"),
        ({"validator": 1, "valid_for": "3 months"}, "valid_for must look like 90d"),
    ],
)
def test_approvals_rule_refuses_what_would_pass_vacuously(raw: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        ApprovalsRule.model_validate(raw)
