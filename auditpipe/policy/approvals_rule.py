"""The ``approvals`` policy rule: how many distinct, independent people per role.

::

    rules:
      - approvals: {validator: 1, approver: 1, valid_for: 90d}

Role names are free-form (they match ``roles`` in ``policies/people.yaml``);
``valid_for`` (days: ``90d``, weeks: ``12w``) makes approvals older than that
stop counting. What counts is decided by ``auditpipe.approvals.assess``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

DURATION = re.compile(r"^(\d+)\s*([dw])$")


class ApprovalsRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    roles: dict[str, int] = Field(default_factory=dict)
    valid_for_days: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_mapping(cls, raw: Any) -> Any:
        if not isinstance(raw, dict) or "roles" in raw:
            return raw
        roles: dict[str, Any] = {}
        days: int | None = None
        for key, value in raw.items():
            if key == "valid_for":
                match = DURATION.match(str(value).strip())
                if match is None:
                    raise ValueError(f"valid_for must look like 90d or 12w, not {value!r}")
                days = int(match[1]) * (7 if match[2] == "w" else 1)
            elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"role {key!r} needs a whole number of approvals (1 or more)")
            else:
                roles[str(key)] = value
        if not roles:
            raise ValueError("approvals needs at least one role, e.g. {validator: 1}")
        return {"roles": roles, "valid_for_days": days}

    @property
    def title(self) -> str:
        wanted = ", ".join(f"{role} {n}" for role, n in self.roles.items())
        extra = f", valid for {self.valid_for_days} days" if self.valid_for_days else ""
        return f"approvals: {wanted}{extra}"
