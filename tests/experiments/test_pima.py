"""`nnzoo reproduce pima --quick` on a tiny generated Pima CSV: (a) is scored on the training
rows, (b) on a stratified held-out split, (c) on stratified folds; the scaler sees training
rows only, and the report's numbers are the record's."""

import math
import statistics

import numpy as np
import pytest
from scipy import stats

from tests.experiments.crossval_helpers import (
    assert_bad_flags_fail_before_writing,
    assert_report_rebuilds,
    one_line_error,
    row_ids,
    run_quick,
)

PER_CLASS = {"0": 40, "1": 20}  # negative, positive
REPEATS, FOLDS = 2, 3  # --quick
VARIANTS = ["raw", "standardised", "logistic"]


def write_pima(folder, per_class=PER_CLASS, seed=0):
    """A pima-indians-diabetes.csv as the original: 8 numbers (integers, BMI with one
    decimal, the pedigree with three), then 0 or 1, no header; positives have a higher
    glucose. Returns x (N, 8) and the labels (0 / 1)."""
    rng = np.random.default_rng(seed)
    y = np.array([int(c) for c, n in per_class.items() for _ in range(n)])
    rng.shuffle(y)
    n = len(y)
    x = np.column_stack([
        rng.integers(0, 12, n), rng.integers(80, 160, n) + 25 * y, rng.integers(50, 90, n),
        rng.integers(0, 50, n), rng.integers(0, 300, n), np.round(rng.uniform(20, 45, n), 1),
        np.round(rng.uniform(0.1, 1.5, n), 3), rng.integers(21, 70, n),
    ]).astype(float)  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    lines = [",".join(f"{v:g}" for v in row) + f",{c}" for row, c in zip(x, y)]
    (folder / "pima-indians-diabetes.csv").write_text("\n".join(lines))
    return x, y


@pytest.fixture(scope="module")
def recipe(tmp_path_factory):
    base = tmp_path_factory.mktemp("pima")
    x, y = write_pima(base / "data" / "pima-indians-diabetes")
    document, out, spy = run_quick("pima", base)
    # the calls of each variant: R fits + predicts (a), R fits + predicts (b), R * k fit + score
    per_variant = 4 * REPEATS + 2 * REPEATS * FOLDS
    calls = [c for c in spy.calls if c[0] != "scale"]
    assert len(calls) == per_variant * len(VARIANTS)
    by_variant = {v: calls[i * per_variant : (i + 1) * per_variant] for i, v in enumerate(VARIANTS)}
    return document, out, spy, by_variant, x, y


def test_the_record_holds_every_score_the_options_and_provenance(recipe):
    document, out, _, _, _, _ = recipe
    assert document["recipe"] == "pima" and document["quick"] is True
    assert {"command", "machine", "torch", "python", "date"} <= set(document)
    p = document["protocol"]
    assert (p["repeats"], p["folds"], p["epochs"], p["batch_size"]) == (REPEATS, FOLDS, 3, 10)
    assert p["seeds"] == [0, 1] and p["test_fraction"] == 0.2
    assert (p["train_rows"], p["test_rows"]) == (48, 12)
    assert document["data"]["class_counts"] == {"negative": 40, "positive": 20}
    assert [v["name"] for v in document["variants"]] == VARIANTS
    assert [v["published"] for v in document["variants"]] == [76.9, None, None]
    assert document["literature"] == [76.0, 78.0]
    for v in document["variants"]:
        assert len(v["train_accuracy"]) == len(v["holdout_accuracy"]) == REPEATS
        assert np.shape(v["fold_accuracy"]) == (REPEATS, FOLDS)
    for name in ("pima.md", "pima.html", "pima-folds.png"):
        assert (out / name).is_file()


def test_a_is_the_accuracy_on_the_training_rows(recipe):
    document, _, _, by_variant, x, y = recipe
    for v in document["variants"]:
        calls = by_variant[v["name"]][: 2 * REPEATS]
        got = []
        for (fit, pipe, fit_rows, _), (predict, pipe2, rows, pred) in zip(calls[::2], calls[1::2]):
            assert (fit, predict) == ("fit", "predict") and pipe is pipe2
            assert sorted(row_ids(x, fit_rows)) == sorted(row_ids(x, rows)) == list(range(len(y)))
            got.append(100 * np.mean(pred == y[row_ids(x, rows)]))
        assert v["train_accuracy"] == pytest.approx(got)
        seeds = [getattr(c[1].named_steps["model"], "seed", None) for c in calls[::2]]
        assert seeds == ([0, 1] if v["name"] != "logistic" else [None, None])


def test_b_is_scored_on_a_stratified_held_out_split_the_same_for_every_seed(recipe):
    document, _, _, by_variant, x, y = recipe
    splits = set()
    for v in document["variants"]:
        calls = by_variant[v["name"]][2 * REPEATS : 4 * REPEATS]
        got = []
        for (_, pipe, fit_rows, _), (_, pipe2, rows, pred) in zip(calls[::2], calls[1::2]):
            train, test = row_ids(x, fit_rows), row_ids(x, rows)
            assert pipe is pipe2 and not set(train) & set(test)
            assert sorted(train + test) == list(range(len(y)))
            assert np.bincount(y[test]).tolist() == [8, 4]  # 20% of each class
            splits.add(frozenset(test))
            got.append(100 * np.mean(pred == y[test]))
        assert v["holdout_accuracy"] == pytest.approx(got)
    assert len(splits) == 1


