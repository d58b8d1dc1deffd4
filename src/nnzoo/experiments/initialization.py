r"""``nnzoo study init``: zeros, large random and He initial weights of the same network.

deeplearning.ai's course 2, week 1, "Initialization": the 3-layer network [2, 10, 5, 1]
(ReLU, ReLU, sigmoid), full-batch gradient descent at lr 0.01 for 15,000 iterations on two
noisy circles, from three initial weights (b = 0 in every case):

.. math::
    \text{zeros: } W^{[l]} = 0, \qquad
    \text{large random: } W^{[l]} = 10\,\mathrm{randn}(n_l, n_{l-1}), \qquad
    \text{He: } W^{[l]} = \sqrt{2 / n_{l-1}}\;\mathrm{randn}(n_l, n_{l-1})

with ``np.random.seed(3)`` before the draws, as the course's notebook. Zeros never break the
symmetry: every hidden unit of a layer computes the same function and gets the same gradient
(with ReLU all of them are 0 and stay 0), the output is sigmoid(b3) = 1/2 for every point and
the cost stays at :math:`\ln 2`. Large weights saturate the sigmoid (the course's cost starts at
``inf``) and learn slowly; He's scale keeps the variance of the activations and learns the
circles. Published on the course's data (train / test accuracy %): zeros 50 / 50, large random
83 / 86, He 99.33 / 96.

The course's circles (``sklearn.datasets.make_circles(300, noise=.05)`` after
``np.random.seed(1)``, 100 test points after seed 2) are not distributed; nnzoo's ``circles``
(the same formula, factor 0.8) stands in: 300 training, 100 validation and 100 test points, each
part from its own stream. Nothing is selected: the numbers are those of the model after the
last iteration, on train, validation and test.

What it shares with ``nnzoo study regularization`` is in `nnzoo.experiments.scratch_runs`.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from nnzoo.experiments import Experiment, register
from nnzoo.experiments.scratch_runs import (
    ACCURACY_HEADERS,
    accuracy_lines,
    add_scratch_arguments,
    budget_note,
    course_budget,
    draw_study,
    figure_sections,
    labels_of,
    train_study,
)
from nnzoo.report.markdown import table

NAME = "init"
HELP = "zeros, large random and He initial weights of a 3-layer NumPy network on circles"

ITERATIONS = 15_000
LR = 0.01
WIDTHS = [10, 5]  # hidden layers of [2, 10, 5, 1]
DATA = "circles"
DATA_OPTIONS = {"train_size": 300, "val_size": 100, "test_size": 100, "noise": 0.05}

# run key -> (label, scratch-mlp options): the course's three initialisations
RUNS: dict[str, tuple[str, dict[str, Any]]] = {
    "zeros": ("zeros", {"init": "zeros"}),
    "random": ("large random (randn x 10)", {"init": "random", "scale": 10.0, "init_seed": 3}),
    "he": ("He (randn x sqrt(2 / n_prev))", {"init": "he", "init_seed": 3}),
}
# the course's train / test accuracy % on its own circles
PUBLISHED = {"zeros": (50.0, 50.0), "random": (83.0, 86.0), "he": (99.33, 96.0)}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_scratch_arguments(p, "runs/study-init", iterations=ITERATIONS, lr=LR)


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    study = train_study(args, study_dir, RUNS, data=DATA, data_options=DATA_OPTIONS,
                        widths=WIDTHS, iterations=ITERATIONS)  # fmt: skip
    iterations = study.iterations
    title = f"Initialization: [2, 10, 5, 1] on {DATA}, lr {args.lr:g}, {iterations:,} iterations"
    draw_study(study_dir, study, title)
    return {
        "title": title,
        "iterations": iterations,
        "data": {"name": DATA, **DATA_OPTIONS, "info": study.splits.info.get("layout", "")},
        "rows": study.rows,
        "published": PUBLISHED,
    }


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    rows = record["rows"]
    labels = labels_of(RUNS)
    course = course_budget(record, ITERATIONS, LR)
    data = record["data"]
    protocol = (
        f"The course's circles (scikit-learn's `make_circles(n_samples=300, noise=.05)` after "
        "`np.random.seed(1)`, 100 test points after seed 2) are not distributed, so nnzoo's "
        f"`{data['name']}` data stands in: the same formula (two concentric circles, radii 1 and "
        f"0.8, Gaussian noise {data['noise']:g}), {data['train_size']} training, "
        f"{data['val_size']} validation and {data['test_size']} test points, each part drawn from "
        "its own stream. The network is `nnzoo.scratch`'s NumPy `DeepNetwork` [2, 10, 5, 1] "
        "(ReLU, ReLU, sigmoid), trained by nnzoo's training loop as full-batch gradient descent "
        f"(plain SGD, one batch of all {data['train_size']} points, one epoch per iteration), "
        f"lr {record['options']['lr']:g}, {record['iterations']:,} iterations. Random weights are "
        "drawn after `np.random.seed(3)`, as in the course. Nothing is selected: every number is "
        "the model's after the last iteration (the course reports the final model)."
    ) + budget_note(course)
    accuracy = table(
        accuracy_lines(rows, labels, record["published"] if course else None),
        ACCURACY_HEADERS,
        floatfmt=".2f",
    )
    accuracy += (
        "\n\nPublished: the course's notebook on its own circles (train / test). The cost is the "
        "cross-entropy of the last iteration's forward pass, as the course prints it."
    )
    sym_lines = []
    for key, row in rows.items():
        w = row["weights"]
        sym_lines.append(
            [labels[key]]
            + [f"{a} of {b}" for a, b in w["rows"].values()]
            + [f"{a} of {b}" for a, b in w["units"].values()]
            + [" / ".join(f"{v:.3g}" for v in w["max_abs"].values())]
        )
    first = next(iter(rows.values()))["weights"]
    zeros = rows.get("zeros")
    verdict = ""
    if zeros is not None:
        same = all(a == 1 for a, _ in zeros["weights"]["units"].values())
        gap = zeros["costs"][-1][1] - math.log(2)
        verdict = (
            f"\n\nZeros: {'every hidden unit of a layer is identical' if same else 'units differ'} "
            f"after {zeros['iterations']:,} iterations (largest abs(W) "
            f"{max(zeros['weights']['max_abs'].values()):.3g}), and the cost is "
            f"{zeros['costs'][-1][1]:.6f}, ln 2 {'+' if gap >= 0 else '-'} {abs(gap):.1e}: the "
            "output is sigmoid(b3) for every point. With ReLU, Z = 0 gives A = 0 and "
            "relu'(0) = 0, so no weight ever gets a gradient, and b3 only moves by the classes' "
            "imbalance (none here); the network predicts one class everywhere."
        )
    symmetry_text = (
        table(
            sym_lines,
            ["run"]
            + [f"distinct rows of {k}" for k in first["rows"]]
            + [f"distinct units, hidden {k}" for k in first["units"]]
            + ["largest abs(W) per matrix"],
        )
        + verdict
    )
    figures = figure_sections(study_dir, rows, labels)
    return [
        ("Data and protocol", protocol),
        ("Accuracy of the final model", accuracy),
        ("Symmetry: the weights after training", symmetry_text),
        figures["costs"],
        figures["boundaries"],
        figures["runs"],
    ]


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
