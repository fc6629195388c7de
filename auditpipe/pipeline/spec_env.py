"""The pipeline file's secret-related fields: a stage's ``env:`` (a list, or
``{public: [...], secret: [...]}``) and the top-level ``secrets: {allow: [...]}``.

A plain list names variables the stage may read; the recorder treats one as
secret when its name or value looks like a credential, public otherwise. The
mapping form says so explicitly. ``${...}`` is never interpolated here.
"""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node

from auditpipe.pipeline.yamlpos import NodeReader

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class SecretFieldsReader(NodeReader):
    """Parses ``env:`` and ``secrets:``; mixed into the spec's parser."""

    def names(self, node: Node | None, what: str, pattern: re.Pattern[str], kind: str) -> list[str]:
        found: list[str] = []
        for entry in self.sequence(node, what) if node is not None else []:
            name = self.string(entry, f"each entry of {what}")
            if "${" in name:
                raise self.fail(entry, f"{name!r} in {what} does not resolve: names are literal")
            if not pattern.fullmatch(name):
                raise self.fail(entry, f"{what} entry {name!r} is not {kind}")
            found.append(name)
        return list(dict.fromkeys(found))

    def env(self, node: Node | None) -> tuple[list[str], list[str], list[str]]:
        """(every name, declared public, declared secret)."""
        if not isinstance(node, MappingNode):
            return self.names(node, "env", ENV_NAME, "a variable name"), [], []
        fields = self.fields(node, ("public", "secret"), "env")
        public, secret = (
            self.names(fields[k][1] if k in fields else None, f"env {k}", ENV_NAME, "a name")
            for k in ("public", "secret")
        )
        both = sorted(set(public) & set(secret))
        if both:
            raise self.fail(node, f"env variable {both[0]!r} is both public and secret")
        return public + secret, public, secret

    def secrets_allow(self, node: Node) -> list[str]:
        """``secrets: {allow: [key, ...]}``: keys that look like secrets but are not."""
        fields = self.fields(node, ("allow",), "secrets")
        allow = fields["allow"][1] if "allow" in fields else None
        return self.names(allow, "secrets allow", re.compile(r"\S+"), "a key")
