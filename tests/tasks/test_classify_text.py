"""``nnzoo predict RUN "text"``: a run trained on the UCI sentences (token ids, an embedding)
predicts new text encoded with the vocabulary its checkpoint keeps, checked against the model
called by hand on ids made by hand."""

import re

import pytest
import torch

from nnzoo.cli import main
from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.data.base import DataError
from nnzoo.data.splits import prepare
from nnzoo.data.text import UNK, Vocabulary, tokenize
from nnzoo.engine.checkpoint import digest
from nnzoo.runs.train import train_run
from nnzoo.runs.trained import load_trained
from nnzoo.tasks import create_task
from tests.data.test_sentiment import write_uci

pytestmark = pytest.mark.usefixtures("one_thread")

MAX_LENGTH = 6  # the tiny sentences have 7 tokens, so the training text is cut too
OPTIONS = {"domain": "yelp", "folds": 4, "fold": 0, "max_length": MAX_LENGTH}
SENTENCE = re.compile(r"^'(?P<text>.*)': (?P<name>negative|positive) \((?P<percent>\d+\.\d)%\)\n$")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(run folder, the data folder): two epochs of an embedding + GRU, binary classify."""
    base = tmp_path_factory.mktemp("text")
    folder = write_uci(base / "sentiment-labelled-sentences")
    config = RunConfig(
        data=DataConfig(name="uci-sentiment", path=str(folder), options=OPTIONS),
        model=ModelConfig(cell="gru", hidden=6, layers=1, readout="mean", options={"embedding": 8}),
        train=TrainConfig(epochs=2, batch_size=8, seed=1),
        task=TaskConfig("classify", {"binary": True}),
    )
    train_run(config, base / "run", progress=False, write_report=False)
    return base / "run", folder


@pytest.fixture(scope="module")
def loaded(trained):
    model, ckpt, _ = load_trained(trained[0])
    return model, ckpt, create_task(ckpt["run_config"].task)


def p_positive(model, vocab, text):
    """P(positive) of ``text``: its tokens cut to MAX_LENGTH, looked up one by one, the model
    called on them (no batching, no task)."""
    ids = [vocab.tokens.index(t) if t in vocab else UNK for t in tokenize(text)][:MAX_LENGTH]
    with torch.no_grad():
        logit = model.eval()(torch.tensor([ids]), torch.tensor([len(ids)]))  # (1, 1)
    return float(torch.sigmoid(logit[0, 0]))


def test_the_checkpoint_keeps_the_training_vocabulary(trained, loaded):
    _, ckpt, _ = loaded
    splits = prepare("uci-sentiment", trained[1], **OPTIONS)
    text = ckpt["extra"]["text"]
    assert text["max_length"] == MAX_LENGTH
    saved = Vocabulary.from_dict(text["vocabulary"], where="test", hint="-")
    assert saved == splits.vocabulary
    assert ckpt["extra"]["num_features"] == len(saved) == splits.num_features


@pytest.mark.parametrize("text", ["great food", "Bland SERVICE and rude staff", "slow"])
def test_a_text_gives_its_class_and_probability(loaded, text):
    model, ckpt, task = loaded
    vocab = Vocabulary.from_dict(ckpt["extra"]["text"]["vocabulary"], where="test", hint="-")
    out = task.predict_file(model, text, ckpt["extra"])
    match = SENTENCE.match(out)
    assert match, out
    assert match["text"] == text
    p = p_positive(model, vocab, text)
    assert match["name"] == ("positive" if p >= 0.5 else "negative")
    assert float(match["percent"]) == pytest.approx(100 * max(p, 1 - p), abs=0.05 + 1e-9)


def test_a_long_text_is_cut_as_the_training_text_was(loaded):
    model, ckpt, task = loaded
    vocab = Vocabulary.from_dict(ckpt["extra"]["text"]["vocabulary"], where="test", hint="-")
    head = "great food and lovely place !"  # 6 tokens, then words that must not count
    long = head + " awful awful awful rude cold bland"
    assert p_positive(model, vocab, long) == p_positive(model, vocab, head)
    assert (
        SENTENCE.match(task.predict_file(model, long, ckpt["extra"]))["percent"]
        == (SENTENCE.match(task.predict_file(model, head, ckpt["extra"]))["percent"])
    )


def test_a_txt_file_gives_one_csv_row_per_line(loaded, tmp_path):
    model, ckpt, task = loaded
    vocab = Vocabulary.from_dict(ckpt["extra"]["text"]["vocabulary"], where="test", hint="-")
    lines = ["great food", "awful service and cold staff", "the phone", "Tasty! Lovely!"]
    path = tmp_path / "reviews.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for given in (path, str(path)):
        out = task.predict_file(model, given, ckpt["extra"])
        rows = out.splitlines()
        assert rows[0] == "line,class,probability" and len(rows) == 1 + len(lines)
        for i, (row, text) in enumerate(zip(rows[1:], lines, strict=True), 1):
            number, name, prob = row.split(",")
            p = p_positive(model, vocab, text)
            assert int(number) == i
            assert name == ("positive" if p >= 0.5 else "negative")
            assert float(prob) == pytest.approx(max(p, 1 - p), abs=1e-6)


def test_predictions_equal_the_task_on_ids_encoded_with_the_saved_vocabulary(loaded):
    from nnzoo.data.base import SequenceSet
    from nnzoo.data.text import encode_batch

    model, ckpt, task = loaded
    vocab = Vocabulary.from_dict(ckpt["extra"]["text"]["vocabulary"], where="test", hint="-")
    texts = ["great food", "rude staff and slow battery", "place"]
    ids, lengths = encode_batch(texts, vocab, max_length=MAX_LENGTH)
    probs = task.predict(
        model, SequenceSet(ids, torch.zeros(len(texts), dtype=torch.long), lengths)
    )
    for text, p in zip(texts, probs):
        assert float(p[1]) == pytest.approx(p_positive(model, vocab, text), abs=1e-6)
        match = SENTENCE.match(task.predict_file(model, text, ckpt["extra"]))
        assert float(match["percent"]) == round(100 * float(p.max()), 1)


def test_a_text_that_names_a_missing_txt_file_is_read_as_text(loaded, capsys):
    model, ckpt, task = loaded
    out = task.predict_file(model, "great food, see notes.txt", ckpt["extra"])
    assert SENTENCE.match(out)["text"] == "great food, see notes.txt"
    assert capsys.readouterr().err == ""  # a sentence, not a file name: no note
    out = task.predict_file(model, "reviews.txt", ckpt["extra"])
    assert SENTENCE.match(out)["text"] == "reviews.txt"
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "note: no file reviews.txt; predicted it as a text"


def test_a_long_text_ending_in_txt_is_read_as_text(loaded):
    model, ckpt, task = loaded
    text = "great food " * 30 + "see notes.txt"
    assert SENTENCE.match(task.predict_file(model, text, ckpt["extra"]))["text"] == text


@pytest.mark.parametrize("text", ["", "   ", "\t"])
def test_an_empty_text_is_a_one_line_data_error(loaded, text):
    model, ckpt, task = loaded
    with pytest.raises(DataError, match="has no tokens") as info:
        task.predict_file(model, text, ckpt["extra"])
    assert "\n" not in str(info.value)


def test_a_text_of_unknown_words_is_predicted_with_a_note(loaded, capsys):
    model, ckpt, task = loaded
    vocab = Vocabulary.from_dict(ckpt["extra"]["text"]["vocabulary"], where="test", hint="-")
    assert "zanzibar" not in vocab and "qwerty" not in vocab
    out = task.predict_file(model, "zanzibar qwerty", ckpt["extra"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'zanzibar qwerty'" in err and "<unk>" in err
    p = p_positive(model, vocab, "zanzibar qwerty")
    assert float(SENTENCE.match(out)["percent"]) == pytest.approx(100 * max(p, 1 - p), abs=0.051)
    task.predict_file(model, "great zanzibar", ckpt["extra"])  # one known word: no note
    assert capsys.readouterr().err == ""


def test_a_vocabulary_that_does_not_fit_the_model_is_a_data_error(loaded):
    model, ckpt, task = loaded
    vocabulary = dict(ckpt["extra"]["text"]["vocabulary"])
    vocabulary["tokens"] = vocabulary["tokens"][:-1]  # one token removed
    extra = {**ckpt["extra"], "text": {**ckpt["extra"]["text"], "vocabulary": vocabulary}}
    n = ckpt["extra"]["num_features"]
    with pytest.raises(DataError, match=f"vocabulary has {n - 1} tokens but its model reads {n}"):
        task.predict_file(model, "great food", extra)
    broken = {**ckpt["extra"], "text": {"vocabulary": ["<pad>"], "max_length": MAX_LENGTH}}
    with pytest.raises(DataError, match="not a vocabulary") as info:
        task.predict_file(model, "great food", broken)
    assert "\n" not in str(info.value)


# -- the command -------------------------------------------------------------------------------


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_predicts_a_sentence(trained, loaded, capsys):
    model, ckpt, _ = loaded
    vocab = Vocabulary.from_dict(ckpt["extra"]["text"]["vocabulary"], where="test", hint="-")
    code, out, err = run(capsys, "predict", trained[0], "great food")
    assert code == 0 and err == ""
    match = SENTENCE.match(out)
    assert match and match["text"] == "great food"
    p = p_positive(model, vocab, "great food")
    assert float(match["percent"]) == pytest.approx(100 * max(p, 1 - p), abs=0.051)
    code, out, _ = run(capsys, "predict", trained[0], "great food", "awful staff")
    assert code == 0 and [SENTENCE.match(line + "\n")["text"] for line in out.splitlines()] == [
        "great food",
        "awful staff",
    ]


def one_line_error(code, err):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnzoo: error:"), err
    return lines[0]


def test_cli_empty_text_is_one_line_and_status_2(trained, capsys):
    code, out, err = run(capsys, "predict", trained[0], "")
    assert "has no tokens" in one_line_error(code, err) and out == ""


def test_cli_checkpoint_vocabulary_of_another_size_is_one_line(trained, capsys, tmp_path):
    raw = torch.load(trained[0] / "checkpoints" / "best.pt", weights_only=True)
    raw["extra"]["text"]["vocabulary"]["tokens"].pop()
    raw["digest"] = digest(raw)  # so that what refuses it is the check of what it holds
    path = tmp_path / "changed.pt"
    torch.save(raw, path)
    code, _, err = run(capsys, "predict", path, "great food")
    assert "tokens but its model reads" in one_line_error(code, err)
