"""Exceptions a user can cause. The command line catches `NnzooError` and prints one line.

``warn`` is the one-line counterpart for input that is read but looks wrong: it goes on.
"""

import sys


class NnzooError(Exception):
    """Base class of every error caused by bad input, a bad config or a bad file."""


class ConfigError(NnzooError, ValueError):
    """A bad argument, option or shape. The message names the argument and what was expected."""


def warn(message: str) -> None:
    """One line on stderr about input that is read but partly left out or looks wrong."""
    print(f"nnzoo: warning: {message}", file=sys.stderr, flush=True)
