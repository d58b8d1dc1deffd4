"""Whole networks by name: ``create_model(config.model, num_features, num_classes)``."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from torch import nn

from nnzoo.registry import Registry

if TYPE_CHECKING:
    from nnzoo.config import ModelConfig

MODELS: Registry[nn.Module] = Registry("model")

from nnzoo.models import sequence_classifier  # noqa: E402, F401  isort: skip


def create_model(config: ModelConfig, num_features: int, num_classes: int) -> nn.Module:
    """Build the model ``config.name`` for inputs with ``num_features`` and ``num_classes``."""
    options = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    return MODELS.create(options.pop("name"), num_features, num_classes, **options)


def list_models() -> list[str]:
    return MODELS.names()
