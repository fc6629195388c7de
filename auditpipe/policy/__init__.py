"""Policies: which artifacts may merge or be promoted, decided over their lineage.

Modules: ``model`` (the YAML format), ``load`` (positions, CEL compilation),
``facts`` (what rules see), ``staleness`` (runs vs the tree being judged),
``engine`` (the decision), ``render`` (text, Markdown, JSON), ``trust``.
"""
