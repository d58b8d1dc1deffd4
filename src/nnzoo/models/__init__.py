"""Whole networks by name: ``create_model(config.model, num_features, num_classes, input_shape)``.

A model's factory is registered in `MODELS`. Sequence models take ``(num_features, num_classes)``;
image models take ``(input_shape, num_classes)``, the per-example shape (H, W) or (C, H, W).
Their keyword options are the config's ``[model.options]`` (`nnzoo.config.ModelConfig`),
checked against the factory's signature: a name it does not take is an error that lists the
ones it does, and an option not given keeps the factory's default.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from torch import nn

from nnzoo.config import MODEL_OPTIONS
from nnzoo.errors import ConfigError
from nnzoo.registry import Registry

if TYPE_CHECKING:
    from nnzoo.config import ModelConfig

MODELS: Registry[nn.Module] = Registry("model")

from nnzoo.models import sequence_classifier  # noqa: E402, F401  isort: skip
from nnzoo.models import deeper, mlp, vgg, wider  # noqa: E402, F401  isort: skip
from nnzoo.models import generator, seq2seq  # noqa: E402, F401  isort: skip
from nnzoo.models.image import EXAMPLE_INPUT_SHAPE, InputShapeError  # noqa: E402  isort: skip


def takes_input_shape(name: str) -> bool:
    """Whether model ``name`` is built for a per-example shape (an image model)."""
    return "input_shape" in inspect.signature(MODELS.get(name)).parameters


def model_options(config: ModelConfig) -> dict[str, Any]:
    """The keyword options ``config`` passes to its model's factory; unknown names raise."""
    accepted = MODELS.options(config.name)
    for key, value in config.options.items():
        if key not in accepted:
            where = f"model.{key}" if key in MODEL_OPTIONS else f"model.options.{key}"
            raise ConfigError(
                f"{where}={value!r}: not an option of model {config.name!r} "
                f"(its options: {', '.join(accepted) or '(none)'})"
            )
    return dict(config.options)


def create_model(
    config: ModelConfig,
    num_features: int,
    num_classes: int,
    input_shape: Sequence[int] | None = None,
) -> nn.Module:
    """Build the model ``config.name``.

    Args:
        config: the ``[model]`` table.
        num_features: F, features per step, for sequence models.
        num_classes: width of the output.
        input_shape: the per-example shape, ``tuple(x.shape[1:])`` of the data; image models
            need it.
    """
    options = model_options(config)
    if takes_input_shape(config.name):
        return MODELS.create(config.name, input_shape, num_classes, **options)
    return MODELS.create(config.name, num_features, num_classes, **options)


def check_model(config: ModelConfig) -> None:
    """Fail on a bad model name or option without the data.

    Builds the model for a stand-in input (one feature, or a 28x28 image); an image model's
    complaint about the input shape alone is left for when the data's shape is known.
    """
    with contextlib.suppress(InputShapeError):
        create_model(config, 1, 2, input_shape=EXAMPLE_INPUT_SHAPE)


def list_models() -> list[str]:
    return MODELS.names()
