"""Where a run computes: the torch threads of a CPU run.

torch's own default is one thread per core. On a machine that is doing anything else that is
the slowest choice there is: OpenMP's threads wait for each other at every step, and a busy
core stalls them all (on a 2-core machine a LARNN epoch took 385 s at torch's default and
25-32 s on one thread, with the same result). So ``train.threads = 0`` means half the cores
this process may run on, at least one, and a run says in its provenance how many it used.
"""

from __future__ import annotations

import os

import torch


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def default_threads(cores: int | None = None) -> int:
    """Half of ``cores`` (default: `usable_cores`), at least one."""
    return max(1, (usable_cores() if cores is None else cores) // 2)


def set_threads(requested: int = 0) -> int:
    """Use ``requested`` torch threads, or `default_threads` for 0; returns the count set."""
    if requested < 0:
        raise ValueError(f"threads={requested}: expected 0 (automatic) or a count >= 1")
    threads = requested or default_threads()
    torch.set_num_threads(threads)
    return threads


def threads_rule(requested: int, threads: int) -> str:
    """How the count was chosen, for a run's provenance."""
    if requested:
        return f"{threads} (train.threads)"
    return f"{threads} (half of the {usable_cores()} usable cores; train.threads = 0)"
