"""`nnzoo reproduce sonar --quick` on a tiny generated sonar.csv: the report's numbers are the
fold scores' mean and sd, the folds are stratified, the scaler sees training folds only."""

import math
import statistics

import numpy as np
import pytest
import torch
from scipy import stats

from tests.experiments.crossval_helpers import (
    assert_bad_flags_fail_before_writing,
    assert_report_rebuilds,
    one_line_error,
    row_ids,
    run_quick,
)

PUBLISHED = {"baseline": (81.68, 7.26), "standardised": (84.56, 5.74), "smaller": (86.04, 4.00),
             "larger": (83.14, 4.52), "logistic": (None, None)}  # fmt: skip
WIDTHS = {"baseline": [60], "standardised": [60], "smaller": [30], "larger": [60, 30],
          "logistic": None}  # fmt: skip
PER_CLASS = {"M": 16, "R": 14}
REPEATS, FOLDS = 2, 3  # --quick


def write_sonar(folder, per_class=PER_CLASS, seed=0):
    """A sonar.csv as the original: 60 values in [0, 1] with 4 decimals, then M or R, no
    header; the R rows are brighter in the first ten bands, so there is something to learn.
    Returns x (N, 60) and the labels, as written."""
    rng = np.random.default_rng(seed)
    labels = np.array([c for c, n in per_class.items() for _ in range(n)])
    rng.shuffle(labels)
    x = rng.uniform(0, 0.6, size=(len(labels), 60))
    x[labels == "R", :10] += 0.1
    x = np.round(x, 4)
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(f"{v:.4f}" for v in row) + f",{c}" for row, c in zip(x, labels)]
    (folder / "sonar.csv").write_text("\n".join(lines))
    return x, labels


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    base = tmp_path_factory.mktemp("sonar")
    x, labels = write_sonar(base / "data" / "sonar")
    document, out, spy = run_quick("sonar", base)
    return document, out, spy, x, labels


def row_of(md, name):
    """The Results table's line of variant ``name``."""
    return next(line for line in md.splitlines() if line.startswith(f"| `{name}`"))


def test_the_record_holds_every_fold_score_the_options_seeds_and_provenance(recipe):
    document, out, _, _, _ = recipe
    assert document["recipe"] == "sonar" and document["quick"] is True
    assert {"command", "machine", "torch", "python", "date"} <= set(document)
    assert document["torch"] == torch.__version__
    assert document["command"].startswith("nnzoo reproduce sonar --quick")
    p = document["protocol"]
    assert (p["repeats"], p["folds"], p["epochs"], p["seed"]) == (REPEATS, FOLDS, 3, 0)
    assert (p["batch_size"], p["optimizer"], p["lr"]) == (5, "adam", 0.001)
    assert document["data"]["class_counts"] == PER_CLASS and document["data"]["rows"] == 30
    assert [v["name"] for v in document["variants"]] == list(PUBLISHED)
    for v in document["variants"]:
        assert (v["published"], v["published_sd"]) == PUBLISHED[v["name"]]
        assert v["widths"] == WIDTHS[v["name"]]
        assert v["standardise"] == (v["name"] != "baseline")
        assert np.shape(v["fold_accuracy"]) == (REPEATS, FOLDS)
        assert all(0 <= s <= 1 for r in v["fold_accuracy"] for s in r)
    for name in ("sonar.md", "sonar.html", "sonar-folds.png"):
        assert (out / name).is_file()


def test_the_fold_scores_are_those_scikit_learn_scored_in_order(recipe):
    """Every score() of a held-out fold, in the order cross_val_score ran them, is in the
    record, variant by variant."""
    document, _, spy, x, labels = recipe
    scored = [c[3] for c in spy.of("score")]
    recorded = [s for v in document["variants"] for r in v["fold_accuracy"] for s in r]
    assert recorded == pytest.approx(scored, abs=0)
    # and each score is the accuracy of that pipeline's predictions on its fold
    y = (labels == "R").astype(int)
    for _, pipe, rows, got in spy.of("score"):
        ids = row_ids(x, rows)
        assert got == pytest.approx(np.mean(pipe.predict(rows) == y[ids]))


def test_the_report_numbers_are_the_fold_scores_mean_sd_and_intervals(recipe):
    document, out, _, _, _ = recipe
    md = (out / "sonar.md").read_text()
    for v in document["variants"]:
        flat = [100 * s for r in v["fold_accuracy"] for s in r]
        means = [statistics.fmean(100 * s for s in r) for r in v["fold_accuracy"]]
        mean, sd = float(np.mean(flat)), float(np.std(flat, ddof=1))
        low, high = stats.t.interval(0.95, len(means) - 1, loc=np.mean(means),
                                     scale=stats.sem(means))  # fmt: skip
        n = len(flat)
        half = stats.t.ppf(0.975, n - 1) * sd * math.sqrt(1 / n + 1 / (FOLDS - 1))
        line = row_of(md, v["name"])
        assert f"{mean:.2f} ± {sd:.2f}" in line
        assert f"\\[{low:.2f}, {high:.2f}\\]" in line
        assert f"\\[{mean - half:.2f}, {mean + half:.2f}\\]" in line
        published = PUBLISHED[v["name"]]
        assert (f"{published[0]:.2f} ({published[1]:.2f})" if published[0] else "—") in line
    assert "not independent" in md and "t-interval over the 2 repeat means" in md


