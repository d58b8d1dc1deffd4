"""The task contract: everything that depends on the kind of problem, and nothing else.

`nnzoo.engine.fit` knows no task: it asks one. A task says

* how a split becomes batches (``collate(data, index)``: padding, lengths, shifted targets);
* the loss of a batch and what to count for the epoch's training metrics (``step``);
* the metrics of an evaluation (``evaluate``) and of the one test evaluation (``test``);
* the model's input and output sizes for the data (``model_dims``), and what a checkpoint must
  remember to treat new data as the training data was (``data_extra``);
* how predictions are decoded (``decode`` / ``sample`` where it has them), what ``nnzoo
  evaluate`` prints (``evaluation``) and what ``nnzoo predict`` writes (``predict_file``);
* its rows of a run's summary table and its sections of the run's report.

A task is registered by name in `nnzoo.tasks.TASKS` and chosen by the config's ``[task]`` table
(``name`` and the task's ``options``). Batches are tuples of tensors (or None); the engine moves
them to the device. Shape legend: B batch, T time, F features, C classes, V vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from nnzoo.errors import ConfigError

if TYPE_CHECKING:
    from nnzoo.runs.rundir import RunDir

Batch = tuple[Any, ...]
Section = tuple[str, str]  # (heading, Markdown)


@dataclass
class Step:
    """One training batch's forward pass.

    Attributes:
        loss: the scalar the optimizer minimises (a mean over the batch's ``size`` units).
        size: how many units ``loss`` averages over (examples, or tokens): the epoch's loss is
            the ``size``-weighted mean of the batches' losses.
        counts: integers summed over the epoch (e.g. ``{"correct": 17}``), which
            ``Task.epoch_logs`` turns into the epoch's training metrics.
    """

    loss: Tensor
    size: int
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class Totals:
    """What ``fit`` sums over an epoch's training batches."""

    loss_sum: float = 0.0
    size: int = 0
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, loss: float, step: Step) -> None:
        self.loss_sum += loss * step.size
        self.size += step.size
        for key, value in step.counts.items():
            self.counts[key] = self.counts.get(key, 0) + value


def index_batches(n: int, batch_size: int, generator: torch.Generator | None = None):
    """Row indices of each batch: a seeded shuffle when ``generator`` is given, else in order."""
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def move(batch: Any, device: torch.device | str, pin: bool = False) -> Any:
    """``batch`` with every tensor in it on ``device`` (tuples, lists and dicts followed);
    ``pin``: through pinned memory, copied without blocking (onto a GPU)."""
    if isinstance(batch, Tensor):
        if pin and batch.device.type == "cpu":
            return batch.pin_memory().to(device, non_blocking=True)
        return batch.to(device)
    if isinstance(batch, tuple):
        return (
            type(batch)(*(move(b, device, pin) for b in batch))
            if hasattr(batch, "_fields")
            else (tuple(move(b, device, pin) for b in batch))
        )
    if isinstance(batch, list):
        return [move(b, device, pin) for b in batch]
    if isinstance(batch, dict):
        return {k: move(v, device, pin) for k, v in batch.items()}
    return batch


