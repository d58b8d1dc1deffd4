"""Studies: the course's training experiments, one command each (``nnzoo study NAME``).

=================  ==========================================================================
lr-sweep           SGD at several learning rates, a fixed number of epochs each
convergence        each learning rate until the monitored accuracy stops moving
capacity           several models (base / deeper / wider): accuracy and parameters per layer
grad-mean          mean, mean |.| and norm of the gradients over the first training steps
gradient-flow      ||dL/dh_t|| against t for recurrent cells on a long-lag task
long-lag           accuracy against sequence length for recurrent cells on that task
=================  ==========================================================================

See ``nnzoo.experiments.base`` for the folder every study writes.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from nnzoo.errors import ConfigError

STUDIES = {
    "lr-sweep": "nnzoo.experiments.lr_sweep",
    "convergence": "nnzoo.experiments.convergence",
    "capacity": "nnzoo.experiments.capacity",
    "grad-mean": "nnzoo.experiments.grad_mean",
    "gradient-flow": "nnzoo.experiments.gradient_flow",
    "long-lag": "nnzoo.experiments.long_lag",
}


def study_module(name: str) -> ModuleType:
    if name not in STUDIES:
        raise ConfigError(f"unknown study {name!r}; expected one of: {', '.join(STUDIES)}")
    return importlib.import_module(STUDIES[name])


def list_studies() -> list[str]:
    return list(STUDIES)


def rebuild_report(study_dir: str | Path) -> Path:
    """Write report.md and report.html of a finished study again from its study.json."""
    from nnzoo.experiments.base import load_record, write_study_report

    record = load_record(Path(study_dir))
    return write_study_report(study_module(record["study"]), Path(study_dir), record)
