"""The music readers on tiny files written in the original formats: JSB Chorales as an 88-key
piano roll against one built note by note, key names against a hand table, the published
parts, the bad files; Nottingham ABC tunes as characters, split by a seed with identical tunes
together, a vocabulary of the train tunes; one epoch of a generator whose test NLL is computed
again by hand from its logits; and the real JSB file when the shared data is there."""

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnzoo.config import DataConfig, ModelConfig, RunConfig, TaskConfig, TrainConfig
from nnzoo.data import load_dataset
from nnzoo.data.base import DataError
from nnzoo.data.music import note_name, note_number, piano_roll, split_tunes
from nnzoo.data.splits import prepare
from nnzoo.data.text import BOS, EOS, PAD, SPECIALS, UNK
from nnzoo.errors import ConfigError
from nnzoo.runs.train import train_run
from nnzoo.runs.trained import load_trained

SHARED_JSB = Path("/work/shared/data/jsb-chorales")
QUARTER = "jsb-chorales-quarter.json"
SEPARATED = "Jsb16thSeparated.json"
FILE_KEYS = {"train": "train", "val": "valid", "test": "test"}
SIZES = {"train": 6, "valid": 3, "test": 4}

# MIDI number -> name, written out by hand (scientific pitch notation, C4 = middle C = 60)
NAMES = {21: "A0", 22: "A#0", 23: "B0", 24: "C1", 35: "B1", 47: "B2", 59: "B3", 60: "C4",
         61: "C#4", 62: "D4", 63: "D#4", 64: "E4", 65: "F4", 66: "F#4", 67: "G4", 68: "G#4",
         69: "A4", 70: "A#4", 71: "B4", 72: "C5", 96: "C7", 107: "B7", 108: "C8"}  # fmt: skip


# -- tiny JSB files --------------------------------------------------------------------------


def quarter_chorales(seed: str, n: int) -> list:
    """``n`` chorales of 2-7 steps, each step 0-4 distinct MIDI notes in 21..108 (unsorted)."""
    r = random.Random(seed)
    return [[r.sample(range(21, 109), r.randint(0, 4)) for _ in range(r.randint(2, 7))]
            for _ in range(n)]  # fmt: skip


def separated_chorales(seed: str, n: int) -> list:
    """``n`` chorales of 2-7 steps of four voices, each a note or -1 (silent), voices that may
    share a note."""
    r = random.Random(seed)
    return [[[r.choice([-1, 60, 64, *range(21, 109)]) for _ in range(4)]
             for _ in range(r.randint(2, 7))] for _ in range(n)]  # fmt: skip


def jsb_value(separated: bool = False) -> dict:
    make = separated_chorales if separated else quarter_chorales
    value = {key: make(key, n) for key, n in SIZES.items()}
    if not separated:  # the piano's edges and a silent step
        value["train"][0] = [[21, 108], [], [67, 60, 64]]
    return value


def write_json(folder: Path, value, name: str = QUARTER) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(value))
    return folder


def reference_roll(chorales, shift: int = 0) -> np.ndarray:
    """(N, T, 88): one at key note - 21 for every sounding note, set one note at a time."""
    width = max(len(c) for c in chorales)
    x = np.zeros((len(chorales), width, 88), dtype=np.float32)
    for i, chorale in enumerate(chorales):
        for t, step in enumerate(chorale):
            for note in step:
                if note != -1:
                    x[i, t, note + shift - 21] = 1.0
    return x


# -- note names ------------------------------------------------------------------------------


def test_note_names_follow_the_hand_table():
    for midi, name in NAMES.items():
        assert note_name(midi) == name
        assert note_number(name) == midi
        assert note_number(name.lower()) == midi


@pytest.mark.parametrize(
    "name, midi",
    [("Db4", 61), ("db4", 61), ("Eb4", 63), ("Bb0", 22), ("Gb4", 66), ("Cb4", 59), ("B#3", 60),
     ("E#4", 65), ("Fb4", 64), (" C4 ", 60), ("C♯4", 61), ("D♭4", 61)],
)  # fmt: skip
def test_flats_and_enharmonic_names(name, midi):
    assert note_number(name) == midi


@pytest.mark.parametrize("name", ["H4", "C", "4C", "C##4", "", "C 4", "Cx4", "C4.5", 60])
def test_a_name_that_is_not_a_note_is_a_config_error(name):
    with pytest.raises(ConfigError, match="expected a letter A-G"):
        note_number(name)


