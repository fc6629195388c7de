"""The no-op fast path of ``status`` and ``run``: answer "every stage is up to date"
from this clone's verified state without importing the heavy libraries, or say
it cannot and let the full (slow, correct) path answer and record the state."""
