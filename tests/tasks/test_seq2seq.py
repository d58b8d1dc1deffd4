"""The seq2seq task against hand-computed references, and a copy/reverse toy end to end."""

import json

import numpy as np
import pytest
import torch

from nnzoo.cli import main
from nnzoo.config import ModelConfig, TaskConfig
from nnzoo.data import load_dataset
from nnzoo.data.tokens import BOS, EOS, PAD, TokenPairs
from nnzoo.errors import ConfigError
from nnzoo.models import create_model
from nnzoo.tasks import create_task

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_model(vocab=9, attention="luong", seed=0):
    """9 = the four specials and copy-reverse's 5 symbols."""
    torch.manual_seed(seed)
    config = ModelConfig(
        name="seq2seq",
        cell="gru",
        hidden=6,
        layers=1,
        options={"embedding": 5, "attention": attention},
    )
    return create_model(config, vocab, vocab).eval()


def toy_pairs():
    data = load_dataset("copy-reverse", seed=3, symbols=5, max_length=4, train_size=9,
                        val_size=3, test_size=3)  # fmt: skip
    return data.train


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def test_the_toy_reverses_its_sources_and_ends_with_eos():
    pairs = toy_pairs()
    for src, tgt in (pairs[i] for i in range(len(pairs))):
        assert tgt.tolist() == [*src.flip(0).tolist(), EOS]
        assert PAD not in src.tolist() and BOS not in src.tolist()


@pytest.mark.parametrize("attention", ["luong", "bahdanau", "none", True, False])
def test_loss_and_token_accuracy_match_numpy_over_the_real_target_tokens(attention):
    pairs, task, model = (
        toy_pairs(),
        create_task(TaskConfig("seq2seq")),
        tiny_model(attention=attention),
    )
    metrics = task.evaluate(model, pairs)
    nll, right, tokens = 0.0, 0, 0
    with torch.no_grad():
        for src, tgt in (pairs[i] for i in range(len(pairs))):  # one pair at a time: no padding
            tgt_in = torch.tensor([[BOS, *tgt[:-1].tolist()]])
            logits = model(src[None], torch.tensor([len(src)]), tgt_in)[0].double().numpy()
            lp = log_softmax(logits)
            nll -= lp[np.arange(len(tgt)), tgt.numpy()].sum()
            right += int((logits.argmax(-1) == tgt.numpy()).sum())
            tokens += len(tgt)
    assert metrics["loss"] == pytest.approx(nll / tokens, abs=1e-5)
    assert metrics["token_accuracy"] == right / tokens


def test_padding_in_the_target_does_not_change_the_loss():
    pairs, task, model = toy_pairs(), create_task(TaskConfig("seq2seq")), tiny_model()
    noisy = TokenPairs(pairs.src, pairs.src_lengths, pairs.tgt.clone(), pairs.tgt_lengths)
    steps = torch.arange(noisy.tgt.shape[1])
    pad = steps[None, :] >= noisy.tgt_lengths[:, None]
    noisy.tgt[pad] = 4  # a real token where there is only padding
    assert pad.any()
    assert task.evaluate(model, noisy)["loss"] == pytest.approx(task.evaluate(model, pairs)["loss"])


def test_greedy_decoding_equals_argmax_one_token_at_a_time():
    pairs, task, model = toy_pairs(), create_task(TaskConfig("seq2seq")), tiny_model(seed=2)
    decoded = task.decode(model, pairs)
    cap = int(pairs.tgt_lengths.max()) + 2  # the task's default: the longest target + 2
    with torch.no_grad():
        for (src, _), got in zip((pairs[i] for i in range(len(pairs))), decoded):
            prefix = [BOS]
            for _ in range(cap):
                logits = model(src[None], torch.tensor([len(src)]), torch.tensor([prefix]))
                token = int(logits[0, -1].argmax())
                if token == EOS:
                    break
                prefix.append(token)
            assert got == prefix[1:]