def test_the_target_verdict_follows_the_standardised_mean(recipe):
    document, out, _, _, _ = recipe
    md = (out / "sonar.md").read_text()
    v = next(v for v in document["variants"] if v["name"] == "standardised")
    mean = 100 * float(np.mean(v["fold_accuracy"]))
    assert ("**met**" if mean >= 86 else "**MISSED**") in md
    assert f"Got {mean:.2f} ±" in md
    assert "**Quick run**" in md


def test_the_folds_are_stratified_partitions_and_the_scaler_sees_training_folds_only(recipe):
    document, _, spy, x, labels = recipe
    fits = [c for c in spy.calls if c[0] in ("fit", "score")]
    # cross_val_score fits a fold's clone, then scores that same clone on the held-out fold
    pairs = [(fits[i], fits[i + 1]) for i in range(0, len(fits), 2)]
    assert all(f[0] == "fit" and s[0] == "score" and f[1] is s[1] for f, s in pairs)
    assert len(pairs) == len(document["variants"]) * REPEATS * FOLDS
    n = len(labels)
    for k, repeat in enumerate(pairs[i : i + FOLDS] for i in range(0, len(pairs), FOLDS)):
        tests = []
        for (_, _, train_rows, _), (_, _, test_rows, _) in repeat:
            train, test = set(row_ids(x, train_rows)), set(row_ids(x, test_rows))
            assert not train & test and len(train | test) == n
            for c, count in PER_CLASS.items():
                held = sum(labels[i] == c for i in test)
                assert math.floor(count / FOLDS) <= held <= math.ceil(count / FOLDS)
            tests.append(test)
        assert sorted(i for t in tests for i in t) == list(range(n)), f"repeat {k}"
    # the two repeats of a variant are different partitions
    first = [frozenset(row_ids(x, s[2])) for _, s in pairs[:FOLDS]]
    second = [frozenset(row_ids(x, s[2])) for _, s in pairs[FOLDS : 2 * FOLDS]]
    assert set(first) != set(second)
    # every standardising pipeline fits its scaler on the rows it was fitted on, nothing else
    scales = spy.of("scale")
    standardising = [f for f, _ in pairs if "scale" in f[1].named_steps]
    assert len(scales) == len(standardising) == (len(document["variants"]) - 1) * REPEATS * FOLDS
    for (_, scaler, rows, _), (_, pipe, train_rows, _) in zip(scales, standardising):
        assert scaler is pipe.named_steps["scale"]
        np.testing.assert_array_equal(rows, train_rows)
        np.testing.assert_allclose(scaler.mean_, train_rows.mean(axis=0))
    baseline = [f for f, _ in pairs if f[1].named_steps.get("scale") is None]
    assert len(baseline) == REPEATS * FOLDS  # only the raw-features variant has no scaler


def test_the_networks_are_the_tutorials(recipe):
    _, _, spy, _, _ = recipe
    for _, pipe, _, _ in spy.of("score"):
        model = pipe.named_steps["model"]
        if type(model).__name__ == "LogisticRegression":
            continue
        assert (model.epochs, model.batch_size, model.optimizer, model.lr) == (3, 5, "adam", 1e-3)
        linears = [m for m in model.model_.modules() if isinstance(m, torch.nn.Linear)]
        widths = [m.out_features for m in linears]
        assert widths[-1] == 1 and linears[0].in_features == 60  # one sigmoid output
        assert model.model_options["activation"] == "relu"


def test_nnzoo_report_rebuilds_the_same_report_from_the_record(recipe):
    _, out, _, _, _ = recipe
    assert_report_rebuilds(out, "sonar", out / "sonar.json")


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--folds", "15"],
         "--folds 15 is more than the 14 examples of class 'R'; use --folds <= 14"),
        (["--folds", "1"], "--folds 1: expected an integer >= 2"),
        (["--repeats", "0"], "--repeats 0: expected an integer >= 1"),
        (["--epochs", "0"], "--epochs 0: expected an integer >= 1"),
        (["--variants", "huge"], "--variants: unknown variant 'huge'; expected some of: baseline"),
        (["--jobs", "-1"], "--jobs=-1: expected an integer >= 0"),
    ],
)  # fmt: skip
def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys, flags, needle):
    write_sonar(tmp_path / "sonar")
    assert_bad_flags_fail_before_writing(tmp_path, capsys, "sonar", flags, needle)


def test_a_missing_data_file_is_the_readers_one_line(tmp_path, capsys):
    argv = ["reproduce", "sonar", "--quick", "--data-root", str(tmp_path), "--out",
            str(tmp_path / "out")]  # fmt: skip
    err = one_line_error(capsys, argv)
    assert f"{tmp_path / 'sonar'}: missing; put the original sonar.csv" in err
