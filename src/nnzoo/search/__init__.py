"""Hyperparameter search on Optuna: ``nnzoo search CONFIG.toml``.

A search config is a run config plus a ``[search]`` table (see `nnzoo.search.space` for its
shape and checks); every trial is an ordinary run folder ``<out>/trials/<n>``. Storage, resume,
shared studies and focused second rounds are described in `nnzoo.search.run`.
"""

from nnzoo.search.pruning import TrialPruning
from nnzoo.search.run import run_search
from nnzoo.search.space import FOCUS_RULE, Dimension, SearchConfig, focus_space, parse_search

__all__ = [
    "FOCUS_RULE",
    "Dimension",
    "SearchConfig",
    "TrialPruning",
    "focus_space",
    "parse_search",
    "run_search",
]
