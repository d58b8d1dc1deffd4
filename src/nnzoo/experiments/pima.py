r"""Jason Brownlee's first Keras project, Pima Indians diabetes, scored three ways:
``nnzoo reproduce pima``.

"Your First Deep Learning Project in Python with Keras Step-by-Step" trains

.. math::
    p(\text{positive} \mid x) = \sigma\big(w_3^\top \operatorname{relu}(W_2
        \operatorname{relu}(W_1 x + b_1) + b_2) + b_3\big), \qquad
    W_1 \in \mathbb{R}^{12 \times 8},\ W_2 \in \mathbb{R}^{8 \times 12}

with binary cross-entropy and Adam (lr 0.001), 150 epochs in batches of 10, on all 768 rows of
the raw (unstandardised) features, and reports its accuracy on those same rows (about 76.9%):
a training-data score, not a held-out one. This recipe measures

(a) that training-data accuracy, by the tutorial's own protocol, for comparison;
(b) held-out accuracy on a seeded stratified split (20% test, the rest to train);
(c) repeated stratified 10-fold cross-validation (3 repeats by default; see
    `nnzoo.experiments.crossval` for the protocol and its intervals),

for the tutorial's network on the raw features (``raw``), the same network after a
StandardScaler fitted on the training rows alone (``standardised``: the raw network is known to
be unstable) and a LogisticRegression in the standardised pipeline, for context. All rows are
reported; none is selected on a test score. Literature: about 76-78% for an MLP under 10-fold
cross-validation. (a) and (b) train one network per seed (as many seeds as CV repeats).

The record (results/pima.json) holds every score; the report (pima.md / .html, the box plot
pima-folds.png) is built from it alone, and ``nnzoo report results/pima.json`` rebuilds it.
``--quick`` (2 repeats × 3 folds × 3 epochs, for tests) writes under runs/pima-quick.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nnzoo.experiments import Experiment, register
from nnzoo.experiments.crossval import (
    QUICK_NOTE,
    Variant,
    accuracy,
    add_cv_arguments,
    cv_cells,
    data_text,
    plot_fold_box,
    pm,
    prepare,
    protocol_text,
    provenance_section,
    record_head,
    summarise,
    write_record_and_report,
)
from nnzoo.report.markdown import table, write_report

NAME = "pima"
HELP = (
    "Brownlee's first Keras project (Pima diabetes): training-data, held-out and repeated "
    "10-fold accuracy"
)
NETWORK = "8 → 12 ReLU → 8 ReLU → 1 sigmoid"
VARIANTS = (
    Variant("raw", f"{NETWORK}, raw features (the tutorial)", False, (12, 8), 76.9),
    Variant("standardised", f"{NETWORK}, standardised", True, (12, 8)),
    Variant("logistic", "LogisticRegression (scikit-learn, C = 1), standardised", True, None),
)
EPOCHS, BATCH_SIZE, REPEATS = 150, 10, 3
TEST_FRACTION = 0.2
PUBLISHED = (
    "Jason Brownlee, *Your First Deep Learning Project in Python with Keras Step-by-Step* "
    "(machinelearningmastery.com): about 76.9% accuracy, evaluated on the training data the "
    "network was fitted on (the tutorial says so itself; it is not a held-out score). "
    "Literature: about 76–78% for an MLP under 10-fold cross-validation on Pima."
)
LITERATURE = (76.0, 78.0)
CV_HEADERS = ["variant", "model", "mean ± sd % (all fold scores)", "95% interval (repeat means)",
              "corrected interval", "repeat means (min–max)"]  # fmt: skip
STEM = "pima"  # the record and report: pima.json, pima.md / .html, pima-folds.png


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This recipe's own flags of ``nnzoo reproduce`` (the shared ones:
    `nnzoo.experiments.options.add_recipe_arguments`)."""
    add_cv_arguments(p, repeats=REPEATS, variants=[v.name for v in VARIANTS])


def reproduce(args: argparse.Namespace) -> int:
    """Score every variant three ways; write the record, then the report built from it."""
    from nnzoo.data.tabular import PIMA

    run = prepare(args, PIMA, VARIANTS, repeats=REPEATS, epochs=EPOCHS, name=NAME)
    from sklearn.model_selection import train_test_split  # prepare checked it is there

    x, y = run.x, run.y  # every row: (N, 8), (N,)
    split = train_test_split(
        range(len(y)), test_size=TEST_FRACTION, stratify=y, random_state=args.seed
    )
    train, test = (sorted(rows) for rows in split)
    seeds = [args.seed + r for r in range(run.budget["repeats"])]
    rows = []
    for variant in run.variants:
        started = time.perf_counter()
        make = run.maker(variant, batch_size=BATCH_SIZE)
        train_accuracy = [accuracy(make(s).fit(x, y), x, y) for s in seeds]  # (a)
        holdout = [accuracy(make(s).fit(x[train], y[train]), x[test], y[test]) for s in seeds]
        scores = run.cross_validate(make, seed=args.seed)  # (c)
        seconds = time.perf_counter() - started
        summary = summarise(scores)
        print(
            f"{variant.name}: training data {statistics.fmean(train_accuracy):.2f} %, held out "
            f"{statistics.fmean(holdout):.2f} %, cross-validated "
            f"{pm(summary['mean'], summary['sd'])} % ({seconds:.0f} s)",
            flush=True,
        )
        rows.append({**asdict(variant), "train_accuracy": train_accuracy,
                     "holdout_accuracy": holdout, "fold_accuracy": scores, "summary": summary,
                     "seconds": seconds})  # fmt: skip
    head = record_head(
        args, run, name=NAME, batch_size=BATCH_SIZE, seeds=seeds,
        test_fraction=TEST_FRACTION, train_rows=len(train), test_rows=len(test),
    )  # fmt: skip
    document = {**head, "published_source": PUBLISHED, "literature": list(LITERATURE),
                "variants": rows}  # fmt: skip
    return write_record_and_report(run.out, STEM, document, write_report_from)


