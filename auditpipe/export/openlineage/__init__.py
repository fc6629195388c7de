"""OpenLineage RunEvents for stage runs: built from signed runs, sent live or exported.

``events`` builds the JSON (spec 2-0-2) from a stage's facts, so a live event
and one exported later from the ledger are the same document; ``emitter`` sends
them through the official ``openlineage-python`` client (imported only when
configured); ``listener`` is the executor's hook.
"""
