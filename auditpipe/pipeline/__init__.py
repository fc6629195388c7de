"""Pipelines: recording stage runs (and, later, spec, planner and executor)."""
