"""The process pool: independent runs trained side by side, ``--jobs N``.

``map_tasks(fn, tasks, jobs)`` is ``[fn(t) for t in tasks]``: in this process when ``jobs`` is 1
(or there is one task), else in ``jobs`` spawned processes, results in the order of ``tasks``.
``fn`` must be a top-level function and every task picklable (a dict of plain values, configs,
callbacks), since each worker starts a fresh interpreter. A study's runs and a recipe's models
and seeds go through here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def auto_jobs(threads: int = 0) -> int:
    """Processes that fit side by side: the usable cores over the threads of each run
    (``threads`` 0: `nnzoo.engine.runtime.default_threads`), at least one."""
    from nnzoo.engine.runtime import default_threads, usable_cores

    return max(1, usable_cores() // (threads or default_threads()))


def workers(jobs: int, count: int) -> int:
    """How many processes ``map_tasks`` starts for ``count`` tasks; 0: it runs them in this one."""
    return min(jobs, count) if jobs > 1 and count > 1 else 0


def map_tasks(fn: Callable[[T], R], tasks: Sequence[T], jobs: int) -> list[R]:
    """``[fn(t) for t in tasks]``, in ``jobs`` spawned processes when jobs > 1; order kept.

    With several processes one bar (on a terminal) counts the finished tasks.
    """
    processes = workers(jobs, len(tasks))
    if processes == 0:
        return [fn(t) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        results: Any = pool.map(fn, tasks)
        bar = tqdm(results, total=len(tasks), desc="runs", disable=not sys.stderr.isatty())
        return list(bar)
