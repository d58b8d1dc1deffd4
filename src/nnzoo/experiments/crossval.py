r"""Repeated stratified k-fold cross-validation of small tables, as the sonar and pima recipes
run it: scikit-learn pipelines, scored fold by fold, summarised with intervals.

For R repeats of k folds, fold score :math:`a_{rj}` (accuracy on the held-out fold j of repeat
r), repeat mean :math:`\bar a_r = \frac{1}{k}\sum_j a_{rj}` and grand mean
:math:`\bar a = \frac{1}{R}\sum_r \bar a_r` (equal to the mean of all kR fold scores):

.. math::
    s = \operatorname{sd}(a_{rj}), \qquad
    \text{repeat-mean interval:}\quad \bar a \pm t_{0.975,\,R-1}\,
        \frac{\operatorname{sd}(\bar a_r)}{\sqrt{R}}

    \text{corrected resampled } t \text{ (Nadeau and Bengio 2003):}\quad
        \bar a \pm t_{0.975,\,kR-1}\, s\,\sqrt{\frac{1}{kR} + \frac{n_\text{test}}{n_\text{train}}}

The fold scores of one repeat are not independent (the k training sets share (k-2)/(k-1) of
their rows), so a t-interval over the kR fold scores would be far too narrow. The repeat means
are closer to independent (each is a fresh partition and a fresh initial network) but share
every row of the table, so the repeat-mean interval measures how much the cross-validation
estimate moves with the partition and the seed, not how accuracy on new data would vary; the
corrected resampled t-interval (with :math:`n_\text{test}/n_\text{train} = 1/(k-1)`) allows
for the overlap of training sets and is the wider, more conservative of the two.

Every model is a `sklearn.pipeline.Pipeline` (a ``StandardScaler`` step where a variant
standardises, so that the scaler is fitted on each training fold alone) whose last step is an
`nnzoo.sklearn.NNZooClassifier` or a ``LogisticRegression``. The folds are those of
``RepeatedStratifiedKFold(n_splits=k, n_repeats=R, random_state=seed)``; repeat r is scored by
``cross_val_score`` with its own network seed ``seed + r``, so that both the partition and the
initial weights change between repeats.

scikit-learn and matplotlib are imported when used, so that importing the recipes (which the
experiment registry does for every command) stays cheap.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import shlex
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from nnzoo.errors import ConfigError
from nnzoo.report.markdown import write_atomic
from nnzoo.utils.environment import provenance

# The tutorials' Keras optimiser: Adam with its default learning rate.
OPTIMIZER = {"optimizer": "adam", "lr": 1e-3}
LOSS = "binary cross-entropy (one sigmoid output)"
QUICK_NOTE = (
    "\n\n**Quick run**: a tiny budget to check that the recipe runs; these numbers are not the "
    "recipe's."
)
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Variant:
    """One row of a recipe's table.

    Attributes:
        name: its name for ``--variants`` and in the record.
        label: what it is, for the report.
        standardise: a StandardScaler step before the model (fitted on each training fold).
        widths: the hidden widths of the ReLU MLP; None: scikit-learn's LogisticRegression.
        published: the tutorial's number, percent (None: none published).
        published_sd: its sd over folds, percent, where the tutorial gives one.
    """

    name: str
    label: str
    standardise: bool
    widths: tuple[int, ...] | None
    published: float | None = None
    published_sd: float | None = None


def make_pipeline(variant: Variant, *, epochs: int, batch_size: int, seed: int) -> Any:
    """The variant as a fresh (unfitted) scikit-learn Pipeline: ``[scale,] model``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from nnzoo.sklearn import NNZooClassifier

    if variant.widths is None:
        model = LogisticRegression(max_iter=1000)
    else:
        options = {"widths": list(variant.widths), "activation": "relu"}
        model = NNZooClassifier(
            "mlp", options, epochs=epochs, batch_size=batch_size, seed=seed, **OPTIMIZER
        )
    steps = [("scale", StandardScaler())] if variant.standardise else []
    return Pipeline([*steps, ("model", model)])


# -- flags -------------------------------------------------------------------------------------


