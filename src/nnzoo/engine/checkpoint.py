"""Checkpoints: written atomically, loaded without unpickling code, with the config inside.

A checkpoint is a dict of tensors, numbers and strings saved by ``torch.save`` and read back with
``torch.load(weights_only=True)``, so a file from elsewhere cannot run code when loaded. It holds
the model and optimizer state, the epoch and step counts, the metric history, every callback's
state, the run's config as TOML text and a ``digest``: the SHA-256 of all of that (every
tensor's dtype, shape and bytes, every other value by type and value, dict keys in sorted order).

`load_checkpoint` refuses, with one `CheckpointError` line, a file that does not load, is not
an nnzoo checkpoint, lacks a key or holds one of the wrong type, or whose digest does not match
its contents (a flipped byte in the weights). Checkpoints written before the digest existed load
as they are, unverified (``ckpt["verified"]`` is False).
"""

from __future__ import annotations

import copy as copy_module
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nnzoo.config import RunConfig, config_from_toml
from nnzoo.errors import NnzooError
from nnzoo.io import atomic

if TYPE_CHECKING:
    from nnzoo.engine.fit import Loop

FORMAT = "nnzoo-checkpoint-1"
DIGEST = "sha256"

# every key of a checkpoint and the type its value must have; extra and digest may be absent
# in checkpoints written before they existed
KEYS: dict[str, type | tuple[type, ...]] = {
    "format": str,
    "config": str,
    "epoch": int,
    "step": int,
    "model": dict,
    "optimizer": dict,
    "history": list,
    "stop_reason": str,
    "extra": dict,
    "callbacks": dict,
    "digest": str,
}
OPTIONAL = {"extra": dict, "digest": None}
REDO = "delete it, or point at another checkpoint (a run folder's best or last one)"