def test_c_fold_scores_are_scored_on_stratified_folds(recipe):
    document, _, _, by_variant, x, y = recipe
    for v in document["variants"]:
        calls = by_variant[v["name"]][4 * REPEATS :]
        assert [c[0] for c in calls] == ["fit", "score"] * (REPEATS * FOLDS)
        assert [c[3] for c in calls[1::2]] == pytest.approx(
            [s for r in v["fold_accuracy"] for s in r], abs=0
        )
        for r in range(REPEATS):
            tests = []
            for fit, score in zip(calls[2 * r * FOLDS : 2 * (r + 1) * FOLDS : 2],
                                  calls[2 * r * FOLDS + 1 : 2 * (r + 1) * FOLDS : 2]):  # fmt: skip
                train, test = row_ids(x, fit[2]), row_ids(x, score[2])
                assert fit[1] is score[1] and not set(train) & set(test)
                for c, count in enumerate(PER_CLASS.values()):
                    held = int(np.sum(y[test] == c))
                    assert math.floor(count / FOLDS) <= held <= math.ceil(count / FOLDS)
                tests += test
            assert sorted(tests) == list(range(len(y)))


def test_the_scaler_is_fitted_on_the_training_rows_only(recipe):
    _, _, spy, by_variant, _, _ = recipe
    scales = spy.of("scale")
    for v in VARIANTS:  # only the tutorial's row has no scaler
        fits = [c for c in by_variant[v] if c[0] == "fit"]
        assert all(("scale" in c[1].named_steps) == (v != "raw") for c in fits)
    fits = [c for v in VARIANTS for c in by_variant[v] if c[0] == "fit"]
    standardising = [c for c in fits if "scale" in c[1].named_steps]
    assert len(scales) == len(standardising) == 2 * (2 * REPEATS + REPEATS * FOLDS)
    for (_, scaler, rows, _), (_, pipe, train_rows, _) in zip(scales, standardising):
        assert scaler is pipe.named_steps["scale"]
        np.testing.assert_array_equal(rows, train_rows)
        np.testing.assert_allclose(scaler.mean_, train_rows.mean(axis=0))


def test_the_report_numbers_are_the_records(recipe):
    document, out, _, _, _, _ = recipe
    md = (out / "pima.md").read_text()
    a, b, c = (md.split("## (a)")[1].split("## (b)")[0], md.split("## (b)")[1].split("## (c)")[0],
               md.split("## (c)")[1].split("## Published")[0])  # fmt: skip
    assert "**this is not a held-out score**" in a
    for v in document["variants"]:
        for section, values in ((a, v["train_accuracy"]), (b, v["holdout_accuracy"])):
            line = next(ln for ln in section.splitlines() if ln.startswith(f"| `{v['name']}`"))
            text = f"{statistics.fmean(values):.2f} ± {statistics.stdev(values):.2f}"
            assert f"{text} (min {min(values):.2f}, max {max(values):.2f})" in line
        flat = [100 * s for r in v["fold_accuracy"] for s in r]
        means = [100 * float(np.mean(r)) for r in v["fold_accuracy"]]
        low, high = stats.t.interval(0.95, REPEATS - 1, loc=np.mean(means), scale=stats.sem(means))
        line = next(ln for ln in c.splitlines() if ln.startswith(f"| `{v['name']}`"))
        assert f"{np.mean(flat):.2f} ± {np.std(flat, ddof=1):.2f}" in line
        assert f"\\[{low:.2f}, {high:.2f}\\]" in line
    assert "| `raw` " in a and "| 76.9 " in a


def test_nnzoo_report_rebuilds_the_same_report_from_the_record(recipe):
    _, out, _, _, _, _ = recipe
    assert_report_rebuilds(out, "pima", out)  # the folder: its one record


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--folds", "21"],
         "--folds 21 is more than the 20 examples of class 'positive'; use --folds <= 20"),
        (["--repeats", "-1"], "--repeats -1: expected an integer >= 1"),
        (["--folds", "0"], "--folds 0: expected an integer >= 2"),
        (["--variants", "raw,raw"], "--variants='raw,raw': 'raw' is listed twice"),
    ],
)  # fmt: skip
def test_bad_flags_are_one_line_and_exit_2(tmp_path, capsys, flags, needle):
    write_pima(tmp_path / "pima-indians-diabetes")
    assert_bad_flags_fail_before_writing(tmp_path, capsys, "pima", flags, needle)


def test_a_missing_data_file_is_the_readers_one_line(tmp_path, capsys):
    (tmp_path / "pima-indians-diabetes").mkdir()
    argv = ["reproduce", "pima", "--quick", "--data-root", str(tmp_path)]
    folder = tmp_path / "pima-indians-diabetes"
    assert f"{folder / 'pima-indians-diabetes.csv'}: missing" in one_line_error(capsys, argv)


@pytest.mark.parametrize("recipe", ["pima", "sonar"])
def test_without_scikit_learn_the_recipes_say_what_to_install(
    tmp_path, monkeypatch, capsys, recipe
):
    import sys

    from nnzoo.cli import main

    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)  # as if scikit-learn were not installed
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.delitem(sys.modules, "nnzoo.sklearn", raising=False)
    code = main(["reproduce", recipe, "--quick", "--data-root", str(tmp_path), "--out",
                 str(tmp_path / "out")])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "pip install scikit-learn" in err[0]
    assert not (tmp_path / "out").exists()
