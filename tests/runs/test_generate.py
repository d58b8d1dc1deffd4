"""nnzoo generate: a tiny multi-hot run on the keys C4..B4 writes a MIDI file (read back with
mido, its notes merged here by hand from the sampled roll) and a piano-roll PNG; a tiny
character run writes its text; stubs with known logits check the temperature and <eos>; bad
input is one line."""

import argparse

import mido
import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import nnzoo.runs.trained as trained
from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.data import DataSplits
from nnzoo.data.tokens import StepSequences
from nnzoo.errors import ConfigError
from nnzoo.io import WriteError
from nnzoo.report.pianoroll import plot_piano_roll
from nnzoo.runs.generate import _note_number, add_parser, cmd_generate, generate
from nnzoo.runs.train import train_run
from tests.engine.test_fit import synthetic_splits, tiny_config

pytestmark = pytest.mark.usefixtures("one_thread")

KEYS = ["C4", "C#4", "D4", "D#4", "E4", "F4", "F#4", "G4", "G#4", "A4", "A#4", "B4"]
PITCHES = list(range(60, 72))  # MIDI numbers of C4..B4
CHARS = ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "c"]


def chord_sequences(n, seed):
    """Major triads whose root climbs a fourth each step, as the cycles toy draws them."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 8, 12), dtype=np.float32)
    for i in range(n):
        root = rng.integers(12)
        for t in range(8):
            x[i, t, [(root + 5 * t + d) % 12 for d in (0, 4, 7)]] = 1.0
    return StepSequences(torch.from_numpy(x), torch.full((n,), 8))


def char_sequences(n, seed):
    """<bos> (abc)* <eos>: ids 2, 4 5 6 4 5 6 ..., 3, padded with <pad>."""
    rng = np.random.default_rng(seed)
    rows = [[2, *[4 + j % 3 for j in range(int(rng.integers(3, 9)))], 3] for _ in range(n)]
    x = torch.zeros(n, max(map(len, rows)), dtype=torch.long)
    for i, row in enumerate(rows):
        x[i, : len(row)] = torch.tensor(row)
    return StepSequences(x, torch.tensor([len(r) for r in rows]))


def next_step_run(folder, make, class_names, kind):
    splits = DataSplits("cycles", make(24, 0), make(4, 1), make(4, 2), class_names, {})
    config = RunConfig(
        data=DataConfig(name="cycles", options={"kind": kind}),
        model=ModelConfig(name="generator", cell="gru", hidden=8, layers=1,
                          options={"embedding": 4}),
        train=TrainConfig(epochs=1, batch_size=8, lr=0.01, monitor="val_loss"),
        task=TaskConfig("next-step", {"kind": kind, "sample_steps": 3}),
    )  # fmt: skip
    train_run(config, folder, splits=splits, progress=False, write_report=False)
    return folder


@pytest.fixture(scope="module")
def chord_run(tmp_path_factory):
    return next_step_run(tmp_path_factory.mktemp("chords") / "run", chord_sequences, KEYS,
                         "multi-hot")  # fmt: skip


@pytest.fixture(scope="module")
def char_run(tmp_path_factory):
    return next_step_run(tmp_path_factory.mktemp("chars") / "run", char_sequences, CHARS,
                         "categorical")  # fmt: skip


def merged_notes(roll, ticks):
    """(pitch, start tick, end tick) of each note, a key held over consecutive steps once."""
    notes = set()
    T, K = roll.shape
    for k in range(K):
        t = 0
        while t < T:
            if not roll[t, k]:
                t += 1
                continue
            first = t
            while t < T and roll[t, k]:
                t += 1
            notes.add((PITCHES[k], first * ticks, t * ticks))
    return notes


def read_midi(path):
    """(notes as merged_notes gives them, tempos, velocities, note_on count) as mido reads."""
    midi = mido.MidiFile(path)
    assert midi.type == 0 and len(midi.tracks) == 1
    now, sounding, notes, tempos, velocities, ons = 0, {}, set(), [], set(), 0
    for msg in midi.tracks[0]:
        now += msg.time
        if msg.type == "set_tempo":
            tempos.append(msg.tempo)
        elif msg.type == "note_on" and msg.velocity > 0:
            assert msg.note not in sounding  # a held key is one note, never re-struck
            sounding[msg.note], ons = now, ons + 1
            velocities.add(msg.velocity)
        elif msg.type in ("note_on", "note_off"):
            notes.add((msg.note, sounding.pop(msg.note), now))
    assert not sounding
    return notes, tempos, velocities, ons, midi.ticks_per_beat


def test_note_names_are_midi_numbers():
    # published anchors: A0 the lowest piano key (21), middle C (60), A4 = 440 Hz (69), C8 (108)
    known = {"A0": 21, "C4": 60, "A4": 69, "C8": 108, "C#4": 61, "Db4": 61, "Bb2": 46,
             "F#3": 54, "B3": 59, "Cb4": 59, "E#4": 65}  # fmt: skip
    assert {name: _note_number(name) for name in known} == known
    off_piano = ("C-1", "G9", "G#0", "C#8")  # MIDI 0, 127, 20, 109: not one of the 88 keys
    assert [_note_number(n) for n in ("H4", "C", "4", "C#", "", *off_piano)] == [None] * 9


def test_the_midi_file_holds_the_sampled_roll_as_merged_notes(chord_run, tmp_path):
    result = generate(chord_run, start="C4,E4,G4", steps=40, seed=3, out=tmp_path / "song",
                      bpm=90, step_beats=0.5)  # fmt: skip
    assert result.paths == [tmp_path / "song.mid", tmp_path / "song.png"]
    roll = result.steps.numpy()
    assert roll.shape == (41, 12) and result.prompt_steps == 1 and result.pitches == PITCHES
    assert set(np.flatnonzero(roll[0])) == {0, 4, 7}  # the prompt chord at step 0
    notes, tempos, velocities, ons, ticks_per_beat = read_midi(tmp_path / "song.mid")
    assert tempos == [round(60e6 / 90)] and velocities == {80}
    expected = merged_notes(roll, ticks_per_beat // 2)  # half a beat a step
    assert notes == expected
    assert {(p, 0) for p in (60, 64, 67)} <= {(p, start) for p, start, _ in notes}
    assert ons < roll.sum()  # some keys were held, and each held key was one note
    with Image.open(tmp_path / "song.png") as image:
        assert image.format == "PNG" and image.size[0] > 0 and image.size[1] > 0


def test_several_start_steps_and_the_default_tempo_and_place(chord_run, tmp_path):
    result = generate(chord_run, start="C4, E4,G4 | Db4,F4,A4 - B4", steps=5, seed=1)
    stem = chord_run.parent / "run-sample-s1"
    assert result.paths == [stem.with_suffix(".mid"), stem.with_suffix(".png")]
    roll = result.steps.numpy()
    assert result.prompt_steps == 4 and roll.shape == (9, 12)
    assert [set(np.flatnonzero(s)) for s in roll[:4]] == [{0, 4, 7}, {1, 5, 9}, set(), {11}]
    notes, tempos, _, _, ticks_per_beat = read_midi(result.paths[0])
    assert tempos == [1_000_000]  # 60 beats a minute: a quarter-note step a second
    assert notes == merged_notes(roll, ticks_per_beat)


def test_the_same_seed_gives_the_same_files_and_another_seed_other_ones(chord_run, tmp_path):
    runs = [generate(chord_run, start="C4,E4,G4", steps=32, seed=s, out=tmp_path / f"{i}")
            for i, s in enumerate((7, 7, 8))]  # fmt: skip
    assert torch.equal(runs[0].steps, runs[1].steps)
    assert runs[0].paths[0].read_bytes() == runs[1].paths[0].read_bytes()
    assert not torch.equal(runs[0].steps, runs[2].steps)
    last = generate(chord_run, start="C4", steps=4, seed=7, out=tmp_path / "l", checkpoint="last")
    assert last.steps.shape == (5, 12)


class Fixed(nn.Module):
    """Logits that ignore the input (one row per key or token); it records what it was given."""

    def __init__(self, logits):
        super().__init__()
        self.logits, self.seen = torch.tensor(logits), []

    def forward(self, x, lengths=None):
        self.seen.append(x.clone())
        return self.logits.expand(x.shape[0], x.shape[1], -1)


def with_model(monkeypatch, run, model, vocabulary=None):
    """load_trained gives the run's checkpoint (its vocabulary replaced) with ``model``."""
    real = trained.load_trained

    def load(path, which="best"):
        _, ckpt, where = real(path, which)
        if vocabulary is not None:
            ckpt = {**ckpt, "extra": {**ckpt["extra"], "vocabulary": vocabulary}}
        return trained.Trained(model, ckpt, where)

    monkeypatch.setattr(trained, "load_trained", load)