class Task:
    """Base class. Subclasses set ``name`` and ``metrics`` and write the problem's methods.

    ``metrics`` lists what ``evaluate`` returns, headline metric first; ``train_metrics`` the
    subset ``epoch_logs`` computes from the training batches. The monitor (``train.monitor``)
    may be any of them, with ``val_`` for the validation split.
    """

    name = ""
    metrics: tuple[str, ...] = ("loss",)
    train_metrics: tuple[str, ...] = ("loss",)
    eval_batch_size = 512

    # -- batches ------------------------------------------------------------------------------
    def collate(self, data: Any, index: Tensor) -> Batch:
        """The batch of rows ``index`` of ``data``."""
        raise NotImplementedError

    def batches(
        self, data: Any, batch_size: int, generator: torch.Generator | None = None, shard=None
    ):
        """Batches of ``data``, shuffled when ``generator`` is given; ``shard`` (a function of
        a batch's row indices) keeps this process's rows of each, or None to leave the batch
        out (`nnzoo.engine.runtime.Runtime.shard`)."""
        for index in index_batches(len(data), batch_size, generator):
            if shard is not None:
                index = shard(index)
                if index is None:
                    continue
            yield self.collate(data, index)

    # -- training -----------------------------------------------------------------------------
    def step(self, model: nn.Module, batch: Batch) -> Step:
        """The loss of one training batch (``model`` is in training mode)."""
        raise NotImplementedError

    def epoch_logs(self, totals: Totals) -> dict[str, float]:
        """The epoch's training metrics from the summed batches (``loss`` at least)."""
        return {"loss": totals.loss_sum / totals.size}

    # -- evaluation ---------------------------------------------------------------------------
    def evaluate(self, model: nn.Module, data: Any, device: str = "cpu") -> dict[str, float]:
        """``metrics`` of ``model`` on ``data``, in evaluation mode."""
        raise NotImplementedError

    def test(
        self, model: nn.Module, data: Any, extra: dict[str, Any], device: str = "cpu"
    ) -> dict[str, Any]:
        """The one test evaluation: ``evaluate``'s metrics plus any detail the report shows."""
        return self.evaluate(model, data, device)

    def summed(self, model: nn.Module, data: Any, device: str = "cpu") -> Totals:
        """The batches' losses and counts over ``data`` in evaluation mode, without gradients
        (``step`` on every batch, in order)."""
        model.eval()
        totals = Totals()
        with torch.no_grad():
            for batch in self.batches(data, self.eval_batch_size):
                step = self.step(model, move(batch, device))
                totals.add(step.loss.item(), step)
        return totals

    def evaluation(
        self, result: dict[str, Any], extra: dict[str, Any], out: Path, split: str, title: str
    ) -> str:
        """What ``nnzoo evaluate`` prints of a `test` result on ``split``; anything it draws
        goes into the folder ``out`` (``title`` heads the plots). Here: the numeric metrics."""
        return "\n".join(
            f"{split} {key.replace('_', ' ')} {value:.4f}"
            for key, value in result.items()
            if isinstance(value, int | float)
        )

    def predict_file(
        self, model: nn.Module, path: str | Path, extra: dict[str, Any], sheet: Path | None = None
    ) -> str:
        """``nnzoo predict``: the predictions for the new data in ``path``, as text (CSV);
        ``sheet``: a PNG of them too, where the task draws one (images)."""
        raise ConfigError(
            f"nnzoo predict: the {self.name} task does not predict from a file yet; "
            "use nnzoo evaluate, or the run's report, for its decoded examples"
        )

    def monitors(self) -> list[str]:
        """Every name ``train.monitor`` may take."""
        return [*(f"val_{m}" for m in self.metrics), *self.train_metrics]

    # -- the model and the data ---------------------------------------------------------------
    def model_dims(self, splits: Any) -> dict[str, Any]:
        """``num_features``, ``num_classes`` and ``input_shape`` for `nnzoo.models.create_model`."""
        raise NotImplementedError

    def data_extra(self, splits: Any) -> dict[str, Any]:
        """What a checkpoint keeps to rebuild the model and treat new data as the training data
        was (``model_dims`` and whatever the task needs to decode)."""
        return dict(self.model_dims(splits))

    # -- results and reports ------------------------------------------------------------------
    def results(self, splits: Any) -> dict[str, Any]:
        """Task-specific entries of results.json (e.g. ``class_names``)."""
        return {}

    def headline(self, test: dict[str, Any]) -> str:
        """``test accuracy 0.9123``: the metric the CLI prints for a run."""
        key = self.metrics[0]
        return f"test {key.replace('_', ' ')} {test[key]:.4f}"

    def run_line(self, results: dict[str, Any]) -> str:
        """What ``nnzoo train`` prints of a finished run."""
        final = results["final_epoch_test"][self.metrics[0]]
        return (
            f"{self.headline(results['test'])} at epoch {results['selected_epoch']} "
            f"(picked by {results['monitor']}); final epoch {final:.4f}"
        )

    def summary_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        """Rows for the top of the report's Summary table: the test metrics."""
        return [[f"test {m} (selected epoch)", results["test"][m]] for m in self.metrics]

    def final_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        """Summary rows for the final epoch's model (after the selected epoch's)."""
        m = self.metrics[0]
        return [[f"test {m} (final epoch)", results["final_epoch_test"][m]]]

    def sections(self, run: RunDir, results: dict[str, Any]) -> list[Section]:
        """The task's own report sections; its plots go to ``run.plot(name)``, linked as
        ``run.link(path)``."""
        return []

    def check_results(self, results: dict[str, Any]) -> str | None:
        """What is missing from a results.json's test entries for this task, or None."""
        for key in ("test", "final_epoch_test"):
            for metric in self.metrics:
                if not isinstance(results[key].get(metric), int | float):
                    return f"{key!r} has no {metric}"
        return None
