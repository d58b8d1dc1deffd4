r"""``classify``: one label per example, scored by cross-entropy and accuracy.

For a batch of B examples with labels y_b and the model's logits z_b:

.. math::
    \text{multi-class (C outputs):}\quad
        L = -\frac{1}{B} \sum_b \log \operatorname{softmax}(z_b)_{y_b}
    \qquad
    \text{binary (one output):}\quad
        L = -\frac{1}{B} \sum_b \big[y_b \log \sigma(z_b) + (1 - y_b) \log(1 - \sigma(z_b))\big]

The binary form (``binary = true`` in ``[task.options]``, for two classes) is the log loss of
Kaggle's two-class competitions: one sigmoid output, the probability of class 1. Accuracy takes
the most probable class (a probability of at least 1/2 for class 1 in the binary case). The test
evaluation adds per-class precision, recall and F1 and the confusion matrix.

Data: a `nnzoo.data.SequenceSet` (x (N, T, F) or (N, ...) images, y (N,), optional lengths);
the model is called as ``model(x, lengths)`` and returns (B, C) logits, or (B, 1) when binary.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nnzoo.errors import ConfigError
from nnzoo.tasks import TASKS
from nnzoo.tasks.base import Batch, Section, Step, Task, Totals, move
from nnzoo.tasks.metrics import classification_report, confusion_matrix, log_loss

if TYPE_CHECKING:
    from nnzoo.runs.rundir import RunDir


@TASKS.register("classify")
class Classify(Task):
    """Multi-class (softmax) or binary (sigmoid, log loss) classification of whole examples.

    Args:
        binary: one sigmoid output and the log loss, for data with exactly two classes.
    """

    name = "classify"
    metrics = ("accuracy", "loss")
    train_metrics = ("accuracy", "loss")

    def __init__(self, binary: bool = False) -> None:
        if not isinstance(binary, bool):
            raise ConfigError(f"task.options.binary={binary!r}: expected true or false")
        self.binary = binary

    # -- batches and the loss -----------------------------------------------------------------
    def collate(self, data, index: Tensor) -> Batch:
        """(x, y, lengths), trimmed to the batch's longest sequence."""
        x, y = data.x[index], data.y[index]  # (B, T, F), (B,)
        lengths = None
        if data.lengths is not None:
            lengths = data.lengths[index]
            x = x[:, : int(lengths.max())]
        return x, y, lengths

    def step(self, model: nn.Module, batch: Batch) -> Step:
        x, y, lengths = batch
        logits = model(x, lengths)  # (B, C), or (B, 1) when binary
        if self.binary:
            logit = logits.squeeze(-1)  # (B,)
            loss = F.binary_cross_entropy_with_logits(logit, y.to(logit.dtype))
            correct = int(((logit >= 0).long() == y).sum())
        else:
            loss = F.cross_entropy(logits, y)
            correct = int((logits.argmax(-1) == y).sum())
        return Step(loss, len(y), {"correct": correct})

    def epoch_logs(self, totals: Totals) -> dict[str, float]:
        return {
            "loss": totals.loss_sum / totals.size,
            "accuracy": totals.counts["correct"] / totals.size,
        }

    # -- predictions and evaluation -----------------------------------------------------------
    @torch.no_grad()
    def predict(self, model: nn.Module, data, device: str = "cpu") -> Tensor:
        """Class probabilities (N, C) in evaluation mode (C = 2 when binary)."""
        model.eval()
        out = []
        for x, _, lengths in self.batches(data, self.eval_batch_size):
            x, lengths = move((x, lengths), device)
            logits = model(x, lengths).float()
            if self.binary:
                p = torch.sigmoid(logits.squeeze(-1))  # (B,)
                out.append(torch.stack([1 - p, p], dim=-1).cpu())
            else:
                out.append(logits.softmax(-1).cpu())
        return torch.cat(out) if out else torch.zeros(0, 0)

    def evaluate(self, model: nn.Module, data, device: str = "cpu") -> dict[str, float]:
        return self.scores(self.predict(model, data, device), data)

    @staticmethod
    def scores(probs: Tensor, data) -> dict[str, float]:
        """{"loss", "accuracy"} of the probabilities (N, C) against ``data.y``."""
        if len(data) == 0:
            return {"loss": float("nan"), "accuracy": float("nan")}
        loss = F.nll_loss(probs.clamp_min(1e-12).log(), data.y).item()
        accuracy = (probs.argmax(-1) == data.y).double().mean().item()
        return {"loss": loss, "accuracy": accuracy}

    def test(self, model: nn.Module, data, extra: dict[str, Any], device: str = "cpu"):
        """Loss, accuracy, per-class report and confusion matrix."""
        probs = self.predict(model, data, device)
        metrics = self.scores(probs, data)
        pred = probs.argmax(-1)
        names = list(extra["class_names"])
        return {
            "loss": metrics["loss"],
            "accuracy": metrics["accuracy"],
            "log_loss": log_loss(probs.numpy(), data.y.numpy()),  # as Kaggle scores it
            "report": classification_report(data.y, pred, names),
            "confusion": confusion_matrix(data.y, pred, len(names)).tolist(),
        }

    def evaluation(self, result, extra, out: Path, split: str, title: str) -> str:
        """Accuracy, the per-class table and the confusion matrix (also drawn into ``out``)."""
        from nnzoo.report.markdown import classification_table, confusion_table
        from nnzoo.report.plots import plot_confusion

        names = list(extra["class_names"])
        png = plot_confusion(
            result["confusion"], names, out / f"confusion-{split}.png", title=title
        )
        return "\n\n".join([
            f"{split} accuracy {result['accuracy']:.4f}",
            classification_table(result["report"]),
            confusion_table(result["confusion"], names),
            f"confusion matrix: {png}",
        ])  # fmt: skip

    def predict_file(
        self, model: nn.Module, path: str | Path, extra: dict[str, Any], sheet: Path | None = None
    ) -> str:
        """``sequence,class,probability``: the most probable class of each sequence in
        ``path`` (a .npz or .csv as the sequences dataset reads, labels not needed), the
        features scaled as the training data's were. A model trained on image files predicts
        image files instead (`predict_images`), one trained on text predicts texts
        (`predict_text`)."""
        from nnzoo.data.base import SequenceSet, restandardize

        if "text" in extra:
            return self.predict_text(model, str(path), extra)
        path = Path(path)
        if "images" in extra:
            return self.predict_images(model, path, extra, sheet)
        from nnzoo.data.sequences import read_unlabelled

        names, num_features = self.checked_extra(extra)
        x, lengths, ids = read_unlabelled(path, num_features)
        data = SequenceSet(x.float(), torch.zeros(len(x), dtype=torch.long), lengths)
        probs = self.predict(model, restandardize(data, extra.get("standardize")))
        lines = ["sequence,class,probability"]
        for seq_id, row in zip(ids, probs):
            k = int(row.argmax())
            lines.append(f"{seq_id},{names[k]},{float(row[k]):.6f}")
        return "\n".join(lines) + "\n"

    def predict_images(
        self, model: nn.Module, path: Path, extra: dict[str, Any], sheet: Path | None = None
    ) -> str:
        """Predictions for image files, decoded as the training images were (size, resize).

        One file: a sentence, ``cat.7.jpg: I am 99.1% sure this is a dog``. A folder: a CSV of
        every image in it, Kaggle's submission format for two classes (``id,label``: the id in
        the file name and the probability of class 1, e.g. dog) and ``id,class,probability``
        for more; files that are not images are skipped with a warning. ``sheet``: also a
        contact sheet PNG of the images with their predictions.
        """
        from nnzoo.data.base import DataError, SequenceSet
        from nnzoo.data.images import decode_image, image_files, kaggle_id

        names, _ = self.checked_extra({**extra, "num_features": 1})
        size, resize = extra["images"]["size"], extra["images"]["resize"]
        path = Path(path)
        files = [path] if path.is_file() else image_files(path)
        try:
            pixels = np.stack([decode_image(f, size, resize) for f in files])  # (N, 3, S, S)
        except (OSError, ValueError) as e:
            raise DataError(
                f"{path}: cannot decode it as an image ({type(e).__name__}); give a JPEG or PNG "
                "file, or a folder of them"
            ) from None
        x = torch.from_numpy(pixels).float() / 255.0
        data = SequenceSet(x, torch.zeros(len(x), dtype=torch.long))
        probs = self.predict(model, data)  # (N, C)
        best = probs.argmax(-1)
        if sheet is not None:
            from nnzoo.report.plots import plot_image_gallery

            captions = [
                f"{f.name}: {names[int(k)]} {100 * float(p[k]):.1f}%"
                for f, p, k in zip(files, probs, best)
            ]
            plot_image_gallery(x, captions, sheet, title=f"Predictions for {path.name}")
        if path.is_file():
            k = int(best[0])
            return f"{path.name}: I am {100 * float(probs[0, k]):.1f}% sure this is a {names[k]}\n"
        if self.binary:
            rows = [f"{kaggle_id(f.name)},{float(p[1]):.6f}" for f, p in zip(files, probs)]
            return "id,label\n" + "\n".join(rows) + "\n"
        rows = [
            f"{kaggle_id(f.name)},{names[int(k)]},{float(p[k]):.6f}"
            for f, p, k in zip(files, probs, best)
        ]
        return "id,class,probability\n" + "\n".join(rows) + "\n"

    def predict_text(self, model: nn.Module, text: str, extra: dict[str, Any]) -> str:
        r"""The class of a text, tokenized and encoded as the training text was.

        ``text`` is the text itself, e.g. ``"what a great phone"`` -> ``"what a great phone":
        positive (97.1%)``, or a ``.txt`` file of one text a line -> ``line,class,probability``
        CSV. An empty text (no tokens) is an error; a text of words the vocabulary does not
        hold is predicted from its ``<unk>``\ s, with a note saying so on stderr.
        """
        import os
        import sys

        from nnzoo.data.base import DataError, SequenceSet
        from nnzoo.data.sentences import read_utf8_lines
        from nnzoo.data.text import UNK, Vocabulary, encode_batch

        names, size = self.checked_extra(extra)
        hint = "train the run again, or point at another run's checkpoint"
        vocab = Vocabulary.from_dict(
            extra["text"].get("vocabulary"), where="the checkpoint's vocabulary", hint=hint
        )
        if len(vocab) != size:
            raise DataError(
                f"the checkpoint's vocabulary has {len(vocab)} tokens but its model reads "
                f"{size}; {hint}"
            )
        path = Path(text)
        is_file = text.endswith(".txt") and os.path.isfile(text)  # False on a too-long name
        if text.endswith(".txt") and not is_file and " " not in text:
            print(f"note: no file {text}; predicted it as a text", file=sys.stderr)
        texts = read_utf8_lines(path, what="a text file") if is_file else [text]
        ids, lengths = encode_batch(
            texts, vocab, max_length=extra["text"].get("max_length"), allow_empty=False
        )
        for t, row, n in zip(texts, ids, lengths):
            if bool((row[:n] == UNK).all()):
                print(
                    f"note: no word of {t!r} is in the vocabulary; predicted from <unk> alone",
                    file=sys.stderr,
                )
        data = SequenceSet(ids, torch.zeros(len(ids), dtype=torch.long), lengths)
        probs = self.predict(model, data)  # (N, C)
        if not is_file:
            k = int(probs[0].argmax())
            return f"{text!r}: {names[k]} ({100 * float(probs[0, k]):.1f}%)\n"
        rows = [
            f"{i},{names[int(p.argmax())]},{float(p.max()):.6f}" for i, p in enumerate(probs, 1)
        ]
        return "line,class,probability\n" + "\n".join(rows) + "\n"

    def checked_extra(self, extra: dict[str, Any]) -> tuple[list[str], int]:
        """The class names and feature count a checkpoint's ``extra`` holds, or one line saying
        which is missing or malformed (checkpoints older than the digest are not verified)."""
        names, features = extra.get("class_names"), extra.get("num_features")
        redo = "train the run again, or point at another run's checkpoint"
        if not (isinstance(names, list) and len(names) >= 2):
            raise ConfigError(
                f"the checkpoint holds no class names (a {type(names).__name__}); {redo}"
            )
        if not (isinstance(features, int) and features >= 1):
            raise ConfigError(
                f"the checkpoint holds no feature count (a {type(features).__name__}); {redo}"
            )
        return [str(n) for n in names], features

    # -- the model and the data ---------------------------------------------------------------
    def model_dims(self, splits) -> dict[str, Any]:
        if self.binary and splits.num_classes != 2:
            raise ConfigError(
                f"task.options.binary=true: {splits.name} has {splits.num_classes} classes; "
                "binary classification needs exactly 2"
            )
        return {
            "num_features": splits.num_features,
            "num_classes": 1 if self.binary else splits.num_classes,
            "input_shape": list(splits.train.x.shape[1:]),
        }

    def data_extra(self, splits) -> dict[str, Any]:
        extra = {
            "class_names": list(splits.class_names),
            **self.model_dims(splits),
            "standardize": splits.info.get("standardize", {}),
        }
        if "image_size" in splits.info:  # image files: how new ones are decoded
            extra["images"] = {"size": splits.info["image_size"], "resize": splits.info["resize"]}
        if splits.vocabulary is not None:  # text: how new text is encoded
            extra["text"] = {
                "vocabulary": splits.vocabulary.as_dict(),
                "max_length": splits.info.get("max_length"),
            }
        return extra

    def results(self, splits) -> dict[str, Any]:
        return {"class_names": list(splits.class_names)}

    # -- the report ---------------------------------------------------------------------------
    def summary_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        rows = [["test accuracy (selected epoch)", results["test"]["accuracy"]]]
        if isinstance(results["test"].get("log_loss"), float):  # runs before it: none
            rows.append(["test log loss, Kaggle's (selected epoch)", results["test"]["log_loss"]])
        return rows

    def final_rows(self, results: dict[str, Any]) -> list[list[Any]]:
        return [["test accuracy (final epoch)", results["final_epoch_test"]["accuracy"]]]

    def sections(self, run: RunDir, results: dict[str, Any]) -> list[Section]:
        from nnzoo.report.markdown import classification_table, confusion_table
        from nnzoo.report.plots import plot_confusion

        test = results["test"]
        confusion = plot_confusion(
            test["confusion"],
            results["class_names"],
            run.plot("confusion"),
            title=f"test, epoch {results['selected_epoch']}",
        )
        return [
            ("Test metrics (selected epoch)", classification_table(test["report"])),
            (
                "Confusion matrix (test, selected epoch; rows true, columns predicted)",
                confusion_table(test["confusion"], results["class_names"])
                + f"\n\n![confusion matrix]({run.link(confusion)})",
            ),
        ]

    def check_results(self, results: dict[str, Any]) -> str | None:
        if not isinstance(results.get("class_names"), list):
            return "no 'class_names' entry"
        for key in ("test", "final_epoch_test"):
            if not isinstance(results[key].get("accuracy"), int | float):
                return f"{key!r} has no accuracy"
        if "confusion" not in results["test"] or "report" not in results["test"]:
            return "'test' has no confusion matrix or report"
        return None
