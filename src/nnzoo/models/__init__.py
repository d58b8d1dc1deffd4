"""Whole networks by name: ``create_model(config.model, num_features, num_classes, input_shape)``.

A model's factory is registered in `MODELS`. Sequence models take ``(num_features, num_classes)``;
image models take ``(input_shape, num_classes)``, the per-example shape (H, W) or (C, H, W).
Their keyword options are the config's ``[model.options]`` (`nnzoo.config.ModelConfig`),
checked against the factory's signature: a name it does not take is an error that lists the
ones it does, and an option not given keeps the factory's default.

Before a model is built its size is: `create_model` first builds it on torch's ``meta`` device
(shapes, no memory), counts its parameters, and refuses more than `MAX_PARAMETERS`, naming
the options that set the size; a ``hidden = 10000000`` fails in milliseconds instead of asking
for petabytes.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from nnzoo.config import MODEL_OPTIONS
from nnzoo.errors import ConfigError
from nnzoo.registry import Registry

if TYPE_CHECKING:
    from nnzoo.config import ModelConfig

MODELS: Registry[nn.Module] = Registry("model")

# The most parameters a model may have: 4 GB of float32 weights, about 16 GB to train with Adam
# (weights, gradients and two moments), before any activation.
MAX_PARAMETERS = 1_000_000_000

from nnzoo.models import sequence_classifier  # noqa: E402, F401  isort: skip
from nnzoo.models import deeper, mlp, vgg, wider  # noqa: E402, F401  isort: skip
from nnzoo.models import simple_cnn  # noqa: E402, F401  isort: skip
from nnzoo.models import generator, seq2seq  # noqa: E402, F401  isort: skip
from nnzoo.models import scratch  # noqa: E402, F401  isort: skip
from nnzoo.models import transfer  # noqa: E402, F401  isort: skip
from nnzoo.models import transformer  # noqa: E402, F401  isort: skip
from nnzoo.models import har_cnn  # noqa: E402, F401  isort: skip
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
                f"(its options: {', '.join(accepted) or '(none)'}); remove it, or use one of "
                "those"
            )
    return dict(config.options)


def _builder(
    config: ModelConfig,
    num_features: int,
    num_classes: int,
    input_shape: Sequence[int] | None,
) -> Callable[[], nn.Module]:
    options = model_options(config)
    first = input_shape if takes_input_shape(config.name) else num_features
    return functools.partial(MODELS.create, config.name, first, num_classes, **options)


def create_model(
    config: ModelConfig,
    num_features: int,
    num_classes: int,
    input_shape: Sequence[int] | None = None,
) -> nn.Module:
    """Build the model ``config.name``, once `check_size` has found it small enough.

    Args:
        config: the ``[model]`` table.
        num_features: F, features per step, for sequence models.
        num_classes: width of the output.
        input_shape: the per-example shape, ``tuple(x.shape[1:])`` of the data; image models
            need it.
    """
    build = _builder(config, num_features, num_classes, input_shape)
    if takes_input_shape(config.name):
        data = f"input shape {tuple(input_shape or ())} and {_count(num_classes, 'class')}"
    else:
        data = f"{_count(num_features, 'input feature')} and {_count(num_classes, 'class')}"
    check_size(config, build, f"for {data}")
    return build()


def example_input_shape(name: str) -> tuple[int, ...]:
    """A per-example shape model ``name`` takes, for checks without data: its factory's
    ``example_input_shape`` (e.g. 3 x 32 x 32 for a pretrained backbone), else a 28x28 image."""
    return tuple(getattr(MODELS.get(name), "example_input_shape", EXAMPLE_INPUT_SHAPE))


def check_model(config: ModelConfig) -> None:
    """Fail on a bad model name, option or size without the data, and without memory.

    Builds the model on the meta device for a stand-in input (one feature, or the model's
    `example_input_shape`); an image model's complaint about the input shape alone is left for
    when the data's shape is known.
    """
    with contextlib.suppress(InputShapeError):
        shape = example_input_shape(config.name)
        build = _builder(config, 1, 2, shape)
        if takes_input_shape(config.name):
            data = f"for a stand-in input of shape {shape} and 2 classes"
        else:
            data = "even for 1 input feature and 2 classes"
        check_size(config, build, data)


def size_options(config: ModelConfig) -> dict[str, Any]:
    """``{config path: value}`` of the options that set a model's size, as the model gets them:
    its integer and integer-list options (given or default), and cell_options when given."""
    from nnzoo.config import MODEL_OPTIONS

    out = {}
    for key, default in MODELS.options(config.name).items():
        value = config.options.get(key, default)
        where = f"model.{key}" if key in MODEL_OPTIONS else f"model.options.{key}"
        if key == "cell_options" and value:
            out[where] = value
        elif _is_int(value) or (
            isinstance(value, list | tuple) and value and all(map(_is_int, value))
        ):
            out[where] = list(value) if isinstance(value, tuple) else value
    return out


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}es" if noun.endswith("s") else f"{n} {noun}s"


def check_size(config: ModelConfig, build: Callable[[], nn.Module], data: str) -> int:
    """The parameter count of ``build()``, found on the meta device (no memory is taken);
    ``data`` says what it is built for ("for 9 input features and 6 classes").

    Raises:
        ConfigError: above `MAX_PARAMETERS`, or too large for torch to describe at all; the
            message gives the count, the limit and the options to lower.
    """
    from nnzoo.models.summary import count_parameters

    lower = [f"{k} (now {v!r})" for k, v in size_options(config).items() if v]
    action = f"lower {', '.join(lower)}" if lower else "use a smaller model"
    if len(lower) > 1:
        action = f"lower {', '.join(lower[:-1])} or {lower[-1]}"
    try:
        with torch.device("meta"):
            model = build()
    except (RuntimeError, TypeError, OverflowError) as e:
        if "overflow" not in str(e).lower():
            raise
        raise ConfigError(
            f"model {config.name!r}: {data} a weight would have more elements than torch "
            f"can hold; {action}"
        ) from None
    n = count_parameters(model)
    if n > MAX_PARAMETERS:
        raise ConfigError(
            f"model {config.name!r}: {n:,} parameters {data}, above the limit of "
            f"{MAX_PARAMETERS:,}; {action}"
        )
    return n


def list_models() -> list[str]:
    return MODELS.names()
