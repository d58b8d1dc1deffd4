r"""Jason Brownlee's sonar tutorial (Keras), cross-validated: ``nnzoo reproduce sonar``.

"Binary Classification Tutorial with the Keras Deep Learning Library" classifies the 208 sonar
returns (60 band energies, mine ``M`` or rock ``R``) with a ReLU MLP and one sigmoid output,

.. math::
    p(R \mid x) = \sigma\big(w_2^\top \operatorname{relu}(W_1 x + b_1) + b_2\big), \qquad
    L = -\big[y \log p + (1 - y) \log(1 - p)\big]

trained by Adam (lr 0.001) for 100 epochs in batches of 5, and scores each variant with one
shuffled stratified 10-fold cross-validation (mean % (sd %) over the 10 folds):

==============  ===================================  =============
variant         network, features                    published
==============  ===================================  =============
baseline        60 → 60 → 1, raw                     81.68 (7.26)
standardised    60 → 60 → 1, standardised            84.56 (5.74)
smaller         60 → 30 → 1, standardised            86.04 (4.00)
larger          60 → 60 → 30 → 1, standardised       83.14 (4.52)
==============  ===================================  =============

Here every variant is the tutorial's recipe, unchanged (nothing is tuned on these scores), run
through `nnzoo.sklearn.NNZooClassifier` in a scikit-learn Pipeline and scored by repeated
stratified 10-fold cross-validation (10 repeats by default; see `nnzoo.experiments.crossval`
for the protocol and its intervals), next to a LogisticRegression in the same pipeline and
folds. The target is a standardised mean of at least 86%; the report says whether it is met.
The record (results/sonar.json) holds every fold score; the report (sonar.md / .html, the box
plot sonar-folds.png) is built from it alone, and ``nnzoo report results/sonar.json`` rebuilds
it. ``--quick`` (2 repeats × 3 folds × 3 epochs, for tests) writes under runs/sonar-quick.

About 1.5 s a fit on one thread: the full run (400 network fits) takes about 10 minutes in one
process; ``--jobs`` fits folds side by side.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from nnzoo.experiments import Experiment, register
from nnzoo.experiments.crossval import (
    QUICK_NOTE,
    Variant,
    add_cv_arguments,
    cv_cells,
    data_text,
    interval_text,
    plot_fold_box,
    pm,
    prepare,
    protocol_text,
    provenance_section,
    published_text,
    record_head,
    summarise,
    write_record_and_report,
)
from nnzoo.report.markdown import table, write_report

NAME = "sonar"
HELP = "Brownlee's Keras sonar tutorial: four MLPs, repeated stratified 10-fold cross-validation"
SOURCE = (
    "Jason Brownlee, *Binary Classification Tutorial with the Keras Deep Learning Library* "
    "(machinelearningmastery.com): one shuffled stratified 10-fold cross-validation per "
    "variant, mean % (sd %) over its 10 folds"
)
VARIANTS = (
    Variant("baseline", "60 → 60 ReLU → 1 sigmoid, raw features", False, (60,), 81.68, 7.26),
    Variant("standardised", "60 → 60 ReLU → 1 sigmoid, standardised", True, (60,), 84.56, 5.74),
    Variant("smaller", "60 → 30 ReLU → 1 sigmoid, standardised", True, (30,), 86.04, 4.00),
    Variant(
        "larger", "60 → 60 ReLU → 30 ReLU → 1 sigmoid, standardised", True, (60, 30), 83.14, 4.52
    ),
    Variant("logistic", "LogisticRegression (scikit-learn, C = 1), standardised", True, None),
)
EPOCHS, BATCH_SIZE, REPEATS = 100, 5, 10
TARGET = {"variant": "standardised", "accuracy": 86.0}
STEM = "sonar"  # the record and report: sonar.json, sonar.md / .html, sonar-folds.png


def add_arguments(p: argparse.ArgumentParser) -> None:
    """This recipe's own flags of ``nnzoo reproduce`` (the shared ones:
    `nnzoo.experiments.options.add_recipe_arguments`)."""
    add_cv_arguments(p, repeats=REPEATS, variants=[v.name for v in VARIANTS])


def reproduce(args: argparse.Namespace) -> int:
    """Cross-validate every variant; write the record, then the report built from it."""
    from nnzoo.data.tabular import SONAR

    run = prepare(args, SONAR, VARIANTS, repeats=REPEATS, epochs=EPOCHS, name=NAME)
    rows = []
    for variant in run.variants:
        started = time.perf_counter()
        scores = run.cross_validate(run.maker(variant, batch_size=BATCH_SIZE), seed=args.seed)
        seconds = time.perf_counter() - started
        summary = summarise(scores)
        print(
            f"{variant.name}: {pm(summary['mean'], summary['sd'])} % over {summary['n']} folds, "
            f"95% interval {interval_text(summary['interval'])} ({seconds:.0f} s)",
            flush=True,
        )
        rows.append({**asdict(variant), "fold_accuracy": scores, "summary": summary,
                     "seconds": seconds})  # fmt: skip
    head = record_head(args, run, name=NAME, batch_size=BATCH_SIZE)
    document = {**head, "target": TARGET, "published_source": SOURCE, "variants": rows}
    return write_record_and_report(run.out, STEM, document, write_report_from)


def target_text(document: dict[str, Any]) -> str:
    """Whether the standardised variant's mean reaches the target, in one paragraph."""
    target = document["target"]
    found = [r for r in document["variants"] if r["name"] == target["variant"]]
    if not found:
        return f"Target: `{target['variant']}` ≥ {target['accuracy']:g}%: not run (--variants)."
    s = summarise(found[0]["fold_accuracy"])
    verdict = "**met**" if s["mean"] >= target["accuracy"] else "**MISSED**"
    text = (
        f"Target: `{target['variant']}` mean ≥ {target['accuracy']:g}%. Got "
        f"{pm(s['mean'], s['sd'])}% over {s['n']} fold scores: {verdict}."
    )
    if s["interval"] is not None:
        low, high = s["interval"]
        where = "inside" if low <= target["accuracy"] <= high else "outside"
        text += f" The target is {where} its 95% interval {interval_text(s['interval'])}."
        text += (
            f" One {len(found[0]['fold_accuracy'][0])}-fold cross-validation (the tutorial's "
            f"protocol) of this variant scored {min(s['repeat_means']):.2f}–"
            f"{max(s['repeat_means']):.2f}% over the {len(s['repeat_means'])} repeats."
        )
    return text + (
        " Nothing was tuned to reach it: every variant is the tutorial's recipe as published "
        "(no option was tried on these scores)."
    )