def add_cv_arguments(p: argparse.ArgumentParser, *, repeats: int, variants: Sequence[str]) -> None:
    """--repeats, --folds, --seed, --quick and --variants."""
    p.add_argument(
        "--repeats", type=int, help=f"repeats of the k-fold cross-validation (default {repeats})"
    )
    p.add_argument("--folds", type=int, help="folds k per repeat (default 10)")
    p.add_argument(
        "--seed", type=int, default=0,
        help="seeds the folds (repeat r's network gets seed + r; default 0)",
    )  # fmt: skip
    p.add_argument(
        "--quick", action="store_true",
        help="a tiny budget (2 repeats x 3 folds x 3 epochs) to check that it runs",
    )  # fmt: skip
    p.add_argument("--variants", help=f"comma-separated subset of: {', '.join(variants)}")


def pick_variants(text: str | None, variants: Sequence[Variant]) -> list[Variant]:
    """The variants ``--variants`` names, in the recipe's order; all when not given."""
    from nnzoo.experiments.options import parse_list

    if text is None:
        return list(variants)
    names = [v.name for v in variants]
    wanted = parse_list("--variants", text)
    unknown = [w for w in wanted if w not in names]
    if unknown:
        raise ConfigError(
            f"--variants: unknown variant {unknown[0]!r}; expected some of: {', '.join(names)}"
        )
    return [v for v in variants if v.name in wanted]


def check_budget(args: argparse.Namespace, *, repeats: int, epochs: int) -> dict[str, int]:
    """repeats, folds and epochs from the flags (``--quick``: 2, 3 and 3), each checked."""
    budget = {
        "repeats": args.repeats if args.repeats is not None else (2 if args.quick else repeats),
        "folds": args.folds if args.folds is not None else (3 if args.quick else 10),
        "epochs": args.epochs if args.epochs is not None else (3 if args.quick else epochs),
    }
    least = {"repeats": 1, "folds": 2, "epochs": 1}
    for name, value in budget.items():
        if value < least[name]:
            raise ConfigError(f"--{name} {value}: expected an integer >= {least[name]}")
    return budget


def check_folds(folds: int, y: np.ndarray, class_names: Sequence[str], source: str) -> None:
    """One line when a class has fewer examples than folds (stratified folds need one each)."""
    counts = np.bincount(y, minlength=len(class_names))
    smallest = int(np.argmin(counts))
    if folds > counts[smallest]:
        raise ConfigError(
            f"{source}: --folds {folds} is more than the {counts[smallest]} examples of class "
            f"{class_names[smallest]!r}; use --folds <= {counts[smallest]}"
        )


def start_threads(args: argparse.Namespace) -> tuple[int, int]:
    """Torch threads per fit (``--threads``; 0: one, the fastest for these tiny networks) and
    processes side by side (``--jobs``; 0: the usable cores over those threads), checked."""
    from nnzoo.engine.runtime import set_threads
    from nnzoo.experiments.options import check_common
    from nnzoo.runs.pool import auto_jobs

    if args.jobs == 0 and args.threads >= 0:
        args.jobs = auto_jobs(args.threads or 1)
    check_common(args)
    return set_threads(args.threads or 1), args.jobs


# -- a recipe's run ---------------------------------------------------------------------------


class Prepared(NamedTuple):
    """What every recipe's run starts from, once its flags and its table are checked.

    Attributes:
        variants: the variants ``--variants`` picked, in the recipe's order.
        budget: ``repeats``, ``folds`` and ``epochs`` (`check_budget`).
        threads: torch threads per fit.
        jobs: fits side by side.
        out: the folder of the record and the report.
        x: (N, F) every row's features.
        y: (N,) class indices.
        data: what was read (`read_rows`), for the record.
    """

    variants: list[Variant]
    budget: dict[str, int]
    threads: int
    jobs: int
    out: Path
    x: np.ndarray
    y: np.ndarray
    data: dict[str, Any]

    def maker(self, variant: Variant, *, batch_size: int) -> Callable[[int], Any]:
        """seed -> a fresh pipeline of ``variant`` with the budget's epochs."""

        def make(seed: int) -> Any:
            epochs = self.budget["epochs"]
            return make_pipeline(variant, epochs=epochs, batch_size=batch_size, seed=seed)

        return make

    def cross_validate(self, make: Callable[[int], Any], *, seed: int) -> list[list[float]]:
        """`cross_validate` of ``make`` on every row, with the budget's repeats and folds."""
        return cross_validate(
            make, self.x, self.y, folds=self.budget["folds"], repeats=self.budget["repeats"],
            seed=seed, jobs=self.jobs, threads=self.threads,
        )  # fmt: skip


