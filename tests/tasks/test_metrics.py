import numpy as np
import pytest
import torch

from nnzoo.errors import ConfigError
from nnzoo.tasks.metrics import accuracy, classification_report, confusion_matrix

# A small example worked out by hand. Class c is never predicted (precision 0/0 -> 0.0).
#   cm = [[2, 1, 0],    tp = [2, 2, 0], predicted = [2, 4, 0], support = [3, 2, 1]
#         [0, 2, 0],    precision = [1, 1/2, 0], recall = [2/3, 1, 0]
#         [0, 1, 0]]    f1 = 2tp / (2tp + fp + fn) = [4/5, 2/3, 0]
Y_TRUE = [0, 0, 0, 1, 1, 2]
Y_PRED = [0, 1, 0, 1, 1, 1]
NAMES = ["a", "b", "c"]


@pytest.fixture
def skm():
    return pytest.importorskip("sklearn.metrics")


# (seed, number of classes, classes with no true samples)
CASES = [(0, 2, ()), (1, 6, (2, 5)), (2, 11, (0,))]
SKLEARN_KEYS = {"precision": "precision", "recall": "recall", "f1": "f1-score"}


def random_labels(seed, n, num_classes, missing=()):
    """Random labels in [0, num_classes) that never use the classes in ``missing``."""
    g = torch.Generator().manual_seed(seed)
    allowed = torch.tensor([c for c in range(num_classes) if c not in missing])
    return allowed[torch.randint(len(allowed), (n,), generator=g)]


def test_confusion_matrix_by_hand():
    cm = confusion_matrix(torch.tensor(Y_TRUE), torch.tensor(Y_PRED), 3)
    assert cm.dtype == torch.int64
    assert cm.tolist() == [[2, 1, 0], [0, 2, 0], [0, 1, 0]]


