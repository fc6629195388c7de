"""The terminal streams every verb prints to (stdout for output, stderr for
diagnostics and progress), loadable without the CLI framework."""

from __future__ import annotations

from rich.console import Console, ConsoleDimensions

UNBOUNDED = 1_000_000


class Stream(Console):
    """A console that fits a terminal's width, and never cuts or wraps anything else.

    Trees and tables lay out to the console width, which rich takes to be 80 when
    the output is a file, a pipe or a CI log: a digest cut mid-way is worse than a
    long line there. Asked each time, since tests and callers swap ``sys.stdout``.
    """

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        return size if self.is_terminal else ConsoleDimensions(UNBOUNDED, size.height)

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        Console.size.fset(self, new_size)  # type: ignore[attr-defined]


# Output goes to stdout; diagnostics and progress go to stderr.
out = Stream(soft_wrap=True, highlight=False)
err = Stream(stderr=True, soft_wrap=True, highlight=False)