def test_the_temperature_divides_the_logits(chord_run, tmp_path, monkeypatch):
    z = np.array([3.0, -3.0, 0.5, -0.5, 2.0, -2.0, 1.0, -1.0, 0.2, -0.2, 4.0, -4.0])
    stub = Fixed(z.tolist())
    with_model(monkeypatch, chord_run, stub)
    cold = generate(chord_run, start="C4,E4,G4", steps=20, temperature=1e-3, out=tmp_path / "c")
    assert torch.equal(stub.seen[0], torch.tensor([[[1.0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0]]]))
    assert (cold.steps[1:].numpy() == (z > 0)).all()  # τ -> 0: exactly the keys with z > 0
    for temperature in (1.0, 2.0):
        warm = generate(chord_run, start="C4", steps=3000, temperature=temperature,
                        out=tmp_path / "w")  # fmt: skip
        freq = warm.steps[1:].double().mean(0).numpy()
        np.testing.assert_allclose(freq, 1 / (1 + np.exp(-z / temperature)), atol=0.04)


def test_a_character_run_writes_text_after_its_prompt(char_run, tmp_path, capsys):
    result = generate(char_run, start="ab", steps=12, seed=0, out=tmp_path / "tune")
    assert result.paths == [tmp_path / "tune.abc"]
    text = (tmp_path / "tune.abc").read_text()
    assert text.startswith("ab") and text == result.text + "\n"
    ids = result.steps.tolist()
    assert ids[:3] == [2, 4, 5] and result.prompt_steps == 3  # <bos> a b
    drawn = ids[3:]
    assert 1 <= len(drawn) <= 12 and all(i != 3 for i in drawn[:-1])  # stops at the first <eos>
    special = {0, 1, 2, 3}
    assert result.text == "ab" + "".join(CHARS[i] for i in drawn if i not in special - {1})


