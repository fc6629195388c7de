"""Pipelines: the spec and its DAG, the planner, the executor, and run recording.

Modules: ``spec`` (auditpipe.yaml), ``dag``, ``planner`` (stage keys, staleness),
``executor`` (parallel runs), ``recording`` (runs -> signed manifests),
``recorder`` (manifests from command-line facts), ``facts`` (code, environment,
runner), ``api`` (``record_stage`` for other orchestrators).
"""