class CheckpointError(NnzooError):
    """A checkpoint that is missing, truncated, corrupt or not an nnzoo checkpoint."""


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save through `nnzoo.io.atomic`, synced to disk before the rename."""
    with atomic(path, sync=True) as f:
        torch.save(obj, f)


def digest(ckpt: dict[str, Any]) -> str:
    """``sha256:<hex>`` of every value of ``ckpt`` but its digest."""
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in ckpt.items() if k != "digest"})
    return f"{DIGEST}:{h.hexdigest()}"


def _feed(h: Any, value: Any) -> None:
    """Add ``value`` to the hash ``h``, tagged by type, so different values never feed alike."""
    if isinstance(value, torch.Tensor):
        t = value.detach().to("cpu").contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(value.shape)}:".encode())
        if t.numel():
            h.update(t.view(torch.uint8).numpy())  # the bytes, without a copy
    elif isinstance(value, dict):
        h.update(f"D{len(value)}:".encode())
        for key in sorted(value, key=lambda k: (type(k).__name__, repr(k))):
            _feed(h, key)
            _feed(h, value[key])
    elif isinstance(value, (list, tuple)):
        h.update(f"{'L' if isinstance(value, list) else 'U'}{len(value)}:".encode())
        for item in value:
            _feed(h, item)
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(f"S{len(data)}:".encode() + data)
    elif isinstance(value, bool) or value is None:
        h.update(f"B{value}:".encode())
    elif isinstance(value, int):
        h.update(f"I{value}:".encode())
    elif isinstance(value, float):
        h.update(f"F{value.hex()}:".encode())
    elif isinstance(value, bytes):
        h.update(f"Y{len(value)}:".encode() + value)
    else:  # torch.dtype, complex, ...: what the weights-only unpickler may give back
        text = f"{type(value).__qualname__}={value!r}".encode("utf-8", "surrogatepass")
        h.update(f"R{len(text)}:".encode() + text)


def save_checkpoint(path: Path, loop: Loop) -> None:
    write_checkpoint(path, checkpoint_of(loop))


def checkpoint_of(loop: Loop, *, copy: bool = False) -> dict[str, Any]:
    """What a checkpoint of ``loop`` holds now; ``copy``: tensors and states copied, so the
    dict keeps this moment while training goes on (a best checkpoint written later)."""
    ckpt = {
        "format": FORMAT,
        "config": loop.run_config.to_toml(),
        "epoch": loop.epoch,
        "step": loop.step,
        "model": loop.model.state_dict(),
        "optimizer": loop.optimizer.state_dict(),
        "history": loop.history,
        "stop_reason": loop.stop_reason,
        "extra": loop.extra,
        "callbacks": {
            type(cb).__name__: cb.state_dict() for cb in loop.callbacks if cb.state_dict()
        },
    }
    if copy:
        ckpt = copy_module.deepcopy(ckpt)
    return ckpt


def write_checkpoint(path: Path, ckpt: dict[str, Any]) -> None:
    """Write ``ckpt`` (from `checkpoint_of`) with its digest, atomically."""
    ckpt = {key: value for key, value in ckpt.items() if key != "digest"}
    ckpt["digest"] = digest(ckpt)
    atomic_save(ckpt, path)


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The checkpoint dict, checked whole, with ``config`` parsed into ``run_config`` and
    ``verified`` (True when its digest matched; False for checkpoints older than the digest)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: no such checkpoint; give a run folder of `nnzoo train`, or the best or "
            "last checkpoint file in it"
        )
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except MemoryError:
        raise CheckpointError(f"{path}: too large to load; {REDO}") from None
    except Exception as e:  # garbage bytes can make torch.load raise almost anything
        if isinstance(e, NnzooError):
            raise
        # torch's own text may quote the file or advise weights_only=False: never shown
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({_unreadable(e)}); it is truncated or corrupt, "
            f"or not an nnzoo checkpoint; {REDO}"
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an nnzoo checkpoint (no '{FORMAT}' marker); {REDO}")
    check_structure(ckpt, path)
    if "digest" in ckpt and ckpt["digest"] != digest(ckpt):
        raise CheckpointError(
            f"{path}: corrupt (its contents do not match the digest stored when it was saved, "
            f"so its weights cannot be trusted); {REDO}"
        )
    ckpt["verified"] = "digest" in ckpt
    ckpt.setdefault("extra", {})
    ckpt["run_config"] = config_from_toml(ckpt["config"], source=f"{path} (config)")
    return ckpt


def _unreadable(e: Exception) -> str:
    """What kind of failure ``e`` is, in words that quote nothing of the file."""
    text = str(e)
    if "zip archive" in text or "central directory" in text:
        return "not a complete zip archive"
    if "weights_only" in text.lower() or type(e).__name__ == "UnpicklingError":
        return "its records hold something a checkpoint never does"
    if type(e).__name__ in ("EOFError",) or "EOF" in text:
        return "it ends too early"
    return f"its data is damaged: {type(e).__name__}"


def _type_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "text", int: "an integer", dict: "a table", list: "a list", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def check_structure(ckpt: dict[str, Any], path: str | Path) -> None:
    """Raise a `CheckpointError` unless ``ckpt`` has every key with a value of its type, and
    no key nnzoo does not write: what `resume` and `load_trained` read is then all there."""

    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"{path}: not a valid nnzoo checkpoint ({what}); {REDO}")

    for key in ckpt:
        if key not in KEYS:
            raise bad("a key nnzoo never writes")
    for key, kind in KEYS.items():
        if key not in ckpt:
            if key in OPTIONAL:
                continue
            raise bad(f"no '{key}'")
        value = ckpt[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise bad(f"'{key}' is not {_type_name(kind)}")
    if ckpt["epoch"] < 0 or ckpt["step"] < 0:
        raise bad("a negative 'epoch' or 'step'")
    for name, value in ckpt["model"].items():
        if not isinstance(name, str) or not isinstance(value, torch.Tensor):
            raise bad("'model' is not a table of named tensors")
    optimizer = ckpt["optimizer"]
    if not (
        isinstance(optimizer.get("state"), dict)
        and isinstance(optimizer.get("param_groups"), list)
        and all(isinstance(s, dict) for s in optimizer["state"].values())
        and all(isinstance(g, dict) and isinstance(g.get("params"), list)
                for g in optimizer["param_groups"])
    ):  # fmt: skip
        raise bad("'optimizer' is not an optimizer's state")
    if not all(isinstance(row, dict) for row in ckpt["history"]):
        raise bad("'history' is not a list of tables")
    if not all(isinstance(k, str) and isinstance(v, dict) for k, v in ckpt["callbacks"].items()):
        raise bad("'callbacks' is not a table of tables")
    if not all(isinstance(k, str) for k in ckpt.get("extra", {})):
        raise bad("'extra' has a key that is not text")
    if "digest" in ckpt and not ckpt["digest"].startswith(f"{DIGEST}:"):
        raise bad("'digest' is not a sha256 digest")


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """``model.load_state_dict(state)``, or one `CheckpointError` line naming the first of the
    model's parameters that the checkpoint lacks or holds in another shape (with both shapes),
    or counting the checkpoint's tensors the model has no parameter for."""
    own = model.state_dict()

    def misfit(what: str) -> CheckpointError:
        return CheckpointError(
            f"{path}: its weights do not fit the model its config builds ({what}); the file "
            f"was changed after training or written by another nnzoo; {REDO}"
        )

    for name, tensor in own.items():
        if name not in state:
            raise misfit(f"no {name}")
        theirs = state[name]
        if tuple(theirs.shape) != tuple(tensor.shape):
            shapes = f"{list(theirs.shape)} in the checkpoint, {list(tensor.shape)} in the model"
            raise misfit(f"{name} is {shapes}")
    unexpected = sum(name not in own for name in state)
    if unexpected:
        raise misfit(f"{unexpected} of its tensors are not parameters of the model")
    try:
        model.load_state_dict(state)
    except RuntimeError:  # names and shapes fit: a dtype torch cannot copy
        raise misfit("a tensor of a type the model cannot take") from None


def config_of(path: str | Path) -> RunConfig:
    return load_checkpoint(path)["run_config"]
