"""The folder layouts: every name spelled here once more, by hand, as the README documents it."""

import ast
import re
from pathlib import Path

import pytest

import nnzoo
from nnzoo.config import ModelConfig, RunConfig, TrainConfig
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.runs.rundir import Entry, Folder, RunDir, SearchDir, StudyDir

CONFIG = RunConfig(model=ModelConfig(cell="gru", hidden=5), train=TrainConfig(epochs=1, seed=4))


def test_a_run_folder_layout(tmp_path):
    run = RunDir(tmp_path / "run")
    p = tmp_path / "run"
    assert run.config == p / "config.toml"
    assert (run.metrics, run.metrics_csv) == (p / "metrics.jsonl", p / "metrics.csv")
    assert (run.results, run.provenance) == (p / "results.json", p / "provenance.json")
    assert run.checkpoint("best") == p / "checkpoints" / "best.pt"
    assert run.checkpoint() == p / "checkpoints" / "last.pt"
    assert (run.curves, run.plot("confusion")) == (
        p / "plots" / "curves.png", p / "plots" / "confusion.png"
    )  # fmt: skip
    assert (run.report, run.tensorboard, run.evaluation) == (
        p / "report.md", p / "tensorboard", p / "evaluation"
    )  # fmt: skip
    assert RunDir.checkpoints.name == "checkpoints"  # the class gives the name itself


def test_study_search_and_comparison_folders(tmp_path):
    study = StudyDir(tmp_path)
    assert (study.record, study.report) == (tmp_path / "study.json", tmp_path / "report.md")
    assert study.run("lr0.1").curves == tmp_path / "runs" / "lr0.1" / "plots" / "curves.png"
    assert (
        isinstance(study.run("x"), RunDir) and study.plot("loss") == tmp_path / "plots" / "loss.png"
    )
    search = SearchDir(tmp_path)
    assert (search.settings, search.focus, search.journal) == (
        tmp_path / "search.json", tmp_path / "focus.json", tmp_path / "search.journal"
    )  # fmt: skip
    assert search.trial(3).metrics == tmp_path / "trials" / "3" / "metrics.jsonl"
    assert Folder(tmp_path).plot("val_loss") == tmp_path / "plots" / "val_loss.png"
    assert repr(study) == f"StudyDir({str(tmp_path)!r})"


def test_links_are_relative_with_slashes(tmp_path):
    study = StudyDir(tmp_path / "s")
    assert study.link(study.run("lr1").curves) == "runs/lr1/plots/curves.png"
    assert study.link(study.plot("val_accuracy")) == "plots/val_accuracy.png"
    run = RunDir(Path("relative") / "run")
    assert run.link(run.checkpoint("best")) == "checkpoints/best.pt"


def test_holds_and_finished_read_config_and_results(tmp_path):
    run = RunDir(tmp_path)
    assert not run.holds(CONFIG) and run.finished(CONFIG) is None and run.read_history() == []
    run.prepare(CONFIG)
    assert run.holds(CONFIG) and not run.holds(CONFIG.replace(model=ModelConfig(hidden=6)))
    assert run.finished(CONFIG) is None  # no results.json yet
    (tmp_path / "results.json").write_text('{"test": {"accuracy": 0.5}}\n')
    assert run.finished(CONFIG) == {"test": {"accuracy": 0.5}}
    (tmp_path / "results.json").write_text("[]\n")
    with pytest.raises(NnzooError, match=r"results.json: expected a JSON object; train the run"):
        run.finished(CONFIG)
    with pytest.raises(ConfigError, match="holds a run with a different config"):
        run.prepare(CONFIG.replace(model=ModelConfig(hidden=6)))


