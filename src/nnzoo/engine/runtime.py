"""Where a run computes: the torch device, and the torch threads of a CPU run.

torch's own default is one thread per core. On a machine that is doing anything else that is
the slowest choice there is: OpenMP's threads wait for each other at every step, and a busy
core stalls them all (on a 2-core machine a LARNN epoch took 385 s at torch's default and
25-32 s on one thread, with the same result). So ``train.threads = 0`` means half the cores
this process may run on, at least one, and a run says in its provenance how many it used.

``train.device`` is checked twice: its spelling when the config is read
(`nnzoo.config.check_device_name`), and whether this machine has it when a run starts
(`check_device`), so a config written on a GPU machine still reads on a laptop.
"""

from __future__ import annotations

import os

import torch

from nnzoo.config import check_device_name
from nnzoo.errors import ConfigError


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
    if isinstance(requested, bool) or not isinstance(requested, int) or requested < 0:
        raise ConfigError(
            f"threads={requested!r}: expected 0 (automatic) or a count >= 1; set train.threads "
            "in the config or pass --threads 0"
        )
    threads = requested or default_threads()
    torch.set_num_threads(threads)
    return threads


def threads_rule(requested: int, threads: int) -> str:
    """How the count was chosen, for a run's provenance."""
    if requested:
        return f"{threads} (train.threads)"
    return f"{threads} (half of the {usable_cores()} usable cores; train.threads = 0)"


def _count(kind: str) -> int:
    """How many devices of ``kind`` (cuda, mps, xpu) this machine has; 0 when torch was
    built without that backend."""
    if kind == "cuda":
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "mps":
        mps = getattr(torch.backends, "mps", None)
        return 1 if mps is not None and mps.is_available() else 0
    xpu = getattr(torch, "xpu", None)
    return xpu.device_count() if xpu is not None and xpu.is_available() else 0


def available_devices() -> list[str]:
    """The devices a run may use on this machine: cpu, then cuda:0, cuda:1, ..., mps, xpu:0."""
    out = ["cpu"]
    for kind in ("cuda", "mps", "xpu"):
        n = _count(kind)
        out += ["mps"] if kind == "mps" and n else [f"{kind}:{i}" for i in range(n)]
    return out


def check_device(device: str, where: str = "train.device") -> torch.device:
    """``device`` as a `torch.device`, once its spelling is checked and this machine has it.

    Raises:
        ConfigError: it is misspelt, or this machine has no such device; the message lists
            the devices it has.
    """
    check_device_name(where, device)
    kind, _, index = device.partition(":")
    n = 1 if kind == "cpu" else _count(kind)
    if n and (not index or int(index) < n):
        return torch.device(device)
    here = ", ".join(available_devices())
    if not n:
        problem = f"this machine has no {kind} device" + (
            " (torch was built without CUDA)" if kind == "cuda" and not torch.version.cuda else ""
        )
    else:
        problem = f"this machine has {n} {kind} device{'s' if n > 1 else ''}"
    raise ConfigError(
        f"{where}={device!r}: {problem}; devices here: {here}; set {where} in the config or "
        f"pass --device {'cuda' if kind == 'cuda' and n else 'cpu'}"
    )
