"""nnzoo translate: a trained copy-reverse run reverses new strings; a tiny tatoeba run (trained
from a TOML config through `nnzoo train`) translates with its saved source vocabulary; bad
input is one line."""

import argparse
import json

import pytest
import torch

from nnzoo.cli import main
from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.data.text import UNK
from nnzoo.engine.checkpoint import load_checkpoint
from nnzoo.errors import ConfigError, NnzooError
from nnzoo.runs.train import train_run
from nnzoo.runs.trained import load_trained
from nnzoo.runs.translate import add_parser, cmd_translate, translate
from nnzoo.tasks.seq2seq import beam_search, detokenize
from tests.data.test_tatoeba import animal_pairs, spa_text, write_zip
from tests.engine.test_fit import synthetic_splits

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def reverse_run(tmp_path_factory):
    """copy-reverse on 3 symbols, trained to reverse every string of 1-3 symbols."""
    config = RunConfig(
        data=DataConfig(name="copy-reverse", options={"symbols": 3, "max_length": 3,
                        "train_size": 600, "val_size": 50, "test_size": 50}),
        model=ModelConfig(name="seq2seq", cell="gru", hidden=48, layers=1, bidirectional=True,
                          options={"embedding": 16, "attention": "bahdanau"}),
        train=TrainConfig(epochs=12, batch_size=32, lr=0.005, lr_step_every=4,
                          lr_step_factor=0.3, monitor="val_loss"),
        task=TaskConfig("seq2seq", {"beam": 2}),
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("reverse") / "run"
    results = train_run(config, folder, progress=False, write_report=False)
    assert results["test"]["sequence_accuracy"] == 1.0
    return folder


def run_cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="nnzoo")
    add_parser(parser.add_subparsers(dest="command", required=True))
    code = cmd_translate(parser.parse_args(["translate", *argv]))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_a_copy_reverse_run_reverses_new_strings(reverse_run, capsys):
    sentences = ["a b c", "c a", "b", "A C B", "b b a"]
    code, out, err = run_cli([str(reverse_run), *sentences], capsys)
    assert code == 0 and err == ""
    assert out.splitlines() == [" ".join(reversed(s.lower().split())) for s in sentences]
    greedy = translate(reverse_run, ["a b c"], beam=1, checkpoint="last")
    assert [t.text for t in greedy] == ["c b a"]


@pytest.fixture(scope="module")
def tatoeba_run(tmp_path_factory):
    """One epoch of a tiny seq2seq on a tiny spa-eng.zip, trained by `nnzoo train` from TOML."""
    root = tmp_path_factory.mktemp("tatoeba")
    (root / "spa-eng-tatoeba").mkdir()
    write_zip(root / "spa-eng-tatoeba" / "spa-eng.zip",
              {"spa-eng/spa.txt": spa_text(animal_pairs()).encode()})  # fmt: skip
    config = root / "es-en.toml"
    config.write_text(
        "[data]\n"
        'name = "tatoeba"\n'
        "[data.options]\n"
        'direction = "es-en"\nmax_words = 10\nmax_length = 6\nmin_freq = 1\n'
        "val_fraction = 0.2\ntest_fraction = 0.2\n"
        "[model]\n"
        'name = "seq2seq"\n'
        "[model.options]\n"
        'cell = "gru"\nhidden = 8\nlayers = 1\nbidirectional = true\nembedding = 8\n'
        'attention = "bahdanau"\n'
        "[train]\n"
        'epochs = 1\nbatch_size = 8\nmonitor = "val_loss"\n'
        "[task]\n"
        'name = "seq2seq"\n'
        "options = {beam = 3}\n"
    )
    out = root / "run"
    code = main(["train", str(config), "--data-root", str(root), "--out", str(out), "--quiet"])
    assert code == 0
    return out