def test_copy_reverse_reaches_100_percent_sequence_accuracy_from_the_cli(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--task", "seq2seq", "--data", "copy-reverse", "--model", "seq2seq",
            "--set", "data.options.max_length=5", "--set", "data.options.symbols=5",
            "--set", "data.options.train_size=2000", "--cell", "gru", "--hidden", "64",
            "--layers", "1", "--bidirectional", "--epochs", "24", "--batch-size", "32",
            "--lr", "0.005", "--lr-step-every", "8", "--lr-step-factor", "0.3",
            "--monitor", "val_loss", "--out", str(out), "--quiet"]  # fmt: skip
    assert main(argv) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["task"] == "seq2seq"
    assert results["test"]["sequence_accuracy"] == 1.0
    assert results["test"]["token_accuracy"] == 1.0
    assert "test sequence accuracy 1.0000" in printed
    history = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"loss", "token_accuracy", "val_sequence_accuracy", "val_token_accuracy"} <= set(
        history[0]
    )
    report = (out / "report.md").read_text()
    assert "test sequence_accuracy (selected epoch)" in report
    assert "## Decoded test examples" in report
    example = results["test"]["examples"][0]
    assert example["decoded"] == example["target"] == " ".join(reversed(example["source"].split()))
    assert main(["report", str(out)]) == 0  # the report rebuilds from the folder
    capsys.readouterr()
    assert main(["evaluate", str(out)]) == 0  # the task's metrics, from the checkpoint
    printed = capsys.readouterr().out
    assert "test sequence accuracy 1.0000" in printed and "test token accuracy 1.0000" in printed
    assert (
        json.loads((out / "evaluation" / "test.json").read_text())["examples"]
        == (results["test"]["examples"])
    )
    assert main(["predict", str(out), str(out / "results.json")]) == 2
    err = capsys.readouterr().err
    assert "seq2seq task does not predict from a file yet" in err
    assert len(err.strip().splitlines()) == 1


def test_a_monitor_the_task_does_not_log_is_one_line(capsys):
    code = main(["train", "--set", "task.name=seq2seq", "--data", "copy-reverse",
                 "--model", "seq2seq", "--monitor", "val_accuracy"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "val_sequence_accuracy" in err and "task seq2seq" in err


def test_seq2seq_on_a_classification_dataset_is_one_line(tmp_path, capsys):
    code = main(
        [
            "train",
            "--set",
            "task.name=seq2seq",
            "--data",
            "first-symbol",
            "--model",
            "seq2seq",
            "--monitor",
            "val_loss",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    err = capsys.readouterr().err
    assert (
        code == 2 and "no source/target token pairs" in err and len(err.strip().splitlines()) == 1
    )


def test_bahdanau_attention_matches_numpy_with_copied_weights():
    model = tiny_model(attention="bahdanau", seed=5).double()
    src = torch.tensor([[4, 5, 6, 7], [8, 4, 0, 0]])  # the second source is padded
    src_lengths = torch.tensor([4, 2])
    tgt_in = torch.tensor([[BOS, 6, 5], [BOS, 7, 7]])
    with torch.no_grad():
        memory = model.encode(src, src_lengths)
        e, mean, _ = memory
        inputs = torch.cat([model.tgt_embed(tgt_in), mean[:, None].expand(-1, 3, -1)], dim=-1)
        d = model.decoder(inputs)[0].numpy()  # (B, T, H): the recurrent stack, tested elsewhere
        got = model.decode(memory, tgt_in).numpy()
    e = e.numpy()
    W = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    W_d, W_e, b, v = W["query.weight"], W["key.weight"], W["key.bias"], W["energy.weight"][0]
    expected = np.zeros_like(got)
    for i in range(2):
        for t in range(3):
            n = int(src_lengths[i])
            score = np.array([v @ np.tanh(W_d @ d[i, t] + W_e @ e[i, s] + b) for s in range(n)])
            alpha = np.exp(score - score.max()) / np.exp(score - score.max()).sum()
            context = alpha @ e[i, :n]  # padding steps get no weight
            h = np.tanh(
                W["combine.weight"] @ np.concatenate([d[i, t], context]) + W["combine.bias"]
            )
            expected[i, t] = W["out.weight"] @ h + W["out.bias"]
    np.testing.assert_allclose(got, expected, atol=1e-10, rtol=0)


def test_attention_option_names_and_one_line_errors():
    for given, kind in (("luong", "luong"), ("bahdanau", "bahdanau"), ("none", "none"),
                        (True, "luong"), (False, "none")):  # fmt: skip
        assert tiny_model(attention=given).attention == kind
    assert not hasattr(tiny_model(attention="none"), "combine")
    with pytest.raises(ConfigError, match=r"attention='dot'.*luong, bahdanau, none") as info:
        tiny_model(attention="dot")
    assert "\n" not in str(info.value)
