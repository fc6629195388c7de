"""Every verb module, imported so its commands register on ``app``."""

from __future__ import annotations


def register() -> None:
    """Import the verb modules (each registers its commands on import)."""
    from auditpipe.cli import (  # noqa: F401
        approve_cmd,
        cache_cmds,
        export_cmds,
        fingerprint_cmd,
        gate_cmds,
        ledger_cmds,
        lock_cmds,
        pipeline_cmds,
        plots_cmds,
        policy_cmds,
        remote_cmds,
        report_cmds,
        reproduce_cmd,
        run_cmd,
        setup_cmds,
        sync_cmds,
        trust_cmds,
    )