def prepare(
    args: argparse.Namespace,
    table: Any,
    variants: Sequence[Variant],
    *,
    repeats: int,
    epochs: int,
    name: str,
) -> Prepared:
    """Check the flags, start the threads and read every row of ``table``, in that order, so
    that a bad flag or a missing file fails before anything is fitted or written (and, first,
    that scikit-learn is installed: `nnzoo.sklearn` says how in one line).

    Args:
        args: the parsed ``nnzoo reproduce NAME`` flags (``--data-root`` is filled in).
        table: the `nnzoo.data.tabular` table to read.
        variants: the recipe's variants.
        repeats: the recipe's default repeats.
        epochs: the recipe's default epochs.
        name: the recipe's name; ``--quick`` writes under ``runs/NAME-quick``, else
            ``results`` (``--out`` overrides both).
    """
    import nnzoo.sklearn  # noqa: F401  (one line naming `pip install scikit-learn` without it)
    from nnzoo.experiments.options import fill_data_root

    picked = pick_variants(args.variants, variants)
    budget = check_budget(args, repeats=repeats, epochs=epochs)
    threads, jobs = start_threads(args)
    out = Path(args.out or (f"runs/{name}-quick" if args.quick else "results"))
    fill_data_root(args)
    x, y, data = read_rows(table, args.data_root)  # every row: (N, F), (N,)
    check_folds(budget["folds"], y, table.class_names, data["source"])
    return Prepared(picked, budget, threads, jobs, out, x, y, data)


def record_head(
    args: argparse.Namespace,
    run: Prepared,
    *,
    name: str,
    batch_size: int,
    seeds: Sequence[int] | None = None,
    **protocol: Any,
) -> dict[str, Any]:
    """The record's first keys: recipe, provenance, command, quick, data and the protocol
    (budget, seed[, seeds], batch size, optimiser, loss, ``protocol``, jobs and threads)."""
    seeding = {"seed": args.seed} if seeds is None else {"seed": args.seed, "seeds": list(seeds)}
    return {
        "recipe": name,
        **provenance(),
        "command": "nnzoo " + shlex.join(args.argv),
        "quick": args.quick,
        "data": run.data,
        "protocol": {**run.budget, **seeding, "batch_size": batch_size, **OPTIMIZER,
                     "loss": LOSS, **protocol, "jobs": run.jobs, "threads": run.threads},
    }  # fmt: skip


def write_record_and_report(
    out: Path,
    stem: str,
    document: dict[str, Any],
    rebuild: Callable[[Path, dict[str, Any]], Path],
) -> int:
    """Write ``out/STEM.json``, then the report ``rebuild`` builds from it; say both. Returns 0."""
    record = write_record(out, stem, document)
    print(f"wrote {rebuild(out, document)} and {record}")
    return 0


# -- scoring -----------------------------------------------------------------------------------


def cross_validate(
    make: Callable[[int], Any],
    x: np.ndarray,
    y: np.ndarray,
    *,
    folds: int,
    repeats: int,
    seed: int,
    jobs: int = 1,
    threads: int = 1,
) -> list[list[float]]:
    """Fold accuracies, ``[repeat][fold]``, of repeated stratified k-fold cross-validation.

    Args:
        make: seed -> a fresh estimator; repeat r is scored with ``make(seed + r)``.
        x: (N, F) features.
        y: (N,) class indices.
        folds: k.
        repeats: R.
        seed: the ``random_state`` of the folds, and the first network seed.
        jobs: folds fitted side by side (joblib's loky processes; 1: in this process).
        threads: torch threads in each of those processes.
    """
    from joblib import parallel_config
    from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

    cv = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    splits = list(cv.split(x, y))  # repeat r: splits[r * folds:(r + 1) * folds]
    scores = []
    with parallel_config(backend="loky", inner_max_num_threads=threads):
        for r in range(repeats):
            mine = splits[r * folds : (r + 1) * folds]
            got = cross_val_score(make(seed + r), x, y, cv=mine, n_jobs=jobs if jobs > 1 else None)
            scores.append([float(s) for s in got])
    return scores


