r"""``next-step``: predict each element of a sequence from the ones before it; sample new ones.

For a sequence x_1..x_n the model reads x_1..x_{n-1} and scores x_2..x_n. Over the N target
steps of a batch (padding masked out):

.. math::
    \text{categorical:}\quad L = -\frac{1}{N} \sum_{b, t} \log p_\theta(x_{b,t+1} \mid x_{b,\le t})
    \\
    \text{multi-hot (K keys):}\quad L = -\frac{1}{N} \sum_{b, t} \sum_{k=1}^{K}
        \big[x_{b,t+1,k} \log \sigma(z_{btk}) + (1 - x_{b,t+1,k}) \log(1 - \sigma(z_{btk}))\big]

The multi-hot loss is the frame-level negative log-likelihood per time step of
Boulanger-Lewandowski et al. (2012): summed over the keys, every step weighted equally. Both are
in nats. Categorical evaluations also report next-token accuracy.

``sample`` continues prompts one step at a time: a draw from softmax(z / temperature), or an
independent Bernoulli(σ(z_k / temperature)) per key; it re-runs the model on the whole prefix at
each step (exact for any cell; O(T²) steps).

Data: `nnzoo.data.tokens.StepSequences` (x (N, T) ids or (N, T, K) multi-hot, lengths);
the model is called as ``model(x, lengths)`` and returns (B, T, V|K) logits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.data.tokens import StepSequences
from nnzoo.errors import ConfigError
from nnzoo.report.markdown import code
from nnzoo.tasks import TASKS
from nnzoo.tasks.base import Batch, Section, Step, Task, Totals

if TYPE_CHECKING:
    from nnzoo.runs.rundir import RunDir

KINDS = ("categorical", "multi-hot")
SAMPLES = 4  # sampled continuations in a report


@TASKS.register("next-step")
class NextStep(Task):
    """Next-element likelihood, categorical or multi-hot, and sampling.

    Args:
        kind: categorical (token ids) or multi-hot (several keys per step).
        sample_steps: steps each report sample continues its prompt for.
        temperature: of the report's samples.
    """

    name = "next-step"

    def __init__(
        self, kind: str = "categorical", sample_steps: int = 16, temperature: float = 1.0
    ) -> None:
        if kind not in KINDS:
            raise ConfigError(f"task.options.kind={kind!r}: expected categorical or multi-hot")
        if isinstance(sample_steps, bool) or not isinstance(sample_steps, int) or sample_steps < 1:
            raise ConfigError(
                f"task.options.sample_steps={sample_steps!r}: expected an integer >= 1"
            )
        if not (isinstance(temperature, int | float) and temperature > 0):
            raise ConfigError(f"task.options.temperature={temperature!r}: expected a number > 0")
        self.kind, self.sample_steps, self.temperature = kind, sample_steps, float(temperature)
        self.categorical = kind == "categorical"
        self.metrics = ("loss", "accuracy") if self.categorical else ("loss",)
        self.train_metrics = self.metrics

    def collate(self, data: StepSequences, index: Tensor) -> Batch:
        """(x, lengths), trimmed to the batch's longest sequence."""
        lengths = data.lengths[index]
        return data.x[index, : int(lengths.max())], lengths

    def step(self, model: nn.Module, batch: Batch) -> Step:
        x, lengths = batch
        inputs, targets = x[:, :-1], x[:, 1:]  # (B, T-1[, K])
        logits = model(inputs, lengths - 1)  # (B, T-1, V|K)
        steps = torch.arange(targets.shape[1], device=x.device)
        mask = steps[None, :] < (lengths - 1)[:, None]  # (B, T-1): real target steps
        if self.categorical:
            loss = F.cross_entropy(logits[mask], targets[mask])
            correct = int((logits[mask].argmax(-1) == targets[mask]).sum())
        else:
            bce = F.binary_cross_entropy_with_logits(logits[mask], targets[mask], reduction="none")
            loss = bce.sum(-1).mean()  # summed over keys, mean over steps
            correct = 0
        return Step(loss, int(mask.sum()), {"correct": correct})

    def epoch_logs(self, totals: Totals) -> dict[str, float]:
        logs = {"loss": totals.loss_sum / totals.size}
        if self.categorical:
            logs["accuracy"] = totals.counts["correct"] / totals.size
        return logs

    def evaluate(self, model: nn.Module, data: StepSequences, device: str = "cpu"):
        if len(data) == 0:
            return dict.fromkeys(self.metrics, float("nan"))
        return self.epoch_logs(self.summed(model, data, device))

    @torch.no_grad()
    def sample(
        self,
        model: nn.Module,
        prompt: Tensor,
        steps: int,
        *,
        temperature: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Continue ``prompt`` (B, t0) ids or (B, t0, K) multi-hot by ``steps`` sampled steps."""
        model.eval()
        x = prompt
        for _ in range(steps):
            z = model(x)[:, -1].float() / temperature  # (B, V|K)
            if self.categorical:
                nxt = torch.multinomial(z.softmax(-1), 1, generator=generator)  # (B, 1)
            else:
                nxt = torch.bernoulli(torch.sigmoid(z), generator=generator)[:, None]
            x = torch.cat([x, nxt.to(x.dtype)], dim=1)
        return x

    def test(self, model: nn.Module, data: StepSequences, extra: dict[str, Any], device="cpu"):
        """The metrics and a few sampled continuations of test prompts (their first step)."""
        metrics = self.evaluate(model, data, device)
        n = min(SAMPLES, len(data))
        prompt = data.x[:n, :1].to(device)
        gen = torch.Generator(device=device).manual_seed(0)
        drawn = self.sample(model, prompt, self.sample_steps, temperature=self.temperature,
                            generator=gen).cpu()  # fmt: skip
        vocab = extra["vocabulary"]
        if self.categorical:
            texts = [" ".join(vocab[i] for i in row) for row in drawn.tolist()]
        else:
            texts = [" | ".join(",".join(vocab[k] for k in torch.nonzero(step).flatten().tolist())
                                or "-" for step in row) for row in drawn]  # fmt: skip
        return {**metrics, "samples": texts}

    def model_dims(self, splits) -> dict[str, Any]:
        train = splits.train
        if not isinstance(train, StepSequences):
            raise ConfigError(
                f"task next-step: dataset {splits.name!r} has no step sequences; use one such "
                "as cycles, or task classify"
            )
        if train.categorical != self.categorical:
            have = "categorical" if train.categorical else "multi-hot"
            raise ConfigError(
                f"task.options.kind={self.kind!r}: dataset {splits.name!r} is {have}; set "
                f"task.options.kind={have!r}"
            )
        V = len(splits.class_names)
        return {"num_features": V, "num_classes": V, "input_shape": None}

    def data_extra(self, splits) -> dict[str, Any]:
        return {**self.model_dims(splits), "vocabulary": list(splits.class_names)}

    def summary_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        rows = [["test NLL per step, nats (selected epoch)", results["test"]["loss"]]]
        if self.categorical:
            rows.append(["test next-token accuracy (selected epoch)", results["test"]["accuracy"]])
        return rows

    def final_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        return [["test NLL per step, nats (final epoch)", results["final_epoch_test"]["loss"]]]

    def headline(self, test: dict[str, Any]) -> str:
        return f"test NLL {test['loss']:.4f} nats per step"

    def sections(self, run: RunDir, results: dict[str, Any]) -> list[Section]:
        samples = results["test"].get("samples", [])
        body = "\n".join(f"{i + 1}. {code(s)}" for i, s in enumerate(samples))
        heading = (f"Samples (selected epoch; first test step as prompt, "
                   f"temperature {self.temperature:g})")  # fmt: skip
        return [(heading, body or "(none)")]
