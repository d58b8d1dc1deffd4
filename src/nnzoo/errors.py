"""Exceptions a user can cause. The command line catches `NnzooError` and prints one line."""


class NnzooError(Exception):
    """Base class of every error caused by bad input, a bad config or a bad file."""


class ConfigError(NnzooError, ValueError):
    """A bad argument, option or shape. The message names the argument and what was expected."""
