"""What subnormal floats cost a trained model on a CPU (not a test).

`nnzoo.engine.fit` trains with subnormals flushed to zero on CPUs (`nnzoo.engine.runtime`'s
"Denormals"). This times one training step (forward and backward, in train mode, gradients
set to None between runs, outside the timer) of a run's model restored from its checkpoint,
and of the same architecture freshly initialised, with flushing off and on, alternating, the
minimum of ``--repeats`` runs each. The input is a seeded standard-normal batch of the run's
input shape (its data are standardised, so of the same scale), so that no dataset is needed.

    python benchmarks/denormals.py runs/larnn-har/larnn-s2-48d2153e --which last --batch 256

It prints one JSON object: seconds per step for each (model, mode), torch version, threads and
the checkpoint's epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import torch

from nnzoo.models import create_model
from nnzoo.runs.trained import load_trained


def step_seconds(model: torch.nn.Module, x: torch.Tensor) -> float:
    model.zero_grad(set_to_none=True)
    started = time.perf_counter()
    out = model(x)
    out = out[0] if isinstance(out, tuple) else out
    out.float().sum().backward()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="a run folder of `nnzoo train` (or one of its checkpoints)")
    p.add_argument("--which", default="last", choices=("best", "last"))
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    trained = load_trained(args.run, args.which)
    extra, config = trained.checkpoint["extra"], trained.checkpoint["run_config"]
    shape = extra["input_shape"]  # (T, features) of a sequence run, (C, H, W) of an image run
    torch.manual_seed(0)
    fresh = create_model(config.model, extra["num_features"], extra["num_classes"], shape)
    x = torch.randn(args.batch, *shape, generator=torch.Generator().manual_seed(0))
    models = {"trained": trained.model.train(), "fresh": fresh.train()}
    times: dict[str, list[float]] = {}
    for _ in range(args.repeats):
        for flush in (False, True):
            torch.set_flush_denormal(flush)
            for name, model in models.items():
                key = f"{name}, {'flushed' if flush else 'not flushed'}"
                times.setdefault(key, []).append(step_seconds(model, x))
    torch.set_flush_denormal(False)
    json.dump({"checkpoint": str(trained.path), "epoch": trained.checkpoint.get("epoch"),
               "batch": args.batch, "threads": args.threads, "torch": torch.__version__,
               "seconds_per_step": {k: round(min(v), 3) for k, v in times.items()}},
              sys.stdout, indent=2)  # fmt: skip
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