@pytest.mark.parametrize("name", ["Ab0", "G#0", "C#8", "D8", "C-1", "C9"])
def test_a_note_off_the_piano_is_a_config_error(name):
    with pytest.raises(ConfigError, match=r"off the piano; .*A0 = 21 \.\. C8 = 108"):
        note_number(name)


@pytest.mark.parametrize("midi", [20, 109, 0, -1, True, 60.0, "60"])
def test_note_name_takes_the_88_keys_only(midi):
    with pytest.raises(ConfigError, match="MIDI note"):
        note_name(midi)


# -- JSB chorales -----------------------------------------------------------------------------


def test_piano_roll_of_a_hand_written_chorale():
    data = piano_roll([[[21, 108], [], [60, 64, 67]], [[60, 60], [59, 61]]])
    assert data.x.shape == (2, 3, 88) and data.x.dtype == torch.float32
    assert data.lengths.tolist() == [3, 2] and not data.categorical
    assert torch.nonzero(data.x[0, 0]).flatten().tolist() == [0, 87]
    assert data.x[0, 1].sum() == 0
    assert torch.nonzero(data.x[0, 2]).flatten().tolist() == [39, 43, 46]  # C4 E4 G4
    assert torch.nonzero(data.x[1, 0]).flatten().tolist() == [39]
    assert torch.nonzero(data.x[1, 1]).flatten().tolist() == [38, 40]
    assert data.x[1, 2].sum() == 0  # padding


@pytest.mark.parametrize("separated", [False, True])
def test_the_published_parts_become_the_piano_roll_built_note_by_note(tmp_path, separated):
    name, file = (SEPARATED, "16th-separated") if separated else (QUARTER, "quarter")
    value = jsb_value(separated)
    folder = write_json(tmp_path / "jsb-chorales", value, name)
    splits = prepare("jsb-chorales", folder, file=file)
    assert splits.info["split"] == "given (drawn with the data)"
    names = splits.class_names  # key k is MIDI 21 + k
    assert len(names) == 88 and all(names[midi - 21] == name for midi, name in NAMES.items())
    assert [note_number(name) for name in names] == list(range(21, 109))
    for part, key in FILE_KEYS.items():
        data = getattr(splits, part)
        np.testing.assert_array_equal(data.x.numpy(), reference_roll(value[key]))
        assert data.lengths.tolist() == [len(c) for c in value[key]]
    assert splits.info["chorales"] == ", ".join(
        f"{part} {SIZES[key]} ({sum(map(len, value[key]))} steps)"
        for part, key in FILE_KEYS.items()
    )
    assert splits.info["transpose"] == "none (the pieces as published)"
    assert splits.info["loss"].startswith("frame-level NLL")


