"""Where a run computes: the torch device, and the torch threads of a CPU run.

torch's own default is one thread per core. On a machine that is doing anything else that is
the slowest choice there is: OpenMP's threads wait for each other at every step, and a busy
core stalls them all (on a 2-core machine a LARNN epoch took 385 s at torch's default and
25-32 s on one thread, with the same result). So ``train.threads = 0`` means half the cores
this process may run on, at least one, and a run says in its provenance how many it used.

``train.device`` is checked twice: its spelling when the config is read
(`nnzoo.config.check_device_name`), and whether this machine has it when a run starts
(`check_device`), so a config written on a GPU machine still reads on a laptop. ``auto`` is
CUDA when the machine has it, else cpu.

`Runtime` owns one training's device, precision and ranks, in the spirit of Lightning Fabric's
``setup`` / ``backward``: `fit` asks it to place and wrap the model (DDP under torchrun), to
shard each global batch, to run a step under autocast, to back-propagate (with gradient scaling
for float16) and to sum the epoch's metrics over the ranks. The ranks come from torchrun's
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): no launcher of nnzoo's
own.

Denormals. On a CPU, `fit` trains with subnormal floats flushed to zero (`flushing_denormals`):
x86 arithmetic on numbers below float32's smallest normal, 1.2e-38, is microcoded and can be a
hundred times slower, and training drives some values there (a LARNN's sharp attention
weights, the products of saturated gates). Measured on one thread, one training step of the
table's ``larnn`` at B = 256 restored from epoch 79 of a seed: 33.6 s without, 6.9 s with (a
fresh model: 9.1 and 8.2 s; ``python benchmarks/denormals.py <run>/checkpoints/last.pt --batch
256 --repeats 1``, the machine loaded by two other runs). Only numbers of magnitude below
1.2e-38 change (to zero), as TensorFlow does by default; the flag is per thread, so it covers
the thread that calls `fit` (every op of a one-thread run), not OpenMP's worker threads.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

from nnzoo.config import PRECISIONS, check_device_name
from nnzoo.errors import ConfigError


def denormals_flushed() -> bool:
    """Whether this thread flushes subnormal floats to zero (a subnormal input reads as 0)."""
    return float(torch.tensor([1e-39]).mul(1.0)[0]) == 0.0


@contextlib.contextmanager
def flushing_denormals(device: torch.device) -> Iterator[None]:
    """On a CPU, flush subnormal floats to zero inside the block, and restore the thread's
    previous mode after it; elsewhere (CUDA flushes per kernel as compiled) do nothing."""
    if device.type != "cpu":
        yield
        return
    before = denormals_flushed()
    torch.set_flush_denormal(True)  # False where the CPU cannot (no SSE3): then a no-op
    try:
        yield
    finally:
        torch.set_flush_denormal(before)


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
    if device == "auto":
        device = "cuda" if _count("cuda") else "cpu"
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


# -- the runtime of one training: device, precision, rank and world size ----------------------
DIST_TIMEOUT_ENV = "NNZOO_DIST_TIMEOUT"  # seconds the ranks wait for each other (default 300)


def resolve_device(device: str, local_rank: int = 0, where: str = "train.device") -> torch.device:
    """``device`` as a `torch.device`: ``auto`` is CUDA when this machine has it (the process's
    own GPU, ``cuda:LOCAL_RANK``, under torchrun), else cpu; ``cuda`` under torchrun is the
    process's own GPU too. Anything else is `check_device`'s."""
    if device == "auto":
        device = "cuda" if _count("cuda") else "cpu"
    if device == "cuda" and _count("cuda"):
        device = f"cuda:{local_rank % _count('cuda')}"
    return check_device(device, where)


def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK);
    (0, 1, 0) outside torchrun."""
    try:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        rank = int(os.environ.get("RANK", "0"))
        local = int(os.environ.get("LOCAL_RANK", str(rank)))
    except ValueError:
        raise ConfigError(
            "RANK, WORLD_SIZE and LOCAL_RANK must be integers (torchrun sets them); unset them "
            "to train in one process"
        ) from None
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"RANK={rank}, WORLD_SIZE={world}: expected 0 <= RANK < WORLD_SIZE")
    return rank, world, local


