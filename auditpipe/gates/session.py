"""The boundary with Great Expectations: lazy import, quiet, one at a time.

``great_expectations`` takes seconds and hundreds of megabytes to import, so it
is imported only inside :func:`gx_session`, which only gate code enters.
Inside a session GX's loggers go nowhere and its warnings are ignored (they
would otherwise reach the user's terminal in the middle of a pipeline run), and
a process-wide lock serializes sessions: GX keeps a global "current context"
and ``warnings.catch_warnings`` is process state, so parallel stages validate
one after the other.

:func:`ephemeral_context` is an in-memory Data Context with progress bars off:
nothing is read from or written to the user's directory (no ``gx/`` project),
and no checkpoint or suite is registered anywhere.
"""

from __future__ import annotations

import contextlib
import importlib
import itertools
import logging
import threading
import warnings
from collections.abc import Iterator
from typing import Any

_LOCK = threading.RLock()
_GX_LOGGER = "great_expectations"
_SOURCES = itertools.count()


def untyped(module: str) -> Any:
    """Import ``module`` typed as ``Any``.

    great_expectations ships ``py.typed`` but its annotations are incomplete
    (and pandas has no stubs here); everything from them is ``Any`` at this
    boundary, and mypy never analyses the packages themselves.
    """
    return importlib.import_module(module)


@contextlib.contextmanager
def gx_session() -> Iterator[Any]:
    """Enter GX territory; yields the ``great_expectations`` module."""
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logger = logging.getLogger(_GX_LOGGER)
        saved = (logger.propagate, logger.level)
        sink = logging.NullHandler()
        logger.addHandler(sink)
        logger.propagate = False
        logger.setLevel(logging.CRITICAL + 1)
        try:
            yield untyped("great_expectations")
        finally:
            logger.removeHandler(sink)
            logger.propagate, level = saved
            logger.setLevel(level)


def ephemeral_context(gx: Any) -> Any:
    """A new in-memory Data Context, progress bars off. Call inside :func:`gx_session`."""
    bars = untyped("great_expectations.data_context.types.base").ProgressBarsConfig
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = bars(globally=False, metric_calculations=False)
    return context


@contextlib.contextmanager
def dataframe_batch(context: Any, frame: Any) -> Iterator[Any]:
    """A batch of the whole pandas ``frame`` through a pandas data source.

    The source has a name of its own and is removed afterwards, so one context
    serves every gate of a run and holds no DataFrame once its gate is done.
    """
    name = f"auditpipe-{next(_SOURCES)}"
    source = context.data_sources.add_pandas(name)
    try:
        asset = source.add_dataframe_asset(name="data")
        definition = asset.add_batch_definition_whole_dataframe("whole")
        yield definition.get_batch(batch_parameters={"dataframe": frame})
    finally:
        context.data_sources.delete(name)