def test_eos_ends_the_text_and_a_vocabulary_without_bos_is_read_as_it_is(
    char_run, tmp_path, monkeypatch
):
    eos = Fixed([-9.0, -9.0, -9.0, 9.0, -9.0, -9.0, -9.0])
    with_model(monkeypatch, char_run, eos)
    ended = generate(char_run, start="ab", steps=10, temperature=0.01, out=tmp_path / "e")
    assert ended.steps.tolist() == [2, 4, 5, 3] and ended.text == "ab"
    assert ended.notes == ["the model ended the text (<eos>) after 1 of 10 steps"]
    plain = Fixed([-9.0, -9.0, 9.0, -9.0])  # always "c"
    with_model(monkeypatch, char_run, plain, vocabulary=["a", "b", "c", "d"])
    text = generate(char_run, start="ba", steps=5, temperature=0.01, out=tmp_path / "p")
    assert plain.seen[0].tolist() == [[1, 0]] and text.text == "ba" + "c" * 5


def run_cli(argv, capsys):
    parser = argparse.ArgumentParser(prog="nnzoo")
    add_parser(parser.add_subparsers(dest="command", required=True))
    code = cmd_generate(parser.parse_args(["generate", *argv]))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_the_command_prints_the_paths_it_wrote(chord_run, tmp_path, capsys):
    folder = tmp_path / "samples"
    folder.mkdir()
    code, out, err = run_cli([str(chord_run), "--start", "C4,E4,G4", "--steps", "8", "--seed",
                              "2", "--out", str(folder), "--bpm", "120"], capsys)  # fmt: skip
    assert code == 0 and err == ""
    assert out.splitlines() == [str(folder / "sample-s2.mid"), str(folder / "sample-s2.png")]
    _, tempos, _, _, _ = read_midi(folder / "sample-s2.mid")
    assert tempos == [500_000]
    code, out, _ = run_cli([str(chord_run), "--start", "C4", "--out", str(tmp_path / "x.mid")],
                           capsys)  # fmt: skip
    assert out.splitlines() == [str(tmp_path / "x.mid"), str(tmp_path / "x.png")]


