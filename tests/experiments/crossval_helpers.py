"""Shared machinery of the cross-validation recipes' tests (sonar, pima): a spy on the
scikit-learn calls, the generated rows each call saw, a quick run, and the one-line failures."""

import json

import numpy as np
import pytest
import torch
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from nnzoo.cli import main


class Spy:
    """Records every Pipeline.fit, Pipeline.score, Pipeline.predict and StandardScaler.fit
    (the rows each saw, the result) without changing what they do."""

    def __init__(self, monkeypatch):
        self.calls = []
        fit, score, predict = Pipeline.fit, Pipeline.score, Pipeline.predict
        scale = StandardScaler.fit

        def spy_fit(pipe, X, y=None, **kw):
            self.calls.append(("fit", pipe, np.array(X, dtype=float), None))
            return fit(pipe, X, y, **kw)

        def spy_score(pipe, X, y=None, **kw):
            got = score(pipe, X, y, **kw)
            self.calls.append(("score", pipe, np.array(X, dtype=float), got))
            return got

        def spy_predict(pipe, X, **kw):
            got = predict(pipe, X, **kw)
            self.calls.append(("predict", pipe, np.array(X, dtype=float), got))
            return got

        def spy_scale(scaler, X, y=None, **kw):
            self.calls.append(("scale", scaler, np.array(X, dtype=float), None))
            return scale(scaler, X, y, **kw)

        monkeypatch.setattr(Pipeline, "fit", spy_fit)
        monkeypatch.setattr(Pipeline, "score", spy_score)
        monkeypatch.setattr(Pipeline, "predict", spy_predict)
        monkeypatch.setattr(StandardScaler, "fit", spy_scale)

    def of(self, kind):
        return [c for c in self.calls if c[0] == kind]


def row_ids(x_all, rows):
    """The index in x_all of each row of ``rows`` (each generated row is unique)."""
    index = {tuple(r): i for i, r in enumerate(x_all)}
    return [index[tuple(r)] for r in rows]


def run_quick(name, base):
    """``nnzoo reproduce NAME --quick --jobs 1`` on the data under ``base/data``, writing to
    ``base/out``, with a `Spy` on every fit; torch's thread count is put back after. Returns
    (the record, the out folder, the spy)."""
    threads = torch.get_num_threads()
    with pytest.MonkeyPatch.context() as mp:
        spy = Spy(mp)
        argv = ["reproduce", name, "--quick", "--jobs", "1", "--data-root",
                str(base / "data"), "--out", str(base / "out")]  # fmt: skip
        assert main(argv) == 0
    torch.set_num_threads(threads)
    document = json.loads((base / "out" / f"{name}.json").read_text())
    return document, base / "out", spy


def one_line_error(capsys, argv):
    """``nnzoo ARGV`` exits 2 with exactly one line on stderr; that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def assert_bad_flags_fail_before_writing(tmp_path, capsys, name, flags, needle):
    """``nnzoo reproduce NAME --quick ... FLAGS`` on the data under ``tmp_path`` fails in one
    line holding ``needle`` and makes no out folder."""
    argv = ["reproduce", name, "--quick", "--data-root", str(tmp_path), "--out",
            str(tmp_path / "out"), *flags]  # fmt: skip
    assert needle in one_line_error(capsys, argv)
    assert not (tmp_path / "out").exists()


def assert_report_rebuilds(out, stem, source):
    """``nnzoo report SOURCE`` rebuilds STEM.md and .html, the same to the byte, and the box
    plot STEM-folds.png, from the record alone."""
    md, html, plot = out / f"{stem}.md", out / f"{stem}.html", out / f"{stem}-folds.png"
    written, page = md.read_text(), html.read_text()
    for path in (md, html, plot):
        path.unlink()
    assert main(["report", str(source)]) == 0
    assert md.read_text() == written and html.read_text() == page
    assert plot.is_file()
