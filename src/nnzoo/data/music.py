r"""Music for the ``next-step`` task: JSB Chorales as an 88-key piano roll, Nottingham folk
tunes as ABC characters.

Shape legend: N pieces, T steps of the longest piece of a part, K = 88 keys.

``jsb-chorales`` (``<data root>/jsb-chorales``) reads the JSON files of
czhuang/JSB-Chorales-dataset: the 382 four-part Bach chorales with the train / valid / test
split of Boulanger-Lewandowski et al. (2012), 229 / 76 / 77 chorales. ``file`` picks one:

====================  ========================================================================
``"quarter"``         ``jsb-chorales-quarter.json``: each step lists the sounding MIDI notes
                      (21..108; an empty list is a silent step), one step a quarter note
``"16th-separated"``  ``Jsb16thSeparated.json`` (Coconet's format): each step is exactly four
                      numbers, soprano, alto, tenor and bass, -1 for a silent voice; one step a
                      16th note
====================  ========================================================================

Both hold ``{"train", "valid", "test"}``: lists of chorales, each a list of steps. The two files
order and transpose the chorales differently, so do not pair them index by index. Every step
becomes one multi-hot row of a piano roll,

.. math::
    x_{t,k} = 1 \iff \text{MIDI note } 21 + k \text{ sounds at step } t, \qquad k = 0..87

(key 0 is A0 = 21, key 87 is C8 = 108; two voices on one note make one key), so each part is a
`StepSequences` of (N, T, 88) float32. The three parts are the published ones, so the split
policy is ``given``. ``class_names`` are the keys' names in scientific pitch notation, with
sharps (`note_name`: "A0", "A#0", "B0", "C1", ... "C8"; MIDI 60 = "C4"). `note_number` reads
such a name back, and flats too. With ``kind = "multi-hot"`` the task's loss is the
frame-level NLL of Boulanger-Lewandowski et al.: the binary cross-entropy summed over the 88
keys and averaged over the target steps, in nats.

``transpose`` shifts every note by that many semitones. nnzoo does NOT transpose by default:
the Boulanger-Lewandowski protocol scores the pieces as published. A note that the shift moves
off 21..108 is an error. ``max_steps`` cuts longer chorales to their first ``max_steps`` steps
(0: no cut); ``info`` counts the cut ones.

What a bad file gives (indices count from 0): a `DataError` of one line naming the file, and
the part, chorale and step where that applies. This covers a missing file, text that is not
JSON, JSON of the wrong shape (not an object of three lists, or a chorale that is not a list of
lists of integers, or a 16th step that is not four numbers), and a note outside 21..108. A
chorale of 0 or 1 steps cannot give the next-step task an input and a target, so it is skipped,
and one warning names every chorale that was skipped.

``nottingham-abc`` (``<data root>/nottingham-abc``) reads ``ABC_cleaned/*.abc`` of
jukedeck/nottingham-dataset, the 1034 Nottingham Music Database folk tunes in ABC notation
(GPLv3). The files are read from the data root only; nothing of them is copied. The reader
also takes a folder that holds the ``.abc`` files themselves, or one ``.abc`` file. The files
are read in sorted order. A tune starts at a line that begins with ``X:`` and runs up to the
next such line, with its trailing blank lines removed (`split_tunes`). Text before a file's
first ``X:`` is not a tune. The files must be ASCII: a byte over 127 is an error that names
the file and the byte offset.

No split is published, so the reader draws one, seeded by ``seed`` (``data.split_seed``), with
identical tunes kept together (`nnzoo.data.splits.split_groups`). Two tunes are identical when
their text after the ``X:`` line is the same; three tunes appear twice under different
reference numbers. With the groups in a seeded random order, the test part takes whole groups
until it holds at least round(test_fraction N) tunes, then validation does the same up to
round(val_fraction N), and train keeps the rest. The split policy is ``given``.

Tunes are read at the character level (case and every space or newline kept). The
`Vocabulary` (``<pad> <unk> <bos> <eos>`` = 0..3, then characters by count) is built from the
TRAIN tunes alone, so a character that only validation or test tunes use reads as ``<unk>``.
Each tune is encoded as ``<bos>`` + its characters + ``<eos>``, so sampling can start from
``<bos>`` and stop at ``<eos>``. Each part is a categorical `StepSequences` of (N, T) int64 ids
padded with ``<pad>``. ``max_chars`` cuts a longer tune to its first ``max_chars`` characters
(0: no cut). A cut tune gets no ``<eos>``, since it does not end there. ``class_names`` are the
vocabulary's tokens.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nnzoo.data.base import DataError, DataParts, check_int
from nnzoo.data.registry import DATASETS, DEFAULTS, DatasetDefaults
from nnzoo.data.splits import check_test_fraction, split_groups
from nnzoo.data.text import BOS, EOS, UNK, Vocabulary
from nnzoo.data.tokens import StepSequences, pad
from nnzoo.errors import ConfigError
from nnzoo.io import read_json

LOWEST, HIGHEST = 21, 108  # A0 and C8, the piano's lowest and highest keys
KEYS = HIGHEST - LOWEST + 1  # 88
PIANO = "the piano roll has 88 keys, A0 = 21 .. C8 = 108"
PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
LETTERS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
ACCIDENTALS = {"": 0, "#": 1, "\u266f": 1, "b": -1, "\u266d": -1}  # also ♯ and ♭
_NOTE = re.compile(r"([A-Ga-g])([#b\u266f\u266d]?)(-?[0-9]+)")

JSB_FILES = {"quarter": "jsb-chorales-quarter.json", "16th-separated": "Jsb16thSeparated.json"}
JSB_RESOLUTION = {"quarter": "quarter-note", "16th-separated": "16th-note"}
JSB_PARTS = {"train": "train", "val": "valid", "test": "test"}  # ours -> the file's keys
SILENT = -1  # a silent voice of Jsb16thSeparated.json
VOICES = 4  # soprano, alto, tenor, bass
JSB_SOURCE = "czhuang/JSB-Chorales-dataset"

ABC_FOLDER = "ABC_cleaned"
ABC_ASCII = "the cleaned ABC files are ASCII; give the original files"
ABC_SOURCE = "jukedeck/nottingham-dataset"

for _name in ("jsb-chorales", "nottingham-abc"):
    DEFAULTS[_name] = DatasetDefaults("given")  # the readers draw (or read) validation


# -- note names -----------------------------------------------------------------------------


def note_name(midi: int) -> str:
    """The name of a piano key in scientific pitch notation, with sharps: 21 -> "A0", 60 ->
    "C4", 61 -> "C#4", 108 -> "C8".

    Raises:
        ConfigError: ``midi`` is not an integer in 21..108.
    """
    if isinstance(midi, bool) or not isinstance(midi, int | np.integer):
        raise ConfigError(f"MIDI note {midi!r}: expected an integer in {LOWEST}..{HIGHEST}")
    if not LOWEST <= midi <= HIGHEST:
        raise ConfigError(f"MIDI note {midi}: outside {LOWEST}..{HIGHEST}; {PIANO}")
    return f"{PITCH_CLASSES[int(midi) % 12]}{int(midi) // 12 - 1}"


def note_number(name: str) -> int:
    """The MIDI number of a note name: a letter A-G (either case), an optional sharp (``#``) or
    flat (``b``), then an octave, with C4 = 60. So "C4" -> 60, "c#4" and "Db4" -> 61, "A0" ->
    21 and "C8" -> 108. "Cb4" is B3 = 59 and "B#3" is C4 = 60.

    Raises:
        ConfigError: a name not of that form, or a note off the piano's 21..108.
    """
    match = _NOTE.fullmatch(name.strip()) if isinstance(name, str) else None
    if match is None:
        raise ConfigError(
            f"note {name!r}: expected a letter A-G, an optional # or b and an octave, e.g. C4, "
            "F#3 or Db5"
        )
    letter, accidental, octave = match.groups()
    midi = 12 * (int(octave) + 1) + LETTERS[letter.upper()] + ACCIDENTALS[accidental]
    if not LOWEST <= midi <= HIGHEST:
        raise ConfigError(f"note {name!r} is MIDI {midi}, off the piano; {PIANO}")
    return midi


KEY_NAMES = tuple(note_name(m) for m in range(LOWEST, HIGHEST + 1))  # key k: MIDI 21 + k


# -- JSB chorales ---------------------------------------------------------------------------

Chorale = list[list[int]]  # steps, each the sorted distinct MIDI notes that sound


def _kind(value: Any) -> str:
    return {list: "a list", dict: "an object", str: "a string"}.get(type(value), repr(value))


def _chorale(value: Any, where: str, separated: bool) -> Chorale:
    """One chorale of the file, checked; ``where`` starts its errors."""
    if not isinstance(value, list):
        raise DataError(f"{where} is {_kind(value)}, expected a list of steps (lists of notes)")
    steps = []
    for t, step in enumerate(value):
        if not isinstance(step, list) or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in step
        ):
            shown = _kind(step) if not isinstance(step, list) else "not all integers"
            raise DataError(
                f"{where}, step {t}: {shown}; expected a list of integer MIDI notes "
                "(give the original file)"
            )
        if separated and len(step) != VOICES:
            raise DataError(
                f"{where}, step {t}: {len(step)} numbers; Jsb16thSeparated.json has 4 per step "
                "(soprano, alto, tenor, bass; -1 silent): for a file of note lists set "
                'data.options.file = "quarter"'
            )
        notes = [n for n in step if not (separated and n == SILENT)]
        for n in notes:
            if not LOWEST <= n <= HIGHEST:
                silent = "; -1 is a silent voice" if separated else ""
                raise DataError(
                    f"{where}, step {t}: note {n} is outside {LOWEST}..{HIGHEST}; {PIANO}{silent}"
                )
        steps.append(sorted(set(notes)))
    return steps


def read_chorales(path: str | Path, file: str = "quarter") -> dict[str, list[Chorale]]:
    """Every chorale of a JSB JSON file, checked, as published (nothing skipped or cut).

    Args:
        path: ``jsb-chorales-quarter.json`` or ``Jsb16thSeparated.json``.
        file: its format, ``"quarter"`` (note lists) or ``"16th-separated"`` (4 voices).

    Returns:
        ``{"train", "val", "test"}`` (the file's train, valid, test) -> chorales, each a list
        of steps, each step its sorted distinct MIDI notes (silent voices dropped).

    Raises:
        DataError: see the module docstring.
    """
    if file not in JSB_FILES:
        raise ConfigError(f"data.options.file={file!r}: expected one of {', '.join(JSB_FILES)}")
    path = Path(path)
    hint = f"give {JSB_FILES[file]} of {JSB_SOURCE} as published"
    value = read_json(path, DataError, hint=hint, kind=dict)
    missing = [key for key in JSB_PARTS.values() if key not in value]
    if missing:
        raise DataError(
            f"{path}: no {', '.join(map(repr, missing))} key; expected an object of "
            f'"train", "valid" and "test" lists of chorales ({hint})'
        )
    parts = {}
    for part, key in JSB_PARTS.items():
        chorales = value[key]
        if not isinstance(chorales, list):
            raise DataError(f"{path}: {key!r} is {_kind(chorales)}, expected a list of chorales")
        parts[part] = [
            _chorale(c, f"{path}: {key} chorale {i}", file == "16th-separated")
            for i, c in enumerate(chorales)
        ]
    return parts


def piano_roll(chorales: Sequence[Sequence[Sequence[int]]]) -> StepSequences:
    """Chorales of MIDI notes (21..108) -> (N, T, 88) float32 multi-hot steps and lengths;
    key k is MIDI 21 + k, zero past each chorale's length."""
    lengths = np.array([len(c) for c in chorales], dtype=np.int64)  # (N,)
    x = np.zeros((len(chorales), int(lengths.max(initial=1)), KEYS), dtype=np.float32)
    index = [(i, t, n - LOWEST) for i, c in enumerate(chorales) for t, s in enumerate(c) for n in s]
    rows, steps, keys = np.asarray(index, dtype=np.int64).reshape(-1, 3).T
    x[rows, steps, keys] = 1.0  # (N, T, K)
    return StepSequences(torch.from_numpy(x), torch.from_numpy(lengths))


def _transposed(parts: dict[str, list[Chorale]], shift: int) -> dict[str, list[Chorale]]:
    for part, chorales in parts.items():
        for i, chorale in enumerate(chorales):
            for t, notes in enumerate(chorale):
                off = [n for n in notes if not LOWEST <= n + shift <= HIGHEST]
                if off:
                    raise ConfigError(
                        f"data.options.transpose={shift}: {JSB_PARTS[part]} chorale {i}, step "
                        f"{t}: note {off[0]} would become {off[0] + shift}, off the piano "
                        f"({PIANO}); shift by fewer semitones"
                    )
    return {p: [[[n + shift for n in s] for s in c] for c in cs] for p, cs in parts.items()}


@DATASETS.register("jsb-chorales")
def read_jsb_chorales(
    source: Path, *, file: str = "quarter", transpose: int = 0, max_steps: int = 0
) -> DataParts:
    """JSB Chorales as 88-key piano rolls, the published train / valid / test parts.

    Args:
        source: the folder of the JSON files (default ``<data root>/jsb-chorales``), or one file.
        file: ``"quarter"`` (jsb-chorales-quarter.json) or ``"16th-separated"``
            (Jsb16thSeparated.json); see the module docstring.
        transpose: semitones added to every note (0: the pieces as published, as the
            Boulanger-Lewandowski protocol scores them).
        max_steps: cut longer chorales to their first ``max_steps`` steps; 0: no cut.

    Returns:
        DataParts of multi-hot `StepSequences` (train, val, test), ``class_names`` the 88 key
        names A0..C8.
    """
    if file not in JSB_FILES:
        raise ConfigError(f"data.options.file={file!r}: expected one of {', '.join(JSB_FILES)}")
    if isinstance(transpose, bool) or not isinstance(transpose, int):
        raise ConfigError(f"data.options.transpose={transpose!r}: expected a whole number of "
                          "semitones, e.g. 0 (as published), 2 or -3")  # fmt: skip
    check_int("max_steps", max_steps, 0)
    if max_steps == 1:
        raise ConfigError(
            "data.options.max_steps=1: expected 0 (no cut) or at least 2 (an input step and a "
            "target step)"
        )
    path = Path(source).expanduser()
    if path.is_dir():
        path = path / JSB_FILES[file]
    if not path.is_file():
        raise DataError(
            f"{path}: no such file; put {JSB_FILES[file]} of {JSB_SOURCE} there, or set "
            f"data.options.file to the other one ({', '.join(JSB_FILES)})"
        )
    parts = read_chorales(path, file)
    if transpose:
        parts = _transposed(parts, transpose)
    skipped = [
        f"{JSB_PARTS[p]} chorale {i} ({len(c)} step{'s' * (len(c) != 1)})"
        for p, cs in parts.items()
        for i, c in enumerate(cs)
        if len(c) < 2
    ]
    if skipped:
        warnings.warn(
            f"{path}: skipped {len(skipped)} chorale(s) of fewer than 2 steps, which give the "
            f"next-step task no target: {', '.join(skipped)}",
            stacklevel=2,
        )
    parts = {p: [c for c in cs if len(c) >= 2] for p, cs in parts.items()}
    if not parts["train"]:
        raise DataError(f"{path}: no train chorale has 2 steps or more; give the original file")
    cut = {p: sum(len(c) > max_steps for c in cs) if max_steps else 0 for p, cs in parts.items()}
    if max_steps:
        parts = {p: [c[:max_steps] for c in cs] for p, cs in parts.items()}
    sets = {part: piano_roll(chorales) for part, chorales in parts.items()}

    def count(part: str) -> str:
        steps = [len(c) for c in parts[part]]
        return f"{part} {len(steps)} ({sum(steps)} steps)"

    def density(part: str) -> str:
        data = sets[part]
        steps = int(data.lengths.sum())
        return f"{part} {float(data.x.sum()) / steps:.2f}" if steps else f"{part} -"

    info = {
        "source": str(path),
        "layout": (
            f"88-key piano roll (key k = MIDI 21 + k, A0..C8), multi-hot float32, "
            f"{JSB_RESOLUTION[file]} steps"
            + (", the SATB voices merged (-1 silent)" if file == "16th-separated" else "")
        ),
        "chorales": ", ".join(count(p) for p in JSB_PARTS),
        "notes per step": "mean " + ", ".join(density(p) for p in JSB_PARTS),
        "validation": "the published valid part (Boulanger-Lewandowski et al. 2012)",
        "test": "the published test part (Boulanger-Lewandowski et al. 2012)",
        "transpose": (
            f"{transpose:+d} semitones" if transpose else "none (the pieces as published)"
        ),
        "loss": (
            "frame-level NLL: binary cross-entropy summed over the 88 keys, mean over the "
            "target steps, nats (Boulanger-Lewandowski et al. 2012)"
        ),
    }
    if max_steps:
        info["max_steps"] = f"chorales longer than {max_steps} steps cut to their first " + (
            f"{max_steps}: " + ", ".join(f"{p} {cut[p]}" for p in JSB_PARTS)
        )
    if skipped:
        info["skipped"] = f"{len(skipped)} chorale(s) of fewer than 2 steps: {', '.join(skipped)}"
    return DataParts(
        "jsb-chorales", sets["train"], sets["test"], list(KEY_NAMES), info, val=sets["val"],
        rows="chorales",
    )  # fmt: skip


# -- Nottingham ABC -------------------------------------------------------------------------


def split_tunes(text: str) -> list[str]:
    """The tunes of an ABC text: each from a line starting with ``X:`` to before the next one,
    its trailing blank lines removed (lines end at ``\\n``; a ``\\r`` before it is dropped)."""
    lines = text.replace("\r\n", "\n").split("\n")
    starts = [i for i, line in enumerate(lines) if line.startswith("X:")]
    ends = [*starts[1:], len(lines)] if starts else []
    tunes = []
    for start, end in zip(starts, ends, strict=True):
        body = lines[start:end]
        while not body[-1].strip():  # the X: line itself is never blank
            body.pop()
        tunes.append("\n".join(body))
    return tunes


def read_abc(path: str | Path) -> list[str]:
    """The tunes of one ASCII ``.abc`` file (`split_tunes`).

    Raises:
        DataError: an unreadable file, a byte that is not ASCII (its offset named), or no
            line starting with ``X:``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: cannot read it ({e})") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise DataError(
            f"{path}: byte {e.start} is 0x{raw[e.start]:02x}, not ASCII; {ABC_ASCII}"
        ) from None
    tunes = split_tunes(text)
    if not tunes:
        raise DataError(
            f"{path}: no tune (no line starts with 'X:'); give the ABC files of {ABC_SOURCE}"
        )
    return tunes


def abc_files(source: str | Path) -> list[Path]:
    """The ``.abc`` files of ``source``, in sorted order: those of ``<source>/ABC_cleaned`` when
    it exists, else those of the folder, or ``source`` itself when it is a file."""
    source = Path(source).expanduser()
    if source.is_file():
        return [source]
    folder = source / ABC_FOLDER if (source / ABC_FOLDER).is_dir() else source
    files = sorted(p for p in folder.glob("*.abc") if p.is_file())
    if not files:
        raise DataError(
            f"{folder}: no .abc files; give the folder of {ABC_SOURCE} (its {ABC_FOLDER}/*.abc)"
        )
    return files


def _fraction(name: str, value: Any) -> float:
    """``data.options.<name>``: a number in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        raise ConfigError(f"data.options.{name}={value!r}: expected a number in [0, 1)")
    return float(value)


@DATASETS.register("nottingham-abc")
def read_nottingham_abc(
    source: Path,
    *,
    max_chars: int = 0,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    seed: int = 0,
) -> DataParts:
    """The Nottingham tunes as ABC characters, split by a seed (see the module docstring).

    Args:
        source: the folder of the dataset (default ``<data root>/nottingham-abc``, holding
            ``ABC_cleaned/*.abc``), a folder of ``.abc`` files, or one file.
        max_chars: the most characters of a tune; a longer one keeps its first ``max_chars``
            and gets no ``<eos>``. 0: no cut.
        val_fraction: the share of the tunes that validates, in [0, 1).
        test_fraction: the share held out for test, in (0, 1).
        seed: the order of the groups of identical tunes (``data.split_seed``).

    Returns:
        DataParts of categorical `StepSequences` of char ids; ``vocabulary`` the train tunes'
        char `Vocabulary` and ``class_names`` its tokens.
    """
    check_int("max_chars", max_chars, 0)
    f_val = _fraction("val_fraction", val_fraction)
    f_test = check_test_fraction(test_fraction, source="nottingham-abc", example=0.1)
    if f_val + f_test >= 1:
        raise ConfigError(
            f"data.options.val_fraction={val_fraction!r} + test_fraction={test_fraction!r} "
            "leave no training tune; make their sum less than 1"
        )
    files = abc_files(source)
    tunes = [tune for path in files for tune in read_abc(path)]
    keys = [tune.split("\n", 1)[1] if "\n" in tune else "" for tune in tunes]  # after X:
    part_of = split_groups(keys, val_fraction=f_val, test_fraction=f_test, seed=seed)
    names = ("train", "val", "test")
    texts = {name: [t for t, k in zip(tunes, part_of, strict=True) if k == i]
             for i, name in enumerate(names)}  # fmt: skip
    for name, fraction in (("train", 1.0), ("val", f_val), ("test", f_test)):
        if fraction > 0 and not texts[name]:
            raise ConfigError(
                f"nottingham-abc: {len(tunes)} tunes leave no {name} tune with val_fraction "
                f"{f_val:g} and test_fraction {f_test:g}; change them"
            )
    vocab = Vocabulary.build((list(t) for t in texts["train"]), level="char", lower=False)
    sets, cut, unknown = {}, {}, {}
    for name in names:
        rows = []
        for text in texts[name]:
            short = text[:max_chars] if max_chars else text
            ids = [BOS, *vocab.encode(list(short))] + [EOS] * (len(short) == len(text))
            rows.append(np.asarray(ids, dtype=np.int64))
        x, lengths = pad(rows)  # (N, T), (N,)
        sets[name] = StepSequences(x, lengths)
        cut[name] = sum(len(t) > max_chars for t in texts[name]) if max_chars else 0
        unknown[name] = int((x == UNK).sum())
    grouped = f"seed {seed}, identical tunes (the same text after the X: line) in one part"
    info = {
        "source": str(files[0].parent if len(files) > 1 else files[0]),
        "layout": (
            "ABC text as characters: <bos>, the tune from its X: line, <eos>; ids 0-3 <pad> "
            "<unk> <bos> <eos>"
        ),
        "tunes": (
            f"{len(tunes)} in {len(files)} file(s), "
            f"{np.mean([len(t) for t in tunes]):.0f} characters on average"
        ),
        "test": (
            f"{len(texts['test'])} tunes: no split is published, so a seeded {f_test:g} share "
            f"({grouped})"
        ),
        "validation": f"{len(texts['val'])} tunes: a seeded {f_val:g} share ({grouped})",
        "train": f"{len(texts['train'])} tunes, the rest",
        "vocabulary": (
            f"{len(vocab)} tokens: the characters of the train tunes (case kept) and the 4 "
            f"specials; <unk> in val {unknown['val']}, test {unknown['test']} times"
        ),
        "licence": f"GPLv3 ({ABC_SOURCE}); read from the data root, nothing copied",
    }
    if max_chars:
        info["max_chars"] = (
            f"tunes longer than {max_chars} characters cut to their first {max_chars} (no "
            "<eos>): " + ", ".join(f"{name} {cut[name]}" for name in names)
        )
    return DataParts(
        "nottingham-abc", sets["train"], sets["test"], list(vocab.tokens), info, val=sets["val"],
        rows="tunes", vocabulary=vocab,
    )  # fmt: skip