class Runtime:
    """Where and how one training computes, in the spirit of Lightning Fabric: the device, the
    precision, and this process's rank among ``world_size`` processes (torchrun + DDP).

    One process (``world_size`` 1) is the plain loop. Under torchrun, `setup` joins the
    process group (gloo on CPU, nccl on CUDA), wraps the model in
    ``torch.nn.parallel.DistributedDataParallel`` and `shard` gives each rank its share of
    every global batch. Precision: ``"32"`` (float32), ``"bf16"`` (autocast to bfloat16, CPU or
    CUDA) or ``"16-mixed"`` (autocast to float16 with gradient scaling, CUDA only).
    """

    def __init__(self, device: str = "cpu", precision: str = "32") -> None:
        if precision not in PRECISIONS:
            raise ConfigError(
                f"train.precision={precision!r}: expected one of {', '.join(PRECISIONS)}"
            )
        self.rank, self.world_size, self.local_rank = distributed_env()
        self.device = resolve_device(device, self.local_rank)
        if precision == "16-mixed" and self.device.type != "cuda":
            raise ConfigError(
                f"train.precision='16-mixed' needs a CUDA device (float16 autocast with "
                f"gradient scaling), and this run is on {self.device}; use --precision bf16 "
                "or --precision 32 on a CPU"
            )
        self.precision = precision
        self.scaler = torch.amp.GradScaler("cuda") if precision == "16-mixed" else None
        self._group = False

    @property
    def is_main(self) -> bool:
        """Rank 0: the one process that writes the run folder and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    # -- the process group -------------------------------------------------------------------
    def join(self) -> None:
        """Join the process group torchrun set up (once); waits `DIST_TIMEOUT_ENV` seconds."""
        import datetime

        import torch.distributed as dist

        if not self.distributed or dist.is_initialized():
            return
        try:
            seconds = float(os.environ.get(DIST_TIMEOUT_ENV, "300"))
        except ValueError:
            raise ConfigError(f"{DIST_TIMEOUT_ENV}: expected a number of seconds") from None
        backend = "nccl" if self.device.type == "cuda" else "gloo"
        if self.rank:
            self._wait_for_rank_zero(seconds)
        try:
            dist.init_process_group(
                backend, rank=self.rank, world_size=self.world_size,
                timeout=datetime.timedelta(seconds=seconds),
            )  # fmt: skip
        except (RuntimeError, ValueError, OSError) as e:
            where = f"{os.environ.get('MASTER_ADDR', '?')}:{os.environ.get('MASTER_PORT', '?')}"
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ConfigError(
                f"rank {self.rank} of {self.world_size}: the process group at {where} did not "
                f"form within {seconds:g} s ({reason[:200]}); start every process (torchrun "
                f"--nnodes / --nproc-per-node) with the same --rdzv-endpoint, or raise "
                f"{DIST_TIMEOUT_ENV}"
            ) from None
        self._group = True

    def _wait_for_rank_zero(self, seconds: float) -> None:
        """Wait until rank 0's store (MASTER_ADDR:MASTER_PORT) accepts connections, so that a
        rendezvous that never completes is one line (torch's own client logs a C++ trace)."""
        import socket
        import time

        host, port = os.environ.get("MASTER_ADDR", "127.0.0.1"), os.environ.get("MASTER_PORT")
        if not port:
            return  # torch will say what is missing
        deadline = time.monotonic() + seconds
        while True:
            try:
                with socket.create_connection((host, int(port)), timeout=1.0):
                    return
            except (OSError, ValueError) as e:
                if time.monotonic() >= deadline:
                    raise ConfigError(
                        f"rank {self.rank} of {self.world_size}: the process group at "
                        f"{host}:{port} did not form within {seconds:g} s (rank 0 never "
                        f"answered: {type(e).__name__}); start every process (torchrun "
                        f"--nnodes / --nproc-per-node) with the same --rdzv-endpoint, or raise "
                        f"{DIST_TIMEOUT_ENV}"
                    ) from None
                time.sleep(0.2)

    def leave(self) -> None:
        """Leave the process group this runtime joined."""
        if self._group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self._group = False

    def barrier(self) -> None:
        if self.distributed:
            import torch.distributed as dist

            dist.barrier()

    # -- the model and the batches -----------------------------------------------------------
    def setup(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on the device; what the training steps call: DDP around it when there
        are several processes (its gradients are averaged over the ranks), else itself."""
        model.to(self.device)
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        self.join()
        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def shard(self, index: torch.Tensor) -> torch.Tensor | None:
        """This rank's rows of one global batch (``tensor_split``: sizes differ by one at
        most), so that every global batch is the one a single process would take; None (the
        batch is left out) when it has fewer rows than there are processes."""
        if not self.distributed:
            return index
        if len(index) < self.world_size:
            return None
        return index.tensor_split(self.world_size)[self.rank]

    def move(self, batch: Any) -> Any:
        """``batch`` on the device: pinned and copied without blocking onto a GPU."""
        from nnzoo.tasks.base import move

        if self.device.type != "cuda":
            return move(batch, self.device)
        return move(batch, self.device, pin=True)

    def autocast(self):
        """The precision's autocast context for a training step (a no-op for ``"32"``)."""
        import contextlib

        if self.precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    # -- the step ----------------------------------------------------------------------------
    def global_mean(self, value: float, size: int) -> tuple[float, float]:
        """(the weight of this rank's loss, the global batch's mean loss), from this rank's
        loss ``value``, a mean over its ``size`` units (examples or tokens).

        DDP averages the ranks' gradients, so rank r's loss is weighted by
        size_r * W / sum(size): the averaged gradient is then that of the mean over the whole
        global batch, as in one process, whatever the shares' sizes. One process: (1, value).
        """
        if not self.distributed:
            return 1.0, value
        import torch.distributed as dist

        pair = torch.tensor([value * size, float(size)], dtype=torch.float64)
        if self.device.type == "cuda":
            pair = pair.to(self.device)
        dist.all_reduce(pair)
        total, count = float(pair[0]), max(int(pair[1]), 1)
        return size * self.world_size / count, total / count

    def backward(self, loss: torch.Tensor) -> None:
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
        else:
            loss.backward()

    def unscale(self, optimizer: torch.optim.Optimizer) -> None:
        """Before gradient clipping (``on_before_optimizer_step``): true gradients."""
        if self.scaler is not None:
            self.scaler.unscale_(optimizer)

    def optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def sync_buffers(self, model: torch.nn.Module) -> None:
        """Rank 0's buffers (batch norms' running statistics) on every rank, so that every rank
        evaluates, and rank 0 saves, the same model."""
        if not self.distributed:
            return
        import torch.distributed as dist

        for buffer in model.buffers():
            dist.broadcast(buffer.data, 0)

    def all_sum(self, values: list[float]) -> list[float]:
        """``values`` summed over the ranks (themselves in one process)."""
        if not self.distributed:
            return values
        import torch.distributed as dist

        t = torch.tensor(values, dtype=torch.float64)
        if self.device.type == "cuda":
            t = t.to(self.device)
        dist.all_reduce(t)
        return t.tolist()