@pytest.mark.parametrize(
    "options, message",
    [
        ({"start": ""}, "--start is empty"),
        ({"start": "  "}, "--start is empty"),
        ({"start": "- | -"}, "--start has no notes"),
        ({"start": "C4,E5"}, r"E5 \(MIDI 76\) is not one of this run's keys C4..B4"),
        ({"start": "C4,H4"}, "'H4' is not a note name"),
        ({"start": "C4,,E4"}, "'' is not a note name"),
        ({"steps": 0}, "--steps 0: expected an integer >= 1"),
        ({"temperature": 0}, r"--temperature 0: expected a number > 0"),
        ({"temperature": -1.0}, r"--temperature -1.0: expected a number > 0"),
        ({"bpm": 0}, "--bpm 0: expected"),
        ({"step_beats": 0}, "--step-beats 0: expected"),
        ({"checkpoint": "first"}, "expected best or last"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_writes_nothing(chord_run, tmp_path, options, message):
    kwargs = {"start": "C4,E4,G4", "steps": 4, "out": tmp_path / "s", **options}
    with pytest.raises(ConfigError, match=message) as error:
        generate(chord_run, **kwargs)
    assert "\n" not in str(error.value) and list(tmp_path.iterdir()) == []


def test_runs_that_cannot_make_music_or_text_are_one_line(chord_run, char_run, tmp_path,
                                                          monkeypatch):  # fmt: skip
    classify = tmp_path / "classify"
    train_run(tiny_config(epochs=1), classify, splits=synthetic_splits(), progress=False,
              write_report=False)  # fmt: skip
    with pytest.raises(ConfigError, match="a classify run, not a next-step one"):
        generate(classify, start="C4", steps=2, out=tmp_path / "s")
    with pytest.raises(ConfigError, match=r"'!', 'z' not in this run's vocabulary"):
        generate(char_run, start="abz!", steps=2, out=tmp_path / "s")
    with_model(monkeypatch, chord_run, Fixed([0.0] * 12), vocabulary=[str(i) for i in range(12)])
    with pytest.raises(ConfigError) as error:
        generate(chord_run, start="C4", steps=2, out=tmp_path / "s")
    assert str(error.value) == (
        "this run's keys are not notes (class names 0, 1, 2, ...): MIDI needs a run trained on "
        "jsb-chorales"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["classify"]


def test_an_output_that_cannot_be_written_stops_before_sampling(chord_run, tmp_path,
                                                                monkeypatch):  # fmt: skip
    stub = Fixed([0.0] * 12)
    with_model(monkeypatch, chord_run, stub)
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match="file is a file, not a folder"):
        generate(chord_run, start="C4", steps=2, out=tmp_path / "file" / "s")
    (tmp_path / "song.mid").mkdir()
    with pytest.raises(WriteError, match=r"song.mid: cannot write it \(it is a folder"):
        generate(chord_run, start="C4", steps=2, out=tmp_path / "song")
    assert stub.seen == [] and not (tmp_path / "song.png").exists()


def test_the_piano_roll_checks_its_shapes(tmp_path):
    roll = np.zeros((5, 3), dtype=bool)
    roll[1:3, 1] = True
    path = plot_piano_roll(roll, [40, 41, 43], tmp_path / "r.png", prompt_steps=2, title="t")
    with Image.open(path) as image:
        assert image.format == "PNG" and min(image.size) > 0
    with pytest.raises(ConfigError, match=r"expected \(T, K\) with T >= 1 and K = 2 keys"):
        plot_piano_roll(roll, [40, 41], tmp_path / "bad.png")
    with pytest.raises(ConfigError, match="prompt_steps=6: expected an integer 0..5"):
        plot_piano_roll(roll, [40, 41, 43], tmp_path / "bad.png", prompt_steps=6)