def over_seeds(values: list[float]) -> str:
    """mean ± sd over seeds, and the lowest and highest."""
    sd = statistics.stdev(values) if len(values) > 1 else None
    return f"{pm(statistics.fmean(values), sd)} (min {min(values):.2f}, max {max(values):.2f})"


def binomial_sd(p: float, n: int) -> float:
    """The sd, in percentage points, of an accuracy measured on n examples: sqrt(p(1 - p) / n)."""
    return 100 * math.sqrt(p * (1 - p) / n)


def write_report_from(out: Path, document: dict[str, Any]) -> Path:
    """pima.md / .html and the box plot, from the record alone (``nnzoo report`` calls it)."""
    rows, protocol, data = document["variants"], document["protocol"], document["data"]
    low, high = document["literature"]
    plot = out / f"{STEM}-folds.png"
    plot_fold_box(
        {r["name"]: r["fold_accuracy"] for r in rows},
        plot,
        title=f"Pima: fold accuracies ({protocol['repeats']} × {protocol['folds']}-fold CV)",
    )
    seeds = ", ".join(map(str, protocol["seeds"]))
    published = {
        r["name"]: "—" if r["published"] is None else f"{r['published']:.1f}" for r in rows
    }
    training = [[f"`{r['name']}`", r["label"], published[r["name"]],
                 over_seeds(r["train_accuracy"])] for r in rows]  # fmt: skip
    holdout = [[f"`{r['name']}`", r["label"], over_seeds(r["holdout_accuracy"])] for r in rows]
    crossval = [[f"`{r['name']}`", r["label"], *cv_cells(r["fold_accuracy"])] for r in rows]
    protocol_part = (
        data_text(data)
        + f" The tutorial's recipe for both networks: {NETWORK}, binary cross-entropy, Adam "
        f"(lr {protocol['lr']:g}), {protocol['epochs']} epochs in batches of "
        f"{protocol['batch_size']}, trained by nnzoo's `fit` through "
        "`nnzoo.sklearn.NNZooClassifier`. `raw` is the tutorial (no standardisation); "
        "`standardised` puts a StandardScaler, fitted on the training rows of each fit alone, "
        "in front of the same network; `logistic` is scikit-learn's LogisticRegression in the "
        "standardised pipeline, for context. Every row is reported; none is selected on a test "
        "score." + (QUICK_NOTE if document["quick"] else "")
    )
    sections = [
        ("Protocol", protocol_part),
        (
            "(a) Accuracy on the training data (the tutorial's protocol)",
            "Each network is fitted on all rows and scored on the same rows, as the tutorial "
            "does: **this is not a held-out score** and it flatters the model. One network per "
            f"seed ({seeds}); mean ± sd over seeds.\n\n"
            + table(
                training,
                ["variant", "model", "published % (training data)", "training-data accuracy %"],
            ),
        ),
        (
            "(b) Held-out accuracy",
            f"One stratified split, `train_test_split(test_size={protocol['test_fraction']:g}, "
            f"stratify=y, random_state={protocol['seed']})`: {protocol['train_rows']} rows to "
            f"train, {protocol['test_rows']} held out, scored once per network. One network per "
            f"seed ({seeds}); mean ± sd over seeds (the split is the same for every seed). "
            f"The score of one split of {protocol['test_rows']} rows is itself uncertain: at "
            f"75% accuracy its binomial sd is {binomial_sd(0.75, protocol['test_rows']):.1f} "
            "points, so a lucky or unlucky split moves it further than the seeds do; (c) is "
            "the steadier estimate.\n\n"
            + table(holdout, ["variant", "model", "held-out accuracy %"]),
        ),
        (
            "(c) Repeated stratified cross-validation",
            protocol_text(protocol, data["rows"])
            + f"\n\nLiterature: about {low:g}–{high:g}% for an MLP under 10-fold "
            "cross-validation.\n\n"
            + table(crossval, CV_HEADERS)
            + "\n\nBox: quartiles of the fold scores of each variant (triangle: mean); dots: "
            f"every fold score.\n\n![fold accuracies]({plot.name})",
        ),
        ("Published numbers", document["published_source"]),
        (
            "Differences from the tutorial",
            "- Keras initialises Dense layers Glorot-uniform with zero biases; nnzoo's `mlp` "
            "keeps PyTorch's default Linear initialisation. Keras's Adam uses eps = 1e-7, "
            "PyTorch's 1e-8.\n"
            "- The tutorial trains once, unseeded; here every network is seeded and (a) and (b) "
            "are repeated over seeds, so the spread from the initial weights shows.\n"
            "- sd is the sample sd (n - 1).",
        ),
        ("Seconds per variant", ", ".join(f"`{r['name']}` {r['seconds']:.0f}" for r in rows)),
        provenance_section(document),
    ]
    title = "Pima Indians diabetes (Brownlee's first Keras project): training, held-out and CV"
    return write_report(out / f"{STEM}.md", title, sections)


EXPERIMENT = Experiment(NAME, "recipe", HELP, add_arguments, reproduce,
                        record=f"{STEM}.json", rebuild=write_report_from)  # fmt: skip
register(EXPERIMENT)
