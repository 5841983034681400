"""Training, evaluation and data checks for entente (``python -m training.train`` etc.)."""

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar


@contextmanager
def show_progress() -> Iterator[None]:
    """While inside, the package's progress messages (INFO, such as each epoch of a
    fine-tuning or the teacher's embedding) and warnings go to stderr, one line each.

    A fine-tuning runs for minutes to tens of minutes on a CPU and logs each epoch through
    the ``model`` loggers. On exit the loggers are as they were (no handler is left behind
    when a command's ``main`` is called in-process, as ``entente train`` and tests do).
    """
    handler = logging.StreamHandler()  # the sys.stderr of this call (test runners swap it)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    loggers = [logging.getLogger(name) for name in ("model", "training")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(level)


F = TypeVar("F", bound=Callable)


def reports_progress(main: F) -> F:
    """Decorate a training command's ``main`` so that it runs under ``show_progress``."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        with show_progress():
            return main(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
