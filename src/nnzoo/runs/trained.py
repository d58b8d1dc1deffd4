"""A trained model back from a run folder (or a loose checkpoint file).

``load_trained(path)`` finds the checkpoint (``<run>/checkpoints/best.pt``, else ``last.pt``),
rebuilds the model from the config stored inside it and loads the weights, in eval mode.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple

from torch import nn

from nnzoo.engine.checkpoint import CheckpointError, load_checkpoint, load_weights
from nnzoo.errors import ConfigError
from nnzoo.runs.rundir import RunDir


class Trained(NamedTuple):
    """What `load_trained` returns; unpacks as ``model, checkpoint, path``."""

    model: nn.Module
    checkpoint: dict[str, Any]  # load_checkpoint's dict: run_config, extra, epoch, ...
    path: Path  # the checkpoint file


def find_checkpoint(path: str | Path, which: str = "best") -> Path:
    """The checkpoint file of a run folder (``which``: best or last; best falls back to last
    when the run never saved one), or ``path`` itself when it is a file."""
    p = Path(path)
    if p.is_dir():
        run = RunDir(p)
        candidate = run.checkpoint(which)
        if not candidate.exists() and which == "best":
            candidate = run.checkpoint("last")
        if not candidate.exists():
            raise CheckpointError(
                f"{p}: no {run.link(run.checkpoint(which))}; is it a run folder of `nnzoo train`?"
            )
        return candidate
    if not p.exists():
        raise CheckpointError(
            f"{p}: no such run folder or checkpoint; give a folder made by `nnzoo train` (or "
            "one of its checkpoints)"
        )
    return p


def load_trained(path: str | Path, which: str = "best") -> Trained:
    """The model of a run folder or checkpoint file, its weights loaded, in eval mode."""
    from nnzoo.models import create_model

    ckpt_path = find_checkpoint(path, which)
    ckpt = load_checkpoint(ckpt_path)
    extra = ckpt["extra"]
    config = ckpt["run_config"]
    # num_classes is the output width the task asked for (1 for a binary classifier); older
    # checkpoints have only the class names
    names = extra.get("class_names", ())
    num_classes = extra.get("num_classes", len(names) if isinstance(names, (list, tuple)) else 0)
    num_features, input_shape = extra.get("num_features"), extra.get("input_shape")
    shape = [] if input_shape is None else input_shape
    sizes = [num_features, num_classes, *(shape if isinstance(shape, (list, tuple)) else [None])]
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
        raise CheckpointError(
            f"{ckpt_path}: does not say the sizes of its data (extra.num_features, "
            "num_classes or input_shape are missing or not whole numbers >= 1), so its model "
            "cannot be rebuilt; train the run again with this nnzoo"
        )
    model = create_model(config.model, num_features, num_classes, input_shape)
    load_weights(model, ckpt["model"], ckpt_path)
    model.eval()
    return Trained(model, ckpt, ckpt_path)


def load_trained_for(
    path: str | Path, which: str, *, task: str, command: str, example: str
) -> Trained:
    """`load_trained`, for a command that needs a run of one task: any other run is one line
    saying what the command needs (``example``: a dataset such runs train on)."""
    trained = load_trained(path, which)
    name = trained.checkpoint["run_config"].task.name
    if name != task:
        raise ConfigError(
            f"{path}: a {name} run, not a {task} one; nnzoo {command} needs a run trained with "
            f"task {task} (e.g. data {example})"
        )
    return trained