def test_the_history_is_checked_line_by_line(tmp_path):
    run = RunDir(tmp_path)
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n\n{"epoch": 2}\n')
    assert run.read_history() == [{"epoch": 1}, {"epoch": 2}]
    (tmp_path / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2\n')
    with pytest.raises(ConfigError, match=r"metrics.jsonl: line 2 is not valid JSON"):
        run.read_history(ConfigError)


# -- nothing else spells the names ---------------------------------------------------------------
SRC = Path(nnzoo.__file__).parent
FOLDER_CLASSES = (RunDir, StudyDir, SearchDir)
NAMES = (
    {
        value.name
        for cls in FOLDER_CLASSES
        for klass in cls.__mro__
        for value in vars(klass).values()
        if isinstance(value, Entry)
    }
    | {RunDir("x").checkpoint(w).name for w in ("best", "last")}
    | {RunDir("x").curves.name}
)
FILES = {name for name in NAMES if "." in name}  # config.toml, best.pt, curves.png, ...
FOLDERS = NAMES - FILES  # checkpoints, plots, runs, trials, ...
ROOTS = {StudyDir.runs.name}  # runs/... at the start may be the top-level output root too
PATH_TOKEN = re.compile(r"(\]\(|`)?([\w.{}<>-]+(?:/[\w.{}<>-]+)+)")


def _text(node: ast.expr) -> str | None:
    """A string literal's text; an f-string's, its fields as ``{}``; else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return None


def _not_code(tree: ast.Module) -> set[int]:
    """ids of the strings that are not code of their own: docstrings (and other string
    statements) and the literal pieces of an f-string (read with the f-string)."""
    ids = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr) and _text(node.value) is not None:
            ids.add(id(node.value))
        if isinstance(node, ast.JoinedStr):
            ids.update(id(v) for v in node.values if isinstance(v, ast.Constant))
    return ids


def spelled_names(source: str) -> dict[int, str]:
    """Where ``source`` builds a folder path from a layout name: {line: what}.

    Code only: ``path / "metrics.jsonl"`` (a quoted name or folder as a path part),
    ``"checkpoints/best.pt"`` or a link ``](plots/x.png)`` (a name inside a path), a quoted file
    name anywhere (``"results.json"``), and ``x.name == "checkpoints"``. Not code that builds a
    path: docstrings, comments, prose that mentions a name (``"the folder has no
    provenance.json"``, a Markdown code span ```checkpoints/last.pt```), and the top-level
    ``runs/...`` output root (not a study's runs/).
    """
    tree = ast.parse(source)
    skip = _not_code(tree)
    found: dict[int, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            for side in (node.left, node.right):
                text = _text(side)
                if text is not None and NAMES & set(text.split("/")):
                    found.setdefault(node.lineno, f"/ {text!r}")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(s, ast.Attribute) and s.attr == "name" for s in sides):
                for side in sides:
                    if _text(side) in NAMES:
                        found.setdefault(node.lineno, f".name == {_text(side)!r}")
        elif id(node) not in skip and (text := _text(node)) is not None:
            if isinstance(node, ast.Constant) and text in FILES:
                found.setdefault(node.lineno, repr(text))
            for before, token in PATH_TOKEN.findall(text):
                first, *rest = token.split("/")
                if before == "`":
                    continue
                leading = FOLDERS if before else FOLDERS - ROOTS
                if FILES & {first, *rest} or FOLDERS & set(rest) or first in leading:
                    found.setdefault(node.lineno, f"{token!r} in {text!r}")
    return found


@pytest.mark.parametrize(
    "code, hits",
    [
        ('p / "metrics.jsonl"', 1), ('run_dir / "plots" / f"{k}.png"', 1),
        ('x = f"![curves](plots/{k}.png)"', 1), ('x = "checkpoints/best.pt"', 1),
        ('read_settings(d, "search.json")', 1), ('if p.parent.name == "checkpoints": pass', 1),
        ('x = f"{p}: no checkpoints/{which}.pt"', 1), ('x = f"{a}/runs/{k}"', 1),
        ('"""Writes plots/curves.png and checkpoints/last.pt."""', 0),
        ('def f():\n    """Reads metrics.jsonl."""', 0), ("# p / 'metrics.jsonl'", 0),
        ('x = "not recorded (the run folder has no provenance.json)"', 0),
        ('x = f"the model after the last epoch (`checkpoints/last.pt`) of {n}"', 0),
        ('add(p, "runs/study-lr-sweep")', 0), ('Path("runs") / f"search-{name}"', 0),
        ('record["runs"] = runs', 0), ("run.metrics", 0), ('p / f"{stem}-confusion.png"', 0),
    ],
)  # fmt: skip
def test_the_scan_finds_path_building_and_leaves_prose(code, hits):
    assert len(spelled_names(code)) == hits, spelled_names(code)


def test_the_scan_knows_every_folder_name():
    assert {"config.toml", "metrics.jsonl", "best.pt", "last.pt", "curves.png"} <= FILES
    assert {"study.json", "search.json", "focus.json", "search.journal", "report.md"} <= FILES
    assert {"checkpoints", "plots", "tensorboard", "evaluation", "runs", "trials"} <= FOLDERS


MODULES = sorted(p for p in SRC.rglob("*.py") if p != SRC / "runs" / "rundir.py")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param(p, id=str(p.relative_to(SRC)))
        for p in MODULES
    ],
)  # fmt: skip
def test_no_module_but_rundir_builds_a_path_from_a_folder_name(path):
    found = spelled_names(path.read_text(encoding="utf-8"))
    assert not found, f"{path.relative_to(SRC)} spells names RunDir owns: {found}"
