"""Parameter counts of a model, per layer and in total, and a text summary.

Every parameter is counted once: a tensor shared by several modules (tied weights) counts in
the first module that holds it, in ``named_modules`` order, as ``model.parameters()`` does.
Buffers (batch-norm running statistics) are not parameters and are not counted.
"""

from __future__ import annotations

from typing import Any

from torch import nn
from torch.nn.parameter import is_lazy

from nnzoo.errors import ConfigError
from nnzoo.report.markdown import Markup, table


def _check_initialised(name: str, p: nn.Parameter) -> None:
    if is_lazy(p):
        raise ConfigError(
            f"{name}: lazy parameter without a shape yet; run one forward pass before counting"
        )


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements, shared tensors once; only ``requires_grad`` ones if asked."""
    total = 0
    for name, p in model.named_parameters():
        _check_initialised(name, p)
        if p.requires_grad or not trainable_only:
            total += p.numel()
    return total


def parameter_table(model: nn.Module, *, depth: int | None = None) -> list[dict[str, Any]]:
    """One row per module that directly owns parameters, in ``named_modules`` order.

    Args:
        model: the network.
        depth: fold modules nested deeper than this many name parts into their ancestor
            (``depth=1``: one row per top-level child that holds parameters; ``0``: one row for
            the whole model). None keeps every module.

    Returns:
        Rows ``{"name", "type", "shapes", "params", "trainable", "tied"}``: the module's dotted
        name ("" for the model itself), its class name, ``{parameter name: shape}`` of the
        parameters counted in this row (names relative to the row's module), their element
        count, how many of them require grad, and ``{parameter name: name where it was counted}``
        for parameters shared with an earlier row. The rows' ``params`` sum to
        ``count_parameters(model)``.
    """
    if depth is not None and (not isinstance(depth, int) or depth < 0):
        raise ConfigError(f"depth: expected None or an integer >= 0, got {depth!r}")
    counted: dict[int, str] = {}  # id(parameter) -> full name where it was counted
    rows: dict[str, dict[str, Any]] = {}
    for module_name, module in model.named_modules():
        own = list(module.named_parameters(recurse=False))
        if not own:
            continue
        parts = module_name.split(".") if module_name else []
        row_name = ".".join(parts[:depth]) if depth is not None else module_name
        row = rows.get(row_name)
        if row is None:
            row = rows[row_name] = {
                "name": row_name,
                "type": type(model.get_submodule(row_name)).__name__,
                "shapes": {},
                "params": 0,
                "trainable": 0,
                "tied": {},
            }
        for param_name, p in own:
            full = f"{module_name}.{param_name}" if module_name else param_name
            local = full[len(row_name) + 1 :] if row_name else full
            _check_initialised(full, p)
            if id(p) in counted:
                row["tied"][local] = counted[id(p)]
                continue
            counted[id(p)] = full
            row["shapes"][local] = tuple(p.shape)
            row["params"] += p.numel()
            row["trainable"] += p.numel() if p.requires_grad else 0
    return list(rows.values())


def _describe(row: dict[str, Any]) -> str:
    shapes = [f"{name} [{', '.join(map(str, shape))}]" for name, shape in row["shapes"].items()]
    tied = [f"{name} = {source}" for name, source in row["tied"].items()]
    return ", ".join(shapes + tied)


def summary(model: nn.Module, *, depth: int | None = None) -> str:
    """A Markdown table of `parameter_table` rows, then the total, trainable and frozen counts."""
    rows = [
        [
            row["name"] or "(model)",
            row["type"],
            Markup(_describe(row)),  # names and shapes of parameters: no markup to escape
            row["params"],
            row["trainable"],
        ]
        for row in parameter_table(model, depth=depth)
    ]
    headers = ["layer", "type", "parameters", "params", "trainable"]
    total = count_parameters(model)
    trainable = count_parameters(model, trainable_only=True)
    return "\n".join(
        [
            type(model).__name__,
            "",
            table(rows, headers, intfmt=","),
            "",
            f"Total params: {total:,}",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
        ]
    )