def test_the_dataset_loads_from_its_folder_under_the_data_root(tmp_path):
    write_json(tmp_path / "jsb-chorales", jsb_value())
    splits = load_dataset("jsb-chorales", root=tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (6, 3, 4)


def test_a_random_split_policy_resplits_train_and_valid_together(tmp_path):
    folder = write_json(tmp_path / "jsb", jsb_value())
    splits = prepare("jsb-chorales", folder, split="random", val_fraction=0.25)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (7, 2, 4)


def test_transpose_shifts_every_note(tmp_path):
    value = {key: [[[n for n in step if 30 <= n <= 100] for step in c] for c in chorales]
             for key, chorales in jsb_value().items()}  # fmt: skip
    folder = write_json(tmp_path / "jsb", value)
    for shift in (-9, -2, 3, 8):
        splits = prepare("jsb-chorales", folder, transpose=shift)
        for part, key in FILE_KEYS.items():
            np.testing.assert_array_equal(getattr(splits, part).x.numpy(),
                                          reference_roll(value[key], shift))  # fmt: skip
        assert splits.info["transpose"] == f"{shift:+d} semitones"
    value["valid"][1][1] = [40, 106]
    value["test"][2][0] = [22]
    folder = write_json(tmp_path / "edges", value)
    with pytest.raises(ConfigError, match=r"transpose=3: valid chorale 1, step 1: note 106 would "
                                          r"become 109, off the piano"):  # fmt: skip
        prepare("jsb-chorales", folder, transpose=3)
    with pytest.raises(ConfigError, match=r"transpose=-2: test chorale 2, step 0: note 22 would "
                                          r"become 20"):  # fmt: skip
        prepare("jsb-chorales", folder, transpose=-2)


def test_max_steps_cuts_the_longer_chorales(tmp_path):
    value = jsb_value()
    folder = write_json(tmp_path / "jsb", value)
    splits = prepare("jsb-chorales", folder, max_steps=3)
    for part, key in FILE_KEYS.items():
        data = getattr(splits, part)
        assert data.lengths.tolist() == [min(len(c), 3) for c in value[key]]
        np.testing.assert_array_equal(data.x.numpy(), reference_roll([c[:3] for c in value[key]]))
    counts = {part: sum(len(c) > 3 for c in value[key]) for part, key in FILE_KEYS.items()}
    assert splits.info["max_steps"] == (
        "chorales longer than 3 steps cut to their first 3: "
        + ", ".join(f"{p} {n}" for p, n in counts.items())
    )
    for bad in (1, -1, 2.0, True):
        with pytest.raises(ConfigError, match="max_steps"):
            prepare("jsb-chorales", folder, max_steps=bad)


def test_chorales_of_fewer_than_two_steps_are_skipped_with_one_warning(tmp_path):
    value = jsb_value()
    kept = {key: list(chorales) for key, chorales in value.items()}
    value["train"].insert(2, [])
    value["test"].append([[60, 64]])
    folder = write_json(tmp_path / "jsb", value)
    with pytest.warns(UserWarning) as caught:
        splits = prepare("jsb-chorales", folder)
    assert len(caught) == 1
    message = str(caught[0].message)
    assert "skipped 2 chorale(s)" in message
    assert "train chorale 2 (0 steps), test chorale 4 (1 step)" in message
    for part, key in FILE_KEYS.items():
        np.testing.assert_array_equal(getattr(splits, part).x.numpy(), reference_roll(kept[key]))
    assert "train chorale 2 (0 steps)" in splits.info["skipped"]


def bad_note(value, part, i, t, note):
    value[part][i][t] = [60, note]
    return value


BAD_FILES = [
    ("not json", b"{train: [", r"not valid JSON"),
    ("a list", json.dumps([[[[60]]]]).encode(), r"expected a JSON object"),
    ("no valid", json.dumps({"train": [], "test": []}).encode(), r"no 'valid' key"),
    ("part", json.dumps({"train": {}, "valid": [], "test": []}).encode(),
     r"'train' is an object, expected a list of chorales"),
    ("chorale", json.dumps({"train": [5], "valid": [], "test": []}).encode(),
     r"train chorale 0 is 5, expected a list of steps"),
    ("step", json.dumps({"train": [[[60], 61]], "valid": [], "test": []}).encode(),
     r"train chorale 0, step 1: 61; expected a list of integer MIDI notes"),
    ("float", json.dumps({"train": [[[60.0]]], "valid": [], "test": []}).encode(),
     r"train chorale 0, step 0: not all integers"),
    ("low note", json.dumps(bad_note(jsb_value(), "valid", 1, 1, 20)).encode(),
     r"valid chorale 1, step 1: note 20 is outside 21\.\.108; the piano roll has 88 keys, "
     r"A0 = 21 \.\. C8 = 108$"),
    ("high note", json.dumps(bad_note(jsb_value(), "test", 2, 0, 109)).encode(),
     r"test chorale 2, step 0: note 109 is outside"),
    ("silent", json.dumps(bad_note(jsb_value(), "train", 0, 0, -1)).encode(),
     r"train chorale 0, step 0: note -1 is outside"),
]  # fmt: skip


@pytest.mark.parametrize("what, raw, message", BAD_FILES, ids=[b[0] for b in BAD_FILES])
def test_a_bad_file_is_one_line_naming_it_and_where(tmp_path, what, raw, message):
    (tmp_path / QUARTER).write_bytes(raw)
    with pytest.raises(DataError, match=message) as e:
        prepare("jsb-chorales", tmp_path)
    assert "\n" not in str(e.value) and str(e.value).startswith(str(tmp_path / QUARTER))


def test_a_bad_16th_file_and_a_missing_file(tmp_path):
    value = jsb_value(separated=True)
    value["valid"][0][1] = [60, 64, -1]
    write_json(tmp_path, value, SEPARATED)
    with pytest.raises(DataError, match=r"valid chorale 0, step 1: 3 numbers; .* has 4 per step"):
        prepare("jsb-chorales", tmp_path, file="16th-separated")
    value["valid"][0][1] = [60, 64, -1, -2]
    write_json(tmp_path, value, SEPARATED)
    with pytest.raises(DataError, match=r"step 1: note -2 is outside .*; -1 is a silent voice"):
        prepare("jsb-chorales", tmp_path, file="16th-separated")
    with pytest.raises(DataError, match=rf"{QUARTER}: no such file; put {QUARTER} of"):
        prepare("jsb-chorales", tmp_path)
    with pytest.raises(ConfigError, match="data.options.file='8th'"):
        prepare("jsb-chorales", tmp_path, file="8th")
    with pytest.raises(ConfigError, match="transpose"):
        prepare("jsb-chorales", tmp_path, transpose=1.5)


def test_a_file_given_as_the_path_is_read_itself(tmp_path):
    value = jsb_value()
    write_json(tmp_path, value, "mine.json")
    splits = prepare("jsb-chorales", tmp_path / "mine.json")
    np.testing.assert_array_equal(splits.test.x.numpy(), reference_roll(value["test"]))


def real_jsb() -> Path:
    if not (SHARED_JSB / QUARTER).is_file():
        pytest.skip(f"the shared JSB Chorales files are not at {SHARED_JSB}")
    return SHARED_JSB


def test_the_real_quarter_file_round_trips_every_step():
    folder = real_jsb()
    value = json.loads((folder / QUARTER).read_text())
    splits = prepare("jsb-chorales", folder)
    sizes = {"train": (229, 13807), "val": (76, 4602), "test": (77, 4725)}  # PROVENANCE.md
    for part, key in FILE_KEYS.items():
        data = getattr(splits, part)
        assert (len(data), int(data.lengths.sum())) == sizes[part]
        assert data.x.shape[2] == 88
        x = data.x.numpy()
        for i, chorale in enumerate(value[key]):
            assert data.lengths[i] == len(chorale)
            for t, notes in enumerate(chorale):
                assert (np.flatnonzero(x[i, t]) + 21).tolist() == sorted(set(notes))
            assert not x[i, len(chorale) :].any()


def test_the_real_16th_file_has_four_times_the_steps():
    splits = prepare("jsb-chorales", real_jsb(), file="16th-separated")
    sizes = {"train": (229, 4 * 13807), "val": (76, 4 * 4602), "test": (77, 4 * 4725)}
    for part in FILE_KEYS:
        data = getattr(splits, part)
        assert (len(data), int(data.lengths.sum())) == sizes[part]
        assert data.x.sum(-1).max() <= 4


# -- one epoch of a generator on the tiny chorales --------------------------------------------


@pytest.mark.usefixtures("one_thread")
def test_a_generator_run_reports_the_frame_level_nll_of_its_logits(tmp_path):
    value = jsb_value()
    folder = write_json(tmp_path / "jsb", value)
    config = RunConfig(
        data=DataConfig(name="jsb-chorales", path=str(folder)),
        model=ModelConfig(
            name="generator", cell="gru", hidden=6, layers=1, options={"embedding": 5}
        ),
        train=TrainConfig(epochs=1, batch_size=4, seed=3, monitor="val_loss", lr=0.01),
        task=TaskConfig("next-step", {"kind": "multi-hot", "sample_steps": 2}),
    )
    results = train_run(config, tmp_path / "run", progress=False, write_report=False)
    model = load_trained(tmp_path / "run").model
    total, steps = 0.0, 0
    with torch.no_grad():
        for chorale in value["test"]:
            x = torch.from_numpy(reference_roll([chorale]))  # (1, T, 88)
            logits = model(x[:, :-1])  # (1, T-1, 88)
            bce = F.binary_cross_entropy_with_logits(logits, x[:, 1:], reduction="none")
            total += float(bce.sum())  # summed over keys and steps
            steps += len(chorale) - 1
    assert results["test"]["loss"] == pytest.approx(total / steps, rel=1e-5)
    assert len(results["test"]["samples"]) == 4


# -- Nottingham ABC --------------------------------------------------------------------------

ALPHABET = "abcdefgABCDEFG|:2/3 "


def tune_body(seed: int) -> str:
    """The header (after X:) and a few bars of a tune; tune 7 alone has a "~" and tune 11
    alone a "{"."""
    r = random.Random(seed)
    bars = "\n".join("".join(r.choice(ALPHABET) for _ in range(r.randint(5, 20)))
                     for _ in range(r.randint(1, 3)))  # fmt: skip
    extra = {7: "~", 11: "{"}.get(seed, "")
    return f'T:Tune {seed}{extra}\nM:6/8\nK:G\n"G"{bars}|'


def write_abc(folder: Path, count: int = 30, duplicate: bool = True) -> tuple[Path, list[str]]:
    """Two .abc files of ``count`` tunes in ``ABC_cleaned/`` (a blank line before the first,
    blank lines after each); with ``duplicate``, tune 29 repeats tune 3 under another number.
    Returns the folder and the tunes as the reader should give them, in file order."""
    bodies = [tune_body(i) for i in range(count)]
    if duplicate:
        bodies[-1] = bodies[3]
    tunes = [f"X: {i + 1}\n{body}" for i, body in enumerate(bodies)]
    files = {"b.abc": tunes[: count // 2], "a.abc": tunes[count // 2 :]}  # a.abc is read first
    abc = folder / "ABC_cleaned"
    abc.mkdir(parents=True)
    for name, part in files.items():
        (abc / name).write_bytes(("\n" + "".join(t + "\n\n\n" for t in part)).encode("ascii"))
    return folder, files["a.abc"] + files["b.abc"]


def decoded(data, vocab) -> list[str]:
    """Each row's tokens between <bos> and <eos> as text (an <unk> as "<unk>")."""
    texts = []
    for ids, n in zip(data.x, data.lengths):
        assert ids[0] == BOS and ids[n - 1] == EOS and (ids[n:] == PAD).all()
        texts.append("".join(vocab.token(i) for i in ids[1 : n - 1].tolist()))
    return texts


def test_split_tunes_cuts_at_the_x_lines():
    text = "%abc header\n\nX:1\nT:One\n|abc|\n\n  \nX: 2\nT:Two X: not here\n X:3 indented\n\n"
    assert split_tunes(text) == ["X:1\nT:One\n|abc|", "X: 2\nT:Two X: not here\n X:3 indented"]
    assert split_tunes("X:1\r\nT:a\r\n\r\n") == ["X:1\nT:a"]
    assert split_tunes("T:no tune\n") == []


@pytest.fixture(scope="module")
def abc(tmp_path_factory):
    folder, tunes = write_abc(tmp_path_factory.mktemp("abc") / "nottingham-abc")
    return folder, tunes, prepare("nottingham-abc", folder, seed=5)


def test_every_tune_is_read_once_and_its_ids_round_trip(abc):
    _, tunes, splits = abc
    vocab = splits.vocabulary
    parts = {p: decoded(getattr(splits, p), vocab) for p in ("train", "val", "test")}
    assert splits.train.x.dtype == torch.int64 and splits.train.categorical
    train_chars = set("".join(parts["train"]))
    for text in parts["train"]:
        assert "<unk>" not in text
    # every tune is in exactly one part, its characters read back (<unk> where train lacks one)
    expected = Counter(held_out_form(tunes, train_chars))
    assert Counter(t for p in parts.values() for t in p) == expected
    assert splits.class_names == vocab.tokens and vocab.level == "char" and not vocab.lower


def test_the_vocabulary_comes_from_the_train_tunes_alone(abc):
    _, tunes, splits = abc
    rows = decoded(splits.train, splits.vocabulary)
    train = [t for t in tunes if t in rows]
    assert len(train) == len(splits.train)
    counts = Counter("".join(train))
    order = sorted(counts, key=lambda c: (-counts[c], c))
    assert splits.vocabulary.tokens == [*SPECIALS, *order]
    held = [t for t in tunes if t not in train]
    rare = {c for t in held for c in t} - set(counts)  # characters only held-out tunes have
    assert rare  # the fixture's seed holds out a tune with a character of its own
    unknown = int((splits.val.x == UNK).sum() + (splits.test.x == UNK).sum())
    assert unknown == sum(c in rare for t in held for c in t)


def held_out_form(tunes: list[str], train_chars: set[str]) -> list[str]:
    """Each tune as its ids decode: a character the train tunes lack reads "<unk>"."""
    return ["".join(c if c in train_chars else "<unk>" for c in t) for t in tunes]


def parts_of(splits, tunes: list[str]) -> dict[str, list[int]]:
    """part -> the indices (into ``tunes``) of its rows, found by their decoded text."""
    train_chars = set(splits.vocabulary.tokens[len(SPECIALS) :])
    index: dict[str, list[int]] = {}
    for i, form in enumerate(held_out_form(tunes, train_chars)):
        index.setdefault(form, []).append(i)
    return {p: sorted(i for text in decoded(getattr(splits, p), splits.vocabulary)
                      for i in [index[text].pop(0)])
            for p in ("train", "val", "test")}  # fmt: skip


def test_the_split_is_seeded_disjoint_and_keeps_identical_tunes_together(abc):
    folder, tunes, splits = abc
    bodies = [t.split("\n", 1)[1] for t in tunes]
    pair = [i for i, body in enumerate(bodies) if bodies.count(body) == 2]
    assert len(pair) == 2 and tunes[pair[0]] != tunes[pair[1]]  # only the X: numbers differ
    mine = parts_of(splits, tunes)
    assert sorted(mine["train"] + mine["val"] + mine["test"]) == list(range(30))
    # round(0.1 * 30) = 3 tunes each, or 4 when the last group taken is the pair
    assert 3 <= len(mine["val"]) <= 4 and 3 <= len(mine["test"]) <= 4
    held_out = 0
    for seed in range(30):
        drawn = parts_of(prepare("nottingham-abc", folder, seed=seed), tunes)
        (where,) = [p for p in drawn if pair[0] in drawn[p]]
        assert pair[1] in drawn[where]  # both copies in one part
        held_out += where != "train"
        if seed == 5:
            assert drawn == mine  # the same seed, the same split
    assert held_out  # the pair is held out by some seed, not always trained on
    tests = {tuple(parts_of(prepare("nottingham-abc", folder, seed=s), tunes)["test"])
             for s in range(4)}  # fmt: skip
    assert len(tests) > 1  # the seed moves the test part


def test_max_chars_cuts_long_tunes_without_eos(tmp_path):
    folder, tunes = write_abc(tmp_path / "abc", count=12, duplicate=False)
    splits = prepare("nottingham-abc", folder, max_chars=40, val_fraction=0.0, test_fraction=0.25)
    assert len(splits.val) == 0 and len(splits.test) == 3
    tokens = splits.vocabulary.tokens

    def ids_of(text):  # <bos>, then each character's place in the vocabulary, else <unk>
        return [BOS, *(tokens.index(c) if c in tokens else UNK for c in text)]

    cut, rows = {}, {}
    for part in ("train", "val", "test"):
        data, cut[part] = getattr(splits, part), 0
        for ids, n in zip(data.x.tolist(), data.lengths.tolist()):
            head = ids[: min(n, 41)]  # tunes differ in their first 40 characters
            (tune,) = [t for t in tunes if [*ids_of(t), EOS][:41] == head]
            rows[tune] = part
            if len(tune) > 40:
                cut[part] += 1
                assert n == 41 and ids[:n] == ids_of(tune[:40])  # no <eos> after a cut
            else:
                assert ids[:n] == [*ids_of(tune), EOS]
    assert len(rows) == 12 and cut["train"] > 0
    assert splits.info["max_chars"] == (
        "tunes longer than 40 characters cut to their first 40 (no <eos>): "
        + ", ".join(f"{p} {n}" for p, n in cut.items())
    )


def test_bad_abc_files_are_one_line(tmp_path):
    abc = tmp_path / "one" / "ABC_cleaned"
    abc.mkdir(parents=True)
    (abc / "a.abc").write_bytes(b"X: 1\nT:ok\n")
    (abc / "b.abc").write_bytes(b"X: 1\nT:Caf\xc3\xa9\n")
    with pytest.raises(DataError, match=r"b\.abc: byte 10 is 0xc3, not ASCII; the cleaned ABC "
                                        r"files are ASCII; give the original files$"):  # fmt: skip
        prepare("nottingham-abc", tmp_path / "one")
    (abc / "b.abc").write_bytes(b"% only a comment\nT:no X line\n")
    with pytest.raises(DataError, match=r"b\.abc: no tune \(no line starts with 'X:'\)"):
        prepare("nottingham-abc", tmp_path / "one")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: no \.abc files"):
        prepare("nottingham-abc", tmp_path / "empty")
    for option in ({"val_fraction": 1.0}, {"test_fraction": 0.0}, {"max_chars": -1},
                   {"val_fraction": 0.5, "test_fraction": 0.5}):  # fmt: skip
        with pytest.raises(ConfigError):
            prepare("nottingham-abc", tmp_path / "one", **option)
