"""Tasks: what depends on the kind of problem (see `nnzoo.tasks.base` for the contract).

=========  ================================================================================
classify   one label per example: cross-entropy (or sigmoid log loss), accuracy, confusion
seq2seq    a target sequence per source sequence: per-token cross-entropy, teacher forcing,
           greedy decoding, token and sequence accuracy
next-step  the next element of a sequence: categorical or multi-hot likelihood, sampling
=========  ================================================================================

``create_task(config.task)`` builds the task of a run's ``[task]`` table; options unknown to
the task are one error naming them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nnzoo.registry import Registry

if TYPE_CHECKING:
    from nnzoo.config import TaskConfig
    from nnzoo.tasks.base import Task

TASKS: Registry[Task] = Registry("task")

from nnzoo.tasks import classify, next_step, seq2seq  # noqa: E402, F401  isort: skip


def create_task(config: TaskConfig) -> Task:
    """The task named by ``config.name``, with ``config.options``."""
    return TASKS.create(config.name, **config.options)


def list_tasks() -> list[str]:
    return TASKS.names()