def test_the_tatoeba_run_reports_bleu_and_keeps_both_vocabularies(tatoeba_run):
    results = json.loads((tatoeba_run / "results.json").read_text())
    test = results["test"]
    assert 0 <= test["bleu"] <= 100 and 0 <= test["chrf"] <= 100
    assert test["bleu_signature"].startswith("nrefs:1|") and test["decoding"].startswith("beam 3")
    assert "grouped by Spanish sentence" in results["data_info"]["test"]
    # the best and worst translations carry sacrebleu's own sentence chrF, best first
    import sacrebleu

    for e in test["best"] + test["worst"]:
        assert e["chrf"] == pytest.approx(
            sacrebleu.sentence_chrf(e["decoded"], [e["target"]]).score
        )
    best, worst = [e["chrf"] for e in test["best"]], [e["chrf"] for e in test["worst"]]
    assert best == sorted(best, reverse=True) and worst == sorted(worst)
    assert len(best) == len(worst) >= 1 and min(best) >= max(worst)
    extra = load_checkpoint(tatoeba_run / "checkpoints" / "best.pt")["extra"]
    assert extra["text"] == {"level": "word", "lower": True}
    assert extra["num_features"] == len(extra["source_vocabulary"])
    assert extra["num_classes"] == len(extra["vocabulary"])
    from nnzoo.data import load_dataset

    splits = load_dataset("tatoeba", root=tatoeba_run.parent, max_words=10, max_length=6,
                          min_freq=1, val_fraction=0.2, test_fraction=0.2)  # fmt: skip
    source, target = splits.vocabulary.tokens, splits.class_names
    assert extra["source_vocabulary"] == source and extra["vocabulary"] == target
    assert "ve" in source and "sees" not in source and "sees" in target  # es -> en
    assert "BLEU" in (tatoeba_run / "report.md").read_text()


def test_translate_encodes_with_the_saved_source_vocabulary(tatoeba_run):
    model, ckpt, _ = load_trained(tatoeba_run)
    extra = ckpt["extra"]
    source, target = extra["source_vocabulary"], extra["vocabulary"]
    sentence = "¿Dónde está la biblioteca, Tom?"
    tokens = ["¿", "dónde", "está", "la", "biblioteca", ","]  # cut to max_length = 6
    ids = [source.index(t) if t in source else UNK for t in tokens]  # by hand
    [result] = translate(tatoeba_run, [sentence])
    steps = max(extra["max_target_length"], 2 * len(ids)) + 2
    expected = beam_search(model, torch.tensor([ids]), torch.tensor([len(ids)]), beam=3,
                           steps=steps)[0]  # fmt: skip
    assert result.text == detokenize([target[i] for i in expected])
    assert result.notes == [
        "sentence 1 has 8 tokens; cut to its first 6 (the run's data.options.max_length), 2 dropped"
    ]


def test_unknown_words_translate_anyway_with_a_note(tatoeba_run, capsys):
    code, out, err = run_cli([str(tatoeba_run), "Tom ve el pájaro1.", "Xyzzy plugh"], capsys)
    assert code == 0 and len(out.splitlines()) == 2
    assert err.splitlines() == [
        "nnzoo: note: sentence 2: none of its words is in the run's source vocabulary; "
        "translating it as <unk> anyway"
    ]


@pytest.mark.parametrize(
    "sentences, options, match",
    [
        (["Hola.", "   "], {}, r"sentence 2 is empty"),
        ([], {}, r"no sentence given"),
        (["Hola."], {"beam": 0}, r"--beam 0: expected an integer >= 1"),
    ],
)
def test_bad_input_is_one_line(tatoeba_run, sentences, options, match):
    with pytest.raises(ConfigError, match=match) as info:
        translate(tatoeba_run, sentences, **options)
    assert "\n" not in str(info.value)


def test_a_run_that_is_not_seq2seq_is_one_line(tmp_path):
    config = RunConfig(model=ModelConfig(cell="gru", hidden=5, layers=1),
                       train=TrainConfig(epochs=1, batch_size=16))  # fmt: skip
    folder = tmp_path / "classify"
    train_run(config, folder, splits=synthetic_splits(), progress=False, write_report=False)
    with pytest.raises(ConfigError, match=r"a classify run, not a seq2seq one") as info:
        translate(folder, ["Hola."])
    assert "\n" not in str(info.value)
    with pytest.raises(NnzooError, match=r"no such run folder"):
        translate(tmp_path / "nowhere", ["Hola."])


def test_a_source_vocabulary_that_does_not_fit_the_model_is_one_line(tatoeba_run, tmp_path):
    from nnzoo.engine.checkpoint import digest

    raw = torch.load(tatoeba_run / "checkpoints" / "best.pt", weights_only=True)
    raw["extra"]["source_vocabulary"].pop()  # one token fewer than the embedding has rows
    raw["digest"] = digest(raw)  # so that what refuses it is the check of what it holds
    path = tmp_path / "changed.pt"
    torch.save(raw, path)
    with pytest.raises(NnzooError, match=r"source vocabulary has \d+ tokens but its model") as e:
        translate(path, ["Hola."])
    assert "\n" not in str(e.value)
