r"""``nnzoo generate RUN_DIR --start "C4,E4,G4" --steps 64``: new music (or text) from a trained
next-step run.

`generate` loads the run's checkpoint (`nnzoo.runs.trained.load_trained`), encodes ``start``
with the run's keys or tokens (``extra["vocabulary"]``) and continues it with
`nnzoo.tasks.next_step.NextStep.sample`, seeded by ``torch.Generator().manual_seed(seed)``:

.. math::
    \text{multi-hot:}\quad x_{t+1,k} \sim \mathrm{Bernoulli}(\sigma(z_{t,k} / \tau))
    \qquad \text{categorical:}\quad x_{t+1} \sim \mathrm{softmax}(z_t / \tau)

with τ the temperature (τ → 0: the argmax token, or every key whose logit is positive).

**Multi-hot runs** (a piano roll, e.g. jsb-chorales): the class names must be note names
(``C4``, ``F#3``, ``Bb2``; C4 = MIDI 60, A0 = 21). ``start`` is one chord per step, notes
split by commas, steps by spaces or ``|`` (``"C4,E4,G4 | D4,F4,A4"``; ``-`` is a step with no
note). ``steps`` steps are sampled after it and two files are written:

* ``<out>.mid``: a one-track MIDI file (format 0). One step lasts ``step_beats`` beats (a
  quarter note, ``step_beats=1``, for jsb-chorales-quarter), at ``bpm`` beats per minute (60:
  one step a second); a key that sounds at consecutive steps is ONE note, from the start of
  its first step to the end of its last; velocity 80.
* ``<out>.png``: the piano roll (`nnzoo.report.pianoroll.plot_piano_roll`), prompt shaded.

**Categorical runs** (tokens, e.g. characters of ABC tunes): ``start`` is a text prefix, one
token per character (per word for a word-level run), after ``<bos>`` when the vocabulary has
one; sampling stops at ``<eos>`` (when it has one) or after ``steps`` tokens. The text, without
``<bos>`` / ``<eos>`` / ``<pad>``, is written to ``<out>.abc`` (``<out>.txt`` for word-level
runs).

``out``: a path without suffix (a ``.mid`` / ``.png`` / ``.abc`` / ``.txt`` one is dropped),
or an existing folder (or one ending in ``/``), which gets ``sample-s<seed>.*``. Without it the
files go NEXT TO the run folder, ``<run>-sample-s<seed>.*`` (next to a checkpoint file given
instead, ``<checkpoint stem>-sample-s<seed>.*``), so the run folder itself (whose names
`nnzoo.runs.rundir.RunDir` owns) is left as training wrote it.

What a user can get wrong is one line (`ConfigError`, or `WriteError` for an output that cannot
be written, checked before anything is sampled): an empty start, a bad note name, a note that
is not one of the run's keys (naming their range), an unknown character, steps < 1, a
temperature <= 0, a run whose task is not next-step, or a multi-hot run whose keys are not
notes.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnzoo.errors import ConfigError  # torch, mido and the rest load when a command runs

if TYPE_CHECKING:
    from torch import Tensor

CHECKPOINTS = ("best", "last")
SUFFIXES = (".mid", ".midi", ".png", ".abc", ".txt")
BOS, EOS, PAD = "<bos>", "<eos>", "<pad>"
VELOCITY = 80
TICKS_PER_BEAT = 480
OUT_HINT = "pass another --out (a path without suffix, or a folder)"
NOT_NOTES = (
    "this run's keys are not notes (class names {names}): MIDI needs a run trained on jsb-chorales"
)


def _note_number(name: str) -> int | None:
    """The MIDI number of a piano note name (``C4`` 60, ``C#4`` / ``Db4`` 61, ``A0`` 21), or
    None for anything else (`nnzoo.data.music.note_number`)."""
    from nnzoo.data.music import note_number

    try:
        return note_number(name)
    except ConfigError:
        return None


@dataclass
class Generated:
    """What `generate` sampled and wrote.

    Attributes:
        steps: the prompt and what was sampled after it: a (T, K) bool piano roll (multi-hot)
            or (T,) token ids (categorical, ``<bos>`` first when the run has one).
        prompt_steps: how many of the T steps were given, not sampled.
        paths: the files written.
        pitches: multi-hot: the MIDI number of each of the K keys.
        text: categorical: the decoded text.
        notes: what happened on the way, one line each (for stderr).
    """

    steps: Tensor
    prompt_steps: int
    paths: list[Path]
    pitches: list[int] | None = None
    text: str | None = None
    notes: list[str] = field(default_factory=list)


# -- MIDI -------------------------------------------------------------------------------------
def held_notes(roll: Any) -> list[tuple[int, int, int]]:
    """The notes of a (T, K) roll: (key, first step, step after the last), a key sounding at
    consecutive steps being one note; sorted by first step, then key."""
    import numpy as np

    on = np.asarray(roll.cpu() if hasattr(roll, "cpu") else roll) > 0.5  # (T, K)
    padded = np.zeros((on.shape[0] + 2, on.shape[1]), dtype=np.int8)
    padded[1:-1] = on
    edges = np.diff(padded, axis=0)  # (T + 1, K): +1 where a note starts, -1 after it ends
    notes = []
    for k in range(on.shape[1]):
        starts, ends = np.flatnonzero(edges[:, k] == 1), np.flatnonzero(edges[:, k] == -1)
        notes += [(k, int(s), int(e)) for s, e in zip(starts, ends)]
    return sorted(notes, key=lambda n: (n[1], n[0]))


def _tempo(bpm: float) -> int:
    import mido

    if isinstance(bpm, bool) or not isinstance(bpm, int | float) or not math.isfinite(bpm):
        raise ConfigError(f"--bpm {bpm!r}: expected a number of beats per minute, e.g. 60")
    tempo = mido.bpm2tempo(bpm) if bpm > 0 else 0
    if not 1 <= tempo <= 0xFFFFFF:  # what a MIDI set_tempo can hold
        raise ConfigError(f"--bpm {bpm!r}: expected 4 to 60000000 beats per minute, e.g. 60")
    return tempo


def _ticks_per_step(step_beats: float) -> int:
    ok = not isinstance(step_beats, bool) and isinstance(step_beats, int | float)
    ticks = round(step_beats * TICKS_PER_BEAT) if ok and math.isfinite(step_beats) else 0
    if ticks < 1:
        raise ConfigError(
            f"--step-beats {step_beats!r}: expected the beats one step lasts, a number > 0 "
            "(1: a quarter note)"
        )
    return ticks


def write_midi(
    roll: Any,
    pitches: list[int],
    path: str | os.PathLike,
    *,
    bpm: float = 60.0,
    step_beats: float = 1.0,
    velocity: int = VELOCITY,
) -> Path:
    """A (T, K) roll over keys of MIDI numbers ``pitches`` as a one-track MIDI file at ``path``
    (atomically): each step ``step_beats`` beats (rounded to 1/480 beat) at ``bpm``, each note
    of `held_notes` one note_on / note_off pair."""
    import mido

    from nnzoo.io import write_atomic

    tempo, ticks = _tempo(bpm), _ticks_per_step(step_beats)
    events = []  # (tick, 0 off | 1 on, pitch): at one tick, notes end before others start
    for k, first, end in held_notes(roll):
        events += [(first * ticks, 1, pitches[k]), (end * ticks, 0, pitches[k])]
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=tempo, time=0)])
    now = 0
    for tick, on, pitch in sorted(events):
        kind = "note_on" if on else "note_off"
        track.append(mido.Message(kind, note=pitch, velocity=velocity, time=tick - now))
        now = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    midi = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
    midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return write_atomic(path, buffer.getvalue())


# -- encoding the start -------------------------------------------------------------------------
def _key_pitches(vocabulary: list[str]) -> list[int]:
    pitches = [_note_number(str(name)) for name in vocabulary]
    if any(p is None for p in pitches) or len(set(pitches)) != len(pitches):
        shown = ", ".join(str(n) for n in vocabulary[:3]) + (", ..." if len(vocabulary) > 3 else "")
        raise ConfigError(NOT_NOTES.format(names=shown))
    return pitches


def _chords(start: str, pitches: list[int], vocabulary: list[str]) -> list[list[int]]:
    """The keys of each step of ``start`` ("C4,E4,G4 | D4,F4,A4")."""
    key_of = {p: k for k, p in enumerate(pitches)}
    low, high = pitches.index(min(pitches)), pitches.index(max(pitches))
    span = f"{vocabulary[low]}..{vocabulary[high]}"
    steps = [s for s in re.split(r"[\s|]+", re.sub(r"\s*,\s*", ",", start.strip())) if s]
    chords = []
    for step in steps:
        keys = []
        for name in [] if step == "-" else step.split(","):
            midi = _note_number(name)
            if midi is None:
                raise ConfigError(
                    f"--start: {name!r} is not a note name; write a letter A-G, an optional # or "
                    "b and an octave, e.g. C4, F#3, Bb2 (steps split by spaces or |)"
                )
            if midi not in key_of:
                raise ConfigError(
                    f"--start: {name} (MIDI {midi}) is not one of this run's keys {span}; "
                    "pick notes in that range"
                )
            keys.append(key_of[midi])
        chords.append(keys)
    if not any(chords):
        raise ConfigError('--start has no notes; give the first chord, e.g. --start "C4,E4,G4"')
    return chords


def _text_options(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra["text"]`` of a run on text (level, lower), or {}."""
    options = extra.get("text")
    return options if isinstance(options, dict) else {}


def _level(extra: dict[str, Any], vocabulary: list[str]) -> str:
    level = _text_options(extra).get("level")
    if level in ("char", "word"):
        return level
    plain = [t for t in vocabulary if not (t.startswith("<") and t.endswith(">") and len(t) > 2)]
    return "char" if all(len(t) == 1 for t in plain) else "word"


def _check(steps: int, temperature: float, seed: int, checkpoint: str, start: str) -> None:
    if checkpoint not in CHECKPOINTS:
        raise ConfigError(f"checkpoint={checkpoint!r}: expected best or last")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ConfigError(f"--steps {steps!r}: expected an integer >= 1, the steps to sample")
    number = not isinstance(temperature, bool) and isinstance(temperature, int | float)
    if not (number and math.isfinite(temperature) and temperature > 0):
        raise ConfigError(
            f"--temperature {temperature!r}: expected a number > 0 (1: the model's own "
            "probabilities, below 1: more certain)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"--seed {seed!r}: expected an integer")
    if not isinstance(start, str) or not start.strip():
        raise ConfigError(
            '--start is empty; give the first chord (--start "C4,E4,G4") or, for a run on '
            'text, its first characters (--start "X:1")'
        )


def _stem(run: str | os.PathLike, out: str | os.PathLike | None, seed: int) -> Path:
    """Where the files go, without their suffix (see the module docstring)."""
    name = f"sample-s{seed}"
    if out is None:
        p = Path(run)
        if p.name in ("", ".", ".."):
            p = p.resolve()
        return p.parent / f"{p.name if p.is_dir() else p.stem}-{name}"
    raw = os.fspath(out)
    out = Path(out)
    if out.is_dir() or raw.endswith(("/", os.sep)):
        return out / name
    return out.with_suffix("") if out.suffix.lower() in SUFFIXES else out


def _writable(path: Path) -> Path:
    from nnzoo.io import check_writable

    check_writable(path, folder=False, hint=OUT_HINT)
    return path


# -- generating ---------------------------------------------------------------------------------
def generate(
    run: str | os.PathLike,
    *,
    start: str,
    steps: int,
    temperature: float = 1.0,
    seed: int = 0,
    checkpoint: str = "best",
    out: str | os.PathLike | None = None,
    bpm: float = 60.0,
    step_beats: float = 1.0,
) -> Generated:
    """Continue ``start`` with the next-step run (or checkpoint file) ``run``; write the files.

    Args:
        run: a run folder of `nnzoo train` with task next-step, or one of its checkpoints.
        start: notes, one chord per step ("C4,E4,G4 | D4,F4,A4"), for a multi-hot run; a text
            prefix for a categorical one.
        steps: how many steps to sample after the start (at most, for a run with ``<eos>``).
        temperature: τ of softmax(z / τ) or σ(z / τ); > 0.
        seed: of the sampling generator: the same seed, the same files.
        checkpoint: ``"best"`` (the validation's pick) or ``"last"``.
        out: where the files go (see the module docstring); default ``<run>-sample-s<seed>``.
        bpm: beats per minute of the MIDI file.
        step_beats: beats per step in the MIDI file (1: each step a quarter note).

    Returns:
        The sampled steps and the paths written.

    Raises:
        ConfigError: bad arguments, a start the run cannot read, or a run that is not next-step.
        WriteError: an output that cannot be written (before anything is sampled).
        CheckpointError: a run folder without checkpoints, or one that does not load.
    """
    _check(steps, temperature, seed, checkpoint, start)
    stem = _writable(_stem(run, out, seed))
    import torch

    from nnzoo.engine.checkpoint import CheckpointError
    from nnzoo.runs.trained import load_trained_for
    from nnzoo.tasks import create_task

    model, ckpt, path = load_trained_for(
        run, checkpoint, task="next-step", command="generate", example="jsb-chorales"
    )
    config = ckpt["run_config"]
    task = create_task(config.task)
    vocabulary = ckpt["extra"].get("vocabulary")
    if not isinstance(vocabulary, list | tuple) or not vocabulary:
        raise CheckpointError(
            f"{path}: holds no vocabulary (extra.vocabulary); train the run again with this nnzoo"
        )
    vocabulary = [str(v) for v in vocabulary]
    generator = torch.Generator().manual_seed(seed)
    if task.categorical:
        return _generate_text(task, model, ckpt["extra"], vocabulary, start, steps,
                              temperature, generator, stem)  # fmt: skip
    _tempo(bpm)  # checked before anything is sampled
    _ticks_per_step(step_beats)
    pitches = _key_pitches(vocabulary)
    chords = _chords(start, pitches, vocabulary)
    midi_path, png_path = _writable(Path(f"{stem}.mid")), _writable(Path(f"{stem}.png"))
    prompt = torch.zeros(1, len(chords), len(vocabulary))  # (1, t0, K)
    for t, keys in enumerate(chords):
        prompt[0, t, keys] = 1.0
    roll = task.sample(model, prompt, steps, temperature=temperature, generator=generator)[0]
    roll = roll > 0.5  # (T, K)
    from nnzoo.report.pianoroll import plot_piano_roll

    write_midi(roll, pitches, midi_path, bpm=bpm, step_beats=step_beats)
    label = ckpt["run_config"].model.label  # the cell, e.g. larnn
    start_text = " | ".join(",".join(vocabulary[k] for k in keys) or "-" for keys in chords)
    title = (f"{label}: {steps} steps after {start_text}, temperature {temperature:g}, "
             f"seed {seed}")  # fmt: skip
    plot_piano_roll(roll, pitches, png_path, prompt_steps=len(chords), title=title)
    return Generated(roll, len(chords), [midi_path, png_path], pitches=pitches)


def _generate_text(task, model, extra, vocabulary, start, steps, temperature, generator, stem):
    import torch

    index = {token: i for i, token in enumerate(vocabulary)}
    level = _level(extra, vocabulary)
    if _text_options(extra).get("lower"):
        start = start.lower()
    tokens = list(start) if level == "char" else start.split()
    unknown = sorted({t for t in tokens if t not in index})
    if unknown:
        what = "characters" if level == "char" else "words"
        raise ConfigError(
            f"--start: {', '.join(map(repr, unknown))} not in this run's vocabulary; use only "
            f"{what} it was trained on"
        )
    text_path = _writable(Path(f"{stem}.{'abc' if level == 'char' else 'txt'}"))
    ids = ([index[BOS]] if BOS in index else []) + [index[t] for t in tokens]
    x = torch.tensor([ids])  # (1, t0)
    notes = []
    for n in range(1, steps + 1):
        x = task.sample(model, x, 1, temperature=temperature, generator=generator)
        if EOS in index and int(x[0, -1]) == index[EOS]:
            notes.append(f"the model ended the text ({EOS}) after {n} of {steps} steps")
            break
    drawn = x[0]  # (T,)
    words = [vocabulary[i] for i in drawn.tolist() if vocabulary[i] not in (BOS, EOS, PAD)]
    text = ("" if level == "char" else " ").join(words)
    from nnzoo.io import write_atomic

    write_atomic(text_path, text if text.endswith("\n") else text + "\n")
    return Generated(drawn, len(ids), [text_path], text=text, notes=notes)


# -- command line -------------------------------------------------------------------------------
def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``generate`` sub-command to ``nnzoo``'s sub-parsers ``sub``."""
    p = sub.add_parser(
        "generate",
        help="sample music (MIDI + piano roll) or text from a trained next-step run",
    )
    p.add_argument("run", help="a run folder of nnzoo train (task next-step) or a checkpoint file")
    p.add_argument(
        "--start", required=True,
        help='the first steps: notes, "C4,E4,G4" (steps split by spaces or |), or a text prefix',
    )  # fmt: skip
    p.add_argument("--steps", type=int, default=64, help="steps to sample (default 64)")
    p.add_argument("--temperature", type=float, default=1.0, help="> 0 (default 1)")
    p.add_argument("--seed", type=int, default=0, help="of the sampling (default 0)")
    p.add_argument(
        "--out", default=None,
        help="a path without suffix, or a folder (default: <RUN>-sample-s<SEED>, next to RUN)",
    )  # fmt: skip
    p.add_argument("--bpm", type=float, default=60.0, help="MIDI tempo (default 60)")
    p.add_argument(
        "--step-beats", type=float, default=1.0,
        help="beats one step lasts in the MIDI file (default 1: a quarter note)",
    )  # fmt: skip
    p.add_argument("--checkpoint", choices=CHECKPOINTS, default="best")
    return p


def cmd_generate(args: argparse.Namespace) -> int:
    """Print the paths written, one a line (notes on stderr); 0."""
    result = generate(
        args.run, start=args.start, steps=args.steps, temperature=args.temperature,
        seed=args.seed, checkpoint=args.checkpoint, out=args.out, bpm=args.bpm,
        step_beats=args.step_beats,
    )  # fmt: skip
    for note in result.notes:
        print(f"nnzoo: note: {note}", file=sys.stderr)
    for path in result.paths:
        print(path)
    return 0