def test_classification_report_by_hand():
    report = classification_report(torch.tensor(Y_TRUE), torch.tensor(Y_PRED), NAMES)
    expected_classes = {
        "a": (1.0, 2 / 3, 4 / 5, 3),
        "b": (1 / 2, 1.0, 2 / 3, 2),
        "c": (0.0, 0.0, 0.0, 1),
    }
    assert list(report["classes"]) == NAMES
    for name, (p, r, f1, support) in expected_classes.items():
        row = report["classes"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((p, r, f1))
        assert row["support"] == support
    assert report["accuracy"] == pytest.approx(4 / 6)
    assert report["support"] == 6
    macro, weighted = report["macro"], report["weighted"]
    assert (macro["precision"], macro["recall"], macro["f1"]) == pytest.approx(
        (1 / 2, 5 / 9, 22 / 45)
    )
    assert (weighted["precision"], weighted["recall"], weighted["f1"]) == pytest.approx(
        (2 / 3, 2 / 3, 28 / 45)
    )
    assert macro["support"] == weighted["support"] == 6


def test_class_absent_from_both_scores_zero_and_counts_in_macro():
    report = classification_report([0, 1], [0, 1], ["x", "y", "unused"])
    assert report["classes"]["unused"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert report["macro"]["f1"] == pytest.approx(2 / 3)
    assert report["weighted"]["f1"] == 1.0


def test_numpy_lists_and_any_shape_give_the_same_results():
    expected = confusion_matrix(torch.tensor(Y_TRUE), torch.tensor(Y_PRED), 3)
    as_numpy = confusion_matrix(np.array(Y_TRUE), np.array(Y_PRED, dtype=np.int32), 3)
    as_lists = confusion_matrix(Y_TRUE, Y_PRED, 3)
    as_2d = confusion_matrix(torch.tensor(Y_TRUE).view(2, 3), torch.tensor(Y_PRED).view(2, 3), 3)
    for cm in (as_numpy, as_lists, as_2d):
        assert torch.equal(cm, expected)
    assert classification_report(np.array(Y_TRUE), np.array(Y_PRED), NAMES) == (
        classification_report(torch.tensor(Y_TRUE), torch.tensor(Y_PRED), NAMES)
    )


@pytest.mark.parametrize(("seed", "num_classes", "missing"), CASES)
def test_confusion_matrix_matches_sklearn(skm, seed, num_classes, missing):
    y_true = random_labels(seed, 300, num_classes, missing)
    y_pred = random_labels(seed + 100, 300, num_classes)
    ours = confusion_matrix(y_true, y_pred, num_classes)
    theirs = skm.confusion_matrix(y_true.numpy(), y_pred.numpy(), labels=range(num_classes))
    np.testing.assert_array_equal(ours.numpy(), theirs)


@pytest.mark.parametrize(("seed", "num_classes", "missing"), CASES)
def test_classification_report_matches_sklearn(skm, seed, num_classes, missing):
    """Classes in ``missing`` have no true samples; some classes may also never be predicted."""
    y_true = random_labels(seed, 200, num_classes, missing)
    y_pred = random_labels(seed + 100, 200, num_classes, missing[:1])
    names = [f"class {i}" for i in range(num_classes)]
    ours = classification_report(y_true, y_pred, names)
    theirs = skm.classification_report(
        y_true.numpy(),
        y_pred.numpy(),
        labels=list(range(num_classes)),
        target_names=names,
        output_dict=True,
        zero_division=0.0,
    )
    rows = {**ours["classes"], "macro avg": ours["macro"], "weighted avg": ours["weighted"]}
    for name, row in rows.items():
        ref = theirs[name]
        assert row["support"] == ref["support"], name
        for ours_key, ref_key in SKLEARN_KEYS.items():
            assert row[ours_key] == pytest.approx(ref[ref_key], abs=1e-12), (name, ours_key)
    assert ours["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-12)


def test_accuracy_from_labels_and_logits():
    assert accuracy(torch.tensor(Y_PRED), torch.tensor(Y_TRUE)) == pytest.approx(4 / 6)
    assert accuracy(np.array(Y_PRED), np.array(Y_TRUE)) == pytest.approx(4 / 6)
    logits = torch.nn.functional.one_hot(torch.tensor(Y_PRED), 3).float() * 2 - 1  # (6, 3)
    assert accuracy(logits, torch.tensor(Y_TRUE)) == pytest.approx(4 / 6)
    assert accuracy(logits.numpy(), Y_TRUE) == pytest.approx(4 / 6)
    # Per-step logits (B, T, C) against per-step labels (B, T).
    assert accuracy(logits.view(2, 3, 3), torch.tensor(Y_TRUE).view(2, 3)) == pytest.approx(4 / 6)


def test_accuracy_matches_sklearn(skm):
    logits = torch.randn(500, 7)
    y = torch.randint(7, (500,))
    expected = skm.accuracy_score(y.numpy(), logits.argmax(1).numpy())
    assert accuracy(logits, y) == pytest.approx(expected, abs=1e-12)


def test_label_out_of_range_is_named():
    with pytest.raises(ConfigError, match=r"y_pred: class index 3 is outside \[0, 3\)"):
        confusion_matrix([0, 1, 2], [0, 1, 3], 3)
    with pytest.raises(ConfigError, match=r"y_true: class index -1 is outside \[0, 2\)"):
        confusion_matrix([-1, 1], [0, 1], 2)


def test_bad_inputs_fail_with_one_line():
    with pytest.raises(ConfigError, match=r"y_pred: expected as many labels as y_true \(3\)"):
        confusion_matrix([0, 1, 2], [0, 1], 3)
    with pytest.raises(ConfigError, match="y_true: expected integer class indices, got torch.f"):
        confusion_matrix(torch.tensor([0.0, 1.0]), [0, 1], 2)
    with pytest.raises(ConfigError, match="y_true: no labels"):
        classification_report([], [], ["a"])
    with pytest.raises(ConfigError, match="class_names: names must be unique"):
        classification_report([0], [0], ["a", "a"])
    with pytest.raises(ConfigError, match="num_classes: expected a positive integer, got 0"):
        confusion_matrix([0], [0], 0)
    with pytest.raises(ConfigError, match=r"logits_or_pred: expected scores \(4, 'C'\)"):
        accuracy(torch.zeros(3), torch.zeros(4, dtype=torch.long))
