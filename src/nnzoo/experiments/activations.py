r"""``nnzoo study activations``: the hidden activations of `nnzoo.scratch` and their derivatives.

.. math::
    \sigma(z) = \frac{1}{1 + e^{-z}},\ \sigma' = \sigma (1 - \sigma) \qquad
    \tanh' = 1 - \tanh^2 \qquad
    \mathrm{relu}(z) = \max(0, z),\ \mathrm{relu}' = [z > 0]

.. math::
    \mathrm{leaky}(z) = \begin{cases} z & z > 0 \\ 0.01 z & z \le 0 \end{cases} \qquad
    \mathrm{elu}(z) = \begin{cases} z & z > 0 \\ e^z - 1 & z \le 0 \end{cases}

A study with no training runs: ``nnzoo study activations`` evaluates the functions of
``nnzoo.scratch.ACTIVATIONS`` (the same ones the NumPy networks use) on [-5, 5], draws them and
their derivatives, and tabulates their values and derivatives at a few points (``--points``)
with their properties: the range, whether the output is zero-centred, where the derivative
vanishes (saturation, or ReLU's flat half), and the derivative at 0 (torch.autograd's
convention at a kink: relu'(0) = 0, leaky_relu'(0) = 0.01, elu'(0) = 1). What can be measured
is measured (f(0), f'(0), f' far out on both sides); the range is written out, and checked
against the values in the tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from nnzoo.experiments import Experiment, register
from nnzoo.experiments.options import add_common_arguments, parse_list
from nnzoo.report.markdown import table
from nnzoo.report.plots import plot_functions
from nnzoo.runs.rundir import StudyDir

NAME = "activations"
HELP = "sigmoid, tanh, ReLU, leaky ReLU and ELU and their derivatives: plots and a table"

LOW, HIGH = -5.0, 5.0  # the plotted interval
FAR = 20.0  # where "saturates" is measured: |f'(+-FAR)| < SATURATED
SATURATED = 1e-3
POINTS = "-3,-1,0,1,3"

# name -> (the label in plots and tables, its range)
NAMES: dict[str, tuple[str, str]] = {
    "sigmoid": ("sigmoid", "(0, 1)"),
    "tanh": ("tanh", "(-1, 1)"),
    "relu": ("ReLU", "[0, inf)"),
    "leaky_relu": ("leaky ReLU (0.01)", "(-inf, inf)"),
    "elu": ("ELU (alpha 1)", "(-1, inf)"),
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_common_arguments(p, "runs/study-activations")
    p.add_argument(
        "--points", default=POINTS,
        help=f"where the table gives f and f' (comma-separated; default {POINTS}; write "
        "--points=-2,0,2 when the first is negative)",
    )  # fmt: skip
    p.add_argument(
        "--quick", action="store_true", help="accepted as by every study; nothing is trained"
    )


def properties(f: Any, df: Any) -> dict[str, Any]:
    """What is measured of an activation: f(0), f'(0), f'(-FAR), f'(FAR), whether it is
    zero-centred (odd, f(-z) = -f(z): inputs centred on 0 give outputs centred on 0) and on
    which sides its derivative vanishes."""
    f0, d0 = float(f(np.array(0.0))), float(df(np.array(0.0)))
    left, right = float(df(np.array(-FAR))), float(df(np.array(FAR)))
    z = np.linspace(-FAR, FAR, 401)
    odd = bool(np.allclose(f(-z), -f(z), rtol=0, atol=1e-12))  # g(-z) = -g(z)
    sides = [side for side, d in (("z -> -inf", left), ("z -> +inf", right)) if d < SATURATED]
    return {
        "f0": f0,  # f(0)
        "df0": d0,  # f'(0)
        "df_left": left,  # f'(-FAR)
        "df_right": right,  # f'(FAR)
        "zero_centred": odd,
        "flat": sides,
    }


def run(args: argparse.Namespace, study_dir: Path) -> dict[str, Any]:
    from nnzoo.scratch import ACTIVATIONS

    points = parse_list("--points", args.points, float)
    z = np.linspace(LOW, HIGH, 1001)  # (1001,)
    rows = {}
    values, slopes = {}, {}
    for name, (f, df) in ACTIVATIONS.items():
        label = NAMES.get(name, (name, "?"))[0]
        at = np.array(points)
        rows[name] = {
            "label": label,
            "range": NAMES.get(name, (name, "not written down"))[1],
            "values": [float(v) for v in f(at)],
            "derivatives": [float(v) for v in df(at)],
            **properties(f, df),
        }
        values[label] = (z, f(z))
        slopes[label] = (z, df(z))
    study = StudyDir(study_dir)
    plot_functions(
        {"g(z)": values, "g'(z)": slopes}, study.plot("activations"),
        title="Hidden activations of nnzoo.scratch and their derivatives",
    )  # fmt: skip
    return {"title": "Activations and their derivatives", "points": points, "rows": rows}


def report(study_dir: Path, record: dict[str, Any]) -> list[tuple[str, str]]:
    rows, points = record["rows"], record["points"]
    study = StudyDir(study_dir)
    values = table(
        [
            [
                row["label"],
                *(f"{v:.4f}" for v in row["values"]),
                *(f"{d:.4f}" for d in row["derivatives"]),
            ]
            for row in rows.values()
        ],
        ["g", *(f"g({z:g})" for z in points), *(f"g'({z:g})" for z in points)],
    )
    far = f"{FAR:g}"
    props = table(
        [
            [
                row["label"],
                row["range"],
                "yes" if row["zero_centred"] else "no",
                ", ".join(row["flat"]) or "no",
                f"{row['df0']:g}",
                f"{row['df_left']:.2e} / {row['df_right']:.2e}",
            ]
            for row in rows.values()
        ],
        [
            "g",
            "range",
            "zero-centred",
            "derivative vanishes (saturates)",
            "g'(0)",
            f"g'(-{far}) / g'({far})",
        ],
    )
    notes = (
        f"Measured on nnzoo.scratch's own functions: zero-centred means g is odd, "
        f"g(-z) = -g(z) on [-{far}, {far}] (leaky ReLU and ELU take negative values, so their "
        f"mean output is nearer 0 than ReLU's, but they are not symmetric); the derivative "
        f"vanishes on a side where "
        f"|g'(+-{far})| < {SATURATED:g}. For ReLU that is its flat half (a dead unit), not a "
        "saturation. The derivative at 0 follows torch.autograd at a kink."
    )
    return [
        ("Functions and derivatives on [-5, 5]",
         f"![activations]({study.link(study.plot('activations'))})"),
        ("Values and derivatives", values),
        ("Properties", props + "\n\n" + notes),
    ]  # fmt: skip


EXPERIMENT = register(Experiment(NAME, "study", HELP, add_arguments, run, report))