def write_report_from(out: Path, document: dict[str, Any]) -> Path:
    """sonar.md / .html and the box plot, from the record alone (``nnzoo report`` calls it)."""
    rows, protocol = document["variants"], document["protocol"]
    plot = out / f"{STEM}-folds.png"
    plot_fold_box(
        {r["name"]: r["fold_accuracy"] for r in rows},
        plot,
        title=f"Sonar: fold accuracies ({protocol['repeats']} × {protocol['folds']}-fold CV)",
        published={r["name"]: r["published"] for r in rows},
        target=document["target"]["accuracy"],
    )
    table_rows = [
        [f"`{r['name']}`", r["label"], published_text(r), *cv_cells(r["fold_accuracy"]),
         f"{r['seconds']:.0f}"]
        for r in rows
    ]  # fmt: skip
    headers = [
        "variant", "model", "published % (sd)", "mean ± sd % (all fold scores)",
        "95% interval (repeat means)", "corrected interval", "repeat means (min–max)", "s",
    ]  # fmt: skip
    data = document["data"]
    protocol_part = (
        data_text(data)
        + " The tutorial's recipe for every network: ReLU hidden layers, one sigmoid "
        f"output, binary cross-entropy, Adam (lr {protocol['lr']:g}), {protocol['epochs']} "
        f"epochs in batches of {protocol['batch_size']}, trained by nnzoo's `fit` through "
        "`nnzoo.sklearn.NNZooClassifier`; `logistic` is scikit-learn's LogisticRegression in the "
        "same pipeline and folds, for context.\n\n"
        + protocol_text(protocol, data["rows"])
        + (QUICK_NOTE if document["quick"] else "")
    )
    differences = (
        "- The tutorial scores one 10-fold cross-validation per variant; its numbers move by "
        "a few points with the shuffle and the initial weights (compare the spread of the "
        "repeat means above), so the published column is one draw, not a mean over draws.\n"
        "- Keras initialises Dense layers Glorot-uniform with zero biases; nnzoo's `mlp` keeps "
        "PyTorch's default Linear initialisation. Keras's Adam uses eps = 1e-7, PyTorch's 1e-8.\n"
        "- Batches are reshuffled every epoch with a seeded generator; the folds are seeded "
        f"(`--seed {protocol['seed']}`), so the run is repeatable.\n"
        "- sd here is the sample sd (n - 1); the tutorial's NumPy `std()` divides by n, which "
        "makes it smaller by a factor sqrt((n - 1) / n) (5% for its 10 folds)."
    )
    sections = [
        ("Protocol", protocol_part),
        ("Results", table(table_rows, headers)),
        ("Target", target_text(document)),
        ("Published numbers", document["published_source"] + "."),
        (
            "Fold accuracies",
            "Box: quartiles of the fold scores of each variant (triangle: mean); dots: every "
            "fold score; red cross: the published mean; dashed line: the target.\n\n"
            f"![fold accuracies]({plot.name})",
        ),
        ("Differences from the tutorial", differences),
        provenance_section(document),
    ]
    title = "Sonar (Brownlee's Keras tutorial), repeated stratified k-fold cross-validation"
    return write_report(out / f"{STEM}.md", title, sections)


EXPERIMENT = Experiment(NAME, "recipe", HELP, add_arguments, reproduce,
                        record=f"{STEM}.json", rebuild=write_report_from)  # fmt: skip
register(EXPERIMENT)