def t_quantile(df: int) -> float:
    """The two-sided `CONFIDENCE` quantile of Student's t with ``df`` degrees of freedom."""
    from scipy.stats import t

    return float(t.ppf(0.5 + CONFIDENCE / 2, df))


def summarise(scores: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Mean and sd over every fold score, the repeat means and both intervals, in percent.

    Args:
        scores: fold accuracies (fractions), ``[repeat][fold]``.

    Returns:
        ``mean``, ``sd`` (None for one fold score), ``n`` (fold scores), ``repeat_means``,
        ``interval`` (the t-interval over the repeat means; None for one repeat) and
        ``corrected_interval`` (Nadeau and Bengio's; None for one fold score).
    """
    flat = [100 * s for repeat in scores for s in repeat]
    folds, repeats = len(scores[0]), len(scores)
    repeat_means = [statistics.fmean(100 * s for s in repeat) for repeat in scores]
    mean = statistics.fmean(flat)
    sd = statistics.stdev(flat) if len(flat) > 1 else None
    interval = None
    if repeats > 1:
        half = t_quantile(repeats - 1) * statistics.stdev(repeat_means) / math.sqrt(repeats)
        interval = [mean - half, mean + half]
    corrected = None
    if sd is not None and folds > 1:
        half = t_quantile(len(flat) - 1) * sd * math.sqrt(1 / len(flat) + 1 / (folds - 1))
        corrected = [mean - half, mean + half]
    return {"mean": mean, "sd": sd, "n": len(flat), "repeat_means": repeat_means,
            "interval": interval, "corrected_interval": corrected}  # fmt: skip


def accuracy(estimator: Any, x: np.ndarray, y: np.ndarray) -> float:
    """Accuracy of a fitted estimator on (x, y), percent."""
    return 100 * float(np.mean(estimator.predict(x) == y))


# -- report pieces -----------------------------------------------------------------------------


def pm(mean: float, sd: float | None) -> str:
    """``84.56 ± 5.74``; the mean alone (``(one score: no sd)``) without an sd."""
    return f"{mean:.2f} (one score: no sd)" if sd is None else f"{mean:.2f} ± {sd:.2f}"


def interval_text(interval: Sequence[float] | None) -> str:
    return "—" if interval is None else f"[{interval[0]:.2f}, {interval[1]:.2f}]"


def cv_cells(scores: Sequence[Sequence[float]]) -> list[str]:
    """A report row's cross-validation cells: mean ± sd, both intervals, the repeat means'
    range."""
    s = summarise(scores)
    return [
        pm(s["mean"], s["sd"]), interval_text(s["interval"]),
        interval_text(s["corrected_interval"]),
        f"{min(s['repeat_means']):.2f}–{max(s['repeat_means']):.2f}",
    ]  # fmt: skip


def published_text(variant: dict[str, Any]) -> str:
    if variant.get("published") is None:
        return "—"
    sd = variant.get("published_sd")
    return f"{variant['published']:.2f}" + ("" if sd is None else f" ({sd:.2f})")


def protocol_text(budget: dict[str, Any], n_rows: int) -> str:
    """The cross-validation protocol and what its intervals mean, for a report."""
    k, r = budget["folds"], budget["repeats"]
    test = n_rows / k
    return (
        f"Repeated stratified {k}-fold cross-validation: {r} repeat(s) × {k} folds = {k * r} "
        f"fold scores (each fold holds out about {test:.0f} of the {n_rows} rows, every class in "
        f"proportion), folds drawn by `RepeatedStratifiedKFold(random_state={budget['seed']})`, "
        f"the network of repeat r seeded with {budget['seed']} + r. Every model is a "
        "scikit-learn Pipeline scored by `cross_val_score`; where a row standardises, the "
        "StandardScaler is a step of the pipeline, so it is fitted on each training fold alone "
        "(no statistics of the held-out fold leak into training).\n\n"
        "mean ± sd are over all fold scores. The fold scores are **not independent** (the "
        "training sets of one repeat overlap), so no interval is computed from them as if they "
        f"were. **95% interval** is a t-interval over the {r} repeat means (t with {r - 1} "
        "degrees of freedom): each repeat is a fresh partition and a fresh initial network, but "
        "all share the same rows, so it says how much the cross-validation estimate moves with "
        "the partition and the seed, not how accuracy on new data would vary. **corrected "
        "interval** is the corrected resampled t-interval of Nadeau and Bengio (2003) over "
        f"all {k * r} fold scores, sd × sqrt(1/{k * r} + 1/{k - 1}), which allows for the "
        "overlap of training sets and is the more conservative of the two."
    )


def plot_fold_box(
    scores: dict[str, Sequence[Sequence[float]]],
    path: str | os.PathLike,
    *,
    title: str,
    published: dict[str, float | None] | None = None,
    target: float | None = None,
) -> Path:
    """A box plot of the fold accuracies (percent) of each row, every fold score drawn as a dot.

    Args:
        scores: label -> fold accuracies (fractions), ``[repeat][fold]``.
        path: the PNG to write (atomically).
        title: the plot's title.
        published: label -> a published mean (percent), drawn as a red cross.
        target: a horizontal dashed line at this accuracy (percent).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = list(scores)
    data = [[100 * s for repeat in scores[label] for s in repeat] for label in labels]
    fig = Figure(figsize=(max(5.0, 1.5 * len(labels) + 2), 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.boxplot(data, tick_labels=labels, showmeans=True, showfliers=False)  # dots show all
    rng = np.random.default_rng(0)  # the same jitter every time: rebuilt plots are identical
    for i, values in enumerate(data, 1):
        ax.scatter(i + rng.uniform(-0.15, 0.15, len(values)), values, s=8, alpha=0.35, color="k")
    marks = [(i, (published or {}).get(label)) for i, label in enumerate(labels, 1)]
    marks = [(i, value) for i, value in marks if value is not None]
    if marks:
        xs, ys = zip(*marks)
        ax.scatter(xs, ys, marker="x", s=80, color="tab:red", zorder=3, label="published")
    if target is not None:
        line = {"linestyle": "--", "color": "tab:green", "linewidth": 1}
        ax.axhline(target, **line, label=f"target {target:g}%")
    ax.set_ylabel("fold accuracy (%)")
    ax.set_title(title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best")
    ax.tick_params(axis="x", labelrotation=15)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return write_atomic(path, buffer.getvalue())


def read_rows(table: Any, data_root: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict]:
    """Every row of a `nnzoo.data.tabular` table under the data root, as its file has them:
    x (N, F) float64, y (N,) class indices, and what was read (for the record)."""
    from nnzoo.data.tabular import find_file, read_table

    path = find_file(table, Path(data_root) / table.name)
    x, y = read_table(table, path)
    counts = {c: int((y == i).sum()) for i, c in enumerate(table.class_names)}
    info = {"source": str(path), "rows": len(y), "features": int(x.shape[1]),
            "class_counts": counts}  # fmt: skip
    return x, y, info


def write_record(out: Path, stem: str, document: dict[str, Any]) -> Path:
    """``out/STEM.json``, the record a report is rebuilt from."""
    out.mkdir(parents=True, exist_ok=True)
    return write_atomic(out / f"{stem}.json", json.dumps(document, indent=2) + "\n")


def data_text(data: dict[str, Any]) -> str:
    """What `read_rows` read, in one sentence."""
    counts = ", ".join(f"{n} {c}" for c, n in data["class_counts"].items())
    return (
        f"Data: `{data['source']}`, all {data['rows']} rows ({counts}), {data['features']} "
        "features."
    )


def provenance_section(document: dict[str, Any]) -> tuple[str, str]:
    """Command, machine, versions, date, and the processes × threads that ran the fits."""
    from nnzoo.experiments.sections import recipe_provenance

    protocol = document["protocol"]
    processes = f"{protocol['jobs']} × {protocol['threads']}"
    return recipe_provenance(document, **{"jobs × threads": processes})
